//! How many stack frames a verified program can need.
//!
//! Checked mode always gets `CHECKED_MAX_FRAMES`, as in the interpreter, so
//! that accesses between frames trap alike. A verified program cannot reach
//! past its own frame, so it needs one frame per level of its deepest
//! bpf-to-bpf call chain; most programs make no local calls and get by with
//! one frame, which makes the per-run stack zeroing cheap.

use oxbpf_abi::limits::{CHECKED_MAX_FRAMES, KERNEL_MAX_FRAMES};
use oxbpf_isa::{CallTarget, Insn};
use oxbpf_runtime::{Program, SafetyMode};

/// Beyond this many functions the analysis is skipped (all frames).
const MAX_FUNCTIONS: usize = 64;
/// Beyond this many (function, slot) visits the analysis is skipped.
const MAX_WORK: usize = 1 << 18;

/// Frames the program's runs get.
pub(crate) fn frames(program: &Program) -> usize {
    match program.mode() {
        SafetyMode::Checked => CHECKED_MAX_FRAMES,
        SafetyMode::Verified => call_depth(program.insns())
            .map_or(KERNEL_MAX_FRAMES, |d| (d + 1).min(KERNEL_MAX_FRAMES)),
    }
}

/// The deepest chain of nested local calls from slot 0 (0 if it makes
/// none), or `None` if calls can recurse (or the program is too large to
/// bother).
pub(crate) fn call_depth(insns: &[Insn]) -> Option<usize> {
    let mut entries = vec![0usize];
    for (pc, insn) in insns.iter().enumerate() {
        if let Insn::Call(CallTarget::Local(_)) = insn {
            let t = usize::try_from(insn.branch_target(pc)?).ok()?;
            if !entries.contains(&t) {
                entries.push(t);
            }
            if entries.len() > MAX_FUNCTIONS {
                return None;
            }
        }
    }
    // The walk below costs functions x slots: skip it when that is large
    // (compile time matters more than zeroing 4 KiB per run).
    if entries.len() * insns.len() > MAX_WORK {
        return None;
    }
    // The calls reachable from each entry without entering a callee
    // (following every jump, so a jump into another function's body
    // counts as well).
    let callees: Vec<Vec<usize>> = entries
        .iter()
        .map(|&e| reachable_calls(insns, e, &entries))
        .collect::<Option<_>>()?;
    // Longest path in the call graph; a cycle means recursion.
    fn depth(
        f: usize,
        callees: &[Vec<usize>],
        state: &mut [u8],
        memo: &mut [usize],
    ) -> Option<usize> {
        match state[f] {
            1 => return None,
            2 => return Some(memo[f]),
            _ => {}
        }
        state[f] = 1;
        let mut d = 0;
        for &g in &callees[f] {
            d = d.max(1 + depth(g, callees, state, memo)?);
        }
        state[f] = 2;
        memo[f] = d;
        Some(d)
    }
    let mut state = vec![0u8; entries.len()];
    let mut memo = vec![0usize; entries.len()];
    depth(0, &callees, &mut state, &mut memo)
}

/// Indexes (into `entries`) of the functions called from code reachable
/// from slot `entry`.
fn reachable_calls(insns: &[Insn], entry: usize, entries: &[usize]) -> Option<Vec<usize>> {
    let mut seen = vec![false; insns.len()];
    let mut work = vec![entry];
    let mut out = Vec::new();
    while let Some(pc) = work.pop() {
        if pc >= insns.len() || seen[pc] {
            continue;
        }
        seen[pc] = true;
        let insn = &insns[pc];
        if let Insn::Call(CallTarget::Local(_)) = insn {
            let t = usize::try_from(insn.branch_target(pc)?).ok()?;
            let i = entries.iter().position(|&e| e == t)?;
            if !out.contains(&i) {
                out.push(i);
            }
        } else if let Some(t) = insn.branch_target(pc) {
            work.push(usize::try_from(t).ok()?);
        }
        if insn.falls_through() {
            work.push(pc + insn.slots());
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxbpf_isa::asm::assemble;

    fn depth(src: &str) -> Option<usize> {
        call_depth(&assemble(src).unwrap())
    }

    #[test]
    fn depth_of_call_chains() {
        assert_eq!(depth("mov %r0, 0\nexit"), Some(0));
        assert_eq!(depth("call local f\nexit\nf:\nmov %r0, 1\nexit"), Some(1));
        // main -> f -> g, and main -> g.
        assert_eq!(
            depth("call local f\ncall local g\nexit\nf:\ncall local g\nexit\ng:\nmov %r0, 1\nexit"),
            Some(2)
        );
        // A jump from main into f's body sees f's call of g.
        assert_eq!(
            depth("ja +3\nexit\nf:\ncall local g\nexit\ncall local g\nexit\ng:\nmov %r0, 0\nexit"),
            Some(1)
        );
        assert_eq!(depth("call local f\nexit\nf:\ncall local f\nexit"), None);
    }
}
