//! One small program per rule: the unsafe version is rejected with the
//! rule's kind, the safe twin next to it is accepted.

use oxbpf_abi::map_kind::MapKind;
use oxbpf_abi::program_type::ProgramType;
use oxbpf_verifier::{Input, MapInfo, Options, Profile, verify};

fn maps() -> Vec<MapInfo> {
    let m = |name: &str, kind, key_size, value_size, readonly| MapInfo {
        name: name.into(),
        kind,
        key_size,
        value_size,
        max_entries: 16,
        readonly,
        inner: None,
        rodata: None,
    };
    vec![
        m("hash", MapKind::Hash, 4, 8, false),
        m(".rodata", MapKind::Array, 4, 16, true),
        m("rb", MapKind::Ringbuf, 0, 0, false),
        m("progs", MapKind::ProgArray, 4, 4, false),
    ]
}

fn run(src: &str, t: ProgramType, profile: Profile) -> Result<(), String> {
    let insns = oxbpf_isa::asm::assemble(src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let maps = maps();
    let input = Input {
        insns: &insns,
        program_type: t,
        maps: &maps,
        lines: None,
        options: Options {
            profile,
            ..Options::default()
        },
    };
    verify(&input).map(|_| ()).map_err(|e| {
        eprintln!("{e}");
        e.kind().as_str().to_string()
    })
}

#[track_caller]
fn rejects(kind: &str, src: &str) {
    assert_eq!(
        run(src, ProgramType::Xdp, Profile::Privileged),
        Err(kind.into()),
        "{src}"
    );
}

#[track_caller]
fn accepts(src: &str) {
    assert_eq!(
        run(src, ProgramType::Xdp, Profile::Privileged),
        Ok(()),
        "{src}"
    );
}

#[track_caller]
fn strict_rejects(kind: &str, src: &str) {
    assert_eq!(
        run(src, ProgramType::Xdp, Profile::Privileged),
        Ok(()),
        "privileged: {src}"
    );
    assert_eq!(
        run(src, ProgramType::Xdp, Profile::Strict),
        Err(kind.into()),
        "strict: {src}"
    );
}

/// `r2 = data, r3 = data_end` prologue of XDP programs.
const PKT: &str = "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\n";

#[test]
fn registers() {
    rejects("uninit_register", "exit");
    rejects("uninit_register", "mov %r0, %r5\nexit");
    accepts("mov %r0, 0\nexit");
    rejects("scratched_register", "call 5\nmov %r0, %r1\nexit");
    accepts("mov %r6, %r1\ncall 5\nmov %r0, %r6\nmov %r0, 0\nexit");
    rejects("write_r10", "mov %r10, 0\nmov %r0, 0\nexit");
    rejects("write_r10", "add %r10, 8\nmov %r0, 0\nexit");
}

#[test]
fn control_flow() {
    rejects("unreachable", "mov %r0, 0\nexit\nmov %r0, 1\nexit");
    rejects("jump_out_of_range", "mov %r0, 0");
    rejects("malformed", "mov %r0, 1\ndiv %r0, 0\nexit");
    rejects("malformed", "mov %r0, 1\nlsh %r0, 64\nexit");
    accepts("mov %r0, 0\nja +0\nexit");
}

#[test]
fn stack() {
    accepts("stdw [%r10-512], 0\nldxdw %r0, [%r10-512]\nexit");
    rejects(
        "stack_out_of_bounds",
        "stdw [%r10-520], 0\nmov %r0, 0\nexit",
    );
    rejects("stack_out_of_bounds", "stw [%r10+0], 0\nmov %r0, 0\nexit");
    rejects("stack_out_of_bounds", "stw [%r10-6], 0\nmov %r0, 0\nexit");
    // A spilled packet pointer keeps its type and range.
    accepts(&format!(
        "{PKT}mov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, +4\nstxdw [%r10-8], %r2\nldxdw %r5, [%r10-8]\nldxb %r0, [%r5+13]\nexit\nmov %r0, 0\nexit"
    ));
    strict_rejects("uninit_stack", "ldxdw %r0, [%r10-8]\nexit");
}

#[test]
fn packet() {
    let ok = format!(
        "{PKT}mov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, +2\nldxh %r0, [%r2+12]\nexit\nmov %r0, 1\nexit"
    );
    accepts(&ok);
    let bad = ok.replace("[%r2+12]", "[%r2+13]");
    rejects("packet_out_of_bounds", &bad);
    // Other comparison shapes: end < p, p <= end.
    accepts(&format!(
        "{PKT}mov %r4, %r2\nadd %r4, 4\njlt %r3, %r4, +2\nldxw %r0, [%r2+0]\nexit\nmov %r0, 1\nexit"
    ));
    accepts(&format!(
        "{PKT}mov %r4, %r2\nadd %r4, 4\njle %r4, %r3, +2\nmov %r0, 1\nexit\nldxw %r0, [%r2+0]\nexit"
    ));
    // The taken side of p > end proves nothing.
    rejects(
        "packet_out_of_bounds",
        &format!(
            "{PKT}mov %r4, %r2\nadd %r4, 4\njgt %r4, %r3, +2\nmov %r0, 1\nexit\nldxw %r0, [%r2+0]\nexit"
        ),
    );
    rejects(
        "packet_out_of_bounds",
        &format!("{PKT}ldxb %r0, [%r3+0]\nexit"),
    );
    let moved = format!(
        "{PKT}mov %r6, %r1\nmov %r7, %r2\nadd %r7, 14\njgt %r7, %r3, +5\nmov %r1, %r6\nmov %r2, 4\ncall 44\nldxb %r0, [%r7+0]\nexit\nmov %r0, 1\nexit"
    );
    rejects("stale_packet_pointer", &moved);
    // Reloading data after the helper is fine (and needs a new check).
    accepts(&moved.replace("ldxb %r0, [%r7+0]", "ldxw %r0, [%r6+12]"));
}

#[test]
fn context() {
    rejects("ctx_access", "ldxw %r0, [%r1+24]\nexit");
    rejects("ctx_access", "stw [%r1+12], 0\nmov %r0, 0\nexit");
    rejects("ctx_access", "ldxh %r0, [%r1+0]\nexit");
    rejects("ctx_access", "add %r1, 4\nldxw %r0, [%r1+0]\nexit");
    accepts("ldxw %r0, [%r1+12]\nexit");
    // xdp_md fields are read whole (`xdp_is_valid_access`).
    rejects("ctx_access", "ldxb %r0, [%r1+13]\nexit");
    assert_eq!(
        run(
            "ldxw %r0, [%r1+8]\nstxw [%r1+8], %r0\nmov %r0, 0\nexit",
            ProgramType::SchedCls,
            Profile::Privileged
        ),
        Ok(())
    );
    assert_eq!(
        run(
            "ldxw %r0, [%r1+76]\nmov %r0, 0\nexit",
            ProgramType::SocketFilter,
            Profile::Privileged
        ),
        Err("ctx_access".into())
    );
}

/// `r0 = lookup(hash, &key)` with a zero key on the stack.
const LOOKUP: &str = "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, map_fd 0\ncall 1\n";

#[test]
fn maps_and_nulls() {
    rejects("null_deref", &format!("{LOOKUP}ldxdw %r0, [%r0+0]\nexit"));
    accepts(&format!("{LOOKUP}jeq %r0, 0, +1\nldxdw %r0, [%r0+0]\nexit"));
    // The null check on a copy refines the original.
    accepts(&format!(
        "{LOOKUP}mov %r6, %r0\njne %r6, 0, +2\nmov %r0, 0\nexit\nldxdw %r0, [%r0+0]\nexit"
    ));
    rejects(
        "map_value_out_of_bounds",
        &format!("{LOOKUP}jeq %r0, 0, +1\nldxdw %r0, [%r0+1]\nexit"),
    );
    rejects(
        "readonly_write",
        "lddw %r1, map_value 1, 0\nstw [%r1+0], 1\nmov %r0, 0\nexit",
    );
    accepts("lddw %r1, map_value 1, 8\nldxdw %r0, [%r1+0]\nexit");
    rejects(
        "pointer_arithmetic",
        &format!("{LOOKUP}add %r0, 8\nmov %r0, 0\nexit"),
    );
    // A bounded variable index into the value.
    accepts(&format!(
        "{LOOKUP}jeq %r0, 0, +5\ncall 7\nand %r0, 7\nmov %r1, %r0\nmov %r0, 0\nexit\nmov %r0, 0\nexit"
    ));
}

#[test]
fn pointer_arithmetic() {
    rejects(
        "pointer_arithmetic",
        "mov %r2, %r1\nadd %r2, %r1\nmov %r0, 0\nexit",
    );
    rejects("pointer_arithmetic", "mul %r1, 2\nmov %r0, 0\nexit");
    rejects("pointer_arithmetic", "add32 %r1, 2\nmov %r0, 0\nexit");
    rejects(
        "pointer_arithmetic",
        "call 7\nlsh %r0, 40\nmov %r2, %r10\nadd %r2, %r0\nmov %r0, 0\nexit",
    );
    accepts("ldxw %r2, [%r1+4]\nldxw %r3, [%r1+0]\nsub %r2, %r3\nmov %r0, 0\nexit");
    strict_rejects(
        "pointer_leak",
        "ldxw %r2, [%r1+4]\nldxw %r3, [%r1+0]\nsub %r2, %r3\nmov %r0, 0\nexit",
    );
}

#[test]
fn helpers() {
    rejects("helper_not_allowed", "call 9999\nmov %r0, 0\nexit");
    rejects(
        "helper_not_allowed",
        "mov %r1, %r10\nadd %r1, -8\nmov %r2, 8\nmov %r3, 0\ncall 4\nmov %r0, 0\nexit",
    );
    rejects(
        "helper_argument",
        "mov %r1, 0\nmov %r2, %r10\nadd %r2, -4\nstw [%r10-4], 0\ncall 1\nmov %r0, 0\nexit",
    );
    rejects(
        "helper_argument",
        "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -2\nlddw %r1, map_fd 0\ncall 1\nmov %r0, 0\nexit",
    );
    rejects(
        "helper_argument",
        "lddw %r1, map_fd 3\nmov %r2, %r10\nadd %r2, -4\nstw [%r10-4], 0\ncall 1\nmov %r0, 0\nexit",
    );
    accepts("mov %r3, 0\nlddw %r2, map_fd 3\ncall 12\nmov %r0, 0\nexit");
    rejects(
        "helper_argument",
        "mov %r1, %r10\nadd %r1, -8\nmov %r2, 0\ncall 44\nmov %r0, 0\nexit",
    );
}

#[test]
fn strict_profile() {
    strict_rejects("pointer_leak", "mov %r0, %r10\nexit");
    strict_rejects(
        "pointer_leak",
        &format!("{LOOKUP}jeq %r0, 0, +1\nstxdw [%r0+0], %r10\nmov %r0, 0\nexit"),
    );
    strict_rejects(
        "pointer_leak",
        "mov %r2, %r10\njeq %r1, %r2, +0\nmov %r0, 0\nexit",
    );
}

#[test]
fn strict_warns_on_xdp_return_values() {
    let insns = oxbpf_isa::asm::assemble("call 7\nexit").unwrap();
    let mut input = Input::new(&insns, ProgramType::Xdp);
    input.options.profile = Profile::Strict;
    let v = verify(&input).unwrap();
    assert_eq!(v.warnings.len(), 1, "{:?}", v.warnings);
    assert!(v.warnings[0].contains("outside the actions 0..=4"));
    let insns = oxbpf_isa::asm::assemble("mov %r0, 4\nexit").unwrap();
    let mut input = Input::new(&insns, ProgramType::Xdp);
    input.options.profile = Profile::Strict;
    assert!(verify(&input).unwrap().warnings.is_empty());
    strict_rejects("pointer_leak", "neg %r1\nmov %r0, 0\nexit");
}

#[test]
fn loops() {
    // Counts to 10: explored iteration by iteration.
    accepts("mov %r0, 0\nmov %r1, 0\nadd %r1, 1\nadd %r0, 2\njlt %r1, 10, -3\nexit");
    rejects(
        "unbounded_loop",
        "mov %r0, 0\nja -1\nexit".replace("exit", "").trim_end(),
    );
    // The state at the loop head shrinks from [0, 255] to [1, 255] and
    // then repeats: an infinite loop, which pruning against the unfinished
    // first visit must not hide (the kernel rejects it too).
    rejects(
        "unbounded_loop",
        "call 7\nand %r0, 255\njne %r0, 0, -1\nexit",
    );
    // Halving terminates: unrolled until the value is known to be 0.
    accepts("call 7\nmov %r1, %r0\nrsh %r1, 1\njne %r1, 0, -2\nmov %r0, 0\nexit");
}

#[test]
fn calls() {
    // r6 survives a bpf-to-bpf call, r1 does not; the callee gets r1.
    accepts("mov %r6, 5\ncall local f\nadd %r0, %r6\nexit\nf:\nldxw %r0, [%r1+12]\nexit");
    rejects(
        "scratched_register",
        "call local f\nmov %r0, %r1\nexit\nf:\nmov %r0, 0\nexit",
    );
    rejects(
        "uninit_register",
        "call local f\nexit\nf:\nmov %r0, %r6\nexit",
    );
}

#[test]
fn diagnostics_name_the_facts() {
    let src = format!(
        "{PKT}mov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, +2\nldxw %r0, [%r2+12]\nexit\nmov %r0, 1\nexit"
    );
    let insns = oxbpf_isa::asm::assemble(&src).unwrap();
    let e = verify(&Input::new(&insns, ProgramType::Xdp)).unwrap_err();
    let text = e.to_string();
    assert_eq!(e.pc, Some(5));
    assert!(
        text.contains("packet pointer with 14 bytes proven"),
        "{text}"
    );
    assert!(text.contains("needs bytes 12..16"), "{text}");
    assert!(
        text.contains("insn 4 (jgt %r4, %r3, +2) not taken"),
        "{text}"
    );
}

#[test]
fn facts_record_nonzero_divisors() {
    let src = "call 7\nmov %r1, %r0\nor %r1, 1\nmov %r0, 100\ndiv %r0, %r1\nexit";
    let insns = oxbpf_isa::asm::assemble(src).unwrap();
    let v = verify(&Input::new(&insns, ProgramType::Xdp)).unwrap();
    assert!(v.facts[4].divisor_nonzero);
    let src = "call 7\nmov %r1, %r0\nmov %r0, 100\ndiv %r0, %r1\nexit";
    let insns = oxbpf_isa::asm::assemble(src).unwrap();
    let v = verify(&Input::new(&insns, ProgramType::Xdp)).unwrap();
    assert!(!v.facts[3].divisor_nonzero);
    assert_eq!(v.facts[0].entry[1], oxbpf_verifier::RegType::Ctx);
}
