//! Trap codes: why a run in checked mode stopped early.
//!
//! Declared once and shared by every engine; tests compare codes, never
//! messages.

use core::fmt;

/// Why a run ended with no return value. The discriminants are stable: the
/// JIT stores them in generated code.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trap {
    /// A load or store touched memory outside every readable region.
    OutOfBounds = 1,
    /// A store or atomic touched memory that is readable but not writable.
    ReadOnly = 2,
    /// The instruction budget ran out at a basic block's entry.
    BudgetExhausted = 3,
    /// A local call would exceed the maximum number of stack frames.
    CallDepth = 4,
    /// A call names a helper id the environment does not provide.
    UnknownHelper = 5,
    /// `callx` named a target that is not a helper or function entry.
    BadCallTarget = 6,
    /// A helper refused an argument (pointer, size or handle).
    HelperFault = 7,
    /// The instruction is valid but this environment cannot execute it
    /// (for example legacy packet access with no packet).
    Unsupported = 8,
}

impl Trap {
    /// Every trap, in discriminant order.
    pub const ALL: [Trap; 8] = [
        Trap::OutOfBounds,
        Trap::ReadOnly,
        Trap::BudgetExhausted,
        Trap::CallDepth,
        Trap::UnknownHelper,
        Trap::BadCallTarget,
        Trap::HelperFault,
        Trap::Unsupported,
    ];

    /// The code as stored in generated code and printed by the CLI.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The trap for a code, if it is one.
    pub fn from_code(code: u8) -> Option<Trap> {
        Trap::ALL.into_iter().find(|t| t.code() == code)
    }

    /// A short lowercase description.
    pub const fn message(self) -> &'static str {
        match self {
            Trap::OutOfBounds => "memory access out of bounds",
            Trap::ReadOnly => "write to read-only memory",
            Trap::BudgetExhausted => "instruction budget exhausted",
            Trap::CallDepth => "call depth limit exceeded",
            Trap::UnknownHelper => "unknown helper",
            Trap::BadCallTarget => "bad callx target",
            Trap::HelperFault => "helper rejected its arguments",
            Trap::Unsupported => "instruction not supported in this environment",
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trap {}: {}", self.code(), self.message())
    }
}
