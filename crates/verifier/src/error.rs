//! Verifier errors: a kind from the shared list, the instruction, the rule
//! in plain words, the registers involved and the path that led there.

use core::fmt;

/// What rule a rejected program breaks. The string forms
/// ([`ErrorKind::as_str`]) are a contract with the labelled corpora under
/// `bpf/verifier/unsafe/<kind>/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Read of a register never written (including r0 at exit).
    UninitRegister,
    /// Read of r1-r5 after a call clobbered them.
    ScratchedRegister,
    /// Write to the read-only frame pointer r10.
    WriteR10,
    /// Malformed instruction (bad opcode, reserved fields, bad `lddw`).
    Malformed,
    /// Jump or call target outside the program, or falling off its end.
    JumpOutOfRange,
    /// Jump target is the second slot of an `lddw`.
    JumpIntoLddw,
    /// An instruction no path reaches.
    Unreachable,
    /// Stack access outside `[r10-512, r10)` or misaligned.
    StackOutOfBounds,
    /// Context field not accessible this way for the program type.
    CtxAccess,
    /// Packet access not proven inside `data_end`.
    PacketOutOfBounds,
    /// Map value access outside `value_size`.
    MapValueOutOfBounds,
    /// Write to a map the program may only read (`.rodata`).
    ReadonlyWrite,
    /// Dereference of a pointer that may be null (or of a scalar).
    NullDeref,
    /// Forbidden pointer arithmetic.
    PointerArithmetic,
    /// Helper argument does not match the prototype.
    HelperArgument,
    /// Unknown helper, or one the program type may not call.
    HelperNotAllowed,
    /// Packet pointer used after a helper that may move the packet.
    StalePacketPointer,
    /// (strict) a pointer escapes into memory, a return value or a
    /// comparison the kernel forbids unprivileged programs.
    PointerLeak,
    /// (strict) read of uninitialised stack.
    UninitStack,
    /// A loop that cannot be shown to terminate.
    UnboundedLoop,
    /// The processed-instruction budget ran out.
    ComplexityLimit,
    /// Calls nested deeper than the kernel allows (or, with tail calls,
    /// callers' frames using more stack than a tail call allows).
    CallDepth,
    /// A reference (ring buffer record) still held at the main program's
    /// `exit`, at a tail call or at the end of a callback.
    ReferenceLeak,
    /// Spin lock discipline broken: a lock still held at `exit` or a
    /// tail call, a helper called while holding it, or an unlock without
    /// the matching lock.
    LockNotReleased,
}

impl ErrorKind {
    /// The kind's name in the corpus labels (`packet_out_of_bounds`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::UninitRegister => "uninit_register",
            ErrorKind::ScratchedRegister => "scratched_register",
            ErrorKind::WriteR10 => "write_r10",
            ErrorKind::Malformed => "malformed",
            ErrorKind::JumpOutOfRange => "jump_out_of_range",
            ErrorKind::JumpIntoLddw => "jump_into_lddw",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::StackOutOfBounds => "stack_out_of_bounds",
            ErrorKind::CtxAccess => "ctx_access",
            ErrorKind::PacketOutOfBounds => "packet_out_of_bounds",
            ErrorKind::MapValueOutOfBounds => "map_value_out_of_bounds",
            ErrorKind::ReadonlyWrite => "readonly_write",
            ErrorKind::NullDeref => "null_deref",
            ErrorKind::PointerArithmetic => "pointer_arithmetic",
            ErrorKind::HelperArgument => "helper_argument",
            ErrorKind::HelperNotAllowed => "helper_not_allowed",
            ErrorKind::StalePacketPointer => "stale_packet_pointer",
            ErrorKind::PointerLeak => "pointer_leak",
            ErrorKind::UninitStack => "uninit_stack",
            ErrorKind::UnboundedLoop => "unbounded_loop",
            ErrorKind::ComplexityLimit => "complexity_limit",
            ErrorKind::CallDepth => "call_depth",
            ErrorKind::ReferenceLeak => "reference_leak",
            ErrorKind::LockNotReleased => "lock_not_released",
        }
    }

    /// Every kind.
    pub const ALL: [ErrorKind; 24] = [
        ErrorKind::UninitRegister,
        ErrorKind::ScratchedRegister,
        ErrorKind::WriteR10,
        ErrorKind::Malformed,
        ErrorKind::JumpOutOfRange,
        ErrorKind::JumpIntoLddw,
        ErrorKind::Unreachable,
        ErrorKind::StackOutOfBounds,
        ErrorKind::CtxAccess,
        ErrorKind::PacketOutOfBounds,
        ErrorKind::MapValueOutOfBounds,
        ErrorKind::ReadonlyWrite,
        ErrorKind::NullDeref,
        ErrorKind::PointerArithmetic,
        ErrorKind::HelperArgument,
        ErrorKind::HelperNotAllowed,
        ErrorKind::StalePacketPointer,
        ErrorKind::PointerLeak,
        ErrorKind::UninitStack,
        ErrorKind::UnboundedLoop,
        ErrorKind::ComplexityLimit,
        ErrorKind::CallDepth,
        ErrorKind::ReferenceLeak,
        ErrorKind::LockNotReleased,
    ];

    /// The kind named `s`.
    pub fn from_name(s: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One branch decision on the path to an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BranchStep {
    /// Slot of the conditional jump.
    pub pc: usize,
    /// Its disassembly.
    pub insn: String,
    /// Whether the jump was taken.
    pub taken: bool,
}

/// A register named by an error, with its abstract state in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegNote {
    /// Register number.
    pub reg: u8,
    /// "a packet pointer with 14 bytes proven".
    pub state: String,
}

/// Why a program was rejected, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// The rule broken.
    pub kind: ErrorKind,
    /// Slot of the offending instruction (`None` for whole-program errors).
    pub pc: Option<usize>,
    /// Its disassembly.
    pub insn: Option<String>,
    /// `file:line` and the source text, from BTF line info.
    pub source: Option<String>,
    /// The rule in plain words, with the facts that broke it.
    pub message: String,
    /// Registers involved, with their state at the instruction.
    pub regs: Vec<RegNote>,
    /// Further explanation (what the access needs).
    pub detail: Option<String>,
    /// Branch decisions on the path that led here, oldest first (the last
    /// 16 at most).
    pub path: Vec<BranchStep>,
}

impl VerifyError {
    /// The rule broken.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.pc, &self.insn) {
            (Some(pc), Some(insn)) => write!(f, "error at insn {pc} ({insn}): {}", self.message)?,
            (Some(pc), None) => write!(f, "error at insn {pc}: {}", self.message)?,
            _ => write!(f, "error: {}", self.message)?,
        }
        write!(f, " [{}]", self.kind)?;
        for r in &self.regs {
            write!(f, "\n  r{} is {}", r.reg, r.state)?;
        }
        if let Some(d) = &self.detail {
            write!(f, "\n  {d}")?;
        }
        if let Some(s) = &self.source {
            write!(f, "\n  source: {s}")?;
        }
        if !self.path.is_empty() {
            write!(f, "\n  path: ")?;
            for (i, s) in self.path.iter().enumerate() {
                if i > 0 {
                    write!(f, ", ")?;
                }
                write!(
                    f,
                    "insn {} ({}) {}",
                    s.pc,
                    s.insn,
                    if s.taken { "taken" } else { "not taken" }
                )?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for VerifyError {}
