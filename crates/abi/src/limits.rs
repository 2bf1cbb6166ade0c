//! Numeric limits shared by verifier and engines.

/// Bytes of stack per frame (RFC 9669 §2.4, the kernel's `MAX_BPF_STACK`).
pub const STACK_PER_FRAME: usize = 512;

/// Frames the kernel allows (`MAX_CALL_FRAMES`): the main program and up to
/// 7 nested bpf-to-bpf calls. The verifier enforces this for verified
/// programs.
pub const KERNEL_MAX_FRAMES: usize = 8;

/// Frames checked mode allows: more than the kernel, so that deep but
/// harmless call chains in raw bytecode still run (the foundation promises
/// at least 8 nested calls).
pub const CHECKED_MAX_FRAMES: usize = 16;

/// Default instruction budget of a run in checked mode.
pub const DEFAULT_BUDGET: u64 = 1_000_000;

/// Maximum tail calls in one run (the kernel's `MAX_TAIL_CALL_CNT`).
pub const MAX_TAIL_CALLS: u32 = 33;
