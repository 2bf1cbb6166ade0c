//! Test support shared by oxbpf's crates.
//!
//! # Tests that need root or the kernel
//!
//! A test that needs privileges (root, a working `bpf(2)`, network
//! namespaces) decides **when the test binary starts** whether it can run,
//! and then is one of:
//!
//! - a normal test, when it can run;
//! - *ignored, with the reason printed*, when it cannot (a developer
//!   machine without root). It is never counted as passed: an early
//!   `return` inside a test that could not run is a defect;
//! - a *failing* test, when it cannot run but the environment variable
//!   `OXBPF_REQUIRE_PRIVILEGED=1` is set. CI runs as root with that
//!   variable, so a privileged test that silently stops running turns CI
//!   red instead of green.
//!
//! The standard test harness cannot ignore a test at run time, so such
//! tests live in a test target with `harness = false` that builds its
//! trials with [`libtest_mimic`] and [`privileged_trial`]:
//!
//! ```toml
//! # Cargo.toml of the crate
//! [dev-dependencies]
//! oxbpf-testkit.workspace = true
//! libtest-mimic.workspace = true
//!
//! [[test]]
//! name = "privileged"
//! harness = false
//! ```
//!
//! ```no_run
//! // tests/privileged.rs
//! use libtest_mimic::{Arguments, Trial};
//! use oxbpf_testkit::{Requirement, privileged_trial};
//!
//! fn main() {
//!     let args = Arguments::from_args();
//!     let trials = vec![privileged_trial(
//!         "kernel::load_socket_filter",
//!         &[Requirement::Root, Requirement::Bpf],
//!         || {
//!             // ... the test body; Err(...) fails it ...
//!             Ok(())
//!         },
//!     )];
//!     libtest_mimic::run(&args, trials).exit();
//! }
//! ```
//!
//! Without privileges `cargo test` prints
//! `kernel::load_socket_filter: ignored: not running as root (euid 1000)`
//! on stderr when the binary starts and `test kernel::load_socket_filter
//! ... ignored` in the run (the trial carries libtest's ignored flag, so
//! cargo-nextest counts it as skipped too); `--include-ignored` runs the
//! trial, which then reports `ignored (<reason>)`. With
//! `OXBPF_REQUIRE_PRIVILEGED=1` the same trial fails with the reason.
//!
//! Callers that build trials themselves use [`privileged_or_skip`] /
//! [`require`] and [`privileged_required`].
//!
//! # Locations
//!
//! [`workspace_root`], [`suite_dir`] (the bpf_conformance snapshot in
//! `../shared`, never copied into the repo), [`examples_dir`] and
//! [`oxbpf_binary`] (the built `oxbpf` command, for tests outside the cli
//! crate, which have no `CARGO_BIN_EXE_oxbpf`).

pub mod bpf;
pub mod lbnet;
pub mod netns;
mod paths;
mod privileged;

pub use paths::{examples_dir, oxbpf_binary, suite_dir, workspace_root};
pub use privileged::{
    REQUIRE_ENV, Requirement, SkipReason, privileged_or_skip, privileged_required,
    privileged_trial, require,
};
