//! Every instruction class against bytes written by hand from the opcode
//! table of RFC 9669 (Appendix A) and the field layout of §3: byte 0 the
//! opcode, byte 1 `src << 4 | dst`, bytes 2-3 `off`, bytes 4-7 `imm`, all
//! little-endian. The expected bytes are not produced by this crate.

use oxbpf_isa::asm::assemble;
use oxbpf_isa::decode::decode_each;
use oxbpf_isa::disasm::format_insn;
use oxbpf_isa::encode::encode_insn;
use oxbpf_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LddwSrc, Operand, RawInsn, Reg, Size,
    Width, encode_bytes,
};

fn bytes(hex: &str) -> Vec<u8> {
    hex.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("test hex"))
        .collect()
}

fn raws(b: &[u8]) -> Vec<RawInsn> {
    b.chunks(8)
        .map(|c| RawInsn::from_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

/// Checks one source line against its hand-written encoding and, where
/// given, the typed instruction: assembling gives the bytes, decoding the
/// bytes gives the instruction, and the single-instruction text of the
/// decoded form assembles back to the same bytes.
#[track_caller]
fn case(text: &str, hex: &str, expected: Option<Insn>) {
    let want = bytes(hex);
    let assembled = assemble_unchecked(text);
    assert_eq!(
        encode_bytes(&assembled),
        want,
        "assembling {text:?} gives other bytes"
    );
    let decoded = decode_each(&raws(&want)).unwrap_or_else(|e| panic!("decode {hex}: {e}"));
    assert_eq!(decoded, assembled, "decoding {hex}");
    if let Some(insn) = expected {
        assert_eq!(decoded[0], insn, "typed form of {text:?}");
    }
    let again = assemble_unchecked(&format_insn(&decoded[0], 0));
    assert_eq!(encode_bytes(&again), want, "format_insn of {text:?}");
}

/// Assembles one instruction inside a program padded with `exit`s, so that
/// a relative target of the instruction lands inside the program.
fn assemble_unchecked(text: &str) -> Vec<Insn> {
    // The cases jump at most 8 slots back, and 70000 forward only in the
    // one case that says so.
    let before = 8;
    let after = if text.contains("70000") { 70_001 } else { 16 };
    let mut src = "exit\n".repeat(before);
    src.push_str(text);
    src.push('\n');
    src.push_str(&"exit\n".repeat(after));
    let p = assemble(&src).unwrap_or_else(|e| panic!("assemble {text:?}: {e}"));
    let n = p[before].slots();
    p[before..before + n].to_vec()
}

const R0: Reg = Reg::R0;
const R1: Reg = Reg::R1;
const R2: Reg = Reg::R2;

#[test]
fn alu_immediate_and_register_forms() {
    let alu = |width, op, dst, src| {
        Some(Insn::Alu {
            width,
            op,
            dst,
            src,
        })
    };
    case(
        "add32 %r1, 5",
        "04 01 00 00 05 00 00 00",
        alu(Width::W32, AluOp::Add, R1, Operand::Imm(5)),
    );
    case(
        "add %r1, %r2",
        "0f 21 00 00 00 00 00 00",
        alu(Width::W64, AluOp::Add, R1, Operand::Reg(R2)),
    );
    case("sub32 %r3, %r4", "1c 43 00 00 00 00 00 00", None);
    case("sub %r3, 1", "17 03 00 00 01 00 00 00", None);
    case("mul %r0, 7", "27 00 00 00 07 00 00 00", None);
    case("mul32 %r0, %r1", "2c 10 00 00 00 00 00 00", None);
    case(
        "div32 %r0, 2",
        "34 00 00 00 02 00 00 00",
        alu(Width::W32, AluOp::Div, R0, Operand::Imm(2)),
    );
    case("div %r0, %r9", "3f 90 00 00 00 00 00 00", None);
    case("or %r5, 16", "47 05 00 00 10 00 00 00", None);
    case("or32 %r5, %r6", "4c 65 00 00 00 00 00 00", None);
    case("and32 %r1, %r9", "5c 91 00 00 00 00 00 00", None);
    case("and %r1, 255", "57 01 00 00 ff 00 00 00", None);
    case("lsh %r1, 3", "67 01 00 00 03 00 00 00", None);
    case("lsh32 %r1, %r2", "6c 21 00 00 00 00 00 00", None);
    case("rsh32 %r1, %r10", "7c a1 00 00 00 00 00 00", None);
    case("rsh %r1, 63", "77 01 00 00 3f 00 00 00", None);
    case(
        "mod %r1, 10",
        "97 01 00 00 0a 00 00 00",
        alu(Width::W64, AluOp::Mod, R1, Operand::Imm(10)),
    );
    case("mod32 %r1, %r2", "9c 21 00 00 00 00 00 00", None);
    case(
        "xor32 %r0, -1",
        "a4 00 00 00 ff ff ff ff",
        alu(Width::W32, AluOp::Xor, R0, Operand::Imm(-1)),
    );
    case("xor %r0, %r0", "af 00 00 00 00 00 00 00", None);
    case(
        "mov %r0, %r10",
        "bf a0 00 00 00 00 00 00",
        alu(Width::W64, AluOp::Mov, R0, Operand::Reg(Reg::R10)),
    );
    case("mov32 %r0, 1", "b4 00 00 00 01 00 00 00", None);
    case("mov %r9, -2147483648", "b7 09 00 00 00 00 00 80", None);
    case("mov32 %r1, %r2", "bc 21 00 00 00 00 00 00", None);
    case("arsh32 %r1, 4", "c4 01 00 00 04 00 00 00", None);
    case(
        "arsh %r1, %r2",
        "cf 21 00 00 00 00 00 00",
        alu(Width::W64, AluOp::Arsh, R1, Operand::Reg(R2)),
    );
}

#[test]
fn alu_neg_has_no_operand() {
    let neg = |width| {
        Some(Insn::Alu {
            width,
            op: AluOp::Neg,
            dst: R2,
            src: Operand::Imm(0),
        })
    };
    case("neg %r2", "87 02 00 00 00 00 00 00", neg(Width::W64));
    case("neg32 %r2", "84 02 00 00 00 00 00 00", neg(Width::W32));
}

#[test]
fn alu_signed_division_uses_offset_1() {
    let alu = |width, op, src| {
        Some(Insn::Alu {
            width,
            op,
            dst: R0,
            src,
        })
    };
    case(
        "sdiv %r0, -3",
        "37 00 01 00 fd ff ff ff",
        alu(Width::W64, AluOp::SDiv, Operand::Imm(-3)),
    );
    case(
        "sdiv32 %r0, %r2",
        "3c 20 01 00 00 00 00 00",
        alu(Width::W32, AluOp::SDiv, Operand::Reg(R2)),
    );
    case(
        "smod %r0, %r2",
        "9f 20 01 00 00 00 00 00",
        alu(Width::W64, AluOp::SMod, Operand::Reg(R2)),
    );
    case(
        "smod32 %r0, 7",
        "94 00 01 00 07 00 00 00",
        alu(Width::W32, AluOp::SMod, Operand::Imm(7)),
    );
}

#[test]
fn alu_movsx_uses_offset_8_16_32() {
    let sx = |width, op, dst, src| {
        Some(Insn::Alu {
            width,
            op,
            dst,
            src: Operand::Reg(src),
        })
    };
    case(
        "movsx832 %r0, %r1",
        "bc 10 08 00 00 00 00 00",
        sx(Width::W32, AluOp::MovSx8, R0, R1),
    );
    case(
        "movsx1632 %r0, %r1",
        "bc 10 10 00 00 00 00 00",
        sx(Width::W32, AluOp::MovSx16, R0, R1),
    );
    case(
        "movsx864 %r6, %r5",
        "bf 56 08 00 00 00 00 00",
        sx(Width::W64, AluOp::MovSx8, Reg::R6, Reg::R5),
    );
    case(
        "movsx1664 %r8, %r7",
        "bf 78 10 00 00 00 00 00",
        sx(Width::W64, AluOp::MovSx16, Reg::R8, Reg::R7),
    );
    case(
        "movsx3264 %r0, %r9",
        "bf 90 20 00 00 00 00 00",
        sx(Width::W64, AluOp::MovSx32, R0, Reg::R9),
    );
}

#[test]
fn byte_swaps() {
    let end = |kind, bits, dst| Some(Insn::End { kind, bits, dst });
    case(
        "le16 %r0",
        "d4 00 00 00 10 00 00 00",
        end(Endian::ToLe, 16, R0),
    );
    case(
        "le32 %r0",
        "d4 00 00 00 20 00 00 00",
        end(Endian::ToLe, 32, R0),
    );
    case(
        "le64 %r3",
        "d4 03 00 00 40 00 00 00",
        end(Endian::ToLe, 64, Reg::R3),
    );
    case(
        "be16 %r1",
        "dc 01 00 00 10 00 00 00",
        end(Endian::ToBe, 16, R1),
    );
    case(
        "be32 %r1",
        "dc 01 00 00 20 00 00 00",
        end(Endian::ToBe, 32, R1),
    );
    case(
        "be64 %r1",
        "dc 01 00 00 40 00 00 00",
        end(Endian::ToBe, 64, R1),
    );
    case(
        "bswap16 %r2",
        "d7 02 00 00 10 00 00 00",
        end(Endian::Swap, 16, R2),
    );
    case(
        "bswap32 %r2",
        "d7 02 00 00 20 00 00 00",
        end(Endian::Swap, 32, R2),
    );
    case(
        "bswap64 %r2",
        "d7 02 00 00 40 00 00 00",
        end(Endian::Swap, 64, R2),
    );
    // The suite also spells bswap as swap.
    case(
        "swap64 %r2",
        "d7 02 00 00 40 00 00 00",
        end(Endian::Swap, 64, R2),
    );
}

#[test]
fn unconditional_jumps() {
    case(
        "ja +3",
        "05 00 03 00 00 00 00 00",
        Some(Insn::Ja {
            off: 3,
            wide: false,
        }),
    );
    case(
        "ja -1",
        "05 00 ff ff 00 00 00 00",
        Some(Insn::Ja {
            off: -1,
            wide: false,
        }),
    );
    // gotol keeps its offset in imm (JMP32 class).
    case(
        "ja32 +70000",
        "06 00 00 00 70 11 01 00",
        Some(Insn::Ja {
            off: 70000,
            wide: true,
        }),
    );
    case(
        "gotol -8",
        "06 00 00 00 f8 ff ff ff",
        Some(Insn::Ja {
            off: -8,
            wide: true,
        }),
    );
}

#[test]
fn conditional_jumps() {
    let j = |width, cond, src, off| {
        Some(Insn::Jmp {
            width,
            cond,
            dst: R1,
            src,
            off,
        })
    };
    case(
        "jeq %r1, 5, +2",
        "15 01 02 00 05 00 00 00",
        j(Width::W64, JmpCond::Eq, Operand::Imm(5), 2),
    );
    case(
        "jeq32 %r1, %r2, -3",
        "1e 21 fd ff 00 00 00 00",
        j(Width::W32, JmpCond::Eq, Operand::Reg(R2), -3),
    );
    case(
        "jgt %r1, %r2, +1",
        "2d 21 01 00 00 00 00 00",
        j(Width::W64, JmpCond::Gt, Operand::Reg(R2), 1),
    );
    case("jgt32 %r1, 9, +1", "26 01 01 00 09 00 00 00", None);
    case(
        "jge32 %r1, 0, +1",
        "36 01 01 00 00 00 00 00",
        j(Width::W32, JmpCond::Ge, Operand::Imm(0), 1),
    );
    case("jge %r1, %r2, +1", "3d 21 01 00 00 00 00 00", None);
    case(
        "jset %r1, 8, +1",
        "45 01 01 00 08 00 00 00",
        j(Width::W64, JmpCond::Set, Operand::Imm(8), 1),
    );
    case("jset32 %r1, %r2, +1", "4e 21 01 00 00 00 00 00", None);
    case(
        "jne %r1, %r2, +1",
        "5d 21 01 00 00 00 00 00",
        j(Width::W64, JmpCond::Ne, Operand::Reg(R2), 1),
    );
    case("jne32 %r1, 1, +1", "56 01 01 00 01 00 00 00", None);
    case(
        "jsgt %r1, -1, +1",
        "65 01 01 00 ff ff ff ff",
        j(Width::W64, JmpCond::Sgt, Operand::Imm(-1), 1),
    );
    case("jsgt32 %r1, %r2, +1", "6e 21 01 00 00 00 00 00", None);
    case(
        "jsge32 %r1, %r2, +1",
        "7e 21 01 00 00 00 00 00",
        j(Width::W32, JmpCond::Sge, Operand::Reg(R2), 1),
    );
    case("jsge %r1, 4, +1", "75 01 01 00 04 00 00 00", None);
    case(
        "jlt %r1, 1, +1",
        "a5 01 01 00 01 00 00 00",
        j(Width::W64, JmpCond::Lt, Operand::Imm(1), 1),
    );
    case("jlt32 %r1, %r2, +1", "ae 21 01 00 00 00 00 00", None);
    case(
        "jle32 %r1, %r2, +1",
        "be 21 01 00 00 00 00 00",
        j(Width::W32, JmpCond::Le, Operand::Reg(R2), 1),
    );
    case("jle %r1, 3, +1", "b5 01 01 00 03 00 00 00", None);
    case(
        "jslt %r1, %r2, +1",
        "cd 21 01 00 00 00 00 00",
        j(Width::W64, JmpCond::Slt, Operand::Reg(R2), 1),
    );
    case("jslt32 %r1, -5, +1", "c6 01 01 00 fb ff ff ff", None);
    case(
        "jsle32 %r1, 2, +1",
        "d6 01 01 00 02 00 00 00",
        j(Width::W32, JmpCond::Sle, Operand::Imm(2), 1),
    );
    case("jsle %r1, %r2, -8", "dd 21 f8 ff 00 00 00 00", None);
}

#[test]
fn calls_and_exit() {
    case(
        "call 5",
        "85 00 00 00 05 00 00 00",
        Some(Insn::Call(CallTarget::Helper(5))),
    );
    case(
        "call local +2",
        "85 10 00 00 02 00 00 00",
        Some(Insn::Call(CallTarget::Local(2))),
    );
    case(
        "call runtime 1234",
        "85 20 00 00 d2 04 00 00",
        Some(Insn::Call(CallTarget::Kfunc(1234))),
    );
    // callx: the register is in dst (gcc, LLVM 19+, bpf_conformance).
    case(
        "call %r2",
        "8d 02 00 00 00 00 00 00",
        Some(Insn::Call(CallTarget::Reg(R2))),
    );
    case("exit", "95 00 00 00 00 00 00 00", Some(Insn::Exit));
}

#[test]
fn loads() {
    let ld = |size, signed, dst, src, off| {
        Some(Insn::Load {
            size,
            signed,
            dst,
            src,
            off,
        })
    };
    case(
        "ldxw %r1, [%r1+4]",
        "61 11 04 00 00 00 00 00",
        ld(Size::W, false, R1, R1, 4),
    );
    case(
        "ldxh %r2, [%r10-2]",
        "69 a2 fe ff 00 00 00 00",
        ld(Size::H, false, R2, Reg::R10, -2),
    );
    case(
        "ldxb %r0, [%r1]",
        "71 10 00 00 00 00 00 00",
        ld(Size::B, false, R0, R1, 0),
    );
    case(
        "ldxdw %r0, [%r1+8]",
        "79 10 08 00 00 00 00 00",
        ld(Size::DW, false, R0, R1, 8),
    );
    case(
        "ldxsw %r0, [%r1]",
        "81 10 00 00 00 00 00 00",
        ld(Size::W, true, R0, R1, 0),
    );
    case(
        "ldxsh %r0, [%r1-32768]",
        "89 10 00 80 00 00 00 00",
        ld(Size::H, true, R0, R1, -32768),
    );
    case(
        "ldxsb %r0, [%r1+32767]",
        "91 10 ff 7f 00 00 00 00",
        ld(Size::B, true, R0, R1, 32767),
    );
}

#[test]
fn stores() {
    let st = |size, dst, off, src| {
        Some(Insn::Store {
            size,
            dst,
            off,
            src,
        })
    };
    case(
        "stw [%r10-4], 1",
        "62 0a fc ff 01 00 00 00",
        st(Size::W, Reg::R10, -4, Operand::Imm(1)),
    );
    case(
        "sth [%r1+2], 0x2211",
        "6a 01 02 00 11 22 00 00",
        st(Size::H, R1, 2, Operand::Imm(0x2211)),
    );
    case("stb [%r1+2], 0x11", "72 01 02 00 11 00 00 00", None);
    case(
        "stdw [%r10-8], -1",
        "7a 0a f8 ff ff ff ff ff",
        st(Size::DW, Reg::R10, -8, Operand::Imm(-1)),
    );
    case(
        "stxw [%r10-4], %r1",
        "63 1a fc ff 00 00 00 00",
        st(Size::W, Reg::R10, -4, Operand::Reg(R1)),
    );
    case("stxh [%r1], %r2", "6b 21 00 00 00 00 00 00", None);
    case("stxb [%r1+1], %r2", "73 21 01 00 00 00 00 00", None);
    case(
        "stxdw [%r10-8], %r1",
        "7b 1a f8 ff 00 00 00 00",
        st(Size::DW, Reg::R10, -8, Operand::Reg(R1)),
    );
}

#[test]
fn atomics() {
    let at = |size, op, fetch| {
        Some(Insn::Atomic {
            size,
            op,
            fetch,
            dst: Reg::R10,
            src: R1,
            off: -8,
        })
    };
    case(
        "lock add [%r10-8], %r1",
        "db 1a f8 ff 00 00 00 00",
        at(Size::DW, AtomicOp::Add, false),
    );
    case(
        "lock add32 [%r10-8], %r1",
        "c3 1a f8 ff 00 00 00 00",
        at(Size::W, AtomicOp::Add, false),
    );
    case(
        "lock fetch add [%r10-8], %r1",
        "db 1a f8 ff 01 00 00 00",
        at(Size::DW, AtomicOp::Add, true),
    );
    case(
        "lock or [%r10-8], %r1",
        "db 1a f8 ff 40 00 00 00",
        at(Size::DW, AtomicOp::Or, false),
    );
    case(
        "lock fetch or32 [%r10-8], %r1",
        "c3 1a f8 ff 41 00 00 00",
        at(Size::W, AtomicOp::Or, true),
    );
    case(
        "lock and32 [%r10-8], %r1",
        "c3 1a f8 ff 50 00 00 00",
        at(Size::W, AtomicOp::And, false),
    );
    case(
        "lock fetch and [%r10-8], %r1",
        "db 1a f8 ff 51 00 00 00",
        at(Size::DW, AtomicOp::And, true),
    );
    case(
        "lock xor [%r10-8], %r1",
        "db 1a f8 ff a0 00 00 00",
        at(Size::DW, AtomicOp::Xor, false),
    );
    case(
        "lock fetch xor32 [%r10-8], %r1",
        "c3 1a f8 ff a1 00 00 00",
        at(Size::W, AtomicOp::Xor, true),
    );
    case(
        "lock xchg [%r10-8], %r1",
        "db 1a f8 ff e1 00 00 00",
        at(Size::DW, AtomicOp::Xchg, true),
    );
    case(
        "lock xchg32 [%r10-8], %r1",
        "c3 1a f8 ff e1 00 00 00",
        at(Size::W, AtomicOp::Xchg, true),
    );
    case(
        "lock cmpxchg [%r10-8], %r1",
        "db 1a f8 ff f1 00 00 00",
        at(Size::DW, AtomicOp::CmpXchg, true),
    );
    case(
        "lock cmpxchg32 [%r10-8], %r1",
        "c3 1a f8 ff f1 00 00 00",
        at(Size::W, AtomicOp::CmpXchg, true),
    );
    // `fetch` is implied for xchg; writing it changes nothing.
    case(
        "lock fetch xchg [%r10-8], %r1",
        "db 1a f8 ff e1 00 00 00",
        None,
    );
}

#[test]
fn lddw_immediate_and_pseudo_sources() {
    let ld = |dst, src, imm| Some(Insn::Lddw { dst, src, imm });
    case(
        "lddw %r0, 0x1122334455667788",
        "18 00 00 00 88 77 66 55 00 00 00 00 44 33 22 11",
        ld(R0, LddwSrc::Imm, 0x1122334455667788),
    );
    case(
        "lddw %r3, -1",
        "18 03 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff",
        ld(Reg::R3, LddwSrc::Imm, u64::MAX),
    );
    case(
        "lddw %r1, map_fd 3",
        "18 11 00 00 03 00 00 00 00 00 00 00 00 00 00 00",
        ld(R1, LddwSrc::MapFd, 3),
    );
    case(
        "lddw %r1, map_value 3, 16",
        "18 21 00 00 03 00 00 00 00 00 00 00 10 00 00 00",
        ld(R1, LddwSrc::MapValue, 3 | 16 << 32),
    );
    case(
        "lddw %r1, btf_id 7",
        "18 31 00 00 07 00 00 00 00 00 00 00 00 00 00 00",
        ld(R1, LddwSrc::BtfId, 7),
    );
    case(
        "lddw %r2, func +1",
        "18 42 00 00 01 00 00 00 00 00 00 00 00 00 00 00",
        ld(R2, LddwSrc::Func, 1),
    );
    case(
        "lddw %r1, map_idx 0",
        "18 51 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
        ld(R1, LddwSrc::MapIdx, 0),
    );
    case(
        "lddw %r1, map_idx_value 2, 8",
        "18 61 00 00 02 00 00 00 00 00 00 00 08 00 00 00",
        ld(R1, LddwSrc::MapIdxValue, 2 | 8 << 32),
    );
}

#[test]
fn legacy_packet_loads() {
    let pk = |size, src, imm| Some(Insn::LdPacket { size, src, imm });
    case(
        "ldabsw 12",
        "20 00 00 00 0c 00 00 00",
        pk(Size::W, None, 12),
    );
    case(
        "ldabsh 12",
        "28 00 00 00 0c 00 00 00",
        pk(Size::H, None, 12),
    );
    case(
        "ldabsb 12",
        "30 00 00 00 0c 00 00 00",
        pk(Size::B, None, 12),
    );
    case(
        "ldindw %r1, 4",
        "40 10 00 00 04 00 00 00",
        pk(Size::W, Some(R1), 4),
    );
    case("ldindh %r1, 4", "48 10 00 00 04 00 00 00", None);
    case(
        "ldindb %r2, 0",
        "50 20 00 00 00 00 00 00",
        pk(Size::B, Some(R2), 0),
    );
}

#[test]
fn encode_insn_matches_program_encoding() {
    // encode_insn is the first slot of a program's encoding.
    let p = assemble("lddw %r0, 0x1122334455667788\nexit").expect("valid");
    assert_eq!(
        encode_insn(&p[0]).to_bytes(),
        [0x18, 0, 0, 0, 0x88, 0x77, 0x66, 0x55]
    );
}
