//! The bpf_conformance data-file format and a runner for it on any engine.
//!
//! A `.data` file has sections opened by `-- name` lines: `asm` (source),
//! `raw` (instruction words), `mem` (hex input bytes), `result` (expected
//! r0), `error` (the program must be rejected). `c` and `no register offset`
//! are ignored. See [`data`] for the exact format; [`DataFile::parse`]
//! refuses anything else with an error naming file and line.
//!
//! The execution contract ([`execute`]): checked mode with the
//! read-before-write check (`r1`, `r2` and `r10` set at entry), r1 =
//! address of a private copy of the memory (0 if none), r2 = its length,
//! r10 = stack top, helpers 0-5 of the conformance table
//! ([`oxbpf_runtime::helpers::conformance`]), the default budget.
//!
//! Design decisions:
//!
//! - **Raw before asm.** When a file has both, the `-- raw` bytes are run:
//!   they are what a runtime is handed, and the isa crate's own suite test
//!   already checks that both sections give the same bytes.
//! - **What happened, then the verdict.** [`execute`] reports what happened
//!   ([`Observed`]: which stage refused the program, a trap, or `r0`);
//!   [`judge`] compares it with the file's expectation. Tests can so check
//!   *how* a negative file failed, not only that it did.
//! - **Expect-fail** ([`RunOptions::expect_fail`], implied for a directory
//!   named `negative`): a file passes when it fails as intended: refused by
//!   the data parser, assembler, decoder or loader, trapped, or returned
//!   something other than its `-- result`. A file with `-- error` must be
//!   refused or trap in either mode.
//! - **Skips are not passes.** A file the engine cannot load
//!   ([`oxbpf_runtime::EngineError`]) or that states no expectation is
//!   [`Outcome::Skip`] with the reason.
//!
//! ```no_run
//! use std::path::Path;
//! use oxbpf_conformance::{RunOptions, Summary, run_dir};
//! # fn engine() -> Box<dyn oxbpf_runtime::Engine> { unimplemented!() }
//! let reports = run_dir(&*engine(), Path::new("bpf_conformance/tests"), &RunOptions::default(), None).unwrap();
//! println!("{}", Summary::of(&reports)); // "313 passed, 0 failed"
//! ```

pub mod data;
pub mod error;
pub mod run;

pub use data::{DataFile, Section};
pub use error::{DirError, ParseError};
pub use run::{
    FileReport, Observed, Outcome, RunOptions, Summary, build, data_files, execute,
    implies_expect_fail, judge, run_dir, run_file,
};
