//! The instruction budget: charged per basic block on entry, trapping at
//! the block's first slot (runtime/src/blocks.rs).

#[macro_use]
mod common;

use common::*;
use oxbpf_abi::Trap;
use oxbpf_isa::AluOp::*;
use oxbpf_isa::JmpCond::*;
use oxbpf_runtime::{RunState, Trapped};

/// 0 mov r0, 0
/// 1 add r0, 1
/// 2 jne r0, 10, -2 (-> 1)
/// 3 exit
/// Leaders: 0 (entry), 1 (jump target), 3 (after a jump). Blocks:
/// {0} cost 1, {1, 2} cost 2, {3} cost 1. A full run: 1 + 10 * 2 + 1 = 22.
fn counting_loop() -> Vec<oxbpf_isa::Insn> {
    prog![
        mov(R0, 0),
        alu64(Add, R0, k(1)),
        jmp(Ne, R0, k(10), -2),
        EXIT
    ]
}

fn run_budget(insns: Vec<oxbpf_isa::Insn>, budget: u64) -> (Result<u64, Trapped>, u64) {
    let mut state = RunState::new();
    state.budget = budget;
    let r = run_in(&checked(insns), &mut state, [0; 5]);
    (r, state.budget)
}

fn exhausted(pc: usize) -> Result<u64, Trapped> {
    Err(Trapped {
        trap: Trap::BudgetExhausted,
        pc,
    })
}

#[test]
fn charges_whole_blocks() {
    assert_eq!(run_budget(counting_loop(), 100), (Ok(10), 100 - 22));
    // Exactly enough.
    assert_eq!(run_budget(counting_loop(), 22), (Ok(10), 0));
}

#[test]
fn stops_at_the_leader_of_the_block_that_does_not_fit() {
    // 21: after {0} and ten loop blocks 0 is left; {3} needs 1 -> trap at 3.
    assert_eq!(run_budget(counting_loop(), 21), (exhausted(3), 0));
    // 20: 19 after {0}; nine loop blocks leave 1; the tenth needs 2 -> trap
    // at its leader, slot 1, with the remaining 1 not taken.
    assert_eq!(run_budget(counting_loop(), 20), (exhausted(1), 1));
    // 0: the entry block itself does not fit.
    assert_eq!(run_budget(counting_loop(), 0), (exhausted(0), 0));
}

#[test]
fn the_slot_after_a_call_is_a_leader() {
    // 0 call local +1 (-> 2)   block {0}, cost 1
    // 1 exit                   block {1}, cost 1 (a call returns here)
    // 2 mov r0, 7              block {2, 3}, cost 2 (a call target)
    // 3 exit
    // Total 4; with 3 the return to slot 1 cannot be charged.
    let p = || prog![call_local(1), EXIT, mov(R0, 7), EXIT];
    assert_eq!(run_budget(p(), 4), (Ok(7), 0));
    assert_eq!(run_budget(p(), 3), (exhausted(1), 0));
    // Helper calls too: 0 call no_op {0}, 1 exit {1}.
    let h = || prog![call(2), EXIT];
    assert_eq!(run_budget(h(), 2), (Ok(0), 0));
    assert_eq!(run_budget(h(), 1), (exhausted(1), 0));
}

#[test]
fn an_endless_loop_ends_with_the_default_budget() {
    // 0 ja -1 (-> 0): a one-instruction block run until the budget (1e6)
    // is gone; it traps at slot 0.
    let mut state = RunState::new();
    assert_eq!(
        run_in(&checked(prog![ja(-1)]), &mut state, [0; 5]).unwrap_err(),
        Trapped {
            trap: Trap::BudgetExhausted,
            pc: 0
        }
    );
    assert_eq!(state.budget, 0);
}

#[test]
fn verified_mode_is_not_charged() {
    let mut state = RunState::new();
    state.budget = 0;
    assert_eq!(
        run_in(&verified(counting_loop()), &mut state, [0; 5]),
        Ok(10)
    );
    assert_eq!(state.budget, 0);
}
