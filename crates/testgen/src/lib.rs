//! Random eBPF program generators shared by the engines' lockstep tests
//! (`crates/interp/tests/lockstep.rs`, `crates/jit/tests/lockstep.rs`).
//!
//! One random source ([`Rng`]), one set of instruction tables
//! ([`tables`]), one coverage naming ([`coverage`]) and two program shapes
//! over it:
//!
//! - [`structured`]: nested forward jumps, counted loops, a call DAG with
//!   an optionally recursive function, a writable and a read-only input,
//!   out-of-bounds accesses at chosen rates, and a `verified` flavour that
//!   stays in bounds (the interpreter/JIT lockstep);
//! - [`flat`]: a main body over one 64-byte input with leaf callees, plus
//!   "wild" sequences that skip the load checks (the reference/fast
//!   interpreter lockstep).
//!
//! Every generated program terminates by construction and is valid for
//! `Program::checked` (registers written before they are read). Values
//! derived from stack addresses are only ever used as addresses, since the
//! stack lies at different host addresses in two engines' runs.
//!
//! ```
//! use oxbpf_testgen::{Rng, all_keys, generate, key};
//!
//! let mut rng = Rng::new(1);
//! let g = generate(&mut rng, false);
//! assert!(g.insns.iter().filter_map(key).all(|k| all_keys().contains(&k)));
//! ```

pub mod coverage;
pub mod flat;
mod rng;
pub mod structured;
pub mod tables;

pub use coverage::{all_keys, key};
pub use rng::Rng;
pub use structured::{Generated, generate};
