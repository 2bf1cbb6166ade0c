//! Property tests. The case count follows proptest's `PROPTEST_CASES`
//! environment variable (default 256); failures are persisted by proptest
//! and print the shrunk input.

use oxbpf_isa::asm::assemble;
use oxbpf_isa::decode::decode_each;
use oxbpf_isa::disasm::{disassemble, format_insn};
use oxbpf_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LddwSrc, Operand, Reg, Size, Width, decode,
    decode_bytes, encode, encode_bytes,
};
use proptest::prelude::*;
use proptest::sample::Index;

fn reg() -> impl Strategy<Value = Reg> {
    (0u8..=10).prop_map(|n| Reg::new(n).expect("0..=10"))
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)]
}

/// Immediates biased to the edges as well as arbitrary.
fn imm() -> impl Strategy<Value = i32> {
    prop_oneof![
        any::<i32>(),
        -2i32..=2,
        Just(i32::MIN),
        Just(i32::MAX),
        Just(0x10000),
        Just(-0x10001),
    ]
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![reg().prop_map(Operand::Reg), imm().prop_map(Operand::Imm)]
}

fn alu_op() -> impl Strategy<Value = AluOp> {
    prop::sample::select(vec![
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::SDiv,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Neg,
        AluOp::Mod,
        AluOp::SMod,
        AluOp::Xor,
        AluOp::Mov,
        AluOp::MovSx8,
        AluOp::MovSx16,
        AluOp::MovSx32,
        AluOp::Arsh,
    ])
}

fn cond() -> impl Strategy<Value = JmpCond> {
    prop::sample::select(vec![
        JmpCond::Eq,
        JmpCond::Gt,
        JmpCond::Ge,
        JmpCond::Set,
        JmpCond::Ne,
        JmpCond::Sgt,
        JmpCond::Sge,
        JmpCond::Lt,
        JmpCond::Le,
        JmpCond::Slt,
        JmpCond::Sle,
    ])
}

fn lddw_src() -> impl Strategy<Value = LddwSrc> {
    (0u8..=6).prop_map(|c| LddwSrc::from_code(c).expect("0..=6"))
}

/// Any instruction the decoder accepts (jump targets aside).
fn valid_insn() -> impl Strategy<Value = Insn> {
    let alu = (width(), alu_op(), reg(), operand(), reg()).prop_map(|(width, op, dst, src, r)| {
        // Shape the operands as the encoding requires: neg has none, movsx
        // takes a register, and movsx of 32 bits exists only in ALU64.
        let (width, src) = match op {
            AluOp::Neg => (width, Operand::Imm(0)),
            AluOp::MovSx8 | AluOp::MovSx16 => (width, Operand::Reg(r)),
            AluOp::MovSx32 => (Width::W64, Operand::Reg(r)),
            _ => (width, src),
        };
        Insn::Alu {
            width,
            op,
            dst,
            src,
        }
    });
    let end = (
        prop::sample::select(vec![Endian::ToLe, Endian::ToBe, Endian::Swap]),
        prop::sample::select(vec![16u8, 32, 64]),
        reg(),
    )
        .prop_map(|(kind, bits, dst)| Insn::End { kind, bits, dst });
    let ja = prop_oneof![
        any::<i16>().prop_map(|off| Insn::Ja {
            off: off as i32,
            wide: false
        }),
        any::<i32>().prop_map(|off| Insn::Ja { off, wide: true }),
    ];
    let jmp = (width(), cond(), reg(), operand(), any::<i16>()).prop_map(
        |(width, cond, dst, src, off)| Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        },
    );
    let call = prop_oneof![
        imm().prop_map(|i| Insn::Call(CallTarget::Helper(i))),
        any::<i32>().prop_map(|i| Insn::Call(CallTarget::Local(i))),
        imm().prop_map(|i| Insn::Call(CallTarget::Kfunc(i))),
        reg().prop_map(|r| Insn::Call(CallTarget::Reg(r))),
    ];
    let load = (size(), any::<bool>(), reg(), reg(), any::<i16>()).prop_map(
        |(size, signed, dst, src, off)| Insn::Load {
            size,
            signed: signed && size != Size::DW,
            dst,
            src,
            off,
        },
    );
    let store =
        (size(), reg(), any::<i16>(), operand()).prop_map(|(size, dst, off, src)| Insn::Store {
            size,
            dst,
            off,
            src,
        });
    let atomic = (
        any::<bool>(),
        prop::sample::select(vec![
            AtomicOp::Add,
            AtomicOp::Or,
            AtomicOp::And,
            AtomicOp::Xor,
            AtomicOp::Xchg,
            AtomicOp::CmpXchg,
        ]),
        any::<bool>(),
        reg(),
        reg(),
        any::<i16>(),
    )
        .prop_map(|(wide, op, fetch, dst, src, off)| Insn::Atomic {
            size: if wide { Size::DW } else { Size::W },
            op,
            fetch: fetch || matches!(op, AtomicOp::Xchg | AtomicOp::CmpXchg),
            dst,
            src,
            off,
        });
    let lddw = (reg(), lddw_src(), any::<u64>()).prop_map(|(dst, src, imm)| Insn::Lddw {
        dst,
        src,
        // Map references by fd or index have no second immediate.
        imm: if matches!(src, LddwSrc::MapFd | LddwSrc::MapIdx) {
            imm & 0xffff_ffff
        } else {
            imm
        },
    });
    let packet = (
        prop::sample::select(vec![Size::B, Size::H, Size::W]),
        prop::option::of(reg()),
        imm(),
    )
        .prop_map(|(size, src, imm)| Insn::LdPacket { size, src, imm });
    prop_oneof![
        alu,
        end,
        ja,
        jmp,
        call,
        Just(Insn::Exit),
        load,
        store,
        atomic,
        lddw,
        packet
    ]
}

/// Slots of a program made of `insns` (each `Lddw` followed by `LddwHi`).
fn slots(insns: &[Insn]) -> Vec<Insn> {
    let mut p = Vec::new();
    for insn in insns {
        p.push(*insn);
        if matches!(insn, Insn::Lddw { .. }) {
            p.push(Insn::LddwHi);
        }
    }
    p
}

/// Valid programs: arbitrary instructions whose jumps, local calls and
/// code addresses are redirected to instruction starts of the program.
fn valid_program() -> impl Strategy<Value = Vec<Insn>> {
    prop::collection::vec((valid_insn(), any::<Index>()), 1..48).prop_map(|items| {
        let insns: Vec<Insn> = items.iter().map(|(i, _)| *i).collect();
        let mut p = slots(&insns);
        let starts: Vec<usize> = (0..p.len())
            .filter(|&s| !matches!(p[s], Insn::LddwHi))
            .collect();
        let mut slot = 0;
        for (insn, pick) in &items {
            let target = starts[pick.index(starts.len())] as i64;
            let off = target - slot as i64 - 1;
            match &mut p[slot] {
                Insn::Ja { off: o, .. } => *o = off as i32,
                Insn::Jmp { off: o, .. } => *o = off as i16,
                Insn::Call(CallTarget::Local(o)) => *o = off as i32,
                Insn::Lddw {
                    src: LddwSrc::Func,
                    imm,
                    ..
                } => *imm = (*imm & !0xffff_ffff) | (off as u32 as u64),
                _ => {}
            }
            slot += insn.slots();
        }
        p
    })
}

proptest! {
    #[test]
    fn encode_then_decode_gives_the_insn_back(insn in valid_insn()) {
        let p = slots(&[insn]);
        let raw = encode(&p);
        prop_assert_eq!(raw.len(), p.len());
        let back = decode_each(&raw).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, &p);
        prop_assert_eq!(encode(&back), raw);
    }

    #[test]
    fn single_insn_text_reassembles(insn in valid_insn()) {
        // format_insn writes targets as offsets; pad so they stay inside.
        let text = format_insn(&insn, 0);
        let src = format!("{text}\nexit");
        match assemble(&src) {
            Ok(p) => prop_assert_eq!(p[0], insn),
            Err(oxbpf_isa::AsmError::Syntax { message, .. })
                if message.contains("outside the program")
                    || message.contains("second half of an lddw") => {}
            Err(e) => prop_assert!(false, "{text:?}: {e}"),
        }
    }

    #[test]
    fn valid_programs_decode_and_survive_disassembly(p in valid_program()) {
        let raw = encode(&p);
        let decoded = decode(&raw).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&decoded, &p);
        let text = disassemble(&p);
        let again = assemble(&text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&again, &p, "{}", text);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_valid_ones_round_trip(
        bytes in prop::collection::vec(any::<u8>(), 0..96)
    ) {
        if let Ok(p) = decode_bytes(&bytes) {
            prop_assert_eq!(encode_bytes(&p), bytes);
        }
    }

    #[test]
    fn mutated_programs_round_trip_or_are_rejected(
        p in valid_program(),
        slot in any::<Index>(),
        field in 0usize..5,
        value in prop_oneof![Just(0i64), -2i64..18, any::<i64>()],
    ) {
        // One field of one slot of a valid program changed: near misses of
        // every reserved-field rule, and accepted programs must re-encode
        // to exactly the bytes they came from.
        let mut raw = encode(&p);
        let i = slot.index(raw.len());
        let r = &mut raw[i];
        match field {
            0 => r.opcode = value as u8,
            1 => r.dst = (value as u8) & 0x0f,
            2 => r.src = (value as u8) & 0x0f,
            3 => r.off = value as i16,
            _ => r.imm = value as i32,
        }
        if let Ok(q) = decode(&raw) {
            prop_assert_eq!(encode(&q), raw);
            let text = disassemble(&q);
            let again = assemble(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(again, q);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>()) {
        let _ = assemble(&src);
    }

    #[test]
    fn random_lines_never_panic_and_what_assembles_round_trips(
        lines in prop::collection::vec(line(), 1..5)
    ) {
        let src = lines.join("\n");
        if let Ok(p) = assemble(&src) {
            let text = disassemble(&p);
            let again = assemble(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(again, p);
        }
    }
}

/// A source line: a label, an instruction from a template whose holes are
/// filled from pools (mostly valid, some out of range or undefined), or a
/// mnemonic with arbitrary operands, or noise.
fn line() -> impl Strategy<Value = String> {
    const TEMPLATES: &[&str] = &[
        "mov R, X",
        "mov32 R, X",
        "add R, X",
        "sdiv32 R, X",
        "smod R, X",
        "arsh32 R, X",
        "neg R",
        "neg32 R",
        "movsx1664 R, R",
        "movsx832 R, R",
        "movsx3264 R, R",
        "le16 R",
        "be32 R",
        "bswap64 R",
        "ja T",
        "ja32 T",
        "gotol T",
        "jeq R, X, T",
        "jslt32 R, X, T",
        "jset R, X, T",
        "call I",
        "call R",
        "call local T",
        "call runtime I",
        "exit",
        "exit",
        "ldxw R, M",
        "ldxsb R, M",
        "ldxdw R, M",
        "stb M, I",
        "stdw M, I",
        "stxh M, R",
        "lock add M, R",
        "lock fetch or32 M, R",
        "lock xchg M, R",
        "lock cmpxchg32 M, R",
        "lddw R, Q",
        "lddw R, map_fd I",
        "lddw R, map_value I, I",
        "lddw R, func T",
        "lddw R, btf_id I",
        "ldabsw I",
        "ldindh R, I",
    ];
    const REGS: &[&str] = &["%r0", "%r1", "%r2", "%r9", "%r10", "%r11"];
    const IMMS: &[&str] = &[
        "0",
        "1",
        "-1",
        "16",
        "0x10",
        "0xffffffff",
        "-2147483648",
        "2147483647",
        "0x100000000",
        "2147483648",
    ];
    const MEMS: &[&str] = &[
        "[%r1+8]",
        "[%r10-8]",
        "[%r2]",
        "[%r1-0x8000]",
        "[%r1+0x10000]",
    ];
    const TARGETS: &[&str] = &["+0", "+1", "-1", "+2", "-3", "L", "M", "exit", "N"];
    const WIDE: &[&str] = &["0", "0x123456789abcdef0", "-1", "18446744073709551616"];
    let template = (
        prop::sample::select(TEMPLATES.to_vec()),
        prop::collection::vec(any::<Index>(), 4),
    )
        .prop_map(|(t, picks)| {
            let mut picks = picks.into_iter().cycle();
            let mut out = String::new();
            for c in t.chars() {
                let pool = match c {
                    'R' => REGS,
                    'I' => IMMS,
                    'M' => MEMS,
                    'T' => TARGETS,
                    'Q' => WIDE,
                    // X: register or immediate.
                    'X' if picks.next().is_some_and(|i| i.index(2) == 0) => REGS,
                    'X' => IMMS,
                    _ => {
                        out.push(c);
                        continue;
                    }
                };
                let pick = picks.next().map_or(0, |i| i.index(pool.len()));
                out.push_str(pool[pick]);
            }
            out
        });
    let mnemonics = [
        "mov",
        "neg",
        "ja",
        "jeq",
        "call",
        "exit",
        "ldxw",
        "stb",
        "lock",
        "lock fetch",
        "lddw",
        "frob",
    ];
    let operands = [
        "%r0", "%r11", "1", "[%r1+8]", "+1", "L", "local L", "map_fd 3", "",
    ];
    let loose = (
        prop::sample::select(mnemonics.to_vec()),
        prop::collection::vec(prop::sample::select(operands.to_vec()), 0..4),
    )
        .prop_map(|(m, ops)| format!("{m} {}", ops.join(", ")));
    let label =
        prop::sample::select(vec!["L:", "M:", "L: exit", "M: mov %r0, 1"]).prop_map(str::to_string);
    let noise = "[ -~]{0,12}";
    prop_oneof![2 => label, 16 => template, 2 => loose, 1 => noise]
}
