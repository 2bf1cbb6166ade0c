//! Loads, stores and atomics, and checked mode's memory traps.

#[macro_use]
mod common;

use common::*;
use oxbpf_abi::Trap;
use oxbpf_isa::AtomicOp::{self, *};
use oxbpf_isa::Size::*;
use oxbpf_runtime::{RegionKind, RunState, Trapped};

/// Runs with `mem` lent as input memory, its address in r1.
fn run_mem(insns: Vec<oxbpf_isa::Insn>, mem: &mut [u8]) -> Result<u64, Trapped> {
    let len = mem.len() as u64;
    let mut state = RunState::new();
    let addr = state.add_memory(mem, RegionKind::Input);
    run_in(&checked(insns), &mut state, [addr, len, 0, 0, 0])
}

#[test]
fn loads_are_little_endian_and_zero_or_sign_extended() {
    let mut mem = [0x80, 0xff, 0x00, 0x80, 0x11, 0x22, 0x33, 0x44];
    let load = |insn, mem: &mut [u8]| run_mem(prog![insn, EXIT], mem);
    // ldxb [r1]: 0x80.
    assert_eq!(load(ldx(B, R0, R1, 0), &mut mem), Ok(0x80));
    // ldxh [r1]: bytes 80 ff -> 0xff80.
    assert_eq!(load(ldx(H, R0, R1, 0), &mut mem), Ok(0xff80));
    // ldxw [r1+4]: bytes 11 22 33 44 -> 0x4433_2211.
    assert_eq!(load(ldx(W, R0, R1, 4), &mut mem), Ok(0x4433_2211));
    // ldxdw [r1]: 0x4433_2211_8000_ff80.
    assert_eq!(
        load(ldx(DW, R0, R1, 0), &mut mem),
        Ok(0x4433_2211_8000_ff80)
    );
    // ldxsb [r1]: 0x80 = -128.
    assert_eq!(
        load(ldxs(B, R0, R1, 0), &mut mem),
        Ok(0xffff_ffff_ffff_ff80)
    );
    // ldxsh [r1]: 0xff80 = -128.
    assert_eq!(
        load(ldxs(H, R0, R1, 0), &mut mem),
        Ok(0xffff_ffff_ffff_ff80)
    );
    // ldxsw [r1]: bytes 80 ff 00 80 -> 0x8000_ff80, negative.
    assert_eq!(
        load(ldxs(W, R0, R1, 0), &mut mem),
        Ok(0xffff_ffff_8000_ff80)
    );
    // ldxsw [r1+4]: 0x4433_2211, positive.
    assert_eq!(load(ldxs(W, R0, R1, 4), &mut mem), Ok(0x4433_2211));
    // Unaligned: ldxw [r1+1]: bytes ff 00 80 11 -> 0x1180_00ff.
    assert_eq!(load(ldx(W, R0, R1, 1), &mut mem), Ok(0x1180_00ff));
    // Negative offset from a pointer past the start: r1+8-2 = bytes 33 44.
    assert_eq!(
        run_mem(
            prog![
                alu64(oxbpf_isa::AluOp::Add, R1, k(8)),
                ldx(H, R0, R1, -2),
                EXIT
            ],
            &mut mem
        ),
        Ok(0x4433)
    );
}

#[test]
fn stores_truncate_and_stdw_sign_extends() {
    // stdw [r10-8], -1 stores 8 bytes of ones.
    assert_eq!(
        r0(prog![st(DW, R10, -8, -1), ldx(DW, R0, R10, -8), EXIT]),
        u64::MAX
    );
    // The stack starts zeroed; stw -1 fills only the low 4 bytes.
    assert_eq!(
        r0(prog![st(W, R10, -8, -1), ldx(DW, R0, R10, -8), EXIT]),
        0xffff_ffff
    );
    // stxh stores the low 16 bits of r1 = 0x1234_5678 at byte offset 2.
    let mut mem = [0u8; 8];
    let p = prog![lddw(R2, 0x1234_5678), stx(H, R1, 2, R2), mov(R0, 0), EXIT];
    assert_eq!(run_mem(p, &mut mem), Ok(0));
    assert_eq!(mem, [0, 0, 0x78, 0x56, 0, 0, 0, 0]);
    // stb with a register and an immediate.
    let p = prog![
        mov(R2, 0x1ab),
        stx(B, R1, 0, R2),
        st(B, R1, 7, 0x1cd),
        mov(R0, 0),
        EXIT
    ];
    assert_eq!(run_mem(p, &mut mem), Ok(0));
    assert_eq!(mem, [0xab, 0, 0x78, 0x56, 0, 0, 0, 0xcd]);
}

/// Stores `init` at `[r10-8]`, runs the atomic `op` there with `r1 = src`
/// and `r0 = r0_in`, and returns `(r0, r1, memory)` after it (one run per
/// value, each returning one register).
fn atomic_case(
    size: oxbpf_isa::Size,
    op: AtomicOp,
    fetch: bool,
    init: u64,
    src: u64,
    r0_in: u64,
) -> (u64, u64, u64) {
    let body = |ret: oxbpf_isa::Reg| {
        prog![
            lddw(R3, init),
            stx(DW, R10, -8, R3),
            lddw(R1, src),
            lddw(R0, r0_in),
            atomic(size, op, fetch, R10, -8, R1),
            ldx(DW, R2, R10, -8),
            movr(R0, ret),
            EXIT
        ]
    };
    (r0(body(R0)), r0(body(R1)), r0(body(R2)))
}

#[test]
fn atomics_64() {
    // add without fetch: memory 10 + 5 = 15, r1 unchanged.
    assert_eq!(atomic_case(DW, Add, false, 10, 5, 0), (0, 5, 15));
    // fetch add: r1 receives the old value 10.
    assert_eq!(atomic_case(DW, Add, true, 10, 5, 0), (0, 10, 15));
    // or / and / xor with fetch: 0b1100 op 0b1010.
    assert_eq!(
        atomic_case(DW, Or, true, 0b1100, 0b1010, 0),
        (0, 0b1100, 0b1110)
    );
    assert_eq!(
        atomic_case(DW, And, true, 0b1100, 0b1010, 0),
        (0, 0b1100, 0b1000)
    );
    assert_eq!(
        atomic_case(DW, Xor, false, 0b1100, 0b1010, 0),
        (0, 0b1010, 0b0110)
    );
    // xchg: memory gets 7, r1 gets the old 15.
    assert_eq!(atomic_case(DW, Xchg, true, 15, 7, 0), (0, 15, 7));
    // cmpxchg, equal: r0 = 7 matches, memory becomes r1 = 9, r0 = old 7.
    assert_eq!(atomic_case(DW, CmpXchg, true, 7, 9, 7), (7, 9, 9));
    // cmpxchg, different: memory stays 9, r0 receives the old 9 anyway.
    assert_eq!(atomic_case(DW, CmpXchg, true, 9, 100, 1), (9, 100, 9));
}

#[test]
fn atomics_32() {
    const ONES: u64 = u64::MAX;
    // fetch add32 on a dword of ones: the low word wraps to 0, the high
    // word is untouched; r1 gets the old low word zero-extended.
    assert_eq!(
        atomic_case(W, Add, true, ONES, 1, 0),
        (0, 0xffff_ffff, 0xffff_ffff_0000_0000)
    );
    // add32 takes only the low half of r1: 0x1_0000_0002 adds 2.
    assert_eq!(
        atomic_case(W, Add, false, 5, 0x1_0000_0002, 0),
        (0, 0x1_0000_0002, 7)
    );
    // xchg32: r1 = old low word, memory low word = low half of r1.
    assert_eq!(
        atomic_case(W, Xchg, true, 0xaaaa_aaaa_1111_1111, 0x2_2222_2222, 0),
        (0, 0x1111_1111, 0xaaaa_aaaa_2222_2222)
    );
    // cmpxchg32 compares the low half of r0 (upper garbage ignored); equal,
    // so the low word becomes 9; r0 = old low word 5, zero-extended.
    assert_eq!(
        atomic_case(W, CmpXchg, true, 5, 0x1_0000_0009, 0xffff_ffff_0000_0005),
        (5, 0x1_0000_0009, 9)
    );
    // cmpxchg32 mismatch: memory unchanged, r0 = old low word.
    assert_eq!(
        atomic_case(W, CmpXchg, true, 0x7_0000_0005, 9, 6),
        (5, 9, 0x7_0000_0005)
    );
    // fetch xor32 / or32 / and32.
    assert_eq!(
        atomic_case(W, Xor, true, 0b1100, 0b1010, 0),
        (0, 0b1100, 0b0110)
    );
    assert_eq!(
        atomic_case(W, Or, false, 0b1100, 0b1010, 0),
        (0, 0b1010, 0b1110)
    );
    assert_eq!(
        atomic_case(W, And, true, 0b1100, 0b1010, 0),
        (0, 0b1100, 0b1000)
    );
}

#[test]
fn misaligned_atomics_still_compute() {
    // fetch add at [r1+1] (misaligned) of 1 to the dword 0x0102_0304_0506_0708.
    let mut mem = [0u8; 9];
    mem[1..9].copy_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
    let p = prog![
        mov(R2, 1),
        atomic(DW, Add, true, R1, 1, R2),
        movr(R0, R2),
        EXIT
    ];
    assert_eq!(run_mem(p, &mut mem), Ok(0x0102_0304_0506_0708));
    assert_eq!(mem[1..9], 0x0102_0304_0506_0709u64.to_le_bytes());
}

#[test]
fn checked_mode_traps_out_of_bounds_at_the_slot() {
    let oob = |trap, pc| Err(Trapped { trap, pc });
    // Reading at r10 itself is past the top of the stack.
    assert_eq!(
        run(prog![mov(R0, 0), ldx(DW, R0, R10, 0), EXIT], [0; 5]),
        oob(Trap::OutOfBounds, 1)
    );
    // Straddling the top: [r10-4, r10+4).
    assert_eq!(
        run(prog![ldx(DW, R0, R10, -4), EXIT], [0; 5]),
        oob(Trap::OutOfBounds, 0)
    );
    // The stack is 16 frames * 512 = 8192 bytes: r10-8192 is its first
    // byte, r10-8193 lies below it.
    assert_eq!(run(prog![ldx(B, R0, R10, -8192), EXIT], [0; 5]), Ok(0));
    assert_eq!(
        run(prog![ldx(B, R0, R10, -8193), EXIT], [0; 5]),
        oob(Trap::OutOfBounds, 0)
    );
    // Input memory of 4 bytes: ldxw [r1+1] runs one byte past the end.
    let mut mem = [1u8, 2, 3, 4];
    assert_eq!(
        run_mem(prog![ldx(W, R0, R1, 0), EXIT], &mut mem),
        Ok(0x0403_0201)
    );
    assert_eq!(
        run_mem(prog![ldx(W, R0, R1, 1), EXIT], &mut mem),
        oob(Trap::OutOfBounds, 0)
    );
    // Stores and atomics too, at their own slot.
    assert_eq!(
        run_mem(prog![mov(R0, 0), st(B, R1, 4, 1), EXIT], &mut mem),
        oob(Trap::OutOfBounds, 1)
    );
    assert_eq!(
        run_mem(
            prog![
                mov(R0, 0),
                mov(R2, 1),
                atomic(W, Add, false, R1, 2, R2),
                EXIT
            ],
            &mut mem
        ),
        oob(Trap::OutOfBounds, 2)
    );
    // A null pointer and an address that wraps around.
    assert_eq!(
        run(prog![mov(R1, 0), ldx(B, R0, R1, 0), EXIT], [0; 5]),
        oob(Trap::OutOfBounds, 1)
    );
    assert_eq!(
        run(prog![mov(R1, -1), ldx(H, R0, R1, 0), EXIT], [0; 5]),
        oob(Trap::OutOfBounds, 1)
    );
    assert_eq!(mem, [1, 2, 3, 4], "no trapped access wrote anything");
}

#[test]
fn checked_mode_traps_stores_to_read_only_memory() {
    let ro = [5u8, 6, 7, 8];
    let mut state = RunState::new();
    let addr = state.add_readonly(&ro, RegionKind::ReadOnlyData);
    let args = [addr, 0, 0, 0, 0];
    // Loads are fine.
    assert_eq!(
        run_in(&checked(prog![ldx(B, R0, R1, 3), EXIT]), &mut state, args),
        Ok(8)
    );
    // Stores, register stores and atomics trap with ReadOnly at their slot.
    let cases = [
        prog![mov(R0, 0), st(B, R1, 0, 1), EXIT],
        prog![mov(R0, 0), stx(W, R1, 0, R0), EXIT],
        prog![mov(R0, 0), atomic(W, Xchg, true, R1, 0, R0), EXIT],
    ];
    for p in cases {
        assert_eq!(
            run_in(&checked(p), &mut state, args),
            Err(Trapped {
                trap: Trap::ReadOnly,
                pc: 1
            })
        );
    }
    drop(state);
    assert_eq!(ro, [5, 6, 7, 8]);
}

#[test]
fn the_stack_region_lives_only_during_the_run() {
    let mut state = RunState::new();
    let before = state.regions.len();
    assert_eq!(
        run_in(&checked(prog![mov(R0, 1), EXIT]), &mut state, [0; 5]),
        Ok(1)
    );
    assert_eq!(state.regions.len(), before);
    let trap = run_in(
        &checked(prog![ldx(B, R0, R10, 0), EXIT]),
        &mut state,
        [0; 5],
    );
    assert!(trap.is_err());
    assert_eq!(state.regions.len(), before);
}

#[test]
fn each_run_starts_with_a_zeroed_stack() {
    // The first run leaves 0x55 on the stack; a second run must not see it.
    let p = checked(prog![ldx(DW, R0, R10, -8), st(DW, R10, -8, 0x55), EXIT]);
    let mut state = RunState::new();
    assert_eq!(run_in(&p, &mut state, [0; 5]), Ok(0));
    assert_eq!(run_in(&p, &mut state, [0; 5]), Ok(0));
}

#[test]
fn verified_mode_does_not_check() {
    // The same in-bounds program runs in verified mode; no region is
    // consulted (the state has none besides the stack).
    let p = verified(prog![st(DW, R10, -8, 42), ldx(DW, R0, R10, -8), EXIT]);
    let mut state = RunState::new();
    assert_eq!(run_in(&p, &mut state, [0; 5]), Ok(42));
    // Its stack is 8 frames = 4096 bytes: r10-4096 is its first byte.
    let p = verified(prog![st(B, R10, -4096, 7), ldx(B, R0, R10, -4096), EXIT]);
    assert_eq!(run_in(&p, &mut state, [0; 5]), Ok(7));
}
