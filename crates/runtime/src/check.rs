//! The load-time read-before-write check of checked mode.
//!
//! Refuses a program that, on some path, reads a register before any write
//! to it. Registers follow the kernel's rules: at program entry the
//! registers in the entry set and `r10` are written; at a local function's
//! entry `r1`-`r5` and `r10` are; after any call `r0` is written and
//! `r1`-`r5` are not (the callee clobbers them); `exit` reads `r0`.

use oxbpf_isa::Insn;

use crate::helper::HelperTable;
use crate::program::LoadError;

/// A set of registers as a bit mask (bit n = rn).
pub type RegSet = u16;

/// Runs the check over `insns` (decoded, jump targets valid).
pub fn read_before_write(
    insns: &[Insn],
    helpers: &HelperTable,
    entry: RegSet,
) -> Result<(), LoadError> {
    todo!(
        "runtime: read-before-write check over {} insns, {} helpers, entry {entry:#x}",
        insns.len(),
        helpers.name()
    )
}
