//! Lockstep: the fast interpreter against the reference interpreter.
//!
//! Random valid programs (fixed seed) run on both engines; the return value
//! or trap (with its slot), the remaining budget and the final input memory
//! must be identical. Each program runs in checked mode with the default
//! budget, again with a budget cut somewhere inside its run, and, when the
//! checked run completed, in verified mode.
//!
//! Programs come from the shared generator (`oxbpf-testgen`, its `flat`
//! shape). Generated programs cover every instruction form (checked by counting),
//! have loops bounded by construction, and touch memory inside and outside
//! the regions. A divergence panics with a reproducer: the program as
//! assembly text, the input memory and the budget.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use oxbpf_interp::{FastInterpreter, Interpreter};
use oxbpf_isa::{CallTarget, Insn, Reg, disasm::disassemble};
use oxbpf_runtime::{
    Engine, Program, RegionKind, RunState, SafetyMode, Trapped, helpers::conformance,
};
use oxbpf_testgen::flat::{Generated, MEM_LEN, generate, wild_program};
use oxbpf_testgen::{Rng, all_keys, key};

const SEED: u64 = 0x0bf5_2024_1ab5_eed5;
const PROGRAMS: usize = 20_000;

/// What a run leaves behind.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    result: Result<u64, Trapped>,
    budget_left: u64,
    mem: Vec<u8>,
}

fn execute(engine: &dyn Engine, program: &Program, mem: &[u8], budget: u64) -> Outcome {
    let exe = engine.load(program).expect("engines load every program");
    let mut mem = mem.to_vec();
    let result;
    let budget_left;
    {
        let mut state = RunState::new();
        state.budget = budget;
        let addr = state.add_memory(&mut mem, RegionKind::Input);
        result = exe.run(&mut state, [addr, MEM_LEN as u64, 0, 0, 0]);
        budget_left = state.budget;
    }
    Outcome {
        result,
        budget_left,
        mem,
    }
}

/// The coverage names an instruction counts under: its opcode form, and
/// for a helper call also the helper's id (each conformance helper must
/// be reached).
fn kinds_of(insn: &Insn) -> impl Iterator<Item = String> {
    let helper = match insn {
        Insn::Call(CallTarget::Helper(id)) => Some(format!("call-helper-{id}")),
        _ => None,
    };
    key(insn).into_iter().chain(helper)
}

/// Every instruction form the generator must produce: the ISA's forms
/// (from the shared list) except the legacy packet loads, which this
/// generator leaves to the wild programs, and each helper 0-5.
fn expected_kinds() -> Vec<String> {
    let mut v: Vec<String> = all_keys()
        .into_iter()
        .filter(|k| !k.starts_with("ldabs") && !k.starts_with("ldind"))
        .collect();
    v.extend((0..=5).map(|id| format!("call-helper-{id}")));
    v
}

#[cold]
fn reproducer(n: usize, g: &Generated, what: &str, budget: u64, a: &Outcome, b: &Outcome) -> ! {
    panic!(
        "program {n} (seed {SEED:#x}) diverges in {what} with budget {budget}:\n\
         interp:      {a:?}\n\
         interp-fast: {b:?}\n\
         -- mem\n{}\n-- asm\n{}",
        g.mem
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" "),
        disassemble(&g.insns)
    );
}

#[test]
fn fast_interpreter_matches_the_reference_on_random_programs() {
    let mut rng = Rng::new(SEED);
    let table = Arc::new(conformance::table());
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let (mut touched_memory, mut completed, mut trapped, mut cut) = (0, 0, 0, 0);
    let mut traps: BTreeMap<String, usize> = BTreeMap::new();

    for n in 0..PROGRAMS {
        let g = generate(&mut rng);
        for insn in &g.insns {
            for k in kinds_of(insn) {
                *kinds.entry(k).or_default() += 1;
            }
        }
        if g.insns.iter().any(|i| {
            matches!(
                i,
                Insn::Load { .. } | Insn::Store { .. } | Insn::Atomic { .. }
            )
        }) {
            touched_memory += 1;
        }
        let program = Program::checked(g.insns.clone(), table.clone(), &[Reg::R1, Reg::R2])
            .unwrap_or_else(|e| panic!("program {n} is refused: {e}\n{}", disassemble(&g.insns)));

        let budget = oxbpf_abi::limits::DEFAULT_BUDGET;
        let a = execute(&Interpreter, &program, &g.mem, budget);
        let b = execute(&FastInterpreter, &program, &g.mem, budget);
        if a != b {
            reproducer(n, &g, "checked mode", budget, &a, &b);
        }
        match &a.result {
            Ok(_) => completed += 1,
            Err(t) => {
                trapped += 1;
                *traps.entry(format!("{:?}", t.trap)).or_default() += 1;
            }
        }

        // Cut the budget somewhere inside the run.
        let used = budget - a.budget_left;
        if used > 0 {
            let small = rng.below(used);
            let a2 = execute(&Interpreter, &program, &g.mem, small);
            let b2 = execute(&FastInterpreter, &program, &g.mem, small);
            if a2 != b2 {
                reproducer(n, &g, "checked mode, cut budget", small, &a2, &b2);
            }
            // The same blocks are charged in the same order, so one of
            // them no longer fits.
            assert!(
                matches!(
                    a2.result,
                    Err(Trapped {
                        trap: oxbpf_abi::Trap::BudgetExhausted,
                        ..
                    })
                ),
                "program {n}: budget {small} < {used} used did not stop the run"
            );
            cut += 1;
        }

        // A run that completed in checked mode touched only valid memory,
        // and the same inputs take the same path: safe to run unchecked.
        if a.result.is_ok() {
            let verified =
                Program::new_unchecked(g.insns.clone(), table.clone(), SafetyMode::Verified);
            let a3 = execute(&Interpreter, &verified, &g.mem, 0);
            let b3 = execute(&FastInterpreter, &verified, &g.mem, 0);
            if a3 != b3 {
                reproducer(n, &g, "verified mode", 0, &a3, &b3);
            }
            assert_eq!(a3.result, a.result, "program {n}: modes disagree");
            assert_eq!(a3.mem, a.mem, "program {n}: modes disagree on memory");
        }
    }

    eprintln!(
        "{PROGRAMS} programs: {completed} completed, {trapped} trapped {traps:?}, \
         {cut} re-run with a cut budget, {touched_memory} access memory"
    );
    let missing: Vec<String> = expected_kinds()
        .into_iter()
        .filter(|k| kinds.get(k).copied().unwrap_or(0) < 100)
        .collect();
    assert!(
        missing.is_empty(),
        "forms generated fewer than 100 times: {missing:?}"
    );
    assert!(
        touched_memory * 10 >= PROGRAMS * 3,
        "fewer than 30% of programs access memory"
    );
    assert!(
        completed * 10 >= PROGRAMS * 3,
        "fewer than 30% of programs complete"
    );
    for trap in ["OutOfBounds", "HelperFault", "BadCallTarget"] {
        assert!(
            traps.get(trap).copied().unwrap_or(0) >= 100,
            "fewer than 100 {trap} traps"
        );
    }
}

#[test]
fn engines_agree_on_programs_that_skipped_the_load_checks() {
    let mut rng = Rng::new(SEED ^ 0x5eed);
    let table = Arc::new(conformance::table());
    let mut traps: BTreeMap<String, usize> = BTreeMap::new();
    for n in 0..20_000 {
        let insns = wild_program(&mut rng);
        let g = Generated {
            insns: insns.clone(),
            mem: Vec::new(),
        };
        let program = Program::new_unchecked(insns, table.clone(), SafetyMode::Checked);
        let budget = 2_000;
        let run = |engine: &dyn Engine| {
            let mut state = RunState::new();
            state.budget = budget;
            let result = engine.load(&program).unwrap().run(&mut state, [0; 5]);
            Outcome {
                result,
                budget_left: state.budget,
                mem: Vec::new(),
            }
        };
        let (a, b) = (run(&Interpreter), run(&FastInterpreter));
        if a != b {
            reproducer(n, &g, "an unchecked program", budget, &a, &b);
        }
        if let Err(t) = a.result {
            *traps.entry(format!("{:?}", t.trap)).or_default() += 1;
        }
    }
    eprintln!("traps: {traps:?}");
    // The point is that the odd paths were taken.
    for trap in [
        "Unsupported",
        "BudgetExhausted",
        "UnknownHelper",
        "CallDepth",
    ] {
        assert!(
            traps.get(trap).copied().unwrap_or(0) >= 50,
            "fewer than 50 {trap} traps"
        );
    }
}
