//! Register liveness per instruction, so that pruning ignores registers no
//! path reads again (the kernel's `REG_LIVE_READ` marks, computed here
//! statically by backward data flow within each function).
//!
//! Calls are boundaries: a local call reads r1-r5 and defines r0-r5 in the
//! caller; the callee's own liveness starts fresh at its entry and its
//! `exit` reads r0 only, since the caller's r6-r9 live in the caller's
//! frame.

use oxbpf_isa::{CallTarget, Insn, Operand};

use crate::helpers;

/// A set of registers r0..r10 as bits.
pub type RegSet = u16;

const ARGS: RegSet = 0b11_1110;
const CALL_DEFS: RegSet = 0b11_1111;

fn bit(r: oxbpf_isa::Reg) -> RegSet {
    1 << r.num()
}

/// (used, defined) registers of one instruction.
fn use_def(insn: &Insn) -> (RegSet, RegSet) {
    match *insn {
        Insn::Alu { op, dst, src, .. } => {
            let s = match src {
                Operand::Reg(r) => bit(r),
                Operand::Imm(_) => 0,
            };
            let mov = matches!(
                op,
                oxbpf_isa::AluOp::Mov
                    | oxbpf_isa::AluOp::MovSx8
                    | oxbpf_isa::AluOp::MovSx16
                    | oxbpf_isa::AluOp::MovSx32
            );
            (s | if mov { 0 } else { bit(dst) }, bit(dst))
        }
        Insn::End { dst, .. } => (bit(dst), bit(dst)),
        Insn::Ja { .. } => (0, 0),
        Insn::Jmp { dst, src, .. } => {
            let s = match src {
                Operand::Reg(r) => bit(r),
                Operand::Imm(_) => 0,
            };
            (bit(dst) | s, 0)
        }
        Insn::Call(CallTarget::Helper(id)) => {
            let used = match helpers::spec(id) {
                Some(s) => ((1u16 << (s.args.len() + 1)) - 1) & ARGS,
                None => ARGS,
            };
            (used, CALL_DEFS)
        }
        Insn::Call(_) => (ARGS, CALL_DEFS),
        Insn::Exit => (1, 0),
        Insn::Load { dst, src, .. } => (bit(src), bit(dst)),
        Insn::Store { dst, src, .. } => {
            let s = match src {
                Operand::Reg(r) => bit(r),
                Operand::Imm(_) => 0,
            };
            (bit(dst) | s, 0)
        }
        Insn::Atomic {
            op,
            fetch,
            dst,
            src,
            ..
        } => {
            let cmpxchg = op == oxbpf_isa::AtomicOp::CmpXchg;
            let used = bit(dst) | bit(src) | if cmpxchg { 1 } else { 0 };
            let defs = if cmpxchg {
                1
            } else if fetch || op == oxbpf_isa::AtomicOp::Xchg {
                bit(src)
            } else {
                0
            };
            (used, defs)
        }
        Insn::Lddw { dst, .. } => (0, bit(dst)),
        Insn::LddwHi => (0, 0),
        Insn::LdPacket { src, .. } => ((1 << 6) | src.map(bit).unwrap_or(0), CALL_DEFS),
    }
}

/// Registers live on entry to each slot.
pub fn live_in(insns: &[Insn]) -> Vec<RegSet> {
    let n = insns.len();
    let ud: Vec<(RegSet, RegSet)> = insns.iter().map(use_def).collect();
    let mut live = vec![0 as RegSet; n];
    let mut changed = true;
    while changed {
        changed = false;
        for pc in (0..n).rev() {
            let insn = &insns[pc];
            if matches!(insn, Insn::LddwHi) {
                continue;
            }
            let mut out: RegSet = 0;
            if insn.falls_through()
                && let Some(l) = live.get(pc + insn.slots())
            {
                out |= l;
            }
            if matches!(insn, Insn::Ja { .. } | Insn::Jmp { .. })
                && let Some(t) = insn.branch_target(pc)
                && let Some(l) = usize::try_from(t).ok().and_then(|t| live.get(t))
            {
                out |= l;
            }
            let (u, d) = ud[pc];
            let v = u | (out & !d);
            if v != live[pc] {
                live[pc] = v;
                changed = true;
            }
        }
    }
    live
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(src: &str) -> Vec<RegSet> {
        live_in(&oxbpf_isa::asm::assemble(src).unwrap())
    }

    #[test]
    fn reads_make_registers_live_until_written() {
        // 0: r2 = r1; 1: r0 = r2; 2: exit
        let l = live("mov %r2, %r1\nmov %r0, %r2\nexit");
        assert_eq!(l[0], 1 << 1);
        assert_eq!(l[1], 1 << 2);
        assert_eq!(l[2], 1 << 0);
    }

    #[test]
    fn both_branch_targets_count() {
        // r3 is read only on the taken side, r4 only on the other.
        let l = live("jeq %r1, 0, +2\nmov %r0, %r4\nexit\nmov %r0, %r3\nexit");
        assert_eq!(l[0], (1 << 1) | (1 << 3) | (1 << 4));
    }

    #[test]
    fn calls_read_arguments_and_clobber_r0_to_r5() {
        // map_lookup_elem reads r1 and r2; r6 survives the call.
        let l = live("call 1\nmov %r0, %r6\nexit");
        assert_eq!(l[0], (1 << 1) | (1 << 2) | (1 << 6));
        // A value in r3 before a call is dead: the call clobbers it.
        let l = live("mov %r3, 1\ncall 7\nmov %r0, %r3\nexit");
        assert_eq!(l[1] & (1 << 3), 0);
    }
}
