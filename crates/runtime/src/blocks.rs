//! Basic blocks and the instruction budget.
//!
//! Every engine charges the budget the same way: on entering a basic block
//! it needs the block's instruction count; if the budget holds less, the run
//! traps with [`oxbpf_abi::Trap::BudgetExhausted`] at the block's first
//! slot, else the count is subtracted. So interpreter and JIT stop at the
//! same instruction.
//!
//! A block starts at slot 0, at every jump or local-call target, and after
//! every jump, call and exit (a call returns to the next slot).

use oxbpf_isa::Insn;

/// For each slot, the number of instructions of the block that starts
/// there, or 0 if no block starts there. `lddw` counts as one instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocks {
    cost: Vec<u32>,
}

impl Blocks {
    /// Partitions a decoded program (jump targets already checked).
    pub fn new(insns: &[Insn]) -> Blocks {
        let n = insns.len();
        let mut leader = vec![false; n];
        if n > 0 {
            leader[0] = true;
        }
        for (pc, insn) in insns.iter().enumerate() {
            if let Some(t) = insn.branch_target(pc) {
                // Func pseudo-lddw targets are entries of callbacks.
                if (0..n as i64).contains(&t) {
                    leader[t as usize] = true;
                }
            }
            let ends = matches!(
                insn,
                Insn::Ja { .. } | Insn::Jmp { .. } | Insn::Call(_) | Insn::Exit
            );
            let next = pc + insn.slots();
            if ends && next < n {
                leader[next] = true;
            }
        }
        let mut cost = vec![0u32; n];
        let mut pc = 0;
        while pc < n {
            let start = pc;
            let mut count = 0u32;
            loop {
                count += 1;
                pc += insns[pc].slots();
                if pc >= n || leader[pc] {
                    break;
                }
            }
            cost[start] = count;
        }
        Blocks { cost }
    }

    /// The cost of the block starting at `pc` (0 if `pc` starts none).
    #[inline]
    pub fn cost(&self, pc: usize) -> u32 {
        self.cost[pc]
    }

    /// Whether a block starts at `pc`.
    #[inline]
    pub fn is_leader(&self, pc: usize) -> bool {
        self.cost[pc] != 0
    }

    /// The per-slot costs.
    pub fn as_slice(&self) -> &[u32] {
        &self.cost
    }
}
