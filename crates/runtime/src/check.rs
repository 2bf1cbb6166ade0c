//! The load-time read-before-write check of checked mode.
//!
//! Refuses a program that, on some path, reads a register before any write
//! to it. Registers follow the kernel's rules: at program entry the
//! registers in the entry set and `r10` are written; at a local function's
//! entry `r1`-`r5` and `r10` are; after any call `r0` is written and
//! `r1`-`r5` are not (the callee clobbers them); `exit` reads `r0`.
//!
//! The analysis is a forward "must be written" data flow over the control
//! flow graph, run once per function (slot 0, every local-call target and
//! every `lddw` code address): the set at a slot is the intersection of the
//! sets of all paths reaching it. A local call is not followed into the
//! callee (the callee is checked as its own function); the caller continues
//! after it with `r6`-`r9` untouched. This mirrors the kernel's
//! `check_reg_arg` / `mark_reg_not_init` on `BPF_CALL`
//! (`kernel/bpf/verifier.c`), reduced to initialisation.
//!
//! The same pass also refuses static calls to helpers the environment lacks
//! and programs whose last instruction can fall through past the end.

use oxbpf_isa::{AtomicOp, CallTarget, Insn, LddwSrc, Operand, Reg};

use crate::helper::HelperTable;
use crate::program::LoadError;

/// A set of registers as a bit mask (bit n = rn).
pub type RegSet = u16;

/// `r1`..`r5`: the argument registers, clobbered by every call.
const ARGS: RegSet = 0b11_1110;
/// `r10`, written everywhere.
const FP: RegSet = 1 << 10;
/// `r0`.
const R0: RegSet = 1;

const fn bit(r: Reg) -> RegSet {
    1 << r.num()
}

/// Registers `r1`..`rn`.
const fn args_upto(n: u8) -> RegSet {
    let n = if n > 5 { 5 } else { n };
    ((1u16 << n) - 1) << 1
}

/// What one instruction does to the register set.
struct Effect {
    /// Registers it reads (must be written before).
    reads: RegSet,
    /// Registers it writes.
    writes: RegSet,
    /// Registers it leaves unwritten (applied before `writes`).
    kills: RegSet,
}

/// Runs the check over `insns` (decoded, jump targets valid).
pub fn read_before_write(
    insns: &[Insn],
    helpers: &HelperTable,
    entry: RegSet,
) -> Result<(), LoadError> {
    let n = insns.len();
    if n == 0 {
        return Err(LoadError::Empty);
    }

    // The instruction that occupies the last slot must not continue past
    // it (an `lddw` ending the program occupies the last two slots).
    let last = if n >= 2 && matches!(insns[n - 1], Insn::LddwHi) {
        n - 2
    } else {
        n - 1
    };
    if insns[last].falls_through() {
        return Err(LoadError::FallsOffEnd { index: last });
    }

    // Static helper ids must exist, reachable or not: the JIT resolves them
    // all before running.
    for (index, insn) in insns.iter().enumerate() {
        match *insn {
            Insn::Call(CallTarget::Helper(id)) => {
                let known = u32::try_from(id).is_ok_and(|id| helpers.get(id).is_some());
                if !known {
                    return Err(unknown_helper(index, id, helpers));
                }
            }
            Insn::Call(CallTarget::Kfunc(id)) => {
                // Kernel functions exist only in the kernel environment.
                return Err(unknown_helper(index, id, helpers));
            }
            _ => {}
        }
    }

    let mut functions = vec![0usize];
    for (pc, insn) in insns.iter().enumerate() {
        let is_code_ref = matches!(
            insn,
            Insn::Call(CallTarget::Local(_))
                | Insn::Lddw {
                    src: LddwSrc::Func,
                    ..
                }
        );
        if is_code_ref && let Some(t) = insn.branch_target(pc) {
            functions.push(t as usize);
        }
    }
    functions.sort_unstable();
    functions.dedup();

    let mut state: Vec<Option<RegSet>> = vec![None; n];
    let mut worklist = Vec::new();
    for &f in &functions {
        let start = if f == 0 { entry | FP } else { ARGS | FP };
        state.fill(None);
        state[f] = Some(start);
        worklist.clear();
        worklist.push(f);
        while let Some(pc) = worklist.pop() {
            let Some(set) = state[pc] else { continue };
            let insn = &insns[pc];
            let e = effect(insn, helpers);
            let out = (set & !e.kills) | e.writes;
            let mut flow = |succ: usize| {
                // Successors are in range: targets were checked by the
                // decoder and the last instruction does not fall through.
                let merged = match state[succ] {
                    None => out,
                    Some(old) => old & out,
                };
                if state[succ] != Some(merged) {
                    state[succ] = Some(merged);
                    worklist.push(succ);
                }
            };
            match *insn {
                Insn::Exit => {}
                Insn::Ja { .. } => flow(jump_target(insn, pc)),
                Insn::Jmp { .. } => {
                    flow(jump_target(insn, pc));
                    flow(pc + 1);
                }
                _ => flow(pc + insn.slots()),
            }
        }
        // Report the first offending slot of the function, once the sets
        // are final (sets only shrink, so any miss found here is real).
        for (index, set) in state.iter().enumerate() {
            let Some(set) = *set else { continue };
            let e = effect(&insns[index], helpers);
            let missing = e.reads & !set;
            if missing != 0 {
                let reg = Reg::new(missing.trailing_zeros() as u8).unwrap_or(Reg::R0);
                return Err(LoadError::ReadBeforeWrite { index, reg });
            }
        }
    }
    Ok(())
}

#[cold]
fn unknown_helper(index: usize, id: i32, helpers: &HelperTable) -> LoadError {
    LoadError::UnknownHelper {
        index,
        id,
        table: helpers.name(),
    }
}

fn jump_target(insn: &Insn, pc: usize) -> usize {
    insn.branch_target(pc).map_or(pc + 1, |t| t as usize)
}

fn operand(src: Operand) -> RegSet {
    match src {
        Operand::Reg(r) => bit(r),
        Operand::Imm(_) => 0,
    }
}

fn effect(insn: &Insn, helpers: &HelperTable) -> Effect {
    let none = Effect {
        reads: 0,
        writes: 0,
        kills: 0,
    };
    // After any call: r0 holds the result, r1-r5 are clobbered.
    let call = |reads: RegSet| Effect {
        reads,
        writes: R0,
        kills: ARGS,
    };
    match *insn {
        Insn::Alu { op, dst, src, .. } => {
            use oxbpf_isa::AluOp::*;
            let reads = match op {
                Mov | MovSx8 | MovSx16 | MovSx32 => operand(src),
                Neg => bit(dst),
                _ => bit(dst) | operand(src),
            };
            Effect {
                reads,
                writes: bit(dst),
                kills: 0,
            }
        }
        Insn::End { dst, .. } => Effect {
            reads: bit(dst),
            writes: bit(dst),
            kills: 0,
        },
        Insn::Ja { .. } | Insn::LddwHi => none,
        Insn::Jmp { dst, src, .. } => Effect {
            reads: bit(dst) | operand(src),
            ..none
        },
        Insn::Call(CallTarget::Helper(id)) => {
            let argc = u32::try_from(id)
                .ok()
                .and_then(|id| helpers.get(id))
                .map_or(0, |h| h.arg_count);
            call(args_upto(argc))
        }
        Insn::Call(CallTarget::Local(_)) | Insn::Call(CallTarget::Kfunc(_)) => call(0),
        Insn::Call(CallTarget::Reg(r)) => call(bit(r)),
        Insn::Exit => Effect { reads: R0, ..none },
        Insn::Load { dst, src, .. } => Effect {
            reads: bit(src),
            writes: bit(dst),
            kills: 0,
        },
        Insn::Store { dst, src, .. } => Effect {
            reads: bit(dst) | operand(src),
            ..none
        },
        Insn::Atomic {
            op,
            fetch,
            dst,
            src,
            ..
        } => {
            let mut reads = bit(dst) | bit(src);
            let mut writes = 0;
            if op == AtomicOp::CmpXchg {
                reads |= R0;
                writes |= R0;
            } else if fetch || op == AtomicOp::Xchg {
                writes |= bit(src);
            }
            Effect {
                reads,
                writes,
                kills: 0,
            }
        }
        Insn::Lddw { dst, .. } => Effect {
            reads: 0,
            writes: bit(dst),
            kills: 0,
        },
        // The kernel's check_ld_abs: the packet comes from the context in
        // r6, the result lands in r0 and r1-r5 are clobbered like a call.
        Insn::LdPacket { src, .. } => Effect {
            reads: bit(Reg::R6) | src.map_or(0, bit),
            writes: R0,
            kills: ARGS,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxbpf_isa::{AluOp, JmpCond, Width};

    fn mov(dst: Reg, imm: i32) -> Insn {
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src: Operand::Imm(imm),
        }
    }

    fn table() -> HelperTable {
        crate::helpers::conformance::table()
    }

    const R1R2: RegSet = 0b110;

    #[test]
    fn negative_error_data_is_refused() {
        // negative/error.data: `or %r0, %r10; exit` reads r0 at slot 0.
        let prog = [
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Or,
                dst: Reg::R0,
                src: Operand::Reg(Reg::R10),
            },
            Insn::Exit,
        ];
        assert_eq!(
            read_before_write(&prog, &table(), R1R2),
            Err(LoadError::ReadBeforeWrite {
                index: 0,
                reg: Reg::R0
            })
        );
    }

    #[test]
    fn exit_reads_r0() {
        assert_eq!(
            read_before_write(&[Insn::Exit], &table(), R1R2),
            Err(LoadError::ReadBeforeWrite {
                index: 0,
                reg: Reg::R0
            })
        );
    }

    #[test]
    fn one_path_without_write_is_enough_to_refuse() {
        // 0: jeq r1, 0, +1   1: mov r0, 1   2: exit
        // The taken branch reaches slot 2 with r0 unwritten.
        let prog = [
            Insn::Jmp {
                width: Width::W64,
                cond: JmpCond::Eq,
                dst: Reg::R1,
                src: Operand::Imm(0),
                off: 1,
            },
            mov(Reg::R0, 1),
            Insn::Exit,
        ];
        assert_eq!(
            read_before_write(&prog, &table(), R1R2),
            Err(LoadError::ReadBeforeWrite {
                index: 2,
                reg: Reg::R0
            })
        );
        // With both paths writing r0 it passes.
        let ok = [mov(Reg::R0, 0), prog[0], prog[1], prog[2]];
        let mut ok = ok.to_vec();
        // Re-aim the jump (now at slot 1) at the exit in slot 3.
        ok[1] = Insn::Jmp {
            width: Width::W64,
            cond: JmpCond::Eq,
            dst: Reg::R1,
            src: Operand::Imm(0),
            off: 1,
        };
        assert_eq!(read_before_write(&ok, &table(), R1R2), Ok(()));
    }

    #[test]
    fn calls_clobber_argument_registers() {
        // mov r0,0; call 2 (no_op); mov r0, r1; exit  -> r1 dead after call.
        let prog = [
            mov(Reg::R0, 0),
            Insn::Call(CallTarget::Helper(2)),
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: Reg::R0,
                src: Operand::Reg(Reg::R1),
            },
            Insn::Exit,
        ];
        assert_eq!(
            read_before_write(&prog, &table(), R1R2),
            Err(LoadError::ReadBeforeWrite {
                index: 2,
                reg: Reg::R1
            })
        );
    }

    #[test]
    fn helper_arguments_are_read() {
        // sqrti reads r1; with an empty entry set r1 is unwritten.
        let prog = [Insn::Call(CallTarget::Helper(3)), Insn::Exit];
        assert_eq!(
            read_before_write(&prog, &table(), 0),
            Err(LoadError::ReadBeforeWrite {
                index: 0,
                reg: Reg::R1
            })
        );
        assert_eq!(read_before_write(&prog, &table(), R1R2), Ok(()));
    }

    #[test]
    fn local_function_entry_has_arguments_only() {
        // 0: mov r6, 1  1: call local +2 (slot 4)  2: mov r0, r6  3: exit
        // 4: mov r0, r6 (r6 unwritten in the callee)  5: exit
        let prog = [
            mov(Reg::R6, 1),
            Insn::Call(CallTarget::Local(2)),
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: Reg::R0,
                src: Operand::Reg(Reg::R6),
            },
            Insn::Exit,
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: Reg::R0,
                src: Operand::Reg(Reg::R6),
            },
            Insn::Exit,
        ];
        assert_eq!(
            read_before_write(&prog, &table(), R1R2),
            Err(LoadError::ReadBeforeWrite {
                index: 4,
                reg: Reg::R6
            })
        );
    }

    #[test]
    fn unknown_helper_and_fall_off_end() {
        let prog = [
            mov(Reg::R0, 0),
            Insn::Call(CallTarget::Helper(99)),
            Insn::Exit,
        ];
        assert_eq!(
            read_before_write(&prog, &table(), R1R2),
            Err(LoadError::UnknownHelper {
                index: 1,
                id: 99,
                table: "conformance"
            })
        );
        let prog = [mov(Reg::R0, 0)];
        assert_eq!(
            read_before_write(&prog, &table(), R1R2),
            Err(LoadError::FallsOffEnd { index: 0 })
        );
        let prog = [
            mov(Reg::R0, 0),
            Insn::Lddw {
                dst: Reg::R0,
                src: LddwSrc::Imm,
                imm: 1,
            },
            Insn::LddwHi,
        ];
        assert_eq!(
            read_before_write(&prog, &table(), R1R2),
            Err(LoadError::FallsOffEnd { index: 1 })
        );
    }
}
