//! The typed instruction model.

use core::fmt;

/// One of the eleven eBPF registers, `r0`..`r10` (RFC 9669 §2.4).
///
/// `r10` is the read-only frame pointer. The invariant `0 <= n <= 10` holds
/// for every `Reg` constructed through [`Reg::new`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reg(u8);

impl Reg {
    pub const R0: Reg = Reg(0);
    pub const R1: Reg = Reg(1);
    pub const R2: Reg = Reg(2);
    pub const R3: Reg = Reg(3);
    pub const R4: Reg = Reg(4);
    pub const R5: Reg = Reg(5);
    pub const R6: Reg = Reg(6);
    pub const R7: Reg = Reg(7);
    pub const R8: Reg = Reg(8);
    pub const R9: Reg = Reg(9);
    /// The frame pointer.
    pub const R10: Reg = Reg(10);
    /// Number of registers.
    pub const COUNT: usize = 11;

    /// Returns the register numbered `n`, or `None` if `n > 10`.
    pub const fn new(n: u8) -> Option<Reg> {
        if n <= 10 { Some(Reg(n)) } else { None }
    }

    /// The register number, `0..=10`.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The register number as stored in an instruction nibble.
    pub const fn num(self) -> u8 {
        self.0
    }
}

impl fmt::Debug for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%r{}", self.0)
    }
}

/// Second operand of ALU and conditional jump instructions: the `BPF_X` /
/// `BPF_K` source bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    Reg(Reg),
    Imm(i32),
}

/// Operand width of ALU (32 / 64 bit class) and JMP (JMP32 / JMP) instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    W32,
    W64,
}

/// Arithmetic operations (RFC 9669 §4.1). Signed division and modulo are the
/// `offset = 1` forms of `div`/`mod`; sign-extending moves are the
/// `offset = 8/16/32` forms of `mov`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    Div,
    SDiv,
    Or,
    And,
    Lsh,
    Rsh,
    /// `dst = -dst`; the operand is unused and must be `Imm(0)`.
    Neg,
    Mod,
    SMod,
    Xor,
    Mov,
    /// `movsx` from 8 bits.
    MovSx8,
    /// `movsx` from 16 bits.
    MovSx16,
    /// `movsx` from 32 bits (64-bit class only).
    MovSx32,
    Arsh,
}

/// Byte-swap kind (RFC 9669 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endian {
    /// `le16/32/64`: convert to little endian (ALU class, source bit 0).
    ToLe,
    /// `be16/32/64`: convert to big endian (ALU class, source bit 1).
    ToBe,
    /// `bswap16/32/64`: unconditional swap (ALU64 class).
    Swap,
}

/// Conditions of conditional jumps (RFC 9669 §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JmpCond {
    Eq,
    Gt,
    Ge,
    Set,
    Ne,
    Sgt,
    Sge,
    Lt,
    Le,
    Slt,
    Sle,
}

/// Memory access size (RFC 9669 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    B,
    H,
    W,
    DW,
}

impl Size {
    /// Access width in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }
}

/// Atomic operations (RFC 9669 §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    Add,
    Or,
    And,
    Xor,
    /// Always fetches: `src` receives the old value.
    Xchg,
    /// Always fetches: compares with `r0`, `r0` receives the old value.
    CmpXchg,
}

/// The `src` field of `lddw`, selecting how `imm` is interpreted
/// (RFC 9669 §5.4 and the kernel's `BPF_PSEUDO_*` constants).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LddwSrc {
    /// 0: `dst = imm64`.
    Imm,
    /// 1 (`BPF_PSEUDO_MAP_FD`): `dst = map_by_fd(imm)`.
    MapFd,
    /// 2 (`BPF_PSEUDO_MAP_VALUE`): `dst = map_val(map_by_fd(imm)) + next_imm`.
    MapValue,
    /// 3 (`BPF_PSEUDO_BTF_ID`): `dst = var_addr(imm)`.
    BtfId,
    /// 4 (`BPF_PSEUDO_FUNC`): `dst = code_addr(imm)`, relative like a local call.
    Func,
    /// 5 (`BPF_PSEUDO_MAP_IDX`): `dst = map_by_idx(imm)`.
    MapIdx,
    /// 6 (`BPF_PSEUDO_MAP_IDX_VALUE`): `dst = map_val(map_by_idx(imm)) + next_imm`.
    MapIdxValue,
}

impl LddwSrc {
    /// The value of the instruction's `src` field.
    pub const fn code(self) -> u8 {
        match self {
            LddwSrc::Imm => 0,
            LddwSrc::MapFd => 1,
            LddwSrc::MapValue => 2,
            LddwSrc::BtfId => 3,
            LddwSrc::Func => 4,
            LddwSrc::MapIdx => 5,
            LddwSrc::MapIdxValue => 6,
        }
    }

    /// The pseudo source for a `src` field value.
    pub const fn from_code(code: u8) -> Option<LddwSrc> {
        Some(match code {
            0 => LddwSrc::Imm,
            1 => LddwSrc::MapFd,
            2 => LddwSrc::MapValue,
            3 => LddwSrc::BtfId,
            4 => LddwSrc::Func,
            5 => LddwSrc::MapIdx,
            6 => LddwSrc::MapIdxValue,
            _ => return None,
        })
    }
}

/// Call target (RFC 9669 §4.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallTarget {
    /// `src = 0`: helper function by static id.
    Helper(i32),
    /// `src = 1`: program-local function; the target slot is `pc + 1 + off`.
    Local(i32),
    /// `src = 2`: helper by BTF id (kfunc).
    Kfunc(i32),
    /// `callx` (opcode `0x8d`): call the target held in a register.
    Reg(Reg),
}

/// A decoded instruction.
///
/// A program is a `[Insn]` indexed by slot: [`Insn::Lddw`] is followed by
/// [`Insn::LddwHi`], which is never executed (a jump to it is rejected by
/// [`crate::decode()`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Insn {
    /// ALU / ALU64 arithmetic, including `neg`, `mov`, `movsx`, `sdiv`, `smod`.
    Alu {
        width: Width,
        op: AluOp,
        dst: Reg,
        src: Operand,
    },
    /// Byte swap of the low `bits` (16, 32 or 64) of `dst`.
    End { kind: Endian, bits: u8, dst: Reg },
    /// Unconditional jump: `ja` (JMP class, 16-bit `off`) when `wide` is false,
    /// `gotol` / `ja32` (JMP32 class, 32-bit `imm`) when true. Target slot is
    /// `pc + 1 + off`.
    Ja { off: i32, wide: bool },
    /// Conditional jump; target slot is `pc + 1 + off`.
    Jmp {
        width: Width,
        cond: JmpCond,
        dst: Reg,
        src: Operand,
        off: i16,
    },
    /// `call` / `callx`.
    Call(CallTarget),
    /// `exit`: return from a local function or from the program.
    Exit,
    /// `ldx`: `dst = *(size *)(src + off)`, sign-extended when `signed`
    /// (`ldxsb/sh/sw`, the `BPF_MEMSX` mode).
    Load {
        size: Size,
        signed: bool,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `st` (immediate) and `stx` (register): `*(size *)(dst + off) = src`.
    Store {
        size: Size,
        dst: Reg,
        off: i16,
        src: Operand,
    },
    /// Atomic read-modify-write on `*(size *)(dst + off)`; `size` is `W` or
    /// `DW`. With `fetch`, `src` receives the old value (`cmpxchg`: `r0`).
    Atomic {
        size: Size,
        op: AtomicOp,
        fetch: bool,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// First slot of the 16-byte `lddw`. For [`LddwSrc::Imm`] `imm` is the
    /// full 64-bit value; for pseudo sources the low 32 bits are the first
    /// slot's `imm` and the high 32 bits the second slot's.
    Lddw { dst: Reg, src: LddwSrc, imm: u64 },
    /// Second slot of `lddw`: holds nothing of its own.
    LddwHi,
    /// Legacy packet access `ldabs` / `ldind` (RFC 9669 §5.5), kept so that
    /// socket filters decode; `src` is `Some` for `ldind`.
    LdPacket {
        size: Size,
        src: Option<Reg>,
        imm: i32,
    },
}

impl Insn {
    /// Number of slots the instruction occupies (2 for `lddw`).
    pub const fn slots(&self) -> usize {
        match self {
            Insn::Lddw { .. } => 2,
            _ => 1,
        }
    }

    /// Whether control can continue past this instruction to the next slot.
    pub const fn falls_through(&self) -> bool {
        !matches!(self, Insn::Ja { .. } | Insn::Exit)
    }

    /// The target slot of a jump or local call located at slot `pc`, if any.
    /// The result may be out of range; [`crate::decode()`] rejects that.
    pub fn branch_target(&self, pc: usize) -> Option<i64> {
        let off = match *self {
            Insn::Ja { off, .. } => off as i64,
            Insn::Jmp { off, .. } => off as i64,
            Insn::Call(CallTarget::Local(off)) => off as i64,
            Insn::Lddw {
                src: LddwSrc::Func,
                imm,
                ..
            } => imm as u32 as i32 as i64,
            _ => return None,
        };
        Some(pc as i64 + 1 + off)
    }
}

/// The 8-byte wire form of an instruction (RFC 9669 §3), as in the kernel's
/// `struct bpf_insn`. Little-endian encoding: `dst` is the low nibble of the
/// second byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct RawInsn {
    pub opcode: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl RawInsn {
    /// Parses 8 little-endian bytes.
    pub const fn from_bytes(b: [u8; 8]) -> RawInsn {
        RawInsn {
            opcode: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// The 8 little-endian bytes.
    pub const fn to_bytes(self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.opcode,
            (self.dst & 0x0f) | (self.src << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    /// The instruction as one little-endian 64-bit word, the form the
    /// conformance suite's `-- raw` sections use.
    pub const fn to_u64(self) -> u64 {
        u64::from_le_bytes(self.to_bytes())
    }

    /// Parses a little-endian 64-bit word.
    pub const fn from_u64(w: u64) -> RawInsn {
        RawInsn::from_bytes(w.to_le_bytes())
    }
}
