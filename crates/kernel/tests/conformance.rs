//! The bpf_conformance suite on the kernel engine, one trial per data
//! file: `cargo test -p oxbpf-kernel --test conformance -- lddw`.
//!
//! Each program is wrapped the way bpf_conformance's libbpf plugin does it
//! (see `oxbpf_kernel::wrap`) and run with `BPF_PROG_TEST_RUN`. Programs
//! the kernel rejects by design are skips, and the set of skips must be
//! exactly the committed list `conformance-skips.txt` (one file and reason
//! per line, the reason quoting what the rejection says): a rejection not
//! on the list or for another reason fails, and so does a listed file the
//! kernel runs. Nothing may fail.
//!
//! The data-file reader is local until the `oxbpf-conformance` runner
//! lands in the workspace.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use oxbpf_isa::{Insn, RawInsn, Reg, asm::assemble, decode};
use oxbpf_kernel::KernelEngine;
use oxbpf_runtime::{Program, RegionKind, RunState, helpers::conformance};

const SUITE: &str = "../../../shared/conformance/bpf_conformance/tests";
const SKIPS: &str = "conformance-skips.txt";

/// What a data file asks for.
#[derive(Default)]
struct Case {
    asm: String,
    raw: Option<Vec<u64>>,
    mem: Vec<u8>,
    result: Option<u64>,
    error: bool,
}

fn parse(text: &str) -> Result<Case, String> {
    let mut case = Case::default();
    let mut section = String::new();
    for line in text.lines() {
        if let Some(name) = line.trim().strip_prefix("--") {
            section = name.trim().to_string();
            match section.as_str() {
                "raw" => case.raw = Some(Vec::new()),
                "error" => case.error = true,
                _ => {}
            }
            continue;
        }
        let body = line.split('#').next().unwrap_or("").trim();
        match section.as_str() {
            "asm" => {
                case.asm.push_str(line);
                case.asm.push('\n');
            }
            "raw" => {
                for tok in body.split_whitespace() {
                    let word = u64::from_str_radix(tok.trim_start_matches("0x"), 16)
                        .map_err(|e| format!("raw word {tok}: {e}"))?;
                    case.raw.get_or_insert_with(Vec::new).push(word);
                }
            }
            "mem" => {
                for tok in body.split_whitespace() {
                    case.mem
                        .push(u8::from_str_radix(tok, 16).map_err(|e| format!("mem {tok}: {e}"))?);
                }
            }
            "result" if !body.is_empty() => {
                let value = match body.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => body.parse(),
                };
                case.result = Some(value.map_err(|e| format!("result {body}: {e}"))?);
            }
            _ => {}
        }
    }
    Ok(case)
}

fn instructions(case: &Case) -> Result<Vec<Insn>, String> {
    match &case.raw {
        Some(words) => {
            let raw: Vec<RawInsn> = words.iter().map(|&w| RawInsn::from_u64(w)).collect();
            decode(&raw).map_err(|e| format!("decode: {e}"))
        }
        None => assemble(&case.asm).map_err(|e| format!("assemble: {e}")),
    }
}

/// The committed skip list: file name to reason.
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
        if reason.is_empty() {
            return Err(format!("{SKIPS}:{}: no reason given for {name}", n + 1));
        }
        if skips.insert(name.to_string(), reason.to_string()).is_some() {
            return Err(format!("{SKIPS}:{}: {name} listed twice", n + 1));
        }
    }
    Ok(skips)
}

fn data_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(SUITE);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs one file; `skip` is its entry in the skip list.
fn run_file(path: &Path, skip: Option<&str>) -> Result<Completion, Failed> {
    if let Some(ignored) = common::gate()? {
        return Ok(ignored);
    }
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut case = parse(&text)?;
    if case.error {
        return Err("an -- error file among the positive tests".into());
    }
    let expected = case.result.ok_or("no -- result section")?;
    let program = Program::checked(
        instructions(&case)?,
        Arc::new(conformance::table()),
        &[Reg::R1, Reg::R2],
    )
    .map_err(|e| format!("load check: {e}"))?;
    let exe = match (KernelEngine::new().load_kernel(&program), skip) {
        (Ok(exe), _) => exe,
        (Err(e), Some(reason)) => {
            // The listed reason quotes what the rejection must say.
            let quoted = reason.split('"').nth(1).unwrap_or("");
            let shown = e.to_string();
            if quoted.is_empty() || !shown.contains(quoted) {
                return Err(
                    format!("rejected, but not for the listed reason {reason:?}: {shown}").into(),
                );
            }
            return Ok(Completion::ignored_with(reason));
        }
        (Err(e), None) => {
            return Err(format!("kernel refused it and {SKIPS} does not list it: {e}").into());
        }
    };
    let len = case.mem.len() as u64;
    let mut state = RunState::new();
    let addr = if case.mem.is_empty() {
        0
    } else {
        state.add_memory(&mut case.mem, RegionKind::Input)
    };
    let run = exe
        .run_kernel(&mut state, [addr, len, 0, 0, 0])
        .map_err(|e| format!("run: {e}"))?;
    if run.r0 != expected {
        return Err(format!("r0 = {:#x}, expected {expected:#x}", run.r0).into());
    }
    if skip.is_some() {
        return Err(format!(
            "passes on the kernel but {SKIPS} lists it as a skip: remove the line"
        )
        .into());
    }
    Ok(Completion::Completed)
}

fn main() {
    let args = Arguments::from_args();
    let files = data_files();
    let skips = match skip_list() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(101);
        }
    };
    let names: Vec<String> = files.iter().map(|p| file_name(p)).collect();
    let mut trials = Vec::new();
    // Every listed skip names a file of the suite.
    let listed: Vec<String> = skips.keys().cloned().collect();
    let known = names.clone();
    trials.push(Trial::test("skip_list_names_suite_files", move || {
        let stale: Vec<&String> = listed.iter().filter(|n| !known.contains(n)).collect();
        if stale.is_empty() {
            Ok(())
        } else {
            Err(format!("{SKIPS} lists files not in the suite: {stale:?}").into())
        }
    }));
    trials.push(Trial::test("suite_has_313_files", {
        let count = files.len();
        move || {
            if count == 313 {
                Ok(())
            } else {
                Err(format!("found {count} positive files, the suite has 313").into())
            }
        }
    }));
    for (path, name) in files.into_iter().zip(names) {
        let skip = skips.get(&name).cloned();
        let trial_name = format!("kernel::{}", name.trim_end_matches(".data"));
        trials.push(Trial::ignorable_test(trial_name, move || {
            run_file(&path, skip.as_deref())
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}
