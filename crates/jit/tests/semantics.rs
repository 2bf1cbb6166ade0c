//! Hand-written programs for the semantics that are easy to get wrong, with
//! expected results worked out by hand (not taken from either engine), and
//! the register pairings where the x86 code needs care (division uses
//! rax/rdx = r0/r3, shifts use cl = r4). Each also runs in lockstep with
//! the interpreter.

mod common;

use std::sync::Arc;

use common::{check_asm, check_asm_verified};
use oxbpf_abi::Trap;
use oxbpf_isa::asm::assemble;
use oxbpf_jit::Jit;
use oxbpf_runtime::{Engine, HelperTable, Program, RunState, SafetyMode, Trapped};

const NO_INPUT: &str = "";

/// Runs `src` (lockstep) and returns r0 or the trap.
fn run(src: &str) -> Result<u64, Trapped> {
    check_asm(src, NO_INPUT, None, 1_000_000).result
}

#[test]
fn division_by_zero_gives_zero_and_modulo_keeps_the_dividend() {
    assert_eq!(run("mov %r0, 7\nmov %r1, 0\ndiv %r0, %r1\nexit"), Ok(0));
    assert_eq!(run("mov %r0, 7\ndiv32 %r0, 0\nexit"), Ok(0));
    assert_eq!(run("mov %r0, 7\nmov %r1, 0\nmod %r0, %r1\nexit"), Ok(7));
    // A 32-bit modulo by zero still zero-extends: -1 becomes 0xffffffff.
    assert_eq!(
        run("mov %r0, -1\nmov %r1, 0\nmod32 %r0, %r1\nexit"),
        Ok(0xffff_ffff)
    );
    assert_eq!(run("mov %r0, -1\nmod32 %r0, 0\nexit"), Ok(0xffff_ffff));
    assert_eq!(run("mov %r0, -5\nmov %r1, 0\nsdiv %r0, %r1\nexit"), Ok(0));
    assert_eq!(
        run("mov %r0, -5\nmov %r1, 0\nsmod %r0, %r1\nexit"),
        Ok(-5i64 as u64)
    );
}

#[test]
fn signed_division_of_the_minimum_by_minus_one() {
    // i64::MIN / -1 overflows: the result is i64::MIN, the remainder 0.
    let min64 = "lddw %r0, 0x8000000000000000\nmov %r1, -1\n";
    assert_eq!(run(&format!("{min64}sdiv %r0, %r1\nexit")), Ok(1 << 63));
    assert_eq!(run(&format!("{min64}smod %r0, %r1\nexit")), Ok(0));
    assert_eq!(run(&format!("{min64}sdiv %r0, -1\nexit")), Ok(1 << 63));
    assert_eq!(
        run("mov32 %r0, 0x80000000\nmov %r1, -1\nsdiv32 %r0, %r1\nexit"),
        Ok(0x8000_0000)
    );
    assert_eq!(
        run("mov32 %r0, 0x80000000\nmov %r1, -1\nsmod32 %r0, %r1\nexit"),
        Ok(0)
    );
    // Truncation toward zero: -7 / 2 = -3, -7 % 2 = -1.
    assert_eq!(run("mov %r0, -7\nsdiv %r0, 2\nexit"), Ok(-3i64 as u64));
    assert_eq!(run("mov %r0, -7\nsmod %r0, 2\nexit"), Ok(-1i64 as u64));
    // 32-bit: -7 % 2 = -1 as 32 bits, zero-extended.
    assert_eq!(run("mov %r0, -7\nsmod32 %r0, 2\nexit"), Ok(0xffff_ffff));
}

#[test]
fn division_with_rax_and_rdx_registers() {
    // r3 lives in rdx, which `div` overwrites; r0 in rax.
    assert_eq!(
        run("mov %r3, 100\nmov %r0, 7\ndiv %r3, %r0\nmov %r0, %r3\nexit"),
        Ok(14)
    );
    assert_eq!(run("mov %r0, 100\nmov %r3, 7\nmod %r0, %r3\nexit"), Ok(2));
    assert_eq!(
        run("mov %r3, 100\nmov %r3, 100\ndiv %r3, %r3\nmov %r0, %r3\nexit"),
        Ok(1)
    );
    // r0 and r3 survive a division of other registers.
    assert_eq!(
        run(
            "mov %r0, 5\nmov %r3, 6\nmov %r1, 100\nmov %r2, 7\ndiv %r1, %r2\n\
             add %r0, %r3\nadd %r0, %r1\nexit"
        ),
        Ok(5 + 6 + 14)
    );
    // Unsigned 64-bit division treats the dividend as unsigned.
    assert_eq!(run("mov %r0, -1\ndiv %r0, 2\nexit"), Ok(u64::MAX / 2));
    // The immediate of a 64-bit division is sign-extended: x / 0xffffffff
    // is x / u64::MAX = 0 for x < u64::MAX.
    assert_eq!(run("mov %r0, 100\ndiv %r0, -1\nexit"), Ok(0));
    // ...and for 32 bits it is 0xffffffff.
    assert_eq!(run("mov32 %r0, -2\ndiv32 %r0, -1\nexit"), Ok(0));
    assert_eq!(run("mov32 %r0, -1\ndiv32 %r0, -1\nexit"), Ok(1));
}

#[test]
fn shift_counts_are_masked_and_cl_is_handled() {
    assert_eq!(run("mov %r0, 1\nlsh %r0, 65\nexit"), Ok(2));
    assert_eq!(run("mov %r0, 1\nmov %r1, 65\nlsh %r0, %r1\nexit"), Ok(2));
    assert_eq!(run("mov %r0, 1\nmov %r1, 33\nlsh32 %r0, %r1\nexit"), Ok(2));
    // Count in r4 (rcx) and destination in r4.
    assert_eq!(run("mov %r4, 3\nmov %r0, 1\nlsh %r0, %r4\nexit"), Ok(8));
    assert_eq!(run("mov %r4, 3\nlsh %r4, %r4\nmov %r0, %r4\nexit"), Ok(24));
    assert_eq!(
        run("mov %r4, 16\nmov %r1, 2\nrsh %r4, %r1\nmov %r0, %r4\nexit"),
        Ok(4)
    );
    // r4 survives a shift by another register.
    assert_eq!(
        run("mov %r4, 9\nmov %r0, 1\nmov %r1, 4\nlsh %r0, %r1\nadd %r0, %r4\nexit"),
        Ok(25)
    );
    // A 32-bit shift by 0 still zero-extends.
    assert_eq!(
        run("mov %r0, -1\nmov %r1, 0\nlsh32 %r0, %r1\nexit"),
        Ok(0xffff_ffff)
    );
    assert_eq!(run("mov %r0, -1\nlsh32 %r0, 32\nexit"), Ok(0xffff_ffff));
    // Arithmetic shifts keep the sign of the operand width.
    assert_eq!(run("mov %r0, -16\narsh %r0, 2\nexit"), Ok(-4i64 as u64));
    assert_eq!(run("mov %r0, -16\narsh32 %r0, 2\nexit"), Ok(0xffff_fffc));
}

#[test]
fn thirty_two_bit_results_are_zero_extended() {
    assert_eq!(run("mov %r0, -1\nadd32 %r0, 1\nexit"), Ok(0));
    assert_eq!(run("mov %r0, -1\nmov32 %r0, %r0\nexit"), Ok(0xffff_ffff));
    assert_eq!(run("mov32 %r0, -1\nexit"), Ok(0xffff_ffff));
    assert_eq!(run("mov %r0, 1\nneg32 %r0\nexit"), Ok(0xffff_ffff));
    assert_eq!(run("mov %r0, -3\nmul32 %r0, 3\nexit"), Ok(0xffff_fff7));
    // 64-bit immediates are sign-extended.
    assert_eq!(run("mov %r0, 0\nadd %r0, -1\nexit"), Ok(u64::MAX));
    assert_eq!(
        run("mov %r0, 0\nor %r0, 0x80000000\nexit"),
        Ok(0xffff_ffff_8000_0000)
    );
}

#[test]
fn sign_extension_moves_and_loads() {
    assert_eq!(
        run("mov %r1, 0x80\nmovsx864 %r0, %r1\nexit"),
        Ok(-128i64 as u64)
    );
    assert_eq!(
        run("mov %r1, 0x8000\nmovsx1664 %r0, %r1\nexit"),
        Ok(-32768i64 as u64)
    );
    assert_eq!(
        run("mov32 %r1, 0x80000000\nmovsx3264 %r0, %r1\nexit"),
        Ok(0xffff_ffff_8000_0000)
    );
    assert_eq!(
        run("mov %r1, 0xff\nmovsx832 %r0, %r1\nexit"),
        Ok(0xffff_ffff)
    );
    assert_eq!(run("mov %r1, 0x7fff\nmovsx1632 %r0, %r1\nexit"), Ok(0x7fff));
    // Loads: the input is f0 ff 7f 80 00 00 00 80.
    let input = "f0ff7f8000000080";
    let load = |insn: &str| check_asm(&format!("{insn}\nexit"), input, None, 100).result;
    assert_eq!(load("ldxsb %r0, [%r1]"), Ok(-16i64 as u64));
    assert_eq!(load("ldxsh %r0, [%r1]"), Ok(-16i64 as u64)); // 0xfff0
    assert_eq!(load("ldxsh %r0, [%r1+2]"), Ok(-32641i64 as u64)); // 0x807f
    assert_eq!(load("ldxsw %r0, [%r1+4]"), Ok(0xffff_ffff_8000_0000));
    assert_eq!(load("ldxh %r0, [%r1+2]"), Ok(0x807f));
    assert_eq!(load("ldxdw %r0, [%r1]"), Ok(0x8000_0000_807f_fff0));
}

#[test]
fn byte_swaps() {
    let v = "lddw %r0, 0x1122334455667788\n";
    assert_eq!(run(&format!("{v}be16 %r0\nexit")), Ok(0x8877));
    assert_eq!(run(&format!("{v}be32 %r0\nexit")), Ok(0x8877_6655));
    assert_eq!(
        run(&format!("{v}be64 %r0\nexit")),
        Ok(0x8877_6655_4433_2211)
    );
    assert_eq!(run(&format!("{v}le16 %r0\nexit")), Ok(0x7788));
    assert_eq!(run(&format!("{v}le32 %r0\nexit")), Ok(0x5566_7788));
    assert_eq!(
        run(&format!("{v}le64 %r0\nexit")),
        Ok(0x1122_3344_5566_7788)
    );
    assert_eq!(run(&format!("{v}bswap16 %r0\nexit")), Ok(0x8877));
    assert_eq!(run(&format!("{v}bswap32 %r0\nexit")), Ok(0x8877_6655));
    assert_eq!(
        run(&format!("{v}bswap64 %r0\nexit")),
        Ok(0x8877_6655_4433_2211)
    );
}

#[test]
fn jmp32_compares_low_halves() {
    // 0x1_0000_0001 vs 2: as 32 bits 1 < 2; as 64 bits greater.
    let p = "lddw %r1, 0x100000001\nmov %r0, 0\n";
    assert_eq!(
        run(&format!("{p}jlt32 %r1, 2, +1\nexit\nmov %r0, 1\nexit")),
        Ok(1)
    );
    assert_eq!(
        run(&format!("{p}jlt %r1, 2, +1\nexit\nmov %r0, 1\nexit")),
        Ok(0)
    );
    // Signed: 0xffffffff is -1 as 32 bits.
    assert_eq!(
        run("mov32 %r1, -1\nmov %r0, 0\njslt32 %r1, 0, +1\nexit\nmov %r0, 1\nexit"),
        Ok(1)
    );
    assert_eq!(
        run("mov32 %r1, -1\nmov %r0, 0\njslt %r1, 0, +1\nexit\nmov %r0, 1\nexit"),
        Ok(0)
    );
    // jset with a sign-extended immediate.
    assert_eq!(
        run("lddw %r1, 0x8000000000000000\nmov %r0, 0\njset %r1, -1, +1\nexit\nmov %r0, 1\nexit"),
        Ok(1)
    );
}

#[test]
fn atomics_return_old_values() {
    let input = "0a00000000000000f0000000000000f0";
    let a = |body: &str| check_asm(&format!("{body}\nexit"), input, None, 100);
    // fetch add: r2 gets the old 10, memory 13.
    let o = a(
        "mov %r2, 3\nlock fetch add [%r1], %r2\nmov %r0, %r2\nldxdw %r3, [%r1]\nlsh %r3, 8\nor %r0, %r3",
    );
    assert_eq!(o.result, Ok(10 | (13 << 8)));
    // fetch or through r0 as the source: r0 gets the old value.
    let o = a("mov %r0, 5\nlock fetch or [%r1], %r0");
    assert_eq!(o.result, Ok(10));
    assert_eq!(&o.input[..8], &[15, 0, 0, 0, 0, 0, 0, 0]);
    // 32-bit fetch and: the old value zero-extended.
    let o = a("mov %r2, -1\nlock fetch and32 [%r1+8], %r2\nmov %r0, %r2");
    assert_eq!(o.result, Ok(0xf0));
    // cmpxchg: r0 is the comparand and receives the old value.
    let o = a("mov %r0, 10\nmov %r2, 99\nlock cmpxchg [%r1], %r2");
    assert_eq!(o.result, Ok(10));
    assert_eq!(o.input[0], 99);
    let o = a("mov %r0, 11\nmov %r2, 99\nlock cmpxchg [%r1], %r2");
    assert_eq!(o.result, Ok(10));
    assert_eq!(o.input[0], 10);
    // 32-bit cmpxchg that succeeds still zero-extends r0.
    let o = a("lddw %r0, 0xffffffff0000000a\nmov %r2, 1\nlock cmpxchg32 [%r1], %r2");
    assert_eq!(o.result, Ok(10));
    assert_eq!(o.input[0], 1);
    let o = a("mov %r2, 7\nlock xchg32 [%r1+12], %r2\nmov %r0, %r2");
    assert_eq!(o.result, Ok(0xf000_0000));
}

#[test]
fn memory_traps_name_the_slot_and_code() {
    let input = "0001020304050607";
    let t = |src: &str| check_asm(src, input, Some("aabb"), 100).result;
    assert_eq!(
        t("mov %r0, 0\nldxw %r0, [%r1+5]\nexit"),
        Err(Trapped {
            trap: Trap::OutOfBounds,
            pc: 1
        })
    );
    assert_eq!(
        t("mov %r0, 0\nldxb %r0, [%r1-1]\nexit"),
        Err(Trapped {
            trap: Trap::OutOfBounds,
            pc: 1
        })
    );
    assert_eq!(t("ldxdw %r0, [%r1]\nexit"), Ok(0x0706_0504_0302_0100));
    assert_eq!(
        t("mov %r0, 0\nstb [%r3+1], 0\nexit"),
        Err(Trapped {
            trap: Trap::ReadOnly,
            pc: 1
        })
    );
    assert_eq!(t("ldxh %r0, [%r3]\nexit"), Ok(0xbbaa));
    // The stack: 16 frames of 512 bytes below r10 in checked mode.
    assert_eq!(t("mov %r0, 1\nstxb [%r10-8192], %r0\nexit"), Ok(1));
    assert_eq!(
        t("mov %r0, 1\nstxb [%r10-8193], %r0\nexit"),
        Err(Trapped {
            trap: Trap::OutOfBounds,
            pc: 1
        })
    );
    assert_eq!(
        t("mov %r0, 1\nstxdw [%r10-7], %r0\nexit"),
        Err(Trapped {
            trap: Trap::OutOfBounds,
            pc: 1
        })
    );
    // Through another register, with a computed address.
    assert_eq!(
        t("mov %r2, %r10\nadd %r2, 1\nmov %r0, 0\nldxb %r0, [%r2-1]\nexit"),
        Err(Trapped {
            trap: Trap::OutOfBounds,
            pc: 3
        })
    );
}

#[test]
fn budget_traps_at_the_block_leader_and_is_written_back() {
    // Blocks: [0-1] (2 insns), [2-3] loop body (2), [4] exit.
    let src = "mov %r0, 0\nmov %r1, 3\nadd %r0, 1\njne %r0, %r1, -2\nexit";
    // 2 + 3 * 2 + 1 = 9 instructions.
    let o = check_asm(src, NO_INPUT, None, 9);
    assert_eq!(o.result, Ok(3));
    assert_eq!(o.budget, 0);
    let o = check_asm(src, NO_INPUT, None, 8);
    assert_eq!(
        o.result,
        Err(Trapped {
            trap: Trap::BudgetExhausted,
            pc: 4
        })
    );
    assert_eq!(o.budget, 0);
    let o = check_asm(src, NO_INPUT, None, 5);
    assert_eq!(
        o.result,
        Err(Trapped {
            trap: Trap::BudgetExhausted,
            pc: 2
        })
    );
    assert_eq!(o.budget, 1);
    let o = check_asm(src, NO_INPUT, None, 20);
    assert_eq!(o.budget, 11);
}

#[test]
fn local_calls_get_fresh_frames_and_keep_r6_to_r9() {
    let src = "mov %r6, 6\nmov %r1, 0\nstxdw [%r10-8], %r6\ncall local f\n\
               ldxdw %r0, [%r10-8]\nadd %r0, %r6\nexit\n\
               f:\nmov %r6, 100\nstxdw [%r10-8], %r6\nmov %r0, 1\nexit";
    assert_eq!(run(src), Ok(12));
    // The callee's frame lies 512 bytes below: the caller can read it.
    let src = "mov %r1, 0\ncall local f\nldxdw %r0, [%r10-520]\nexit\n\
               f:\nmov %r2, 77\nstxdw [%r10-8], %r2\nmov %r0, 0\nexit";
    assert_eq!(run(src), Ok(77));
}

#[test]
fn call_depth_is_limited_to_sixteen_frames() {
    // f calls itself while r1 > 0: depth n needs n + 1 frames.
    let rec = |n: u32| {
        format!(
            "mov %r1, {n}\ncall local f\nexit\n\
             f:\nmov %r0, 0\njeq %r1, 0, +2\nsub %r1, 1\ncall local f\nexit"
        )
    };
    assert_eq!(run(&rec(14)), Ok(0));
    // The call at slot 6 from depth 15 would need a 17th frame.
    assert_eq!(
        run(&rec(15)),
        Err(Trapped {
            trap: Trap::CallDepth,
            pc: 6
        })
    );
}

#[test]
fn helpers_callx_and_unwind() {
    // gather_bytes(1, 2, 3, 4, 5)
    assert_eq!(
        run("mov %r1, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\ncall 0\nexit"),
        Ok(0x01_0203_0405)
    );
    // callx with a helper id in the register (sqrti(81) = 9).
    assert_eq!(run("mov %r1, 81\nmov %r2, 3\ncall %r2\nexit"), Ok(9));
    assert_eq!(
        run("mov %r1, 81\nmov %r2, 6\ncall %r2\nexit"),
        Err(Trapped {
            trap: Trap::BadCallTarget,
            pc: 2
        })
    );
    // unwind(0) ends the program with r0 = 0 from inside a local call.
    assert_eq!(
        run("mov %r0, 7\nmov %r1, 0\ncall local f\nmov %r0, 5\nexit\n\
             f:\nmov %r1, 0\ncall 5\nmov %r0, 9\nexit"),
        Ok(0)
    );
    // memfrob on a bad pointer: the helper's fault traps at the call.
    assert_eq!(
        run("mov %r1, 8\nmov %r2, 1\ncall 1\nexit"),
        Err(Trapped {
            trap: Trap::HelperFault,
            pc: 2
        })
    );
}

#[test]
fn writes_to_r10_behave_as_in_the_interpreter() {
    // r10 moved down 16 bytes: a store at its -8 lands at the old -24.
    let src = "mov %r1, 5\nadd %r10, -16\nstxdw [%r10-8], %r1\nadd %r10, 16\n\
               ldxdw %r0, [%r10-24]\nexit";
    assert_eq!(run(src), Ok(5));
    // A callee's r10 is the frame of its depth, whatever the caller did.
    let src = "add %r10, -64\nmov %r1, 0\ncall local f\nldxdw %r0, [%r10+0]\nexit\n\
               f:\nmov %r2, 3\nstxdw [%r10+0x1c0], %r2\nmov %r0, 0\nexit";
    // Callee r10 = top - 512; +0x1c0 = top - 64, which the caller's r10
    // points to again after the return.
    assert_eq!(run(src), Ok(3));
}

#[test]
fn verified_mode_charges_no_budget() {
    let src = "mov %r0, 0\nmov %r1, 3\nadd %r0, 1\njne %r0, %r1, -2\nexit";
    let o = check_asm_verified(src, NO_INPUT, None, 1);
    assert_eq!(o.result, Ok(3));
    assert_eq!(o.budget, 1);
}

#[test]
fn legacy_packet_loads_and_kfuncs_trap_as_unsupported() {
    let insns = assemble("mov %r6, %r1\nldabsw 12\nexit").unwrap();
    let table = Arc::new(HelperTable::new("none"));
    let p = Program::new_unchecked(insns, table.clone(), SafetyMode::Checked);
    let exe = Jit.load(&p).unwrap();
    assert_eq!(
        exe.run(&mut RunState::new(), [0; 5]),
        Err(Trapped {
            trap: Trap::Unsupported,
            pc: 1
        })
    );
    let insns = assemble("call runtime 7\nexit").unwrap();
    let p = Program::new_unchecked(insns, table, SafetyMode::Checked);
    assert_eq!(
        Jit.load(&p).unwrap().run(&mut RunState::new(), [0; 5]),
        Err(Trapped {
            trap: Trap::Unsupported,
            pc: 0
        })
    );
}

#[test]
fn pseudo_lddw_is_refused_at_load() {
    let insns = assemble("lddw %r1, map_fd 3\nmov %r0, 0\nexit").unwrap();
    let p = Program::new_unchecked(
        insns,
        Arc::new(HelperTable::new("none")),
        SafetyMode::Checked,
    );
    let err = Jit.load(&p).unwrap_err();
    assert!(matches!(
        err,
        oxbpf_runtime::EngineError::Unsupported {
            engine: "jit",
            index: 0,
            ..
        }
    ));
}

#[test]
fn mov_then_adds_compute_the_same_as_one_lea() {
    // mov + add imm + add reg: -1 + 7 + 5 wraps to 11.
    assert_eq!(
        run("mov %r1, -1\nmov %r2, 5\nmov %r0, %r1\nadd %r0, 7\nadd %r0, %r2\nexit"),
        Ok(11)
    );
    // r7 (r13) as the base with no immediate, r8 as the index.
    assert_eq!(
        run("mov %r7, 40\nmov %r8, 2\nmov %r0, %r7\nadd %r0, %r8\nexit"),
        Ok(42)
    );
    // Index equal to the base: 2 * r1.
    assert_eq!(run("mov %r1, 21\nmov %r0, %r1\nadd %r0, %r1\nexit"), Ok(42));
    // `add d, d` doubles the copied value, not the base plus itself.
    assert_eq!(
        run("mov %r1, 21\nmov %r0, %r1\nadd %r0, 1\nadd %r0, %r0\nexit"),
        Ok(44)
    );
    // Immediates beyond 8 bits, both signs (sign-extended, RFC 9669 §4.1).
    assert_eq!(
        run("mov %r1, 1\nmov %r0, %r1\nadd %r0, 0x7fffffff\nexit"),
        Ok(0x8000_0000)
    );
    assert_eq!(
        run("mov %r1, 0\nmov %r0, %r1\nadd %r0, -0x80000000\nexit"),
        Ok(0xffff_ffff_8000_0000)
    );
    // Two immediates: the second add stays an add.
    assert_eq!(
        run("mov %r1, 10\nmov %r0, %r1\nadd %r0, 1\nadd %r0, 2\nexit"),
        Ok(13)
    );
    // A stack address built from r10, stored through and read back.
    assert_eq!(
        run(
            "mov %r1, 8\nmov %r3, %r10\nadd %r3, -16\nadd %r3, %r1\nstdw [%r3], 77\n\
             ldxdw %r0, [%r10-8]\nexit"
        ),
        Ok(77)
    );
}

#[test]
fn an_add_that_is_a_jump_target_is_not_fused_into_the_mov_before() {
    // The jump lands on `add %r0, 3` with r0 = 0; fusing it into the mov
    // would skip it (r0 = 0) or compute r1 + 3 (8).
    assert_eq!(
        run("mov %r0, 0\nmov %r1, 5\nja +1\nmov %r0, %r1\nadd %r0, 3\nexit"),
        Ok(3)
    );
}

/// r0 = r6 + 10 r7 + 100 r8 + 1000 r9 after calling `f` (label `f:`
/// in `callee`), with r6..r9 = 1, 2, 3, 4 before the call: 4321 when the
/// call preserved them (RFC 9669 §4.3.1).
fn callee_saved_after(callee: &str) -> Result<u64, Trapped> {
    run(&format!(
        "mov %r6, 1\nmov %r7, 2\nmov %r8, 3\nmov %r9, 4\nmov %r1, 1\ncall local f\n\
         mov %r0, %r9\nmul %r0, 10\nadd %r0, %r8\nmul %r0, 10\nadd %r0, %r7\n\
         mul %r0, 10\nadd %r0, %r6\nexit\n{callee}"
    ))
}

#[test]
fn local_calls_preserve_r6_to_r9_whichever_the_callee_writes() {
    // Writes none.
    assert_eq!(callee_saved_after("f:\nmov %r0, 0\nexit"), Ok(4321));
    // Writes one (r6), by ALU.
    assert_eq!(
        callee_saved_after("f:\nmov %r6, 9\nmov %r0, 0\nexit"),
        Ok(4321)
    );
    // Writes two, one only on a path reached through a jump.
    assert_eq!(
        callee_saved_after("f:\nmov %r0, 0\nmov %r8, 7\njeq %r1, 1, +1\nexit\nmov %r9, 5\nexit"),
        Ok(4321)
    );
    // Writes r7 with a load, r9 with an atomic fetch, r8 with lddw.
    assert_eq!(
        callee_saved_after(
            "f:\nstdw [%r10-8], 6\nldxdw %r7, [%r10-8]\nmov %r9, 1\n\
             lock fetch add [%r10-8], %r9\nlddw %r8, 0x100000000\nmov %r1, 0x1234\nbe16 %r1\nmov %r0, 0\nexit"
        ),
        Ok(4321)
    );
    // The callee's own callee writes r7; the callee writes r6 only.
    assert_eq!(
        callee_saved_after("f:\nmov %r6, 8\ncall local g\nexit\ng:\nmov %r7, 3\nmov %r0, 0\nexit"),
        Ok(4321)
    );
}

#[test]
fn the_caller_frame_is_back_after_a_local_call() {
    // The caller's [r10-8] keeps 5 whatever the callee stores at its own
    // [r10-8], with 0 (r10 pushed) and 1 (r10 moved back) saved registers.
    for body in ["", "mov %r6, 1\n"] {
        let src = format!(
            "stdw [%r10-8], 5\ncall local f\nldxdw %r0, [%r10-8]\nexit\n\
             f:\n{body}stdw [%r10-8], 9\nmov %r0, 0\nexit"
        );
        assert_eq!(run(&src), Ok(5), "{src}");
    }
}
