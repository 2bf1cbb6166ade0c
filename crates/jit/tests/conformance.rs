//! The bpf_conformance suite through the lockstep harness: every positive
//! program returns its expected `r0` on the JIT, agrees with the
//! interpreter in every respect, and compiles entirely to native code;
//! every negative file is refused or fails its expectation.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::suite::{DataFile, files};
use common::{Input, lockstep};
use oxbpf_isa::{AluOp, Endian, Insn, Operand, Reg, Width};
use oxbpf_jit::{Jit, disassemble_jit};
use oxbpf_runtime::{Engine, Program, RegionKind, RunState, helpers::conformance};

/// The suite's contract: r1 = input memory (0 if none), r2 = its length.
const ENTRY: [Reg; 2] = [Reg::R1, Reg::R2];

fn load(path: &Path) -> Result<(DataFile, Program), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let file = DataFile::parse(&text)?;
    let insns = file.program()?;
    let program = Program::checked(insns, Arc::new(conformance::table()), &ENTRY)
        .map_err(|e| format!("load check: {e}"))?;
    Ok((file, program))
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Runs one positive file: expected r0 on the JIT, and lockstep with the
/// interpreter.
fn positive(path: &Path) -> Result<(), String> {
    let (file, program) = load(path)?;
    if file.error {
        return Err("positive file with an -- error section".into());
    }
    let expected = file.result.ok_or("no -- result section")?;
    let inp = Input {
        input: &file.mem,
        ro: None,
        budget: oxbpf_abi::limits::DEFAULT_BUDGET,
    };
    let outcome = lockstep(&program, &inp, &mut |_| {}).map_err(|d| {
        format!(
            "interpreter and JIT diverge\ninterp: {:?}\njit:    {:?}",
            d.interp, d.jit
        )
    })?;
    match outcome.result {
        Ok(r0) if r0 == expected => Ok(()),
        Ok(r0) => Err(format!("r0 = {r0:#x}, expected {expected:#x}")),
        Err(t) => Err(format!("trapped: {t}")),
    }
}

#[test]
fn every_positive_conformance_program_passes_in_lockstep() {
    let all = files("tests");
    assert_eq!(all.len(), 313, "the suite has 313 positive files");
    let failures: Vec<String> = all
        .iter()
        .filter_map(|p| positive(p).err().map(|e| format!("{}: {e}", name(p))))
        .collect();
    for f in &failures {
        eprintln!("{f}");
    }
    eprintln!(
        "jit conformance: {} passed, {} failed",
        all.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty());
}

/// A negative file passes when the program is refused before it runs, or
/// when its run does not give the `-- result` it names (the suite's
/// `incorrect_return_value_*` files expect the runner to notice).
fn negative(path: &Path) -> Result<(), String> {
    let (file, program) = match load(path) {
        Err(_) => return Ok(()),
        Ok(x) => x,
    };
    let exe = Jit
        .load(&program)
        .map_err(|e| format!("jit refused it: {e}"))?;
    let mut mem = file.mem.clone();
    let len = mem.len() as u64;
    let mut state = RunState::new();
    let addr = if mem.is_empty() {
        0
    } else {
        state.add_memory(&mut mem, RegionKind::Input)
    };
    match (exe.run(&mut state, [addr, len, 0, 0, 0]), file.result) {
        (Ok(r0), Some(expected)) if r0 == expected => {
            Err(format!("ran and returned the expected {r0:#x}"))
        }
        (Ok(_), None) if file.error => Err("ran although it should be refused".into()),
        _ => Ok(()),
    }
}

#[test]
fn every_negative_conformance_file_is_refused_or_fails() {
    let all = files("negative");
    assert_eq!(all.len(), 60, "the suite has 60 negative files");
    let failures: Vec<String> = all
        .iter()
        .filter_map(|p| negative(p).err().map(|e| format!("{}: {e}", name(p))))
        .collect();
    for f in &failures {
        eprintln!("{f}");
    }
    eprintln!(
        "jit negative: {} passed, {} failed",
        all.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty());
}

/// There is no interpreter fallback in the JIT at all; this checks that
/// every conformance program compiles, and that every one of its
/// instructions became machine code of its own (or is part of the code of
/// the instruction it was fused into).
#[test]
fn every_conformance_program_compiles_entirely_to_native_code() {
    let mut compiled = 0;
    for path in files("tests") {
        let (_, program) = load(&path).unwrap_or_else(|e| panic!("{}: {e}", name(&path)));
        let listing = disassemble_jit(&program).unwrap_or_else(|e| panic!("{}: {e}", name(&path)));
        let slots = program
            .insns()
            .iter()
            .filter(|i| !matches!(i, Insn::LddwHi))
            .count();
        assert_eq!(listing.insns.len(), slots, "{}", name(&path));
        for insn in &listing.insns {
            assert!(
                !insn.x86.is_empty()
                    || insn.fused_into.is_some()
                    || is_noop(&program.insns()[insn.slot]),
                "{}: slot {} ({}) has no machine code",
                name(&path),
                insn.slot,
                insn.text
            );
        }
        compiled += 1;
    }
    assert_eq!(compiled, 313);
}

/// Instructions that change nothing, and so may compile to no code: 64-bit
/// shifts by a multiple of 64, `le64` on a little-endian host, a 64-bit
/// move of a register to itself.
fn is_noop(insn: &Insn) -> bool {
    match *insn {
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Lsh | AluOp::Rsh | AluOp::Arsh,
            src: Operand::Imm(n),
            ..
        } => n % 64 == 0,
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src: Operand::Reg(src),
        } => dst == src,
        Insn::End {
            kind: Endian::ToLe,
            bits: 64,
            ..
        } => true,
        _ => false,
    }
}
