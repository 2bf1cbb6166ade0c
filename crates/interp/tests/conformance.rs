//! Cross-check: every positive bpf_conformance program runs on the
//! interpreter with the suite's contract and returns the expected `r0`.
//!
//! The real data-driven runner is `crates/conformance`; this minimal parser
//! only exists so that the interpreter's own tests cover the suite.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::suite::{data_files, parse, program};
use oxbpf_interp::{FastInterpreter, Interpreter};
use oxbpf_isa::Reg;
use oxbpf_runtime::{Engine, Program, RegionKind, RunState, helpers::conformance};

fn run_file(engine: &dyn Engine, path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut case = parse(&text)?;
    if case.error {
        return Err("positive test with an -- error section".into());
    }
    let insns = program(&case)?;
    let table = Arc::new(conformance::table());
    let program =
        Program::checked(insns, table, &[Reg::R1, Reg::R2]).map_err(|e| format!("load: {e}"))?;
    let exe = engine.load(&program).map_err(|e| e.to_string())?;
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

fn every_positive_program_passes_on(engine: &dyn Engine) {
    let files = data_files("tests");
    let mut failures = Vec::new();
    for f in &files {
        if let Err(why) = run_file(engine, f) {
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
    eprintln!(
        "{}: {passed} passed, {} failed",
        engine.name(),
        failures.len()
    );
    assert_eq!(files.len(), 313, "the suite has 313 positive files");
    assert!(
        failures.is_empty(),
        "{} conformance failures",
        failures.len()
    );
}

#[test]
fn every_positive_conformance_program_passes() {
    every_positive_program_passes_on(&Interpreter);
}

#[test]
fn every_positive_conformance_program_passes_on_the_fast_interpreter() {
    every_positive_program_passes_on(&FastInterpreter);
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

#[test]
fn incorrect_return_value_high_bits_passes_the_check_and_runs() {
    // negative/incorrect_return_value_high_bits.data must be reported as an
    // r0 mismatch by the runner, so the load check must accept it.
    let path = data_files("negative")
        .into_iter()
        .find(|p| p.ends_with("incorrect_return_value_high_bits.data"))
        .expect("the file exists");
    let mut case = parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let insns = program(&case).expect("it assembles");
    let program = Program::checked(insns, Arc::new(conformance::table()), &[Reg::R1, Reg::R2])
        .expect("the read-before-write check accepts it");
    let expected = case.result;
    let len = case.mem.len() as u64;
    let mut state = RunState::new();
    let addr = state.add_memory(&mut case.mem, RegionKind::Input);
    let r0 = Interpreter
        .load(&program)
        .unwrap()
        .run(&mut state, [addr, len, 0, 0, 0])
        .expect("it runs");
    // ldxdw [r1+2] of aa bb 11 22 33 44 55 66 77 88 cc dd.
    assert_eq!(r0, 0x8877_6655_4433_2211);
    assert_ne!(
        Some(r0),
        expected,
        "the expected result is deliberately wrong"
    );
}
