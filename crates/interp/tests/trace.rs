//! The per-instruction trace hook.

#[macro_use]
mod common;

use common::*;
use oxbpf_abi::Trap;
use oxbpf_interp::Interpreter;
use oxbpf_isa::JmpCond::*;
use oxbpf_isa::Size::*;
use oxbpf_runtime::{RunState, Trapped};

#[test]
fn reports_each_completed_instruction_with_changed_registers() {
    // 0 mov r0, 1; 1 jeq r0, 1, +1 (-> 3, taken); 2 mov r0, 2;
    // 3 call local +1 (-> 5); 4 exit; 5 mov r0, 9; 6 exit
    let p = checked(prog![
        mov(R0, 1),
        jmp(Eq, R0, k(1), 1),
        mov(R0, 2),
        call_local(1),
        EXIT,
        mov(R0, 9),
        EXIT
    ]);
    let mut events = Vec::new();
    let r = Interpreter.run_traced(&p, &mut RunState::new(), [0; 5], &mut |e| {
        events.push((
            e.pc,
            e.depth,
            e.changed_regs().map(|(r, _)| r).collect::<Vec<_>>(),
        ));
    });
    assert_eq!(r, Ok(9));
    // The call moves r10 down by a frame and the return restores it.
    assert_eq!(
        events,
        [
            (0, 0, vec![R0]),
            (1, 0, vec![]),
            (3, 0, vec![R10]),
            (5, 1, vec![R0]),
            (6, 1, vec![R10]),
            (4, 0, vec![]),
        ]
    );
}

#[test]
fn display_lists_changed_registers_and_traps_produce_no_event() {
    let p = checked(prog![mov(R0, 3), mov(R1, 0x10), ldx(B, R0, R10, 0), EXIT]);
    let mut lines = Vec::new();
    let r = Interpreter.run_traced(&p, &mut RunState::new(), [0; 5], &mut |e| {
        lines.push(e.to_string());
    });
    assert_eq!(
        r,
        Err(Trapped {
            trap: Trap::OutOfBounds,
            pc: 2
        })
    );
    assert_eq!(lines, ["0: r0 = 0x3", "1: r1 = 0x10"]);
}
