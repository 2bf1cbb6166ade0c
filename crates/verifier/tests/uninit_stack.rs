//! `VerifiedProgram::reads_uninit_stack`: the privileged profile accepts
//! reads of stack bytes no instruction wrote (they give an unknown
//! number); the verifier reports the first instruction where a path may
//! do so, and engines skip zeroing the stack of programs where it is
//! `None`. The finding must survive pruning: a path that reads an
//! unwritten byte is found whichever way the paths joined before it.

use oxbpf_abi::program_type::ProgramType;
use oxbpf_verifier::{Input, Options, Profile, verify};

fn verdict(src: &str, profile: Profile) -> Result<Option<usize>, String> {
    let insns = oxbpf_isa::asm::assemble(src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let mut input = Input::new(&insns, ProgramType::Xdp);
    input.options = Options {
        profile,
        ..Options::default()
    };
    verify(&input)
        .map(|v| v.reads_uninit_stack)
        .map_err(|e| format!("{}: {e}", e.kind().as_str()))
}

fn privileged(src: &str) -> Option<usize> {
    verdict(src, Profile::Privileged).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

#[test]
fn written_then_read_needs_no_zeroing() {
    let src = "mov %r1, 7\nstxdw [%r10-8], %r1\nldxdw %r0, [%r10-8]\nexit";
    assert_eq!(privileged(src), None);
}

#[test]
fn a_read_of_unwritten_stack_is_reported_at_its_insn() {
    let src = "mov %r0, 0\nldxw %r1, [%r10-16]\nexit";
    assert_eq!(privileged(src), Some(1));
    // The strict profile refuses the same program.
    assert!(verdict(src, Profile::Strict).is_err());
}

#[test]
fn a_helper_reading_unwritten_stack_is_reported() {
    // trace_printk's format string (8 bytes at r10-8) was never written.
    let src = "mov %r1, %r10\nadd %r1, -8\nmov %r2, 8\ncall 6\nmov %r0, 0\nexit";
    assert_eq!(privileged(src), Some(3));
}

/// Two paths join, only one wrote r10-8, and the byte is read after the
/// join; `first_writes` picks which path the verifier explores first (the
/// other then meets a stored state at the join).
fn join(first_writes: bool) -> String {
    let cond = if first_writes { "jeq" } else { "jne" };
    format!(
        "call 7\nmov %r6, %r0\n{cond} %r6, 0, +1\nstxdw [%r10-8], %r6\nldxdw %r1, [%r10-8]\nmov %r0, 2\nexit"
    )
}

#[test]
fn a_read_after_a_join_is_found_whichever_path_goes_first() {
    for first_writes in [true, false] {
        let src = join(first_writes);
        assert!(
            privileged(&src).is_some(),
            "a path reaches the read without the store:\n{src}"
        );
    }
}

#[test]
fn a_read_only_on_the_path_that_wrote_needs_no_zeroing() {
    // The store and the read are both guarded by r6 != 0: the path that
    // skipped the store also skips the read. Pruning at the first join
    // would hide that, so the verifier explores on and finds no read.
    let src = "call 7\nmov %r6, %r0\njeq %r6, 0, +1\nstxdw [%r10-8], %r6\n\
               mov %r0, 2\njeq %r6, 0, +1\nldxdw %r0, [%r10-8]\nmov %r0, 2\nexit";
    assert_eq!(privileged(src), None);
    assert_eq!(verdict(src, Profile::Strict), Ok(None));
}
