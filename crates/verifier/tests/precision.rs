//! Pruning with precision and stack liveness: a state may be pruned
//! against a stored one whose scalars differ only where no explored path
//! let them decide anything. Each program below explores a safe path
//! first (the fall-through side of a branch, as the verifier's
//! depth-first order does) and reaches the join with a second state that
//! differs in one scalar; where that scalar decides safety the second
//! state must not be pruned, so the unsafe path is found.

use oxbpf_abi::program_type::ProgramType;
use oxbpf_verifier::{Input, Options, Profile, VerifiedProgram, verify};

fn run(src: &str, profile: Profile) -> Result<VerifiedProgram, String> {
    let insns = oxbpf_isa::asm::assemble(src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let input = Input {
        insns: &insns,
        program_type: ProgramType::Xdp,
        maps: &[],
        lines: None,
        options: Options {
            profile,
            ..Options::default()
        },
    };
    verify(&input).map_err(|e| {
        eprintln!("{e}");
        e.kind().as_str().to_string()
    })
}

#[track_caller]
fn rejects(kind: &str, src: &str) {
    assert_eq!(
        run(src, Profile::Privileged).err(),
        Some(kind.into()),
        "{src}"
    );
}

/// Pointer offset: the join at 4 sees r6 = -8 first, then r6 = -520,
/// which `add %r2, %r6` turns into an out-of-frame store.
#[test]
fn offset_added_to_a_pointer_is_precise() {
    rejects(
        "stack_out_of_bounds",
        "call 7\n\
         mov %r6, -520\n\
         jeq %r0, 0, +1\n\
         mov %r6, -8\n\
         mov %r2, %r10\n\
         add %r2, %r6\n\
         stb [%r2+0], 0\n\
         mov %r0, 0\n\
         exit",
    );
}

/// Helper size through a spill: at the join (6) the slot holds 8 first,
/// then 64, which is more than the 8-byte buffer; the size is filled from
/// the slot, so the slot must match.
#[test]
fn helper_size_filled_from_the_stack_is_precise() {
    rejects(
        "helper_argument",
        "call 7\n\
         mov %r6, 64\n\
         stxdw [%r10-16], %r6\n\
         jeq %r0, 0, +2\n\
         mov %r6, 8\n\
         stxdw [%r10-16], %r6\n\
         ldxdw %r2, [%r10-16]\n\
         mov %r1, %r10\n\
         add %r1, -8\n\
         mov %r3, 0\n\
         mov %r4, 0\n\
         mov %r5, 0\n\
         call 28\n\
         mov %r0, 0\n\
         exit",
    );
}

/// A branch the verifier decided on its own: with r6 = 0 the jump at 4
/// is never taken, so its target was never explored; r6 = 1 takes it.
#[test]
fn operands_of_a_decided_branch_are_precise() {
    rejects(
        "stack_out_of_bounds",
        "call 7\n\
         mov %r6, 1\n\
         jeq %r0, 0, +1\n\
         mov %r6, 0\n\
         jne %r6, 0, +2\n\
         mov %r0, 0\n\
         exit\n\
         ldxb %r0, [%r10+8]\n\
         exit",
    );
}

/// Linked copies: on the first path r7 is a copy of r6, so the bound on
/// r6 at 7 bounds r7 too; on the second r7 is another number. r7 being
/// precise is not enough, the link (and so r6) must match as well.
#[test]
fn registers_linked_to_a_bounded_one_are_precise() {
    rejects(
        "stack_out_of_bounds",
        "call 7\n\
         mov %r6, %r0\n\
         call 7\n\
         mov %r7, %r0\n\
         call 7\n\
         jeq %r0, 0, +1\n\
         mov %r7, %r6\n\
         jgt %r6, 8, +4\n\
         mov %r2, %r10\n\
         add %r2, -16\n\
         add %r2, %r7\n\
         stb [%r2+0], 0\n\
         mov %r0, 0\n\
         exit",
    );
}

/// Engines drop the zero check of a division the verifier marked
/// non-zero: a second path with a zero divisor must not be pruned into
/// that fact.
#[test]
fn divisor_is_precise() {
    let v = run(
        "call 7\n\
         mov %r6, 0\n\
         jeq %r0, 0, +1\n\
         mov %r6, 4\n\
         mov %r1, 100\n\
         div %r1, %r6\n\
         mov %r0, %r1\n\
         exit",
        Profile::Privileged,
    )
    .unwrap();
    assert!(!v.facts[5].divisor_nonzero);
}

/// The other side: a number nothing depends on does not stop pruning.
/// Path one runs all 6 instructions; path two (r6 = 1) stops at the join
/// (4), where r6 is only returned. Strict, the XDP return value is
/// checked (a warning), so r6 matters and path two runs 4 and 5 too.
#[test]
fn imprecise_numbers_do_not_block_pruning() {
    let src = "call 7\n\
               mov %r6, 1\n\
               jeq %r0, 0, +1\n\
               mov %r6, 2\n\
               mov %r0, %r6\n\
               exit";
    let v = run(src, Profile::Privileged).unwrap();
    assert_eq!((v.stats.processed, v.stats.pruned), (6, 1));
    let v = run(src, Profile::Strict).unwrap();
    assert_eq!((v.stats.processed, v.stats.pruned), (8, 0));
}

/// A stack slot written differently on each path but never read again
/// does not stop pruning; one that is read does, when its value matters.
#[test]
fn unread_stack_slots_do_not_block_pruning() {
    let v = run(
        "call 7\n\
         stdw [%r10-8], 1\n\
         jeq %r0, 0, +1\n\
         stdw [%r10-8], 2\n\
         mov %r0, 0\n\
         exit",
        Profile::Privileged,
    )
    .unwrap();
    assert_eq!((v.stats.processed, v.stats.pruned), (6, 1));
    // Read back and used as an offset: no pruning, and the second value
    // is out of the frame.
    rejects(
        "stack_out_of_bounds",
        "call 7\n\
         stdw [%r10-8], -520\n\
         jeq %r0, 0, +1\n\
         stdw [%r10-8], -16\n\
         ldxdw %r3, [%r10-8]\n\
         mov %r2, %r10\n\
         add %r2, %r3\n\
         stb [%r2+0], 0\n\
         mov %r0, 0\n\
         exit",
    );
}

/// Precision by byte: a 4-byte store into a spilled register leaves the
/// other half, whose bytes still come from the spilled value (zero or
/// not), so that value must match at the join.
#[test]
fn narrow_store_keeps_the_rest_of_a_spill_precise() {
    rejects(
        "stack_out_of_bounds",
        "call 7\n\
         mov %r6, 7\n\
         jeq %r0, 0, +1\n\
         mov %r6, 0\n\
         stxdw [%r10-8], %r6\n\
         mov %r7, 1\n\
         stxw [%r10-8], %r7\n\
         ldxw %r3, [%r10-4]\n\
         mov %r2, %r10\n\
         add %r2, -64\n\
         add %r2, %r3\n\
         stb [%r2+0], 0\n\
         mov %r0, 0\n\
         exit",
    );
}

/// Precision by byte: a 4-byte load reads 0 only if all four bytes are
/// zero, so each of them must match, not only the first.
#[test]
fn every_byte_a_load_reads_is_precise() {
    rejects(
        "stack_out_of_bounds",
        "call 7\n\
         stdw [%r10-8], 0\n\
         mov %r6, 7\n\
         stxb [%r10-7], %r6\n\
         jeq %r0, 0, +2\n\
         mov %r6, 0\n\
         stxb [%r10-7], %r6\n\
         ldxw %r3, [%r10-8]\n\
         mov %r2, %r10\n\
         add %r2, -64\n\
         add %r2, %r3\n\
         stb [%r2+0], 0\n\
         mov %r0, 0\n\
         exit",
    );
}

/// Stored states per instruction are capped; the statistics say how many
/// were dropped and the most any instruction held.
#[test]
fn state_statistics() {
    let v = run(
        "call 7\n\
         mov %r6, 1\n\
         jeq %r0, 0, +1\n\
         mov %r6, 2\n\
         mov %r0, %r6\n\
         exit",
        Profile::Privileged,
    )
    .unwrap();
    // States are stored at the branch (2) and the join (4).
    assert_eq!(v.stats.states, 2);
    assert_eq!(v.stats.max_states_per_insn, 1);
    assert_eq!(v.stats.evicted, 0);
}

/// Every program of the repository (C examples, tests and benchmarks,
/// the verifier corpora safe and unsafe in C and assembly, the load
/// balancer) gets the same verdict, in both profiles, with precision and
/// stack liveness as with exact pruning: they only ever prune paths whose
/// safety was already shown.
#[test]
fn same_verdicts_as_exact_pruning() {
    use oxbpf_verifier::{Input, MapInfo, VerifyError};
    use std::path::{Path, PathBuf};
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        for p in v {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "c" || e == "s") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut sources: Vec<PathBuf> = Vec::new();
    for dir in ["bpf/examples", "bpf/tests", "bpf/bench", "bpf/verifier"] {
        walk(&root.join(dir), &mut sources);
    }
    sources.push(root.join("apps/lb/bpf/balancer.bpf.c"));
    type Verdict = Result<(), (&'static str, Option<usize>)>;
    let verdict = |r: Result<VerifiedProgram, Box<VerifyError>>| -> Verdict {
        r.map(|_| ()).map_err(|e| (e.kind().as_str(), e.pc))
    };
    let (mut programs, mut rejected) = (0, 0);
    for src in &sources {
        let rel = src.strip_prefix(&root).unwrap_or(src);
        let mut runs: Vec<Box<dyn Fn(Options) -> Verdict>> = Vec::new();
        if src.extension().is_some_and(|e| e == "s") {
            let text = std::fs::read_to_string(src).unwrap();
            let Some(t) = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("# prog-type:"))
                .and_then(|t| match t.trim() {
                    "tc" | "classifier" => Some(ProgramType::SchedCls),
                    "socket" => Some(ProgramType::SocketFilter),
                    n => ProgramType::from_name(n),
                })
            else {
                continue;
            };
            // Files that do not decode are about the decoder, not pruning.
            let Ok(insns) = oxbpf_isa::asm::assemble_unchecked(&text) else {
                continue;
            };
            runs.push(Box::new(move |options| {
                let mut input = Input::new(&insns, t);
                input.options = options;
                let maps: &[MapInfo] = &[];
                input.maps = maps;
                verdict(verify(&input))
            }));
        } else {
            let name = rel.to_string_lossy().replace('/', "-");
            let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("precision-{name}.o"));
            let status = std::process::Command::new("clang")
                .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
                .arg("-I/usr/include/x86_64-linux-gnu")
                .arg("-c")
                .arg(src)
                .arg("-o")
                .arg(&out)
                .status()
                .expect("clang must be installed");
            assert!(status.success(), "clang failed on {}", src.display());
            let bytes = std::fs::read(&out).unwrap();
            // Objects the loader refuses (CO-RE, kfuncs, ...) never reach
            // the verifier.
            let Ok(obj) = oxbpf_object::Object::parse(&bytes) else {
                continue;
            };
            let obj = std::rc::Rc::new(obj);
            for i in 0..obj.programs.len() {
                let obj = obj.clone();
                runs.push(Box::new(move |options| {
                    verdict(oxbpf_verifier::verify_object_program(
                        &obj.programs[i],
                        &obj.maps,
                        options,
                    ))
                }));
            }
        }
        for run in &runs {
            for profile in [Profile::Privileged, Profile::Strict] {
                let options = |exact_pruning| Options {
                    profile,
                    exact_pruning,
                    ..Options::default()
                };
                let (fast, exact) = (run(options(false)), run(options(true)));
                assert_eq!(fast, exact, "{} ({profile:?})", rel.display());
                programs += 1;
                rejected += usize::from(fast.is_err());
            }
        }
    }
    println!("{programs} verifications ({rejected} rejections) agree with exact pruning");
    // The corpora hold both kinds.
    assert!(
        programs > 500 && rejected > 200,
        "{programs} programs, {rejected} rejected"
    );
}

/// A small random generator of programs built to stress pruning: two
/// paths that differ in the numbers r6-r9 hold (constants, unknowns,
/// copies, spills) join, and the numbers are then used in every way that
/// can matter (stack offsets, helper sizes, decided branches, divisors,
/// bounds checks, fills). Exact pruning is the oracle: with precision and
/// stack liveness the verdict must be the same, and a divisor proven
/// non-zero must be proven so by exact pruning as well.
#[test]
fn random_joins_agree_with_exact_pruning() {
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn reg(&mut self) -> u64 {
            6 + self.below(3)
        }
        fn imm(&mut self) -> i64 {
            [0, 1, 2, 7, 8, 15, 16, 17, 63, 64, -1, -8, -16, 255][self.below(14) as usize]
        }
    }
    // One operation: (text, instruction count).
    fn op(rng: &mut Rng, uses: bool) -> Vec<String> {
        let (x, y, k) = (rng.reg(), rng.reg(), rng.imm());
        let slot = 8 * (1 + rng.below(2));
        let kinds = if uses { 22 } else { 11 };
        let byte = rng.below(8);
        let half = 2 * rng.below(4);
        match rng.below(kinds) {
            0 => vec![format!("mov %r{x}, {k}")],
            1 => vec![format!("mov %r{x}, %r{y}")],
            2 => vec![format!("add %r{x}, {k}")],
            3 => vec![format!("and %r{x}, {}", k & 0xff)],
            4 => vec![format!("stxdw [%r10-{slot}], %r{x}")],
            5 => vec![format!("ldxdw %r{x}, [%r10-{slot}]")],
            6 => vec![format!("stxw [%r10-{slot}], %r{x}")],
            7 => vec!["call 7".into(), format!("mov %r{x}, %r0")],
            // The high half of a slot.
            8 => vec![format!("stxw [%r10-{}], %r{x}", slot - 4)],
            14 => vec![format!("ldxw %r{x}, [%r10-{}]", slot - 4)],
            // Narrow stores and loads anywhere in a slot.
            9 => vec![format!("stxb [%r10-{}], %r{x}", slot - byte)],
            10 => vec![format!("stxh [%r10-{}], %r{x}", slot - half)],
            16 => vec![format!("ldxb %r{x}, [%r10-{}]", slot - byte)],
            17 => vec![format!("ldxh %r{x}, [%r10-{}]", slot - half)],
            15 => vec![
                format!("jgt %r{x}, {}, +1", k & 0xff),
                format!("mov %r{x}, {}", rng.imm()),
            ],
            // A variable stack offset.
            18 => vec![
                "mov %r2, %r10".into(),
                "add %r2, -64".into(),
                format!("add %r2, %r{x}"),
                "stb [%r2+0], 0".into(),
            ],
            // A helper size.
            19 => vec![
                "mov %r1, %r10".into(),
                "add %r1, -16".into(),
                format!("mov %r2, %r{x}"),
                "mov %r3, 0".into(),
                "mov %r4, 0".into(),
                "mov %r5, 0".into(),
                "call 28".into(),
            ],
            // A branch that may be decided, with an unsafe side.
            20 => vec![
                format!("jeq %r{x}, {k}, +1"),
                "ja +1".into(),
                "stb [%r10+8], 0".into(),
            ],
            21 => vec![format!("div %r{x}, %r{y}")],
            _ => vec![format!("ldxw %r{x}, [%r10-{slot}]")],
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut programs, mut rejected, mut pruned) = (0, 0, 0u64);
    for n in 0..100_000 {
        let mut lines: Vec<String> = vec![
            "call 7".into(),
            "mov %r6, %r0".into(),
            "call 7".into(),
            "mov %r7, %r0".into(),
            "mov %r8, 3".into(),
            "mov %r9, 0".into(),
            "stdw [%r10-8], 0".into(),
            "stdw [%r10-16], 0".into(),
            "stdw [%r10-24], 0".into(),
            "stdw [%r10-32], 0".into(),
        ];
        for _ in 0..rng.below(3) {
            lines.extend(op(&mut rng, false));
        }
        // The fork: the fall-through side runs `alt` first.
        let mut alt = Vec::new();
        for _ in 0..1 + rng.below(3) {
            alt.extend(op(&mut rng, false));
        }
        lines.push("call 7".into());
        lines.push(format!("jeq %r0, 0, +{}", alt.len()));
        lines.extend(alt);
        for _ in 0..1 + rng.below(5) {
            lines.extend(op(&mut rng, true));
        }
        lines.push("mov %r0, 0".into());
        lines.push("exit".into());
        let src = lines.join("\n");
        let insns = oxbpf_isa::asm::assemble(&src).unwrap_or_else(|e| panic!("{e}\n{src}"));
        let run = |exact_pruning| {
            let input = Input {
                insns: &insns,
                program_type: ProgramType::Xdp,
                maps: &[],
                lines: None,
                options: Options {
                    exact_pruning,
                    ..Options::default()
                },
            };
            verify(&input)
        };
        let (fast, exact) = (run(false), run(true));
        let brief = |v: &Result<VerifiedProgram, Box<oxbpf_verifier::VerifyError>>| {
            v.as_ref()
                .map(|_| ())
                .map_err(|e| (e.kind().as_str(), e.pc))
        };
        assert_eq!(brief(&fast), brief(&exact), "program {n}:\n{src}");
        if let (Ok(f), Ok(e)) = (&fast, &exact) {
            for (pc, (a, b)) in f.facts.iter().zip(&e.facts).enumerate() {
                assert!(
                    !a.divisor_nonzero || b.divisor_nonzero || !b.reached,
                    "program {n}: the divisor at {pc} is proven non-zero only with precision:\n{src}"
                );
            }
            pruned += f.stats.pruned;
        }
        programs += 1;
        rejected += usize::from(fast.is_err());
    }
    println!(
        "{programs} random joins ({rejected} rejected, {pruned} prunes) agree with exact pruning"
    );
    assert!(rejected > 1_000 && programs - rejected > 1_000 && pruned > 1_000);
}
