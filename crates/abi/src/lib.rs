//! The contract shared by oxbpf's verifier, engines and kernel backend.
//!
//! One table per concept, and nothing else in oxbpf defines them:
//!
//! - [`trap`]: the run-time trap codes every engine returns;
//! - [`limits`]: stack size, call depth, instruction budget;
//! - [`helper`]: helper ids (the kernel's numbers, and the conformance
//!   suite's own table) and their prototypes;
//! - [`map_kind`]: map type numbers and names, update and creation flags;
//! - [`program_type`]: program and attach type numbers, and the ELF section
//!   names that select them;
//! - [`context`]: program context layouts (`xdp_md`, `__sk_buff`): which
//!   offsets are readable or writable, which are packet pointers, and where
//!   each field lives in the runtime context.

pub mod context;
pub mod helper;
pub mod limits;
pub mod map_kind;
pub mod program_type;
pub mod trap;

pub use trap::Trap;
