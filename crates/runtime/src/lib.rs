//! What oxbpf's engines share.
//!
//! - [`Program`]: bytecode prepared for execution, in one of two
//!   [`SafetyMode`]s. Checked programs pass structural checks and the
//!   read-before-write data-flow check ([`check`]) when built; verified
//!   programs come from the verifier.
//! - [`Engine`] / [`Executable`]: the trait every engine (interpreter, JIT,
//!   kernel) implements, so tests and benchmarks take the engine as a
//!   parameter.
//! - [`RunState`] and [`memory::Regions`]: per-run state, including the
//!   memory regions checked mode allows a program to touch.
//! - [`helper::HelperTable`]: helper implementations for one environment
//!   (the conformance suite's table, the kernel-compatible table).
//! - [`blocks`]: the basic-block partition that every engine charges the
//!   instruction budget by, so all engines stop at the same instruction.

pub mod blocks;
pub mod check;
pub mod context;
pub mod engine;
pub mod helper;
pub mod helpers;
pub mod maps;
pub mod memory;
pub mod packet;
pub mod program;
pub mod skb;
pub mod state;
pub mod tail_call;

pub use engine::{Engine, EngineError, Executable, Trapped};
pub use helper::{Helper, HelperExit, HelperFn, HelperTable};
pub use memory::{Region, RegionKind, Regions};
pub use program::{LoadError, Program, SafetyMode};
pub use state::RunState;
