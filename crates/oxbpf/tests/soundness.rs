//! Soundness fuzzing of the verifier: random XDP programs built from
//! blocks that touch the packet, the stack, the context and a map, plus
//! mutants of them (a bounds check removed or off by one, a null check
//! dropped, an offset shifted, a mask removed). Every program the verifier
//! accepts is run in checked mode on inputs at the boundaries (the
//! shortest packet, each proven length -1, exact and +1, empty and filled
//! maps, extreme packet bytes): a memory-safety trap or a budget overrun
//! means the verifier accepted an unsafe program, and the test prints it.
//!
//! `OXBPF_SOUNDNESS_PROGRAMS=N` runs N programs (default 40,000, which
//! gives more than 20,000 accepted ones); `OXBPF_SOUNDNESS_SEED=S` changes
//! the seed.

#[path = "common/progs.rs"]
mod progs;

use progs::{Rng, Shape, VALUE_SIZE, program};

use oxbpf::{EngineKind, Loader, MapImage, MapReloc, ObjectImage, ProgramImage};
use oxbpf_abi::map_kind::MapKind;
use oxbpf_abi::program_type::ProgramType;
use oxbpf_isa::Insn;
use oxbpf_maps::MapSpec;
use oxbpf_verifier::{Input, MapInfo, Options, verify};

/// The program as an object with the one map: every `lddw` refers to it.
fn image(insns: &[Insn], spec: &MapSpec) -> ObjectImage {
    let relocs = insns
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Insn::Lddw { .. }))
        .map(|(insn, _)| MapReloc::Map { insn, map: 0 })
        .collect();
    ObjectImage {
        programs: vec![ProgramImage {
            name: "p".into(),
            section: "xdp".into(),
            insns: insns.to_vec(),
            relocs,
            functions: vec![],
        }],
        maps: vec![MapImage {
            spec: spec.clone(),
            init: None,
            readonly: false,
        }],
    }
}

/// Runs a program without verification on the boundary inputs; true if
/// some run traps (or the loader refuses it, e.g. a bad context access).
fn faults(insns: &[Insn], spec: &MapSpec, shape: &Shape) -> bool {
    let Ok(obj) = Loader::new().ncpus(1).load_image(image(insns, spec)) else {
        return true;
    };
    let Ok(runner) = obj.program("p").and_then(|p| p.load(EngineKind::Interp)) else {
        return true;
    };
    let mut lengths = vec![14u32, 64];
    for &l in &shape.lengths {
        lengths.extend([l.saturating_sub(1), l, l + 1]);
    }
    lengths.iter().any(|&len| {
        [0u8, 0xff]
            .iter()
            .any(|&f| runner.run_xdp(&packet(len, f)).is_err())
    })
}

/// A packet of `len` bytes whose bytes are `fill` (so the variable
/// offsets read from byte 0 take their largest or smallest values).
fn packet(len: u32, fill: u8) -> Vec<u8> {
    vec![fill; len.max(14) as usize]
}

#[test]
fn accepted_programs_never_trap_on_memory_safety() {
    let programs: u64 = std::env::var("OXBPF_SOUNDNESS_PROGRAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40_000);
    let seed: u64 = std::env::var("OXBPF_SOUNDNESS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_cafe);
    let mut rng = Rng(seed | 1);
    let map_spec = MapSpec::new(MapKind::Hash, 4, VALUE_SIZE, 64).with_name("m");
    let map_info = MapInfo {
        name: "m".into(),
        kind: MapKind::Hash,
        key_size: 4,
        value_size: VALUE_SIZE,
        max_entries: 64,
        readonly: false,
        inner: None,
        rodata: None,
    };
    let (mut accepted, mut accepted_mutants, mut rejected_mutants, mut runs) =
        (0u64, 0u64, 0u64, 0u64);
    let mut rejected_safe = Vec::new();
    let (mut probed, mut probed_faulting) = (0u64, 0u64);
    let mut per_block: std::collections::BTreeMap<&str, u64> = Default::default();
    for n in 0..programs {
        let mutate = rng.chance(40);
        let (text, shape) = program(&mut rng, mutate);
        let insns = oxbpf_isa::asm::assemble(&text)
            .unwrap_or_else(|e| panic!("generator produced bad assembly: {e}\n{text}"));
        let input = Input {
            insns: &insns,
            program_type: ProgramType::Xdp,
            maps: std::slice::from_ref(&map_info),
            lines: None,
            options: Options::default(),
        };
        let verdict = verify(&input);
        let is_mutant = !shape.mutations.is_empty();
        let Ok(_) = verdict else {
            if is_mutant {
                rejected_mutants += 1;
                // The harness must be able to see unsafety: run some
                // rejected mutants anyway and count those that fault.
                if probed < 3_000 {
                    probed += 1;
                    if faults(&insns, &map_spec, &shape) {
                        probed_faulting += 1;
                    }
                }
            } else if rejected_safe.len() < 5 {
                rejected_safe.push(format!("{}\n{text}", verdict.unwrap_err()));
            }
            continue;
        };
        accepted += 1;
        if is_mutant {
            accepted_mutants += 1;
        }
        for b in &shape.blocks {
            *per_block.entry(b).or_default() += 1;
        }
        let obj = Loader::new()
            .ncpus(1)
            .load_image(image(&insns, &map_spec))
            .unwrap_or_else(|e| panic!("program {n}: load failed: {e}\n{text}"));
        let runner = obj.program("p").unwrap().load(EngineKind::Interp).unwrap();
        let mut lengths: Vec<u32> = vec![14, 15, 64, 300];
        for &l in &shape.lengths {
            lengths.extend([l.saturating_sub(1), l, l + 1]);
        }
        for filled in [false, true] {
            if filled {
                let map = obj.map("m").unwrap();
                for k in 0u32..4 {
                    map.update(&k.to_ne_bytes(), &[0xee; VALUE_SIZE as usize], 0)
                        .unwrap();
                }
            }
            for &len in &lengths {
                for fill in [0u8, 0xff] {
                    runs += 1;
                    if let Err(e) = runner.run_xdp(&packet(len, fill)) {
                        panic!(
                            "UNSOUND: program {n} (seed {seed}) was accepted but its run on a \
                             {len}-byte packet of {fill:#04x} bytes (map {}) failed: {e}\n\
                             mutations: {:?}\n{text}",
                            if filled { "filled" } else { "empty" },
                            shape.mutations
                        );
                    }
                }
            }
        }
    }
    println!(
        "soundness: {programs} programs, {accepted} accepted ({accepted_mutants} of them mutants), \
         {rejected_mutants} mutants rejected, {runs} runs, 0 memory-safety traps; blocks in accepted \
         programs: {per_block:?}; {probed_faulting} of {probed} rejected mutants fault when run anyway"
    );
    assert!(
        rejected_safe.is_empty(),
        "the verifier rejected unmutated (safe by construction) programs, e.g.:\n{}",
        rejected_safe.join("\n---\n")
    );
    // The generator must not drift into trivial programs.
    if programs >= 40_000 {
        assert!(accepted >= 20_000, "only {accepted} programs accepted");
        for (b, c) in &per_block {
            assert!(*c >= 2_000, "block kind {b} in only {c} accepted programs");
        }
        assert!(
            rejected_mutants >= 5_000,
            "only {rejected_mutants} mutants rejected"
        );
        // Most rejected mutants are really unsafe on these inputs: the
        // inputs reach the faults the verifier must prevent.
        assert!(
            probed_faulting * 2 >= probed,
            "only {probed_faulting} of {probed} rejected mutants fault when run"
        );
    }
}
