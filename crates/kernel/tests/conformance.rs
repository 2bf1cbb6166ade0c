//! The bpf_conformance suite on the kernel engine, one trial per data
//! file of `tests/` and `negative/`:
//! `cargo test -p oxbpf-kernel --test conformance -- lddw`.
//!
//! Files run through the shared runner (`oxbpf-conformance`), which loads
//! them on `KernelEngine`: each program is wrapped the way
//! bpf_conformance's libbpf plugin does it (see `oxbpf_kernel::wrap`) and
//! run with `BPF_PROG_TEST_RUN`. Programs the kernel rejects by design are
//! skips, and the set of skips must be exactly the committed list
//! `conformance-skips.txt` (one file and reason per line, the reason
//! quoting what the rejection says): a rejection not on the list or for
//! another reason fails, and so does a listed file the kernel runs.
//! Nothing may fail.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use oxbpf_conformance::{Outcome, RunOptions, data_files, implies_expect_fail, run_file};
use oxbpf_kernel::KernelEngine;
use oxbpf_testkit::suite_dir;

const SKIPS: &str = "conformance-skips.txt";

/// The committed skip list: entry (`NAME.data` for `tests/`,
/// `negative/NAME.data`) to reason.
fn skip_list() -> Result<BTreeMap<String, String>, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SKIPS);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut skips = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, reason) = line
            .split_once(char::is_whitespace)
            .map(|(n, r)| (n.trim(), r.trim()))
            .ok_or_else(|| format!("{SKIPS}:{}: no reason given for {line:?}", n + 1))?;
        if reason.split('"').nth(1).is_none_or(str::is_empty) {
            return Err(format!(
                "{SKIPS}:{}: the reason for {name} quotes no part of the rejection",
                n + 1
            ));
        }
        if skips.insert(name.to_string(), reason.to_string()).is_some() {
            return Err(format!("{SKIPS}:{}: {name} listed twice", n + 1));
        }
    }
    Ok(skips)
}

/// Runs one file and holds its outcome against the skip list.
fn check(path: &Path, expect_fail: bool, skip: Option<&str>) -> Result<Completion, Failed> {
    let options = RunOptions {
        expect_fail,
        ..RunOptions::default()
    };
    let report = run_file(&KernelEngine::new(), path, &options);
    match (report.outcome, skip) {
        (Outcome::Pass, None) => Ok(Completion::Completed),
        (Outcome::Pass, Some(_)) => Err(format!(
            "passes on the kernel but {SKIPS} lists it as a skip: remove the line"
        )
        .into()),
        (Outcome::Fail { reason }, _) => Err(reason.into()),
        (Outcome::Skip { reason }, None) => {
            Err(format!("skipped, and {SKIPS} does not list it: {reason}").into())
        }
        (Outcome::Skip { reason }, Some(listed)) => {
            let quoted = listed.split('"').nth(1).unwrap_or("");
            if reason.contains(quoted) {
                Ok(Completion::ignored_with(listed))
            } else {
                Err(format!("skipped, but not for the listed reason {listed:?}: {reason}").into())
            }
        }
    }
}

fn main() {
    let args = Arguments::from_args();
    let skips = match skip_list() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(101);
        }
    };
    let mut trials = Vec::new();
    let mut entries = Vec::new();
    for (dir, prefix, count) in [("tests", "", 313), ("negative", "negative/", 60)] {
        let dir = suite_dir().join(dir);
        let (files, listing) = match data_files(&dir) {
            Ok(f) => (f, Ok(())),
            Err(e) => (Vec::new(), Err(e.to_string())),
        };
        let found = files.len();
        trials.push(Trial::test(
            format!("suite::{prefix}has_{count}_files"),
            move || {
                listing?;
                if found == count {
                    Ok(())
                } else {
                    Err(format!("found {found} data files, the suite has {count}").into())
                }
            },
        ));
        let expect_fail = implies_expect_fail(&dir);
        for path in files {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let entry = format!("{prefix}{name}");
            let skip = skips.get(&entry).cloned();
            entries.push(entry.clone());
            let trial = format!("kernel::{}", entry.trim_end_matches(".data"));
            trials.push(common::privileged_ignorable(trial, move || {
                check(&path, expect_fail, skip.as_deref())
            }));
        }
    }
    // Every listed skip names a file of the suite.
    let stale: Vec<String> = skips
        .keys()
        .filter(|k| !entries.contains(k))
        .cloned()
        .collect();
    trials.push(Trial::test(
        "suite::skip_list_names_suite_files",
        move || {
            if stale.is_empty() {
                Ok(())
            } else {
                Err(format!("{SKIPS} lists files not in the suite: {stale:?}").into())
            }
        },
    ));
    libtest_mimic::run(&args, trials).exit();
}
