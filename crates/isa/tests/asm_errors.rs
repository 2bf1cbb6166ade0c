//! Assembler behaviour: errors with their positions, number ranges, labels.

use oxbpf_isa::asm::assemble;
use oxbpf_isa::{AsmError, CallTarget, Insn, Operand, encode_bytes};

#[track_caller]
fn syntax(src: &str, line: usize, column: usize, message: &str) {
    match assemble(src) {
        Err(AsmError::Syntax {
            line: l,
            column: c,
            message: m,
        }) => {
            assert_eq!((l, c), (line, column), "position for {src:?}: {m}");
            assert!(m.contains(message), "message {m:?} lacks {message:?}");
        }
        other => panic!("{src:?}: expected a syntax error, got {other:?}"),
    }
}

fn one(src: &str) -> Insn {
    let p = assemble(&format!("{src}\nexit")).unwrap_or_else(|e| panic!("{src:?}: {e}"));
    p[0]
}

#[test]
fn unknown_mnemonic_names_it_and_its_column() {
    syntax(
        "mov %r0, 1\n  foo %r1\nexit",
        2,
        3,
        "unknown mnemonic 'foo'",
    );
    syntax("ldxq %r0, %r1", 1, 1, "unknown mnemonic 'ldxq'");
    // movsx of 32 bits into a 32-bit register does not exist.
    syntax("movsx3232 %r0, %r1", 1, 1, "unknown mnemonic 'movsx3232'");
    syntax("ldxsdw %r0, [%r1]", 1, 1, "unknown mnemonic 'ldxsdw'");
    syntax("be8 %r0", 1, 1, "unknown mnemonic 'be8'");
}

#[test]
fn bad_registers() {
    syntax("mov %r0, %r11", 1, 10, "invalid register '%r11'");
    syntax("or %r0, %r50", 1, 9, "invalid register '%r50'");
    syntax("mov %r01, 1", 1, 5, "invalid register '%r01'");
    syntax("mov %x1, 1", 1, 5, "invalid register '%x1'");
    syntax("ldxw %r0, [%r16+2]", 1, 12, "invalid register '%r16'");
    syntax("mov 1, %r0", 1, 5, "expected a register, found '1'");
    syntax("call %r11", 1, 6, "invalid register '%r11'");
}

#[test]
fn operand_counts() {
    syntax(
        "lddw %r0",
        1,
        1,
        "wrong number of operands for 'lddw': expected 2, found 1",
    );
    syntax(
        "exit %r0",
        1,
        1,
        "wrong number of operands for 'exit': expected 0, found 1",
    );
    syntax(
        "neg %r0, 1",
        1,
        1,
        "wrong number of operands for 'neg': expected 1, found 2",
    );
    syntax("jeq %r0, 1", 1, 1, "'jeq': expected 3, found 2");
    syntax("lock", 1, 5, "wrong number of operands for 'lock'");
    syntax("lock or [%r10-8]", 1, 6, "'lock or': expected 2, found 1");
    syntax("lock fetch", 1, 11, "wrong number of operands for 'lock'");
    syntax(
        "lock nand [%r1], %r2",
        1,
        6,
        "unknown atomic operation 'nand'",
    );
    syntax("mov %r0,", 1, 9, "missing operand after ','");
    syntax("mov %r0,, 1", 1, 9, "missing operand before ','");
}

#[test]
fn immediate_ranges() {
    syntax(
        "mov32 %r0, 2147483648",
        1,
        12,
        "immediate 2147483648 is out of 32-bit range",
    );
    syntax(
        "mov32 %r0, -2147483649",
        1,
        12,
        "immediate -2147483649 is out of 32-bit range",
    );
    syntax(
        "mov32 %r0, 0x100000000",
        1,
        12,
        "immediate 0x100000000 is out of 32-bit range",
    );
    syntax(
        "stw [%r1], 99999999999999999999999999999999999999999",
        1,
        12,
        "too large",
    );
    syntax("mov %r0, 12ab", 1, 10, "invalid number '12ab'");
    syntax("mov %r0, 0x", 1, 10, "invalid number '0x'");
    // Hex is a 32-bit pattern, decimal a signed value.
    let mov = |imm| Insn::Alu {
        width: oxbpf_isa::Width::W32,
        op: oxbpf_isa::AluOp::Mov,
        dst: oxbpf_isa::Reg::R0,
        src: Operand::Imm(imm),
    };
    assert_eq!(one("mov32 %r0, 0xffffffff"), mov(-1));
    assert_eq!(one("mov32 %r0, 0x80000000"), mov(i32::MIN));
    assert_eq!(one("mov32 %r0, -2147483648"), mov(i32::MIN));
    assert_eq!(one("mov32 %r0, -0x1"), mov(-1));
    assert_eq!(one("mov32 %r0, +7"), mov(7));
    assert_eq!(one("mov32 %r0, 0X1F"), mov(31));
}

#[test]
fn lddw_ranges() {
    let imm = |src| match one(src) {
        Insn::Lddw { imm, .. } => imm,
        other => panic!("{other:?}"),
    };
    assert_eq!(imm("lddw %r0, 18446744073709551615"), u64::MAX);
    assert_eq!(imm("lddw %r0, -9223372036854775808"), 1 << 63);
    assert_eq!(imm("lddw %r0, 0xFFFFFFFF80000000"), 0xffff_ffff_8000_0000);
    syntax(
        "lddw %r0, 18446744073709551616",
        1,
        11,
        "out of 64-bit range",
    );
    syntax(
        "lddw %r0, 0x10000000000000000",
        1,
        11,
        "out of 64-bit range",
    );
    syntax(
        "lddw %r0, -9223372036854775809",
        1,
        11,
        "out of 64-bit range",
    );
    syntax(
        "lddw %r1, map_thing 3",
        1,
        11,
        "unknown lddw source 'map_thing'",
    );
    // map_fd takes no offset: the decoder's rule, reported at the line.
    syntax("lddw %r1, map_fd 3, 1\nexit", 1, 1, "next.imm");
}

#[test]
fn offsets() {
    syntax(
        "ldxb %r0, [%r1+0x10000]",
        1,
        15,
        "offset 0x10000 is out of 16-bit range",
    );
    syntax(
        "ldxb %r0, [%r1+32768]",
        1,
        15,
        "offset 32768 is out of 16-bit range",
    );
    syntax(
        "ldxb %r0, [%r1-32769]",
        1,
        15,
        "offset -32769 is out of 16-bit range",
    );
    syntax(
        "ldxb %r0, %r1",
        1,
        11,
        "expected a memory operand like [%r1+8], found '%r1'",
    );
    syntax("ldxb %r0, [%r1+]", 1, 15, "expected an offset, found '+'");
    syntax("ldxb %r0, [%r1 8]", 1, 11, "expected a memory operand");
    syntax("stxb [%r1+2, %r2", 1, 6, "expected a memory operand");
    let off = |src| match one(src) {
        Insn::Load { off, .. } => off,
        other => panic!("{other:?}"),
    };
    assert_eq!(off("ldxb %r0, [%r1-32768]"), i16::MIN);
    // As in the suite's assembler, a hex offset is a 16-bit pattern.
    assert_eq!(off("ldxb %r0, [%r1+0xffff]"), -1);
    assert_eq!(off("ldxb %r0, [ %r1 + 8 ]"), 8);
}

#[test]
fn labels() {
    let p = assemble("ja done\nmov %r0, 1\ndone:\nexit").expect("valid");
    assert_eq!(
        p[0],
        Insn::Ja {
            off: 1,
            wide: false
        }
    );
    // Backward, with an instruction on the label's line.
    let p = assemble("top: mov %r0, 1\njne %r0, 0, top\nexit").expect("valid");
    assert_eq!(
        p[1],
        Insn::Jmp {
            width: oxbpf_isa::Width::W64,
            cond: oxbpf_isa::JmpCond::Ne,
            dst: oxbpf_isa::Reg::R0,
            src: Operand::Imm(0),
            off: -2
        }
    );
    // lddw takes two slots, so labels after it count both.
    let p = assemble("ja end\nlddw %r0, 1\nend:\nexit").expect("valid");
    assert_eq!(
        p[0],
        Insn::Ja {
            off: 2,
            wide: false
        }
    );
    let p = assemble("call local f\nexit\nf:\nexit").expect("valid");
    assert_eq!(p[0], Insn::Call(CallTarget::Local(1)));
    match assemble("ja nowhere\nexit") {
        Err(AsmError::UndefinedLabel {
            line: 1,
            column: 4,
            label,
        }) => assert_eq!(label, "nowhere"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        assemble("a:\nexit\na:\nexit"),
        Err(AsmError::DuplicateLabel {
            line: 3,
            label: "a".into()
        })
    );
    syntax(
        "jeq %r0, 1, 5\nexit",
        1,
        13,
        "expected a label or a signed offset such as +2, found '5'",
    );
    syntax("1: exit", 1, 1, "expected a mnemonic or a label, found '1'");
}

#[test]
fn first_exit_is_the_implicit_exit_label() {
    // The suite jumps to `exit` without defining it (alu-arith.data).
    let p = assemble("jne %r0, 0, exit\nmov %r0, 1\nexit\nexit").expect("valid");
    assert_eq!(
        p[0],
        Insn::Jmp {
            width: oxbpf_isa::Width::W64,
            cond: oxbpf_isa::JmpCond::Ne,
            dst: oxbpf_isa::Reg::R0,
            src: Operand::Imm(0),
            off: 1
        }
    );
    // An explicit label of that name wins.
    let p = assemble("ja exit\nexit\nexit:\nexit").expect("valid");
    assert_eq!(
        p[0],
        Insn::Ja {
            off: 1,
            wide: false
        }
    );
    // Without any exit it is an ordinary undefined label.
    assert!(matches!(
        assemble("ja exit\nja -2"),
        Err(AsmError::UndefinedLabel { .. })
    ));
}

#[test]
fn far_labels() {
    // 40000 slots are beyond ja's 16-bit offset but fine for ja32.
    let filler = "mov %r0, 0\n".repeat(40_000);
    syntax(
        &format!("ja far\n{filler}far:\nexit"),
        1,
        4,
        "label 'far' is 40000 slots away, beyond the 16-bit offset range",
    );
    let p = assemble(&format!("ja32 far\n{filler}far:\nexit")).expect("valid");
    assert_eq!(
        p[0],
        Insn::Ja {
            off: 40_000,
            wide: true
        }
    );
}

#[test]
fn control_flow_is_checked_with_the_line() {
    syntax(
        "mov %r0, 0\nja +1\n",
        2,
        4,
        "insn 1: jump target 3 is outside the program",
    );
    syntax("ja +1\nlddw %r0, 1\nexit", 1, 4, "second half of an lddw");
    syntax("call local -3\nexit", 1, 12, "outside the program");
}

#[test]
fn comments_blank_lines_and_empty_sources() {
    assert_eq!(assemble(""), Err(AsmError::Empty));
    assert_eq!(
        assemble("# nothing\n\n   \nonly_a_label:"),
        Err(AsmError::Empty)
    );
    let p = assemble("  # header\n\tmov %r0, 1 # trailing\r\nexit\n").expect("valid");
    assert_eq!(p.len(), 2);
    syntax("mov %r0, 1 @", 1, 12, "unexpected character '@'");
    // Non-ASCII in a comment is fine; in code the column counts characters.
    assert!(assemble("exit # «fin»").is_ok());
    syntax("é exit", 1, 1, "unexpected character 'é'");
    syntax("mov %r0, é", 1, 10, "unexpected character 'é'");
}

#[test]
fn call_forms() {
    assert_eq!(one("call 5"), Insn::Call(CallTarget::Helper(5)));
    assert_eq!(one("call helper 5"), Insn::Call(CallTarget::Helper(5)));
    assert_eq!(
        one("call helper %r3"),
        Insn::Call(CallTarget::Reg(oxbpf_isa::Reg::R3))
    );
    assert_eq!(one("call -1"), Insn::Call(CallTarget::Helper(-1)));
    assert_eq!(one("call kfunc 9"), Insn::Call(CallTarget::Kfunc(9)));
    syntax(
        "call foo",
        1,
        6,
        "expected a helper id, a register, 'local LABEL' or 'runtime ID'",
    );
    syntax("call far 3", 1, 6, "unknown call kind 'far'");
}

#[test]
fn movsx_needs_a_register() {
    syntax("movsx864 %r0, 5", 1, 15, "expected a register, found '5'");
}

#[test]
fn error_display_has_line_and_column() {
    let e = assemble("exit\nbogus").unwrap_err();
    assert_eq!(e.to_string(), "line 2, column 1: unknown mnemonic 'bogus'");
    // Byte for byte the same as the suite's own assembler would give.
    assert_eq!(
        encode_bytes(&assemble("mov32 %r0, 1\nexit").expect("valid")),
        [0xb4, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn disassembly_of_invalid_targets_keeps_offsets() {
    // Programs the decoder would refuse still disassemble to text that
    // reassembles to the same instructions (before the target check).
    use oxbpf_isa::disasm::disassemble;
    let p = [
        Insn::Ja {
            off: 1,
            wide: false,
        },
        Insn::Lddw {
            dst: oxbpf_isa::Reg::R0,
            src: oxbpf_isa::LddwSrc::Imm,
            imm: 1,
        },
        Insn::LddwHi,
        Insn::Ja {
            off: 5,
            wide: false,
        },
    ];
    assert_eq!(disassemble(&p), "ja +1\nlddw %r0, 1\nja +5\n");
}

#[test]
fn errors_quote_operands_as_written() {
    syntax(
        "mov %r0, local  x",
        1,
        10,
        "expected an immediate, found 'local  x'",
    );
}
