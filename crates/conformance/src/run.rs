//! Running data files on an engine and judging the result.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oxbpf_abi::limits::DEFAULT_BUDGET;
use oxbpf_isa::asm::assemble;
use oxbpf_isa::{AsmError, DecodeError, Insn, Reg, decode_bytes};
use oxbpf_runtime::helpers::conformance;
use oxbpf_runtime::{Engine, EngineError, LoadError, Program, RegionKind, RunState, Trapped};

use crate::data::{DataFile, file_name};
use crate::error::{DirError, ParseError};

/// How to run files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// Every file must fail (the suite's `negative` directory): a file
    /// passes when it is rejected, traps, or returns something other than
    /// its `-- result`.
    pub expect_fail: bool,
    /// Instruction budget of each run.
    pub budget: u64,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            expect_fail: false,
            budget: DEFAULT_BUDGET,
        }
    }
}

/// Whether a directory is one whose files must all fail: the suite keeps
/// those in `negative/`.
pub fn implies_expect_fail(dir: &Path) -> bool {
    dir.components()
        .next_back()
        .is_some_and(|c| c.as_os_str() == "negative")
}

/// What happened to a file, before judging it against its expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    /// The file does not follow the data format.
    Malformed(ParseError),
    /// The assembler refused `-- asm`; lines are file lines.
    Assembler(AsmError),
    /// The decoder refused `-- raw`.
    Decoder(DecodeError),
    /// [`Program::checked`] refused the program (read-before-write check,
    /// unknown helper, falling off the end).
    Loader(LoadError),
    /// The engine could not load the program.
    Engine(EngineError),
    /// The run ended with a trap.
    Trapped(Trapped),
    /// The run returned `r0`.
    Returned(u64),
}

impl Observed {
    /// Whether the program never ran because something refused it.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            Observed::Malformed(_)
                | Observed::Assembler(_)
                | Observed::Decoder(_)
                | Observed::Loader(_)
        )
    }
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observed::Malformed(e) => write!(f, "malformed data file: {e}"),
            Observed::Assembler(e) => write!(f, "rejected by the assembler: {e}"),
            Observed::Decoder(e) => write!(f, "rejected by the decoder: {e}"),
            Observed::Loader(e) => write!(f, "rejected by the loader: {e}"),
            Observed::Engine(e) => write!(f, "engine cannot load the program: {e}"),
            Observed::Trapped(t) => write!(f, "trapped at {t}"),
            Observed::Returned(r0) => write!(f, "returned r0 = {r0:#x}"),
        }
    }
}

/// The verdict on one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The file behaved as it expects (or, under expect-fail, failed).
    Pass,
    /// It did not; `reason` says what was expected and what happened.
    Fail { reason: String },
    /// It could not be judged (the engine cannot load the program, or the
    /// file states no expectation); never counts as a pass.
    Skip { reason: String },
}

/// The result of one file on one engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReport {
    /// File name, like `add.data`.
    pub name: String,
    /// Path as given.
    pub path: PathBuf,
    /// What happened.
    pub observed: Observed,
    /// The verdict.
    pub outcome: Outcome,
}

/// Counts of a directory run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Summary {
    /// Counts the outcomes of `reports`.
    pub fn of(reports: &[FileReport]) -> Summary {
        let mut s = Summary::default();
        for r in reports {
            match r.outcome {
                Outcome::Pass => s.passed += 1,
                Outcome::Fail { .. } => s.failed += 1,
                Outcome::Skip { .. } => s.skipped += 1,
            }
        }
        s
    }
}

impl fmt::Display for Summary {
    /// `N passed, M failed`, plus `, K skipped` when K > 0.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)?;
        if self.skipped > 0 {
            write!(f, ", {} skipped", self.skipped)?;
        }
        Ok(())
    }
}

/// The program of a file: `-- raw` when present (it is what a runtime is
/// handed), else `-- asm`. A file with neither is assembled from empty
/// text, so it is refused as a program with no instructions.
pub fn build(file: &DataFile) -> Result<Vec<Insn>, Observed> {
    if let Some(raw) = &file.raw {
        return decode_bytes(raw).map_err(Observed::Decoder);
    }
    let (text, first_line) = match &file.asm {
        Some(s) => (s.text.as_str(), s.first_line),
        None => ("", 1),
    };
    assemble(text).map_err(|e| Observed::Assembler(shift_lines(e, first_line - 1)))
}

/// Makes assembler line numbers count from the top of the file rather
/// than from the top of the `-- asm` section.
fn shift_lines(e: AsmError, by: usize) -> AsmError {
    match e {
        AsmError::Syntax {
            line,
            column,
            message,
        } => AsmError::Syntax {
            line: line + by,
            column,
            message,
        },
        AsmError::UndefinedLabel {
            line,
            column,
            label,
        } => AsmError::UndefinedLabel {
            line: line + by,
            column,
            label,
        },
        AsmError::DuplicateLabel { line, label } => AsmError::DuplicateLabel {
            line: line + by,
            label,
        },
        other => other,
    }
}

/// Builds the program of `file` and runs it once on `engine` with the
/// suite's contract: checked mode, the conformance helper table, `r1` =
/// address of a private copy of `-- mem` (0 without one), `r2` = its length,
/// `r10` = stack top (the engine's), and `budget` instructions.
pub fn execute(engine: &dyn Engine, file: &DataFile, budget: u64) -> Observed {
    let insns = match build(file) {
        Ok(i) => i,
        Err(o) => return o,
    };
    let program = match Program::checked(insns, Arc::new(conformance::table()), &[Reg::R1, Reg::R2])
    {
        Ok(p) => p,
        Err(e) => return Observed::Loader(e),
    };
    let exe = match engine.load(&program) {
        Ok(x) => x,
        Err(e) => return Observed::Engine(e),
    };
    let mut mem = file.mem.clone();
    let len = mem.len() as u64;
    let mut state = RunState::new();
    state.budget = budget;
    let addr = if mem.is_empty() {
        0
    } else {
        state.add_memory(&mut mem, RegionKind::Input)
    };
    match exe.run(&mut state, [addr, len, 0, 0, 0]) {
        Ok(r0) => Observed::Returned(r0),
        Err(t) => Observed::Trapped(t),
    }
}

/// Judges what happened against what the file (and `expect_fail`) asks.
/// `file` is `None` when it could not be parsed.
pub fn judge(file: Option<&DataFile>, observed: &Observed, expect_fail: bool) -> Outcome {
    let wants_error = file.and_then(|f| f.error.as_ref());
    let result = file.and_then(|f| f.result);
    let must_fail = expect_fail || wants_error.is_some();
    let fail = |reason: String| Outcome::Fail { reason };
    match observed {
        Observed::Engine(e) => Outcome::Skip {
            reason: format!("engine cannot load the program: {e}"),
        },
        o if o.is_rejection() || matches!(o, Observed::Trapped(_)) => {
            if must_fail {
                Outcome::Pass
            } else {
                fail(o.to_string())
            }
        }
        Observed::Returned(r0) => {
            let r0 = *r0;
            if let Some(text) = wants_error {
                return fail(format!(
                    "expected a rejection (-- error {text:?}), but it ran and returned r0 = {r0:#x}"
                ));
            }
            match (result, expect_fail) {
                (Some(want), false) if want == r0 => Outcome::Pass,
                (Some(want), false) => fail(format!("r0 = {r0:#x}, expected {want:#x}")),
                (Some(want), true) if want != r0 => Outcome::Pass,
                (Some(_), true) => fail(format!(
                    "expected to fail, but it ran and returned the expected r0 = {r0:#x}"
                )),
                (None, true) => fail(format!(
                    "expected to fail, but it ran and returned r0 = {r0:#x}"
                )),
                (None, false) => Outcome::Skip {
                    reason: format!(
                        "no -- result to compare with (it ran and returned r0 = {r0:#x})"
                    ),
                },
            }
        }
        // Unreachable: every other variant is a rejection or a trap.
        _ => fail(observed.to_string()),
    }
}

/// Reads, runs and judges one file.
pub fn run_file(engine: &dyn Engine, path: &Path, options: &RunOptions) -> FileReport {
    let (file, observed) = match DataFile::read(path) {
        Ok(f) => {
            let o = execute(engine, &f, options.budget);
            (Some(f), o)
        }
        Err(e) => (None, Observed::Malformed(e)),
    };
    let outcome = judge(file.as_ref(), &observed, options.expect_fail);
    FileReport {
        name: file_name(path),
        path: path.to_path_buf(),
        observed,
        outcome,
    }
}

/// The `*.data` files of a directory, sorted by name.
pub fn data_files(dir: &Path) -> Result<Vec<PathBuf>, DirError> {
    let read = std::fs::read_dir(dir).map_err(|e| DirError::Read {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut files = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| DirError::Read {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "data") && path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(DirError::NoDataFiles {
            path: dir.to_path_buf(),
        });
    }
    files.sort();
    Ok(files)
}

/// Runs every `*.data` file of `dir` whose name contains `filter` (all
/// when `None`), in name order.
pub fn run_dir(
    engine: &dyn Engine,
    dir: &Path,
    options: &RunOptions,
    filter: Option<&str>,
) -> Result<Vec<FileReport>, DirError> {
    Ok(data_files(dir)?
        .into_iter()
        .filter(|p| filter.is_none_or(|f| file_name(p).contains(f)))
        .map(|p| run_file(engine, &p, options))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> DataFile {
        DataFile::parse(text, Path::new("t.data")).unwrap()
    }

    #[test]
    fn summary_line() {
        let s = Summary {
            passed: 3,
            failed: 1,
            skipped: 0,
        };
        assert_eq!(s.to_string(), "3 passed, 1 failed");
        let s = Summary { skipped: 2, ..s };
        assert_eq!(s.to_string(), "3 passed, 1 failed, 2 skipped");
    }

    #[test]
    fn negative_directory_implies_expect_fail() {
        assert!(implies_expect_fail(Path::new("a/b/negative")));
        assert!(implies_expect_fail(Path::new("a/b/negative/")));
        assert!(!implies_expect_fail(Path::new("a/negative/tests")));
        assert!(!implies_expect_fail(Path::new("negatives")));
    }

    #[test]
    fn judging_a_returned_value() {
        let f = file("-- asm\nexit\n-- result\n0x5\n");
        assert_eq!(
            judge(Some(&f), &Observed::Returned(5), false),
            Outcome::Pass
        );
        assert_eq!(
            judge(Some(&f), &Observed::Returned(6), false),
            Outcome::Fail {
                reason: "r0 = 0x6, expected 0x5".into()
            }
        );
        // Under expect-fail a mismatch is the intended failure.
        assert_eq!(judge(Some(&f), &Observed::Returned(6), true), Outcome::Pass);
        assert!(matches!(
            judge(Some(&f), &Observed::Returned(5), true),
            Outcome::Fail { .. }
        ));
    }

    #[test]
    fn judging_rejections() {
        let positive = file("-- asm\nexit\n-- result\n0x5\n");
        let wants_error = file("-- asm\nexit\n-- error\nbad\n");
        let rejected = Observed::Decoder(DecodeError::Empty);
        assert!(matches!(
            judge(Some(&positive), &rejected, false),
            Outcome::Fail { .. }
        ));
        assert_eq!(judge(Some(&positive), &rejected, true), Outcome::Pass);
        assert_eq!(judge(Some(&wants_error), &rejected, false), Outcome::Pass);
        assert!(matches!(
            judge(Some(&wants_error), &Observed::Returned(0), false),
            Outcome::Fail { .. }
        ));
        let malformed = Observed::Malformed(ParseError::TextOutsideSection {
            path: "t.data".into(),
            line: 1,
        });
        assert_eq!(judge(None, &malformed, true), Outcome::Pass);
        assert!(matches!(
            judge(None, &malformed, false),
            Outcome::Fail { .. }
        ));
    }

    #[test]
    fn engine_refusal_is_a_skip_not_a_pass() {
        let f = file("-- asm\nexit\n-- result\n0x0\n");
        let o = Observed::Engine(EngineError::Unsupported {
            engine: "jit",
            index: 0,
            what: "callx",
        });
        for expect_fail in [false, true] {
            assert!(matches!(
                judge(Some(&f), &o, expect_fail),
                Outcome::Skip { .. }
            ));
        }
    }

    #[test]
    fn nothing_to_compare_is_a_skip() {
        let f = file("-- asm\nexit\n");
        assert!(matches!(
            judge(Some(&f), &Observed::Returned(0), false),
            Outcome::Skip { .. }
        ));
    }

    #[test]
    fn assembler_errors_name_the_file_line() {
        let f = file("# header\n-- asm\nmov %r0, 1\nbogus %r0\n");
        match build(&f) {
            Err(Observed::Assembler(e)) => {
                assert!(e.to_string().starts_with("line 4, column 1:"), "{e}")
            }
            other => panic!("expected an assembler error, got {other:?}"),
        }
    }

    #[test]
    fn no_program_is_refused_as_empty() {
        let f = file("-- result\n0x0\n");
        assert_eq!(build(&f), Err(Observed::Assembler(AsmError::Empty)));
    }
}
