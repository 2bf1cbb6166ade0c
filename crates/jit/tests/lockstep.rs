//! Random programs on the interpreter and the JIT in lockstep.
//!
//! The normal run checks 20,000 programs from a fixed seed. The long run
//! takes its size (and optionally another seed) from the environment:
//!
//! ```text
//! OXBPF_LOCKSTEP_PROGRAMS=5000000 cargo test --release -p oxbpf-jit --test lockstep
//! OXBPF_LOCKSTEP_SEED=12345 ...
//! ```
//!
//! A divergence panics with a reproducer: a `common::check_asm(...)` call
//! holding the program's assembly and inputs, to paste into a test.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::{ENTRY, Input, lockstep_with, reproducer};
use oxbpf_abi::Trap;
use oxbpf_isa::Insn;
use oxbpf_jit::JitOptions;
use oxbpf_runtime::{Program, SafetyMode, helpers::conformance};
// The generator is shared with the interpreters' lockstep (oxbpf-testgen).
use oxbpf_testgen::{Rng, all_keys, generate, key};

/// The seed of the normal run.
const SEED: u64 = 0x6f78_6270_665f_6a69;
/// Programs in the normal run.
const PROGRAMS: u64 = 20_000;
/// Verified-mode programs in the normal run.
const VERIFIED_PROGRAMS: u64 = 5_000;
/// Each opcode form must run at least this often across the run.
const MIN_PER_KEY: u64 = 100;
/// At least this percentage of programs must touch memory.
const MIN_MEMORY_PERCENT: u64 = 30;

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim().replace('_', "");
    Some(match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap_or_else(|e| panic!("{name}: {e}")),
        None => v.parse().unwrap_or_else(|e| panic!("{name}: {e}")),
    })
}

#[derive(Default)]
struct Stats {
    returned: u64,
    traps: HashMap<Trap, u64>,
    executed: u64,
    max_executed: u64,
    touched_memory: u64,
    fp_written: u64,
    local_calls: u64,
}

/// Runs `programs` generated programs from `seed` in lockstep; panics with
/// a reproducer on the first divergence. Returns the statistics and how
/// often each opcode form ran.
fn sweep(programs: u64, seed: u64, verified: bool) -> (Stats, HashMap<String, u64>) {
    let table = Arc::new(conformance::table());
    let mut rng = Rng::new(seed);
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut stats = Stats::default();
    for n in 0..programs {
        let g = generate(&mut rng, verified);
        let mut program = match Program::checked(g.insns.clone(), table.clone(), &ENTRY) {
            Ok(p) => p,
            Err(e) => panic!(
                "generator bug: program {n} (seed {seed:#x}) fails the load check: {e}\n{}",
                oxbpf_isa::disasm::disassemble(&g.insns)
            ),
        };
        if verified {
            // What the verifier would hand over: the generator keeps these
            // programs safe without checks.
            program = Program::new_unchecked(g.insns.clone(), table.clone(), SafetyMode::Verified);
        }
        let inp = Input {
            input: &g.input,
            ro: Some(&g.ro),
            budget: g.budget,
        };
        let mut touched = false;
        let mut executed = 0u64;
        let mut called_local = false;
        // Verified programs also cover the code generated without BMI2.
        let options = if verified {
            JitOptions::baseline()
        } else {
            JitOptions::host()
        };
        let result = lockstep_with(
            &program,
            &inp,
            &mut |e| {
                executed += 1;
                if let Some(k) = key(e.insn) {
                    *counts.entry(k).or_default() += 1;
                }
                match e.insn {
                    Insn::Load { .. } | Insn::Store { .. } | Insn::Atomic { .. } => touched = true,
                    _ => {}
                }
                called_local |= e.depth > 0;
            },
            options,
        );
        let outcome = match result {
            Ok(o) => o,
            Err(d) => panic!(
                "{} program {n} of seed {seed:#x} diverges\ninterp: {:?}\njit:    {:?}\n\
                 reproducer:\n{}",
                if verified { "verified" } else { "checked" },
                d.interp.result,
                d.jit.result,
                reproducer(&g.insns, &inp, verified)
            ),
        };
        match outcome.result {
            Ok(_) => stats.returned += 1,
            Err(t) => {
                *stats.traps.entry(t.trap).or_default() += 1;
                // The trapping instruction ran (and stopped the run),
                // except a budget trap, which stops before its block.
                if t.trap != Trap::BudgetExhausted {
                    if let Some(k) = key(&g.insns[t.pc]) {
                        *counts.entry(k).or_default() += 1;
                    }
                    if matches!(t.trap, Trap::OutOfBounds | Trap::ReadOnly) {
                        touched = true;
                    }
                }
            }
        }
        stats.touched_memory += touched as u64;
        stats.executed += executed;
        stats.max_executed = stats.max_executed.max(executed);
        stats.fp_written += g
            .insns
            .iter()
            .any(|i| matches!(i, Insn::Alu { dst, .. } if dst.index() == 10))
            as u64;
        stats.local_calls += called_local as u64;
    }
    (stats, counts)
}

fn summary(stats: &Stats, programs: u64, seed: u64, mode: &str) {
    let mut traps: Vec<_> = stats
        .traps
        .iter()
        .map(|(t, c)| format!("{t:?} {c}"))
        .collect();
    traps.sort();
    eprintln!(
        "lockstep ({mode}): {programs} programs (seed {seed:#x}), 0 divergences; {} returned, \
         traps: {}; {} instructions executed (max {} in one program); {} touched memory, {} \
         made local calls, {} wrote r10",
        stats.returned,
        traps.join(", "),
        stats.executed,
        stats.max_executed,
        stats.touched_memory,
        stats.local_calls,
        stats.fp_written,
    );
}

#[test]
fn random_programs_agree_with_the_interpreter() {
    let programs = env_u64("OXBPF_LOCKSTEP_PROGRAMS").unwrap_or(PROGRAMS);
    let seed = env_u64("OXBPF_LOCKSTEP_SEED").unwrap_or(SEED);
    let (stats, counts) = sweep(programs, seed, false);
    summary(&stats, programs, seed, "checked");

    // The generator must not drift into trivial programs. Thresholds are
    // for the normal run's size; a smaller run skips nothing but scales.
    let scale = |x: u64| x * programs.min(PROGRAMS) / PROGRAMS;
    let mut rare: Vec<String> = all_keys()
        .into_iter()
        .filter_map(|k| {
            let c = counts.get(&k).copied().unwrap_or(0);
            (c < scale(MIN_PER_KEY)).then(|| format!("{k}: {c}"))
        })
        .collect();
    rare.sort();
    assert!(
        rare.is_empty(),
        "opcode forms executed fewer than {} times: {rare:?}",
        scale(MIN_PER_KEY)
    );
    let unknown: Vec<&String> = counts.keys().filter(|k| !all_keys().contains(k)).collect();
    assert!(unknown.is_empty(), "keys outside the ISA list: {unknown:?}");
    assert!(
        stats.touched_memory * 100 >= MIN_MEMORY_PERCENT * programs,
        "only {} of {programs} programs touched memory",
        stats.touched_memory
    );
}

/// Verified mode: no checks, no budget, the kernel's 8 frames. The
/// generator keeps these programs in bounds, so both engines may run them
/// unchecked.
#[test]
fn random_verified_programs_agree_with_the_interpreter() {
    let programs = env_u64("OXBPF_LOCKSTEP_PROGRAMS").map_or(VERIFIED_PROGRAMS, |n| n / 4);
    let seed = env_u64("OXBPF_LOCKSTEP_SEED").unwrap_or(SEED) ^ 1;
    let (stats, _) = sweep(programs, seed, true);
    summary(&stats, programs, seed, "verified");
    assert!(
        stats.touched_memory * 100 >= MIN_MEMORY_PERCENT * programs,
        "only {} of {programs} programs touched memory",
        stats.touched_memory
    );
    // No memory or budget traps exist in verified mode.
    for t in [Trap::OutOfBounds, Trap::ReadOnly, Trap::BudgetExhausted] {
        assert_eq!(stats.traps.get(&t), None, "{t:?} in verified mode");
    }
}
