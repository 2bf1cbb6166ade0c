//! bpf-to-bpf calls, call depth, helpers and callx.

#[macro_use]
mod common;

use common::*;
use oxbpf_abi::Trap;
use oxbpf_isa::AluOp::*;
use oxbpf_isa::JmpCond::*;
use oxbpf_isa::Size::*;
use oxbpf_runtime::{RegionKind, RunState, Trapped};

#[test]
fn local_call_gets_a_fresh_frame_and_preserves_r6_to_r9() {
    // 0  stdw [r10-8], 111      in main's frame
    // 1  mov r6, r10            r6 = main's frame pointer
    // 2  mov r7, 7
    // 3  mov r8, 8
    // 4  mov r9, 9
    // 5  call local +10 (-> 16)
    // 6  mov r1, r6
    // 7  sub r1, r0             main r10 - callee r10 = 512
    // 8  ldxdw r2, [r10-8]      still 111: the callee wrote its own frame
    // 9  add r1, r2             512 + 111
    // 10 mul r7, 1000           7000 if r7 was preserved
    // 11 add r1, r7
    // 12 add r8, r9             17 if r8 and r9 were preserved
    // 13 add r1, r8
    // 14 mov r0, r1             512 + 111 + 7000 + 17 = 7640
    // 15 exit
    // 16 stdw [r10-8], 222      the callee: clobbers its frame and r6-r9
    // 17-20 mov r6..r9, 0
    // 21 mov r0, r10
    // 22 exit
    let p = prog![
        st(DW, R10, -8, 111),
        movr(R6, R10),
        mov(R7, 7),
        mov(R8, 8),
        mov(R9, 9),
        call_local(10),
        movr(R1, R6),
        alu64(Sub, R1, x(R0)),
        ldx(DW, R2, R10, -8),
        alu64(Add, R1, x(R2)),
        alu64(Mul, R7, k(1000)),
        alu64(Add, R1, x(R7)),
        alu64(Add, R8, x(R9)),
        alu64(Add, R1, x(R8)),
        movr(R0, R1),
        EXIT,
        st(DW, R10, -8, 222),
        mov(R6, 0),
        mov(R7, 0),
        mov(R8, 0),
        mov(R9, 0),
        movr(R0, R10),
        EXIT,
    ];
    assert_eq!(r0(p), 7640);
}

/// `f(n)` recurses `n` times and returns `n`:
/// 0 call local +1 (-> 2); 1 exit;
/// 2 mov r0, 0; 3 jeq r1, 0, +3 (-> 7); 4 sub r1, 1;
/// 5 call local -4 (-> 2); 6 add r0, 1; 7 exit.
fn recursion() -> Vec<oxbpf_isa::Insn> {
    prog![
        call_local(1),
        EXIT,
        mov(R0, 0),
        jmp(Eq, R1, k(0), 3),
        alu64(Sub, R1, k(1)),
        call_local(-4),
        alu64(Add, R0, k(1)),
        EXIT,
    ]
}

#[test]
fn call_depth_is_limited_to_the_frame_count() {
    // Checked mode has 16 frames: main + 15 nested. f(n) runs at depths
    // 1..=n+1, so n = 14 fits and n = 15 traps at the recursive call, slot 5.
    assert_eq!(run(recursion(), [14, 0, 0, 0, 0]), Ok(14));
    assert_eq!(
        run(recursion(), [15, 0, 0, 0, 0]),
        Err(Trapped {
            trap: Trap::CallDepth,
            pc: 5
        })
    );
    // Verified mode has the kernel's 8 frames: n = 6 fits, n = 7 traps.
    let mut state = RunState::new();
    assert_eq!(
        run_in(&verified(recursion()), &mut state, [6, 0, 0, 0, 0]),
        Ok(6)
    );
    assert_eq!(
        run_in(&verified(recursion()), &mut state, [7, 0, 0, 0, 0]),
        Err(Trapped {
            trap: Trap::CallDepth,
            pc: 5
        })
    );
}

#[test]
fn deep_frames_each_get_512_bytes() {
    // Every level writes its depth marker at [r10-8] before recursing and
    // checks it after returning: frames must not overlap.
    // 0 call local +1 (-> 2); 1 exit;
    // 2 stxdw [r10-8], r1; 3 mov r0, 0; 4 jeq r1, 0, +5 (-> 10);
    // 5 sub r1, 1; 6 call local -5 (-> 2); 7 ldxdw r2, [r10-8];
    // 8 add r0, r2; 9 exit; 10 exit
    let p = prog![
        call_local(1),
        EXIT,
        stx(DW, R10, -8, R1),
        mov(R0, 0),
        jmp(Eq, R1, k(0), 5),
        alu64(Sub, R1, k(1)),
        call_local(-5),
        ldx(DW, R2, R10, -8),
        alu64(Add, R0, x(R2)),
        EXIT,
        EXIT,
    ];
    // f(10) = 10 + 9 + ... + 1 = 55 (each level adds its own marker).
    assert_eq!(run(p, [10, 0, 0, 0, 0]), Ok(55));
}

#[test]
fn helpers_receive_r1_to_r5_and_return_in_r0() {
    // gather_bytes(1, 2, 3, 4, 5) = 0x01_0203_0405.
    let p = prog![
        mov(R1, 1),
        mov(R2, 2),
        mov(R3, 3),
        mov(R4, 4),
        mov(R5, 5),
        call(0),
        EXIT
    ];
    assert_eq!(r0(p), 0x01_0203_0405);
    // Arguments of the run land in r1..r5.
    assert_eq!(
        run(prog![call(0), EXIT], [0x11, 0x22, 0x33, 0x44, 0x55]),
        Ok(0x11_2233_4455)
    );
    // memfrob on the stack: 8 zero bytes xor 42 each = 0x2a2a...
    let p = prog![
        st(DW, R10, -8, 0),
        movr(R1, R10),
        alu64(Add, R1, k(-8)),
        mov(R2, 8),
        call(1),
        ldx(DW, R0, R10, -8),
        EXIT
    ];
    assert_eq!(r0(p), 0x2a2a_2a2a_2a2a_2a2a);
}

#[test]
fn helper_faults_trap_at_the_call() {
    // memfrob(r10, 1): the byte at r10 is past the stack.
    let p = prog![movr(R1, R10), mov(R2, 1), call(1), EXIT];
    assert_eq!(
        run(p, [0; 5]),
        Err(Trapped {
            trap: Trap::HelperFault,
            pc: 2
        })
    );
    // strcmp on input memory that is not NUL-terminated within its region.
    let mut mem = *b"abc";
    let mut state = RunState::new();
    let addr = state.add_memory(&mut mem, RegionKind::Input);
    let p = checked(prog![movr(R2, R1), call(4), EXIT]);
    assert_eq!(
        run_in(&p, &mut state, [addr, 0, 0, 0, 0]),
        Err(Trapped {
            trap: Trap::HelperFault,
            pc: 1
        })
    );
}

#[test]
fn unwind_with_zero_ends_the_whole_program() {
    // 0 call local +2 (-> 3); 1 mov r0, 1; 2 exit;
    // 3 mov r1, 0; 4 call 5 (unwind 0: program ends, r0 = 0);
    // 5 mov r0, 2; 6 exit
    let p = prog![
        call_local(2),
        mov(R0, 1),
        EXIT,
        mov(R1, 0),
        call(5),
        mov(R0, 2),
        EXIT
    ];
    assert_eq!(r0(p.clone()), 0);
    // unwind of a non-zero value returns it and execution goes on: the
    // callee returns 2, main returns 1.
    let mut p = p;
    p[3] = mov(R1, -1);
    assert_eq!(r0(p), 1);
}

#[test]
fn callx_calls_the_helper_named_by_the_register() {
    // sqrti(49) through callx r2 = 3.
    let p = prog![mov(R1, 49), mov(R2, 3), callx(R2), EXIT];
    assert_eq!(r0(p), 7);
    // No helper 6, and 2^32 + 3 is not 3.
    for bad in [6u64, (1 << 32) | 3, u64::MAX] {
        let p = prog![mov(R1, 49), callx(R2), EXIT];
        assert_eq!(
            run(p, [0, bad, 0, 0, 0]),
            Err(Trapped {
                trap: Trap::BadCallTarget,
                pc: 1
            })
        );
    }
}

#[test]
fn unknown_static_helper_traps_in_an_unchecked_program() {
    // Program::checked refuses it at load; a program built without the
    // check still traps instead of misbehaving.
    let p = verified(prog![call(77), EXIT]);
    assert_eq!(
        run_in(&p, &mut RunState::new(), [0; 5]),
        Err(Trapped {
            trap: Trap::UnknownHelper,
            pc: 0
        })
    );
}
