//! Raw bytes to [`Insn`]s, with strict reserved-field and control-flow checks.
//!
//! The rules follow the opcode table of RFC 9669 (Appendix A, "BPF
//! Instruction Set registry"): every field the table marks `0` for an opcode
//! must be zero, every opcode not in the table is unknown. Where the RFC is
//! silent the kernel's verifier decides (`check_alu_op`, `do_check_insn`,
//! `resolve_pseudo_ldimm64` in `kernel/bpf/verifier.c`): `neg` and `end`
//! take no register form, `lddw` map sources other than the `*_value` ones
//! leave the second immediate zero, and legacy packet loads use `dst = 0`.

use crate::opcode::*;
use crate::{
    AluOp, AtomicOp, CallTarget, DecodeError, Endian, Insn, JmpCond, LddwSrc, Operand, RawInsn,
    Reg, Size, Width,
};

/// Decodes a program given as raw instructions. Checks every instruction's
/// opcode, registers and reserved fields, that `lddw` is complete, and that
/// every jump and local call lands inside the program and not inside an
/// `lddw`. The result has one [`Insn`] per slot.
///
/// ```
/// use oxbpf_isa::{decode, Insn, RawInsn};
/// // mov32 %r0, 1 ; exit
/// let raw = [RawInsn::from_u64(0x0000_0001_0000_00b4), RawInsn::from_u64(0x95)];
/// let insns = decode(&raw).unwrap();
/// assert_eq!(insns[1], Insn::Exit);
/// ```
pub fn decode(raw: &[RawInsn]) -> Result<Vec<Insn>, DecodeError> {
    let insns = decode_each(raw)?;
    check_targets(&insns)?;
    Ok(insns)
}

/// Decodes a program from bytes (a multiple of 8, little-endian).
pub fn decode_bytes(bytes: &[u8]) -> Result<Vec<Insn>, DecodeError> {
    if !bytes.len().is_multiple_of(8) {
        return Err(DecodeError::TrailingBytes { len: bytes.len() });
    }
    let raw: Vec<RawInsn> = bytes
        .chunks_exact(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            RawInsn::from_bytes(b)
        })
        .collect();
    decode(&raw)
}

/// Decodes every slot with all per-instruction checks of [`decode()`] (opcode,
/// registers, reserved fields, complete `lddw`) but without checking where
/// jumps and calls lead. Useful for single instructions whose targets lie
/// outside the slice; [`check_targets`] adds the missing check.
pub fn decode_each(raw: &[RawInsn]) -> Result<Vec<Insn>, DecodeError> {
    if raw.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut index = 0;
    while index < raw.len() {
        let r = raw[index];
        if r.opcode == BPF_LD | BPF_IMM | BPF_DW {
            let next = raw
                .get(index + 1)
                .ok_or(DecodeError::TruncatedLddw { index })?;
            out.push(decode_lddw(index, r, *next)?);
            out.push(Insn::LddwHi);
            index += 2;
        } else {
            out.push(decode_one(index, r)?);
            index += 1;
        }
    }
    Ok(out)
}

/// Checks that every jump, local call and `lddw` code address (pseudo source
/// [`LddwSrc::Func`]) of a slot-indexed program targets a slot inside the
/// program that is not the second half of an `lddw`.
pub fn check_targets(insns: &[Insn]) -> Result<(), DecodeError> {
    for (index, insn) in insns.iter().enumerate() {
        let Some(target) = insn.branch_target(index) else {
            continue;
        };
        if target < 0 || target >= insns.len() as i64 {
            return Err(DecodeError::JumpOutOfRange { index, target });
        }
        let target = target as usize;
        if matches!(insns[target], Insn::LddwHi) {
            return Err(DecodeError::JumpIntoLddw { index, target });
        }
    }
    Ok(())
}

/// Field checks of one instruction, in the order the error is reported:
/// reserved fields before registers, so that a garbage `src` nibble of an
/// immediate instruction is reported as reserved rather than as `r11`.
struct Fields {
    index: usize,
    raw: RawInsn,
}

impl Fields {
    fn zero_src(&self) -> Result<(), DecodeError> {
        self.zero("src", self.raw.src as i64)
    }

    fn zero_dst(&self) -> Result<(), DecodeError> {
        self.zero("dst", self.raw.dst as i64)
    }

    fn zero_off(&self) -> Result<(), DecodeError> {
        self.zero("off", self.raw.off as i64)
    }

    fn zero_imm(&self) -> Result<(), DecodeError> {
        self.zero("imm", self.raw.imm as i64)
    }

    fn zero(&self, field: &'static str, value: i64) -> Result<(), DecodeError> {
        if value == 0 {
            Ok(())
        } else {
            Err(self.reserved(field, value))
        }
    }

    fn reserved(&self, field: &'static str, value: i64) -> DecodeError {
        DecodeError::ReservedField {
            index: self.index,
            opcode: self.raw.opcode,
            field,
            value,
        }
    }

    fn bad(&self, field: &'static str, value: i64) -> DecodeError {
        DecodeError::BadField {
            index: self.index,
            opcode: self.raw.opcode,
            field,
            value,
        }
    }

    fn dst(&self) -> Result<Reg, DecodeError> {
        self.reg("dst", self.raw.dst)
    }

    fn src(&self) -> Result<Reg, DecodeError> {
        self.reg("src", self.raw.src)
    }

    fn reg(&self, field: &'static str, n: u8) -> Result<Reg, DecodeError> {
        Reg::new(n).ok_or(DecodeError::BadRegister {
            index: self.index,
            field,
            reg: n,
        })
    }

    fn unknown(&self) -> DecodeError {
        DecodeError::UnknownOpcode {
            index: self.index,
            opcode: self.raw.opcode,
        }
    }
}

fn decode_one(index: usize, raw: RawInsn) -> Result<Insn, DecodeError> {
    let f = Fields { index, raw };
    match class(raw.opcode) {
        BPF_LD => decode_ld(&f),
        BPF_LDX => decode_ldx(&f),
        BPF_ST => decode_st(&f),
        BPF_STX => decode_stx(&f),
        BPF_ALU => decode_alu(&f, Width::W32),
        BPF_ALU64 => decode_alu(&f, Width::W64),
        BPF_JMP => decode_jmp(&f, Width::W64),
        _ => decode_jmp(&f, Width::W32),
    }
}

fn size_of(opcode: u8) -> Size {
    match opcode & 0x18 {
        BPF_W => Size::W,
        BPF_H => Size::H,
        BPF_B => Size::B,
        _ => Size::DW,
    }
}

/// RFC 9669 §5.4: the 16-byte load. The second slot carries only `imm`; the
/// kernel (`resolve_pseudo_ldimm64`) rejects anything else in it.
fn decode_lddw(index: usize, lo: RawInsn, hi: RawInsn) -> Result<Insn, DecodeError> {
    let f = Fields { index, raw: lo };
    f.zero_off()?;
    f.zero("next.opcode", hi.opcode as i64)?;
    f.zero("next.dst", hi.dst as i64)?;
    f.zero("next.src", hi.src as i64)?;
    f.zero("next.off", hi.off as i64)?;
    let src = LddwSrc::from_code(lo.src).ok_or_else(|| f.bad("src", lo.src as i64))?;
    // Map references by fd or index name a whole map: the kernel refuses a
    // second immediate for them (only the *_VALUE forms use it as an offset).
    if matches!(src, LddwSrc::MapFd | LddwSrc::MapIdx) {
        f.zero("next.imm", hi.imm as i64)?;
    }
    let dst = f.dst()?;
    let imm = (lo.imm as u32 as u64) | ((hi.imm as u32 as u64) << 32);
    Ok(Insn::Lddw { dst, src, imm })
}

/// Legacy packet loads (RFC 9669 §5.5); `lddw` is handled by the caller.
fn decode_ld(f: &Fields) -> Result<Insn, DecodeError> {
    let op = f.raw.opcode;
    let mode = op & 0xe0;
    if (mode != BPF_ABS && mode != BPF_IND) || op & 0x18 == BPF_DW {
        return Err(f.unknown());
    }
    // The kernel's check_ld_abs requires dst = 0 (the result goes to r0) and
    // off = 0; BPF_ABS has no source register.
    f.zero_dst()?;
    f.zero_off()?;
    let src = if mode == BPF_ABS {
        f.zero_src()?;
        None
    } else {
        Some(f.src()?)
    };
    Ok(Insn::LdPacket {
        size: size_of(op),
        src,
        imm: f.raw.imm,
    })
}

fn decode_ldx(f: &Fields) -> Result<Insn, DecodeError> {
    let op = f.raw.opcode;
    let signed = match op & 0xe0 {
        BPF_MEM => false,
        // BPF_MEMSX exists for B, H and W only: a sign-extending 64-bit load
        // is an ordinary one.
        BPF_MEMSX if op & 0x18 != BPF_DW => true,
        _ => return Err(f.unknown()),
    };
    f.zero_imm()?;
    Ok(Insn::Load {
        size: size_of(op),
        signed,
        dst: f.dst()?,
        src: f.src()?,
        off: f.raw.off,
    })
}

fn decode_st(f: &Fields) -> Result<Insn, DecodeError> {
    if f.raw.opcode & 0xe0 != BPF_MEM {
        return Err(f.unknown());
    }
    f.zero_src()?;
    Ok(Insn::Store {
        size: size_of(f.raw.opcode),
        dst: f.dst()?,
        off: f.raw.off,
        src: Operand::Imm(f.raw.imm),
    })
}

fn decode_stx(f: &Fields) -> Result<Insn, DecodeError> {
    let op = f.raw.opcode;
    let size = size_of(op);
    match op & 0xe0 {
        BPF_MEM => {
            f.zero_imm()?;
            Ok(Insn::Store {
                size,
                dst: f.dst()?,
                off: f.raw.off,
                src: Operand::Reg(f.src()?),
            })
        }
        // RFC 9669 §5.3: atomics exist for 32 and 64 bits only.
        BPF_ATOMIC if matches!(size, Size::W | Size::DW) => {
            let imm = f.raw.imm;
            let (op, fetch) = match imm {
                BPF_XCHG => (AtomicOp::Xchg, true),
                BPF_CMPXCHG => (AtomicOp::CmpXchg, true),
                _ => {
                    let fetch = imm & BPF_FETCH != 0;
                    let op = match imm & !BPF_FETCH {
                        0x00 => AtomicOp::Add,
                        0x40 => AtomicOp::Or,
                        0x50 => AtomicOp::And,
                        0xa0 => AtomicOp::Xor,
                        _ => return Err(f.bad("imm", imm as i64)),
                    };
                    (op, fetch)
                }
            };
            Ok(Insn::Atomic {
                size,
                op,
                fetch,
                dst: f.dst()?,
                src: f.src()?,
                off: f.raw.off,
            })
        }
        _ => Err(f.unknown()),
    }
}

fn decode_alu(f: &Fields, width: Width) -> Result<Insn, DecodeError> {
    let raw = f.raw;
    let reg_src = raw.opcode & BPF_X != 0;
    let code = raw.opcode & 0xf0;

    if code == BPF_END {
        // RFC 9669 §4.2: ALU class carries le/be in the source bit; ALU64
        // has only the unconditional swap, with the source bit clear.
        let kind = match (width, reg_src) {
            (Width::W32, false) => Endian::ToLe,
            (Width::W32, true) => Endian::ToBe,
            (Width::W64, false) => Endian::Swap,
            (Width::W64, true) => return Err(f.unknown()),
        };
        f.zero_src()?;
        f.zero_off()?;
        if !matches!(raw.imm, 16 | 32 | 64) {
            return Err(f.bad("imm", raw.imm as i64));
        }
        return Ok(Insn::End {
            kind,
            bits: raw.imm as u8,
            dst: f.dst()?,
        });
    }

    let op = match code {
        BPF_ADD => AluOp::Add,
        BPF_SUB => AluOp::Sub,
        BPF_MUL => AluOp::Mul,
        BPF_DIV => AluOp::Div,
        BPF_OR => AluOp::Or,
        BPF_AND => AluOp::And,
        BPF_LSH => AluOp::Lsh,
        BPF_RSH => AluOp::Rsh,
        BPF_NEG => AluOp::Neg,
        BPF_MOD => AluOp::Mod,
        BPF_XOR => AluOp::Xor,
        BPF_MOV => AluOp::Mov,
        BPF_ARSH => AluOp::Arsh,
        _ => return Err(f.unknown()),
    };

    if op == AluOp::Neg {
        // The registry lists only 0x84 and 0x87; the kernel refuses the
        // register form and any operand.
        if reg_src {
            return Err(f.unknown());
        }
        f.zero_src()?;
        f.zero_off()?;
        f.zero_imm()?;
        return Ok(Insn::Alu {
            width,
            op,
            dst: f.dst()?,
            src: Operand::Imm(0),
        });
    }

    // `off` selects the signed variants (RFC 9669 §4.1): 1 for sdiv/smod,
    // 8/16/32 for movsx (32 only in the 64-bit class, and register form only).
    let op = match (op, raw.off) {
        (_, 0) => op,
        (AluOp::Div, 1) => AluOp::SDiv,
        (AluOp::Mod, 1) => AluOp::SMod,
        (AluOp::Mov, 8) if reg_src => AluOp::MovSx8,
        (AluOp::Mov, 16) if reg_src => AluOp::MovSx16,
        (AluOp::Mov, 32) if reg_src && width == Width::W64 => AluOp::MovSx32,
        (AluOp::Div | AluOp::Mod, off) => return Err(f.bad("off", off as i64)),
        (AluOp::Mov, off) if reg_src => return Err(f.bad("off", off as i64)),
        (_, off) => return Err(f.reserved("off", off as i64)),
    };

    let src = if reg_src {
        f.zero_imm()?;
        Operand::Reg(f.src()?)
    } else {
        f.zero_src()?;
        Operand::Imm(raw.imm)
    };
    Ok(Insn::Alu {
        width,
        op,
        dst: f.dst()?,
        src,
    })
}

fn decode_jmp(f: &Fields, width: Width) -> Result<Insn, DecodeError> {
    let raw = f.raw;
    let reg_src = raw.opcode & BPF_X != 0;
    let cond = match raw.opcode & 0xf0 {
        BPF_JA => {
            if reg_src {
                return Err(f.unknown());
            }
            f.zero_dst()?;
            f.zero_src()?;
            // `ja` keeps its offset in `off`; `gotol` (JMP32 class) in `imm`.
            return Ok(match width {
                Width::W64 => {
                    f.zero_imm()?;
                    Insn::Ja {
                        off: raw.off as i32,
                        wide: false,
                    }
                }
                Width::W32 => {
                    f.zero_off()?;
                    Insn::Ja {
                        off: raw.imm,
                        wide: true,
                    }
                }
            });
        }
        BPF_CALL if width == Width::W64 => return decode_call(f),
        BPF_EXIT if width == Width::W64 && !reg_src => {
            f.zero_dst()?;
            f.zero_src()?;
            f.zero_off()?;
            f.zero_imm()?;
            return Ok(Insn::Exit);
        }
        BPF_JEQ => JmpCond::Eq,
        BPF_JGT => JmpCond::Gt,
        BPF_JGE => JmpCond::Ge,
        BPF_JSET => JmpCond::Set,
        BPF_JNE => JmpCond::Ne,
        BPF_JSGT => JmpCond::Sgt,
        BPF_JSGE => JmpCond::Sge,
        BPF_JLT => JmpCond::Lt,
        BPF_JLE => JmpCond::Le,
        BPF_JSLT => JmpCond::Slt,
        BPF_JSLE => JmpCond::Sle,
        _ => return Err(f.unknown()),
    };
    let src = if reg_src {
        f.zero_imm()?;
        Operand::Reg(f.src()?)
    } else {
        f.zero_src()?;
        Operand::Imm(raw.imm)
    };
    Ok(Insn::Jmp {
        width,
        cond,
        dst: f.dst()?,
        src,
        off: raw.off,
    })
}

/// RFC 9669 §4.3.1 and `callx`. `callx` (0x8d) is not in the RFC's registry;
/// its register is in `dst`, as gcc, LLVM 19+ and the bpf_conformance
/// assembler encode it (older LLVM put it in `imm`, which is rejected here
/// as a reserved field).
fn decode_call(f: &Fields) -> Result<Insn, DecodeError> {
    let raw = f.raw;
    if raw.opcode & BPF_X != 0 {
        f.zero_src()?;
        f.zero_off()?;
        f.zero_imm()?;
        return Ok(Insn::Call(CallTarget::Reg(f.dst()?)));
    }
    f.zero_dst()?;
    // The kernel lets a kfunc call use `off` to select a module's BTF; the
    // RFC registry requires 0 and [`CallTarget`] has no room for it.
    f.zero_off()?;
    let target = match raw.src {
        0 => CallTarget::Helper(raw.imm),
        1 => CallTarget::Local(raw.imm),
        2 => CallTarget::Kfunc(raw.imm),
        src => return Err(f.bad("src", src as i64)),
    };
    Ok(Insn::Call(target))
}
