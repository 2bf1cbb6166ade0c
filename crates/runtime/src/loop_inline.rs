//! `bpf_loop` (helper 181) by rewriting, as the kernel's verifier does in
//! `inline_bpf_loop`: each `call bpf_loop` whose callback is a known
//! function becomes a local call to a small function appended to the
//! program, which calls the callback with the engine's own bpf-to-bpf call
//! mechanism. So every engine runs `bpf_loop` with no engine support, and
//! the callback's frames, budget and traps behave like any local call.
//!
//! The appended function, for callback `cb` (r1 = nr_loops, r3 = ctx,
//! r4 = flags; r6-r9 are the caller's and preserved by the call):
//!
//! ```text
//!     if r4 != 0 goto einval        ; flags must be 0
//!     if w1 > 1 << 23 goto e2big    ; BPF_MAX_LOOPS
//!     w6 = w1 ; r7 = 0 ; r8 = r3
//! loop:
//!     if r7 >= r6 goto done
//!     r1 = r7 ; r2 = r8 ; call cb
//!     r7 += 1
//!     if r0 == 0 goto loop          ; a nonzero return stops: i + 1
//! done:
//!     r0 = r7 ; exit
//! einval: r0 = -EINVAL ; exit
//! e2big:  w0 = -E2BIG ; exit     ; 32-bit, as the kernel's inlined loop
//! ```
//!
//! The callback is found as the kernel knows it statically: the `lddw r2,
//! func` that sets `r2` before the call in the same straight-line code (no
//! branch lands in between). A call whose callback cannot be found is left
//! alone and traps with `Unsupported` when run.

use oxbpf_abi::helper::kernel::LOOP;
use oxbpf_isa::{AluOp, CallTarget, Insn, JmpCond, LddwSrc, Operand, Reg, Width};

/// The kernel's `BPF_MAX_LOOPS`.
pub const BPF_MAX_LOOPS: i32 = 1 << 23;

/// Rewrites every `call bpf_loop` with a known callback; returns how many.
pub fn inline_bpf_loop(insns: &mut Vec<Insn>) -> usize {
    let n = insns.len();
    let mut is_target = vec![false; n + 1];
    for (pc, insn) in insns.iter().enumerate() {
        if let Some(t) = insn.branch_target(pc)
            && (0..=n as i64).contains(&t)
        {
            is_target[t as usize] = true;
        }
    }
    let mut rewritten = 0;
    for pc in 0..n {
        if insns[pc] != Insn::Call(CallTarget::Helper(LOOP as i32)) {
            continue;
        }
        let Some((load, callback)) = find_callback(insns, &is_target, pc) else {
            continue;
        };
        let base = insns.len();
        let Ok(off) = i32::try_from(base as i64 - pc as i64 - 1) else {
            continue;
        };
        insns[pc] = Insn::Call(CallTarget::Local(off));
        // The callback's address is no longer needed (engines do not
        // materialise code addresses); r2 gets a plain 0 instead.
        insns[load] = Insn::Lddw {
            dst: Reg::R2,
            src: LddwSrc::Imm,
            imm: 0,
        };
        append_trampoline(insns, callback);
        rewritten += 1;
    }
    rewritten
}

/// The `lddw` that sets `r2` for `call` and the slot of the function it
/// names (see the module docs).
fn find_callback(insns: &[Insn], is_target: &[bool], call: usize) -> Option<(usize, usize)> {
    let mut j = call;
    while j > 0 {
        if is_target[j] {
            return None;
        }
        j -= 1;
        let insn = &insns[j];
        match *insn {
            Insn::LddwHi => continue,
            Insn::Lddw {
                dst: Reg::R2,
                src: LddwSrc::Func,
                ..
            } => {
                let t = insn.branch_target(j)?;
                return usize::try_from(t)
                    .ok()
                    .filter(|&t| t < insns.len())
                    .map(|t| (j, t));
            }
            Insn::Alu { dst: Reg::R2, .. }
            | Insn::End { dst: Reg::R2, .. }
            | Insn::Load { dst: Reg::R2, .. }
            | Insn::Lddw { dst: Reg::R2, .. }
            | Insn::Atomic { .. }
            | Insn::Call(_)
            | Insn::Exit
            | Insn::Ja { .. }
            | Insn::Jmp { .. }
            | Insn::LdPacket { .. } => return None,
            _ => {}
        }
    }
    None
}

fn mov(width: Width, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width,
        op: AluOp::Mov,
        dst,
        src,
    }
}

fn jmp(width: Width, cond: JmpCond, dst: Reg, src: Operand, off: i16) -> Insn {
    Insn::Jmp {
        width,
        cond,
        dst,
        src,
        off,
    }
}

fn append_trampoline(insns: &mut Vec<Insn>, callback: usize) {
    use Operand::{Imm, Reg as R};
    use Width::{W32, W64};
    let b = insns.len();
    let call_at = b + 8;
    let call_off = callback as i64 - call_at as i64 - 1;
    let code = [
        /* 0 */ jmp(W64, JmpCond::Ne, Reg::R4, Imm(0), 12), // -> 13 einval
        /* 1 */ jmp(W32, JmpCond::Gt, Reg::R1, Imm(BPF_MAX_LOOPS), 13), // -> 15 e2big
        /* 2 */ mov(W32, Reg::R6, R(Reg::R1)),
        /* 3 */ mov(W64, Reg::R7, Imm(0)),
        /* 4 */ mov(W64, Reg::R8, R(Reg::R3)),
        /* 5 */ jmp(W64, JmpCond::Ge, Reg::R7, R(Reg::R6), 5), // -> 11 done
        /* 6 */ mov(W64, Reg::R1, R(Reg::R7)),
        /* 7 */ mov(W64, Reg::R2, R(Reg::R8)),
        /* 8 */ Insn::Call(CallTarget::Local(call_off as i32)),
        /* 9 */
        Insn::Alu {
            width: W64,
            op: AluOp::Add,
            dst: Reg::R7,
            src: Imm(1),
        },
        /* 10 */ jmp(W64, JmpCond::Eq, Reg::R0, Imm(0), -6), // -> 5 loop
        /* 11 */ mov(W64, Reg::R0, R(Reg::R7)),
        /* 12 */ Insn::Exit,
        /* 13 */ mov(W64, Reg::R0, Imm(-22)),
        /* 14 */ Insn::Exit,
        // The kernel's inlined loop sets -E2BIG with a 32-bit move
        // (`BPF_MOV32_IMM` in inline_bpf_loop), so r0 is 0xfffffff9,
        // zero-extended; found by the differential test on loop.c.
        /* 15 */
        mov(W32, Reg::R0, Imm(-7)),
        /* 16 */ Insn::Exit,
    ];
    insns.extend_from_slice(&code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_with_a_known_callback_becomes_a_local_call() {
        // 0: lddw r2, func -> 4 ; 2: r3 = 0 ; 3: call loop ; 4 (callback): exit
        let mut insns = vec![
            Insn::Lddw {
                dst: Reg::R2,
                src: LddwSrc::Func,
                imm: 3,
            },
            Insn::LddwHi,
            mov(Width::W64, Reg::R3, Operand::Imm(0)),
            Insn::Call(CallTarget::Helper(LOOP as i32)),
            Insn::Exit,
        ];
        assert_eq!(insns[0].branch_target(0), Some(4));
        assert_eq!(inline_bpf_loop(&mut insns), 1);
        assert_eq!(insns[3].branch_target(3), Some(5));
        assert_eq!(insns[5 + 8].branch_target(5 + 8), Some(4));
        assert_eq!(insns.len(), 5 + 17);
        assert_eq!(
            insns[0],
            Insn::Lddw {
                dst: Reg::R2,
                src: LddwSrc::Imm,
                imm: 0
            }
        );
    }

    #[test]
    fn an_unknown_callback_is_left_alone() {
        let mut insns = vec![
            mov(Width::W64, Reg::R2, Operand::Imm(0)),
            Insn::Call(CallTarget::Helper(LOOP as i32)),
            Insn::Exit,
        ];
        assert_eq!(inline_bpf_loop(&mut insns), 0);
        assert_eq!(insns[1], Insn::Call(CallTarget::Helper(LOOP as i32)));
    }
}
