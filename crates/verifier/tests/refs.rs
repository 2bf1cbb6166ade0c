//! References (ring buffer records), spin locks and tail-call placement:
//! each unsafe program next to a safe twin, including the cases where
//! pruning could hide a leak if states with different references were
//! considered equal.

use oxbpf_abi::map_kind::MapKind;
use oxbpf_abi::program_type::ProgramType;
use oxbpf_verifier::{Input, MapInfo, Options, Profile, VerifyError, verify};

fn maps() -> Vec<MapInfo> {
    let m = |name: &str, kind, key_size, value_size| MapInfo {
        name: name.into(),
        kind,
        key_size,
        value_size,
        max_entries: 4,
        readonly: false,
        inner: None,
        rodata: None,
    };
    vec![
        m("rb", MapKind::Ringbuf, 0, 0),
        m("locked", MapKind::Array, 4, 16),
        m("progs", MapKind::ProgArray, 4, 4),
        m("locked2", MapKind::Hash, 4, 16),
    ]
}

fn run(src: &str, profile: Profile) -> Result<(), Box<VerifyError>> {
    let insns = oxbpf_isa::asm::assemble(src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let maps = maps();
    let input = Input {
        insns: &insns,
        program_type: ProgramType::Xdp,
        maps: &maps,
        lines: None,
        options: Options {
            profile,
            ..Options::default()
        },
    };
    verify(&input).map(|_| ())
}

#[track_caller]
fn rejects(kind: &str, src: &str) -> Box<VerifyError> {
    match run(src, Profile::Privileged) {
        Ok(()) => panic!("accepted, expected {kind}:\n{src}"),
        Err(e) => {
            assert_eq!(e.kind().as_str(), kind, "{e}\n{src}");
            e
        }
    }
}

#[track_caller]
fn accepts(src: &str) {
    if let Err(e) = run(src, Profile::Privileged) {
        panic!("rejected: {e}\n{src}");
    }
}

/// Reserves 8 bytes of `rb` into r7 (r6 keeps the context); the null
/// branch exits.
const RESERVE: &str = "mov %r6, %r1
lddw %r1, map_fd 0
mov %r2, 8
mov %r3, 0
call 131
mov %r7, %r0
jne %r7, 0, +2
mov %r0, 0
exit
";

/// Submits r7.
const SUBMIT: &str = "mov %r1, %r7\nmov %r2, 0\ncall 132\n";

/// Looks up key 0 of `locked` into r7 (the null branch exits) and takes
/// the lock at offset 0.
const LOCK: &str = "mov %r6, %r1
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
lddw %r1, map_fd 1
call 1
mov %r7, %r0
jne %r7, 0, +2
mov %r0, 0
exit
mov %r1, %r7
call 93
";

/// Releases the lock of r7.
const UNLOCK: &str = "mov %r1, %r7\ncall 94\n";

#[test]
fn a_reserved_record_must_be_released() {
    accepts(&format!(
        "{RESERVE}stw [%r7+0], 1\n{SUBMIT}mov %r0, 0\nexit"
    ));
    // Discard releases too.
    accepts(&format!(
        "{RESERVE}mov %r1, %r7\nmov %r2, 0\ncall 133\nmov %r0, 0\nexit"
    ));
    let e = rejects(
        "reference_leak",
        &format!("{RESERVE}stw [%r7+0], 1\nmov %r0, 0\nexit"),
    );
    // The message names the reservation (insn 5: mov, lddw's two slots,
    // two movs, the call) and the leaking exit (insn 12).
    assert_eq!(e.pc, Some(12), "{e}");
    assert!(e.message.contains("reserved at insn 5"), "{e}");
    assert!(e.message.contains("at insn 12"), "{e}");
}

#[test]
fn the_null_branch_holds_nothing() {
    // Without a null check the record cannot be submitted; the null
    // branch of the check exits without a leak.
    rejects(
        "helper_argument",
        "lddw %r1, map_fd 0\nmov %r2, 8\nmov %r3, 0\ncall 131\nmov %r1, %r0\nmov %r2, 0\ncall 132\nmov %r0, 0\nexit",
    );
    // Inverted: only the non-null branch leaks.
    rejects(
        "reference_leak",
        "lddw %r1, map_fd 0\nmov %r2, 8\nmov %r3, 0\ncall 131\njeq %r0, 0, +2\nmov %r0, 1\nexit\nmov %r0, 0\nexit",
    );
}

#[test]
fn a_released_record_is_gone() {
    // Every copy becomes a number: a write through one is a dereference
    // of a scalar, a second release has no record to release.
    rejects(
        "null_deref",
        &format!("{RESERVE}mov %r8, %r7\n{SUBMIT}stw [%r8+0], 1\nmov %r0, 0\nexit"),
    );
    rejects(
        "helper_argument",
        &format!("{RESERVE}{SUBMIT}{SUBMIT}mov %r0, 0\nexit"),
    );
    // A spilled copy is invalidated too.
    rejects(
        "null_deref",
        &format!(
            "{RESERVE}stxdw [%r10-8], %r7\n{SUBMIT}ldxdw %r1, [%r10-8]\nstw [%r1+0], 1\nmov %r0, 0\nexit"
        ),
    );
}

#[test]
fn pruning_does_not_hide_a_leak() {
    // Two paths meet at the same instruction with the same registers (r7
    // is dead there), one holding the record and one not. Both orders of
    // exploration must find the leak.
    for cond in ["jgt", "jle"] {
        let src =
            format!("{RESERVE}ldxw %r1, [%r6+0]\n{cond} %r1, 5, +3\n{SUBMIT}mov %r0, 0\nexit");
        rejects("reference_leak", &src);
    }
    // The same for the lock.
    for cond in ["jgt", "jle"] {
        let src = format!("{LOCK}ldxw %r1, [%r6+0]\n{cond} %r1, 5, +2\n{UNLOCK}mov %r0, 0\nexit");
        rejects("lock_not_released", &src);
    }
    // And the safe twin, released on both paths, is accepted.
    accepts(&format!(
        "{RESERVE}ldxw %r1, [%r6+0]\njgt %r1, 5, +4\n{SUBMIT}ja +3\n{SUBMIT}mov %r0, 0\nexit"
    ));
}

#[test]
fn references_cross_frames() {
    // The main program reserves, a subprogram submits.
    accepts(&format!(
        "{RESERVE}mov %r1, %r7\ncall local f\nmov %r0, 0\nexit\nf:\nmov %r2, 0\ncall 132\nmov %r0, 0\nexit"
    ));
    // A subprogram reserves and returns the record; the caller forgets it.
    rejects(
        "reference_leak",
        "call local f\nmov %r0, 0\nexit\nf:\nlddw %r1, map_fd 0\nmov %r2, 8\nmov %r3, 0\ncall 131\nexit",
    );
}

#[test]
fn tail_calls_hold_nothing() {
    let tail = "mov %r1, %r6\nlddw %r2, map_fd 2\nmov %r3, 0\ncall 12\n";
    rejects(
        "reference_leak",
        &format!("{RESERVE}{tail}{SUBMIT}mov %r0, 0\nexit"),
    );
    accepts(&format!("{RESERVE}{SUBMIT}{tail}mov %r0, 0\nexit"));
    rejects(
        "lock_not_released",
        &format!("{LOCK}{tail}{UNLOCK}mov %r0, 0\nexit"),
    );
}

#[test]
fn lock_discipline() {
    accepts(&format!("{LOCK}stdw [%r7+8], 1\n{UNLOCK}mov %r0, 0\nexit"));
    rejects("lock_not_released", &format!("{LOCK}mov %r0, 0\nexit"));
    // Any helper but spin_unlock while locked.
    rejects(
        "lock_not_released",
        &format!("{LOCK}call 5\n{UNLOCK}mov %r0, 0\nexit"),
    );
    rejects(
        "lock_not_released",
        &format!("{LOCK}{UNLOCK}{UNLOCK}mov %r0, 0\nexit"),
    );
    // Unlocking through another lookup's value (even of the same key) is
    // another lock; through a spilled copy of the locked pointer it is
    // the same.
    let second =
        "stw [%r10-8], 0\nmov %r2, %r10\nadd %r2, -8\nlddw %r1, map_fd 1\ncall 1\nmov %r8, %r0\n";
    let e = rejects(
        "lock_not_released",
        &format!(
            "{}{second}mov %r1, %r7\ncall 93\nmov %r1, %r8\ncall 94\nmov %r0, 0\nexit",
            LOCK.trim_end_matches("mov %r1, %r7\ncall 93\n")
        ),
    );
    assert!(e.message.contains("another lookup"), "{e}");
    accepts(&format!(
        "{LOCK}stxdw [%r10-16], %r7\nldxdw %r1, [%r10-16]\ncall 94\nmov %r0, 0\nexit"
    ));
    // A bpf-to-bpf call under the lock is fine (Linux 6.9+), and so is a
    // lock taken in a subprogram and released by its caller.
    accepts(&format!(
        "{LOCK}call local f\n{UNLOCK}mov %r0, 0\nexit\nf:\nmov %r0, 0\nexit"
    ));
    accepts(&format!(
        "{}mov %r1, %r7\ncall local f\n{UNLOCK}mov %r0, 0\nexit\nf:\ncall 93\nmov %r0, 0\nexit",
        LOCK.trim_end_matches("mov %r1, %r7\ncall 93\n")
    ));
}

#[test]
fn callbacks_release_what_they_reserve() {
    let with_cb = |body: &str| {
        format!(
            "mov %r1, 2\nlddw %r2, func cb\nmov %r3, 0\nmov %r4, 0\ncall 181\nmov %r0, 0\nexit\ncb:\n{body}mov %r0, 0\nexit"
        )
    };
    accepts(&with_cb(
        "lddw %r1, map_fd 0\nmov %r2, 8\nmov %r3, 0\ncall 131\njeq %r0, 0, +3\nmov %r1, %r0\nmov %r2, 0\ncall 133\n",
    ));
    rejects(
        "reference_leak",
        &with_cb("lddw %r1, map_fd 0\nmov %r2, 8\nmov %r3, 0\ncall 131\n"),
    );
}

#[test]
fn tail_call_under_deep_caller_stacks() {
    // A subprogram that tail calls, called by a frame using 240 (allowed)
    // or 256 bytes of stack (the kernel's limit is < 256).
    let prog = |depth: u32| {
        format!(
            "stdw [%r10-{depth}], 0\ncall local f\nmov %r0, 0\nexit\nf:\nlddw %r2, map_fd 2\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit"
        )
    };
    accepts(&prog(240));
    let e = rejects("call_depth", &prog(256));
    assert!(e.message.contains("256 bytes"), "{e}");
    // Frames add up: 128 in main and 128 in the middle function reach
    // 256 above the function that tail calls; main's 128 alone do not.
    let two = |mid: u32| {
        format!(
            "mov %r6, %r1\nstdw [%r10-128], 0\ncall local f\nmov %r1, %r6\ncall local g\nmov %r0, 0\nexit\nf:\nstdw [%r10-{mid}], 0\ncall local g\nmov %r0, 0\nexit\ng:\nlddw %r2, map_fd 2\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit"
        )
    };
    accepts(&two(112));
    rejects("call_depth", &two(128));
    // The main program itself may tail call whatever its stack.
    accepts("stdw [%r10-512], 0\nlddw %r2, map_fd 2\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit");
}

#[test]
fn strict_released_copies_are_uninitialised() {
    let src = format!("{RESERVE}mov %r8, %r7\n{SUBMIT}mov %r0, %r8\nexit");
    assert!(run(&src, Profile::Privileged).is_ok());
    let e = run(&src, Profile::Strict).unwrap_err();
    assert_eq!(e.kind().as_str(), "uninit_register", "{e}");
}
