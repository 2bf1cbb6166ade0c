//! Per-instruction trace events (`oxbpf run --trace`).

use core::fmt;

use oxbpf_isa::{Insn, Reg};

use crate::exec::{self, Tracer};

/// One completed instruction of a traced run.
#[derive(Clone, Copy, Debug)]
pub struct TraceEvent<'a> {
    /// The slot of the instruction.
    pub pc: usize,
    /// The instruction.
    pub insn: &'a Insn,
    /// Call depth it ran at (0 = the main program).
    pub depth: usize,
    /// All registers after it.
    pub regs: &'a [u64; 11],
    /// Registers whose value it changed, as a mask (bit n = rn).
    pub changed: u16,
}

impl TraceEvent<'_> {
    /// The registers it changed, with their new values, in register order.
    pub fn changed_regs(&self) -> impl Iterator<Item = (Reg, u64)> + '_ {
        (0..11)
            .filter(|i| self.changed & (1 << i) != 0)
            .map(|i| (exec::reg(i), self.regs[i]))
    }
}

/// `pc: r0 = 0x3, r1 = 0x0` (only changed registers).
impl fmt::Display for TraceEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.pc)?;
        for (n, (reg, v)) in self.changed_regs().enumerate() {
            let sep = if n == 0 { " " } else { ", " };
            write!(f, "{sep}{reg:?} = {v:#x}")?;
        }
        Ok(())
    }
}

/// Adapts a closure to the loop's [`Tracer`].
pub(crate) struct DynTracer<'f, 'g>(pub(crate) &'f mut (dyn FnMut(&TraceEvent<'_>) + 'g));

impl Tracer for DynTracer<'_, '_> {
    const ENABLED: bool = true;

    fn event(
        &mut self,
        pc: usize,
        insn: &Insn,
        depth: usize,
        before: &[u64; 11],
        after: &[u64; 11],
    ) {
        let mut changed = 0u16;
        for i in 0..11 {
            if before[i] != after[i] {
                changed |= 1 << i;
            }
        }
        (self.0)(&TraceEvent {
            pc,
            insn,
            depth,
            regs: after,
            changed,
        });
    }
}
