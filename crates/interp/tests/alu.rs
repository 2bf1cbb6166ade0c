//! ALU, byte-swap and jump semantics that are easy to get wrong
//! (ARCHITECTURE.md), each with its expected value worked out by hand.

#[macro_use]
mod common;

use common::*;
use oxbpf_isa::AluOp::*;
use oxbpf_isa::Endian::*;
use oxbpf_isa::JmpCond::*;

const INT64_MIN: u64 = 0x8000_0000_0000_0000;

#[test]
fn division_by_zero_gives_zero() {
    // 7 / 0 = 0 (64-bit register form).
    assert_eq!(
        r0(prog![mov(R0, 7), mov(R1, 0), alu64(Div, R0, x(R1)), EXIT]),
        0
    );
    // 32-bit, immediate 0; the upper half of r0 is cleared too.
    assert_eq!(
        r0(prog![lddw(R0, 0x1_0000_0007), alu32(Div, R0, k(0)), EXIT]),
        0
    );
    // Signed division by zero also gives 0.
    assert_eq!(r0(prog![mov(R0, -7), alu64(SDiv, R0, k(0)), EXIT]), 0);
    assert_eq!(r0(prog![mov(R0, -7), alu32(SDiv, R0, k(0)), EXIT]), 0);
}

#[test]
fn modulo_by_zero_leaves_destination() {
    // 64-bit: r0 keeps 0x1_0000_0005.
    assert_eq!(
        r0(prog![
            lddw(R0, 0x1_0000_0005),
            mov(R1, 0),
            alu64(Mod, R0, x(R1)),
            EXIT
        ]),
        0x1_0000_0005
    );
    // 32-bit: the low half 5 stays, and the result is still zero-extended,
    // so the upper 0x1 is dropped.
    assert_eq!(
        r0(prog![
            lddw(R0, 0x1_0000_0005),
            mov(R1, 0),
            alu32(Mod, R0, x(R1)),
            EXIT
        ]),
        5
    );
    // Signed modulo by zero: -7 stays -7 (64-bit) and 0xffff_fff9 (32-bit).
    assert_eq!(
        r0(prog![mov(R0, -7), alu64(SMod, R0, k(0)), EXIT]),
        -7i64 as u64
    );
    assert_eq!(
        r0(prog![mov(R0, -7), alu32(SMod, R0, k(0)), EXIT]),
        0xffff_fff9
    );
}

#[test]
fn signed_division_of_int_min_by_minus_one() {
    // INT64_MIN / -1 overflows; eBPF defines it as INT64_MIN, and % as 0.
    assert_eq!(
        r0(prog![lddw(R0, INT64_MIN), alu64(SDiv, R0, k(-1)), EXIT]),
        INT64_MIN
    );
    assert_eq!(
        r0(prog![lddw(R0, INT64_MIN), alu64(SMod, R0, k(-1)), EXIT]),
        0
    );
    // 32-bit: INT32_MIN = 0x8000_0000, zero-extended.
    assert_eq!(
        r0(prog![
            mov(R1, -1),
            alu32(Mov, R0, k(i32::MIN)),
            alu32(SDiv, R0, x(R1)),
            EXIT
        ]),
        0x8000_0000
    );
    // Garbage in the upper half does not take part: the low half is
    // INT32_MIN, so smod32 by -1 gives 0.
    assert_eq!(
        r0(prog![
            lddw(R0, 0xffff_ffff_8000_0000),
            alu32(SMod, R0, k(-1)),
            EXIT
        ]),
        0
    );
}

#[test]
fn signed_division_truncates_toward_zero() {
    // -7 / 2 = -3 (not -4); -7 % 2 = -1; 7 % -2 = 1; -7 % -2 = -1.
    assert_eq!(
        r0(prog![mov(R0, -7), alu64(SDiv, R0, k(2)), EXIT]),
        -3i64 as u64
    );
    assert_eq!(
        r0(prog![mov(R0, -7), alu64(SMod, R0, k(2)), EXIT]),
        -1i64 as u64
    );
    assert_eq!(r0(prog![mov(R0, 7), alu64(SMod, R0, k(-2)), EXIT]), 1);
    assert_eq!(
        r0(prog![mov(R0, -7), alu64(SMod, R0, k(-2)), EXIT]),
        -1i64 as u64
    );
    // 32-bit: -7 / 2 = -3 = 0xffff_fffd, zero-extended.
    assert_eq!(
        r0(prog![mov(R0, -7), alu32(SDiv, R0, k(2)), EXIT]),
        0xffff_fffd
    );
}

#[test]
fn unsigned_division_uses_the_immediate_as_the_width_demands() {
    // 64-bit: imm -1 is sign-extended to 0xffff_ffff_ffff_ffff; 10 / that = 0.
    assert_eq!(r0(prog![mov(R0, 10), alu64(Div, R0, k(-1)), EXIT]), 0);
    // 64-bit: u64::MAX / (u64::MAX) = 1; u64::MAX % 0xffff_ffff_ffff_fffe = 1.
    assert_eq!(r0(prog![mov(R0, -1), alu64(Div, R0, k(-1)), EXIT]), 1);
    assert_eq!(r0(prog![mov(R0, -1), alu64(Mod, R0, k(-2)), EXIT]), 1);
    // 32-bit: imm -1 is 0xffff_ffff; 0xffff_fffe / 0xffff_ffff = 0, and
    // 0xffff_fffe % 0xffff_ffff = 0xffff_fffe.
    assert_eq!(r0(prog![mov(R0, -2), alu32(Div, R0, k(-1)), EXIT]), 0);
    assert_eq!(
        r0(prog![mov(R0, -2), alu32(Mod, R0, k(-1)), EXIT]),
        0xffff_fffe
    );
}

#[test]
fn shift_counts_are_masked() {
    // 64-bit: 65 & 63 = 1, so 1 << 65 = 2.
    assert_eq!(
        r0(prog![mov(R0, 1), mov(R1, 65), alu64(Lsh, R0, x(R1)), EXIT]),
        2
    );
    // 32-bit: 33 & 31 = 1, so 1 << 33 = 2.
    assert_eq!(
        r0(prog![mov(R0, 1), mov(R1, 33), alu32(Lsh, R0, x(R1)), EXIT]),
        2
    );
    // 32-bit rsh uses only the low half: 0x10 >> 4 = 1, upper half dropped.
    assert_eq!(
        r0(prog![
            lddw(R0, 0xffff_ffff_0000_0010),
            alu32(Rsh, R0, k(4)),
            EXIT
        ]),
        1
    );
    // 64-bit rsh by -1 (masked to 63): 0x8000... >> 63 = 1.
    assert_eq!(
        r0(prog![lddw(R0, INT64_MIN), alu64(Rsh, R0, k(-1)), EXIT]),
        1
    );
    // arsh64 by 127 & 63 = 63 of a negative number: all ones.
    assert_eq!(
        r0(prog![
            lddw(R0, INT64_MIN),
            mov(R1, 127),
            alu64(Arsh, R0, x(R1)),
            EXIT
        ]),
        u64::MAX
    );
    // arsh32 sign-extends within 32 bits and zero-extends the result:
    // 0x8000_0000 >> 4 (arithmetic) = 0xf800_0000.
    assert_eq!(
        r0(prog![
            alu32(Mov, R0, k(i32::MIN)),
            alu32(Arsh, R0, k(4)),
            EXIT
        ]),
        0xf800_0000
    );
    // arsh32 ignores bit 31 of the upper half: low half 0x7000_0000 is
    // positive, >> 4 = 0x0700_0000.
    assert_eq!(
        r0(prog![
            lddw(R0, 0xffff_ffff_7000_0000),
            alu32(Arsh, R0, k(4)),
            EXIT
        ]),
        0x0700_0000
    );
}

#[test]
fn alu32_results_are_zero_extended() {
    // 0xffff_ffff + 1 in 32 bits is 0, and the upper half becomes 0.
    assert_eq!(r0(prog![lddw(R0, u64::MAX), alu32(Add, R0, k(1)), EXIT]), 0);
    // mov32 -1 gives 0x0000_0000_ffff_ffff; mov64 -1 gives all ones.
    assert_eq!(r0(prog![alu32(Mov, R0, k(-1)), EXIT]), 0xffff_ffff);
    assert_eq!(r0(prog![mov(R0, -1), EXIT]), u64::MAX);
    // mov32 from a register drops the upper half.
    assert_eq!(
        r0(prog![
            lddw(R1, 0x1234_5678_9abc_def0),
            alu32(Mov, R0, x(R1)),
            EXIT
        ]),
        0x9abc_def0
    );
    // mul32: 0x1_0001 * 0x1_0001 = 0x1_0002_0001, low half 0x0002_0001.
    assert_eq!(
        r0(prog![mov(R0, 0x1_0001), alu32(Mul, R0, k(0x1_0001)), EXIT]),
        0x0002_0001
    );
    // neg32 of 1 (upper half garbage) = 0xffff_ffff.
    assert_eq!(
        r0(prog![
            lddw(R0, 0xffff_ffff_0000_0001),
            alu32(Neg, R0, k(0)),
            EXIT
        ]),
        0xffff_ffff
    );
    // neg64 of INT64_MIN wraps to itself.
    assert_eq!(
        r0(prog![lddw(R0, INT64_MIN), alu64(Neg, R0, k(0)), EXIT]),
        INT64_MIN
    );
    // sub32: 0 - 1 = 0xffff_ffff.
    assert_eq!(
        r0(prog![mov(R0, 0), alu32(Sub, R0, k(1)), EXIT]),
        0xffff_ffff
    );
}

#[test]
fn movsx_sign_extends_from_the_source_width() {
    // 0x80 as i8 = -128.
    assert_eq!(
        r0(prog![mov(R1, 0x80), alu64(MovSx8, R0, x(R1)), EXIT]),
        0xffff_ffff_ffff_ff80
    );
    // 32-bit class: sign-extended to 32 bits, then zero-extended.
    assert_eq!(
        r0(prog![mov(R1, 0x80), alu32(MovSx8, R0, x(R1)), EXIT]),
        0xffff_ff80
    );
    // 0x7f is positive.
    assert_eq!(
        r0(prog![mov(R1, 0x17f), alu64(MovSx8, R0, x(R1)), EXIT]),
        0x7f
    );
    // Low 16 bits of 0x1_8000 are 0x8000 = -32768.
    assert_eq!(
        r0(prog![mov(R1, 0x1_8000), alu64(MovSx16, R0, x(R1)), EXIT]),
        0xffff_ffff_ffff_8000
    );
    assert_eq!(
        r0(prog![mov(R1, 0x1_8000), alu32(MovSx16, R0, x(R1)), EXIT]),
        0xffff_8000
    );
    // Low 32 bits of 0x1_8000_0000 are 0x8000_0000.
    assert_eq!(
        r0(prog![
            lddw(R1, 0x1_8000_0000),
            alu64(MovSx32, R0, x(R1)),
            EXIT
        ]),
        0xffff_ffff_8000_0000
    );
}

#[test]
fn byte_swaps_on_a_little_endian_host() {
    const V: u64 = 0x1122_3344_5566_7788;
    let swap = |kind, bits| r0(prog![lddw(R0, V), end(kind, bits, R0), EXIT]);
    // le: conversions to little endian = truncation on this host.
    assert_eq!(swap(ToLe, 16), 0x7788);
    assert_eq!(swap(ToLe, 32), 0x5566_7788);
    assert_eq!(swap(ToLe, 64), V);
    // be: byte reversal of the low bits, zero-extended.
    assert_eq!(swap(ToBe, 16), 0x8877);
    assert_eq!(swap(ToBe, 32), 0x8877_6655);
    assert_eq!(swap(ToBe, 64), 0x8877_6655_4433_2211);
    // bswap: unconditional.
    assert_eq!(swap(Swap, 16), 0x8877);
    assert_eq!(swap(Swap, 32), 0x8877_6655);
    assert_eq!(swap(Swap, 64), 0x8877_6655_4433_2211);
}

/// `r0 = 1` if the jump at slot 3 is taken, else 0. r1 holds `v`.
/// Slots: 0-1 lddw r1; 2 mov r0, 1; 3 jump +1 (to 5); 4 mov r0, 0; 5 exit.
fn taken(v: u64, jump: oxbpf_isa::Insn) -> u64 {
    r0(prog![lddw(R1, v), mov(R0, 1), jump, mov(R0, 0), EXIT])
}

#[test]
fn jmp32_compares_the_low_half() {
    // Low half of 0x1_0000_0000 is 0.
    assert_eq!(taken(0x1_0000_0000, jmp32(Eq, R1, k(0), 1)), 1);
    assert_eq!(taken(0x1_0000_0000, jmp(Eq, R1, k(0), 1)), 0);
    // 0xffff_ffff is -1 as i32 but positive as i64.
    assert_eq!(taken(0xffff_ffff, jmp32(Slt, R1, k(0), 1)), 1);
    assert_eq!(taken(0xffff_ffff, jmp(Slt, R1, k(0), 1)), 0);
    // The 32-bit immediate -2 is 0xffff_fffe for JMP32 (unsigned >).
    assert_eq!(taken(0xffff_ffff, jmp32(Gt, R1, k(-2), 1)), 1);
    // For 64-bit JMP it is sign-extended: u64::MAX > 0xffff..fffe.
    assert_eq!(taken(u64::MAX, jmp(Gt, R1, k(-2), 1)), 1);
    assert_eq!(taken(0xffff_ffff, jmp(Gt, R1, k(-2), 1)), 0);
    // jset tests any common bit: 0x1_0000_0000 & 0x1_0000_0000 in 64 bits,
    // no bit in the low half for JMP32.
    assert_eq!(
        r0(prog![
            lddw(R1, 0x1_0000_0000),
            mov(R0, 1),
            jmp(Set, R1, x(R1), 1),
            mov(R0, 0),
            EXIT
        ]),
        1
    );
    assert_eq!(taken(0x1_0000_0000, jmp32(Set, R1, x(R1), 1)), 0);
    // Signed 64-bit: -1 <= 0 and not > 0.
    assert_eq!(taken(u64::MAX, jmp(Sle, R1, k(0), 1)), 1);
    assert_eq!(taken(u64::MAX, jmp(Sgt, R1, k(0), 1)), 0);
    assert_eq!(taken(u64::MAX, jmp(Sge, R1, k(-1), 1)), 1);
    assert_eq!(taken(5, jmp(Lt, R1, k(6), 1)), 1);
    assert_eq!(taken(6, jmp(Le, R1, k(6), 1)), 1);
    assert_eq!(taken(6, jmp(Ge, R1, k(7), 1)), 0);
    assert_eq!(taken(6, jmp(Ne, R1, k(6), 1)), 0);
}

#[test]
fn loops_and_unconditional_jumps() {
    // Sum 1..=10 = 55 with a backward jump.
    // 0 mov r0, 0; 1 mov r1, 10; 2 add r0, r1; 3 sub r1, 1;
    // 4 jne r1, 0, -3 (-> 2); 5 ja +1 (-> 7); 6 mov r0, 0; 7 exit
    let p = prog![
        mov(R0, 0),
        mov(R1, 10),
        alu64(Add, R0, x(R1)),
        alu64(Sub, R1, k(1)),
        jmp(Ne, R1, k(0), -3),
        ja(1),
        mov(R0, 0),
        EXIT
    ];
    assert_eq!(r0(p), 55);
}
