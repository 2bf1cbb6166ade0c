//! Cross-check: every positive bpf_conformance program runs on the
//! interpreter with the suite's contract and returns the expected `r0`.
//!
//! The real data-driven runner is `crates/conformance`; this minimal parser
//! only exists so that the interpreter's own tests cover the suite.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use oxbpf_interp::Interpreter;
use oxbpf_isa::{Insn, RawInsn, Reg, asm::assemble, decode};
use oxbpf_runtime::{Engine, Program, RegionKind, RunState, helpers::conformance};

const SUITE: &str = "../../../shared/conformance/bpf_conformance";

#[derive(Default)]
struct Case {
    asm: Option<String>,
    raw: Option<Vec<u64>>,
    mem: Vec<u8>,
    result: Option<u64>,
    error: bool,
}

fn parse(text: &str) -> Result<Case, String> {
    let mut case = Case::default();
    let mut section = String::new();
    let mut asm = String::new();
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
                asm.push_str(line);
                asm.push('\n');
            }
            "raw" => {
                for tok in body.split_whitespace() {
                    let w = u64::from_str_radix(tok.trim_start_matches("0x"), 16)
                        .map_err(|e| format!("raw word {tok}: {e}"))?;
                    case.raw.get_or_insert_with(Vec::new).push(w);
                }
            }
            "mem" => {
                for tok in body.split_whitespace() {
                    let b = u8::from_str_radix(tok, 16).map_err(|e| format!("mem {tok}: {e}"))?;
                    case.mem.push(b);
                }
            }
            "result" if !body.is_empty() => {
                let v = match body.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => body.parse(),
                };
                case.result = Some(v.map_err(|e| format!("result {body}: {e}"))?);
            }
            _ => {}
        }
    }
    if !asm.trim().is_empty() {
        case.asm = Some(asm);
    }
    Ok(case)
}

fn program(case: &Case) -> Result<Vec<Insn>, String> {
    match (&case.raw, &case.asm) {
        (Some(words), _) => {
            let raw: Vec<RawInsn> = words.iter().map(|&w| RawInsn::from_u64(w)).collect();
            decode(&raw).map_err(|e| format!("decode: {e}"))
        }
        (None, Some(src)) => assemble(src).map_err(|e| format!("assemble: {e}")),
        (None, None) => Err("no program".into()),
    }
}

fn run_file(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut case = parse(&text)?;
    if case.error {
        return Err("positive test with an -- error section".into());
    }
    let insns = program(&case)?;
    let table = Arc::new(conformance::table());
    let program =
        Program::checked(insns, table, &[Reg::R1, Reg::R2]).map_err(|e| format!("load: {e}"))?;
    let exe = Interpreter.load(&program).map_err(|e| e.to_string())?;
    let expected = case.result.ok_or("no -- result")?;
    let len = case.mem.len() as u64;
    let mut state = RunState::new();
    let addr = if case.mem.is_empty() {
        0
    } else {
        state.add_memory(&mut case.mem, RegionKind::Input)
    };
    let r0 = exe
        .run(&mut state, [addr, len, 0, 0, 0])
        .map_err(|t| format!("trapped: {t}"))?;
    if r0 != expected {
        return Err(format!("r0 = {r0:#x}, expected {expected:#x}"));
    }
    Ok(())
}

fn data_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(SUITE).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_positive_conformance_program_passes() {
    let files = data_files("tests");
    let mut failures = Vec::new();
    for f in &files {
        if let Err(why) = run_file(f) {
            failures.push(format!(
                "{}: {why}",
                f.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    for line in &failures {
        eprintln!("{line}");
    }
    let passed = files.len() - failures.len();
    eprintln!("{passed} passed, {} failed", failures.len());
    assert_eq!(files.len(), 313, "the suite has 313 positive files");
    assert!(
        failures.is_empty(),
        "{} conformance failures",
        failures.len()
    );
}

#[test]
fn negative_error_data_is_refused_by_the_check() {
    // negative/error.data: `or %r0, %r10; exit` reads r0 before writing it.
    let path = data_files("negative")
        .into_iter()
        .find(|p| p.ends_with("error.data"))
        .expect("negative/error.data exists");
    let case = parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(case.error);
    let insns = program(&case).expect("error.data assembles");
    let err = Program::checked(insns, Arc::new(conformance::table()), &[Reg::R1, Reg::R2])
        .expect_err("read-before-write check refuses it");
    assert_eq!(
        err,
        oxbpf_runtime::LoadError::ReadBeforeWrite {
            index: 0,
            reg: Reg::R0
        }
    );
}
