//! Hand-written programs with hand-computed results.

use std::sync::Arc;

use oxbpf_abi::Trap;
use oxbpf_isa::{AluOp, Insn, Operand, Reg, Width};
use oxbpf_jit::Jit;
use oxbpf_runtime::{Engine, HelperTable, Program, RunState, SafetyMode, Trapped};

fn run(insns: Vec<Insn>) -> Result<u64, Trapped> {
    let p = Program::new_unchecked(insns, Arc::new(HelperTable::new("t")), SafetyMode::Checked);
    let exe = Jit.load(&p).unwrap();
    exe.run(&mut RunState::new(), [0; 5])
}

fn alu64(op: AluOp, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst,
        src,
    }
}

#[test]
fn mov_exit() {
    assert_eq!(
        run(vec![
            alu64(AluOp::Mov, Reg::R0, Operand::Imm(42)),
            Insn::Exit
        ]),
        Ok(42)
    );
}

#[test]
fn listing_prints() {
    let p = Program::new_unchecked(
        vec![
            alu64(AluOp::Mov, Reg::R0, Operand::Imm(-1)),
            alu64(AluOp::Div, Reg::R0, Operand::Reg(Reg::R1)),
            Insn::Exit,
        ],
        Arc::new(HelperTable::new("t")),
        SafetyMode::Checked,
    );
    let l = oxbpf_jit::disassemble_jit(&p).unwrap();
    for x in &l.prologue {
        println!("   {:4x} {}", x.offset, x.text);
    }
    for i in &l.insns {
        println!("{}: {}", i.slot, i.text);
        for x in &i.x86 {
            println!("   {:4x} {}", x.offset, x.text);
        }
    }
    for x in &l.out_of_line {
        println!("   {:4x} {}", x.offset, x.text);
    }
    let _ = Trap::OutOfBounds;
}
