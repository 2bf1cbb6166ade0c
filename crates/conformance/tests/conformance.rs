//! The bpf_conformance suite as a data-driven test: one trial per file per
//! engine, named `<engine>::<dir>::<file>` (`interp::tests::add.data`,
//! `interp::negative::error.data`), so a filter selects a file:
//!
//! ```text
//! cargo test -p oxbpf-conformance --test conformance -- interp::tests::lddw
//! ```
//!
//! `tests/` files must pass (r0 equals `-- result`). `negative/` files run
//! under expect-fail and must fail *the way the file is about*: each name
//! maps to the stage that must refuse it (see [`negative_expectation`]).
//! A file the engine cannot load is reported ignored with the reason,
//! never passed.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use oxbpf_conformance::{
    DataFile, Observed, Outcome, ParseError, RunOptions, data_files, execute, judge,
};
use oxbpf_isa::{AsmError, DecodeError, Reg};
use oxbpf_runtime::{Engine, LoadError};

/// Every engine the suite runs on. The JIT joins with one line here
/// (`("jit", || Box::new(oxbpf_jit::Jit))`) and `oxbpf-jit` in this
/// crate's `[dev-dependencies]`.
const ENGINES: &[(&str, MakeEngine)] = &[
    ("interp", || Box::new(oxbpf_interp::Interpreter)),
    ("interp-fast", || Box::new(oxbpf_interp::FastInterpreter)),
    ("jit", || Box::new(oxbpf_jit::Jit)),
];

/// Builds a fresh engine for a trial.
type MakeEngine = fn() -> Box<dyn Engine>;

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/bpf_conformance")
}

/// Runs one file; `Ok(Completion::Ignored)` for a skip.
fn check(make: fn() -> Box<dyn Engine>, path: &Path, negative: bool) -> Result<Completion, Failed> {
    let engine = make();
    let options = RunOptions {
        expect_fail: negative,
        ..RunOptions::default()
    };
    let (file, observed) = match DataFile::read(path) {
        Ok(f) => {
            let o = execute(&*engine, &f, options.budget);
            (Some(f), o)
        }
        Err(e) => (None, Observed::Malformed(e)),
    };
    match judge(file.as_ref(), &observed, options.expect_fail) {
        Outcome::Pass => {}
        Outcome::Fail { reason } => return Err(reason.into()),
        Outcome::Skip { reason } => return Ok(Completion::ignored_with(reason)),
    }
    if negative {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let expect = negative_expectation(name)
            .ok_or_else(|| format!("no expectation written for negative/{name}"))?;
        if !expect(&observed) {
            return Err(format!("failed, but not as negative/{name} intends: {observed}").into());
        }
    }
    Ok(Completion::Completed)
}

/// How each negative file must fail.
fn negative_expectation(name: &str) -> Option<fn(&Observed) -> bool> {
    if name.starts_with("unused-") {
        // A non-zero field an opcode does not use, in the first instruction.
        return Some(|o| {
            matches!(
                o,
                Observed::Decoder(
                    DecodeError::ReservedField { index: 0, .. }
                        | DecodeError::BadField { index: 0, .. }
                )
            )
        });
    }
    Some(match name {
        // Neither file has a program section.
        "empty.data" | "empty_instructions.data" => {
            |o| matches!(o, Observed::Assembler(AsmError::Empty))
        }
        "invalid_unknown_directive.data" => {
            |o| matches!(o, Observed::Malformed(ParseError::UnknownSection { .. }))
        }
        // `or %r0, %r10` reads r0 before any write.
        "error.data" => |o| {
            *o == Observed::Loader(LoadError::ReadBeforeWrite {
                index: 0,
                reg: Reg::R0,
            })
        },
        // `ldxdw %r0, [%r1+2]` over `aa bb 11 22 33 44 55 66 77 88 cc dd`
        // loads bytes 11..88 little-endian: 0x8877665544332211, not the
        // file's 0x8977665544332211 (judge already saw the mismatch).
        "incorrect_return_value_high_bits.data" => {
            |o| *o == Observed::Returned(0x8877_6655_4433_2211)
        }
        n if n.starts_with("invalid_") => |o| {
            matches!(
                o,
                Observed::Assembler(AsmError::Syntax { .. } | AsmError::UndefinedLabel { .. })
            )
        },
        _ => return None,
    })
}

fn main() {
    let args = Arguments::from_args();
    let root = suite_dir();
    let positive = data_files(&root.join("tests")).expect("conformance tests/ directory");
    let negative = data_files(&root.join("negative")).expect("conformance negative/ directory");
    // A fixed snapshot: a missing file must fail, not shrink the run.
    assert_eq!(
        positive.len(),
        313,
        "files in {}",
        root.join("tests").display()
    );
    assert_eq!(
        negative.len(),
        60,
        "files in {}",
        root.join("negative").display()
    );
    let mut trials = Vec::new();
    for &(engine, make) in ENGINES {
        assert_eq!(
            make().name(),
            engine,
            "engine registered under its own name"
        );
        for (dir, files, neg) in [("tests", &positive, false), ("negative", &negative, true)] {
            for path in files {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                let path = path.clone();
                trials.push(Trial::ignorable_test(
                    format!("{engine}::{dir}::{name}"),
                    move || check(make, &path, neg),
                ));
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
