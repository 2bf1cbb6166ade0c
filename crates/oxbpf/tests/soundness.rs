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

use std::fmt::Write as _;

use oxbpf::{EngineKind, Loader, MapImage, MapReloc, ObjectImage, ProgramImage};
use oxbpf_abi::map_kind::MapKind;
use oxbpf_abi::program_type::ProgramType;
use oxbpf_isa::Insn;
use oxbpf_maps::MapSpec;
use oxbpf_verifier::{Input, MapInfo, Options, verify};

/// xorshift64*: small, deterministic, good enough for program shapes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const VALUE_SIZE: u32 = 16;
const SIZES: [(&str, u32); 4] = [("b", 1), ("h", 2), ("w", 4), ("dw", 8)];

/// What a block did to its program, for choosing inputs.
#[derive(Default)]
struct Shape {
    /// Packet lengths proven by bounds checks.
    lengths: Vec<u32>,
    /// Mutations applied (the program may still be safe).
    mutations: Vec<&'static str>,
    /// Block kinds.
    blocks: Vec<&'static str>,
}

/// Emits the program's text. `r6` holds the context throughout, `r2`
/// and `r3` data and data_end (reloaded after calls).
fn program(rng: &mut Rng, mutate: bool) -> (String, Shape) {
    let mut s = String::new();
    let mut shape = Shape::default();
    s.push_str("    mov %r6, %r1\n    ldxw %r2, [%r6+0]\n    ldxw %r3, [%r6+4]\n");
    s.push_str("    mov %r7, 0\n    mov %r8, 0\n    mov %r9, 0\n");
    let blocks = 2 + rng.below(4);
    // At most one mutation per program, in a random block.
    let mutant_block = mutate.then(|| rng.below(blocks));
    for b in 0..blocks {
        let m = mutant_block == Some(b);
        let kind = rng.below(6);
        match kind {
            0 => fixed_packet(&mut s, rng, b, m, &mut shape),
            1 => variable_packet(&mut s, rng, b, m, &mut shape),
            2 => map_lookup(&mut s, rng, b, m, &mut shape),
            3 => stack(&mut s, rng, m, &mut shape),
            4 => context(&mut s, rng, m, &mut shape),
            _ => alu(&mut s, rng, m, &mut shape),
        }
    }
    let action = rng.pick(&[1u32, 2, 3]);
    let _ = write!(s, "    mov %r0, {action}\n    exit\n");
    (s, shape)
}

fn fixed_packet(s: &mut String, rng: &mut Rng, b: u64, m: bool, shape: &mut Shape) {
    shape.blocks.push("fixed_packet");
    let (suffix, size) = *rng.pick(&SIZES);
    let k = size + rng.below(60) as u32;
    let mut off = rng.below(u64::from(k - size + 1)) as u32;
    let mut check = format!("    jgt %r4, %r3, skip{b}\n");
    let mut add = k;
    if m {
        match rng.below(4) {
            0 => {
                shape.mutations.push("bounds check removed");
                check = String::new();
            }
            1 => {
                shape.mutations.push("access one byte past the check");
                off = k - size + 1;
            }
            2 => {
                shape.mutations.push("checked length one short");
                add = k - 1;
            }
            _ => {
                shape.mutations.push("jge instead of jgt (safe)");
                check = format!("    jge %r4, %r3, skip{b}\n");
            }
        }
    }
    shape.lengths.push(k);
    let _ = write!(
        s,
        "    mov %r4, %r2\n    add %r4, {add}\n{check}    ldx{suffix} %r5, [%r2+{off}]\n"
    );
    if rng.chance(50) {
        let _ = writeln!(s, "    stx{suffix} [%r2+{off}], %r5");
    }
    let _ = writeln!(s, "skip{b}:");
}

fn variable_packet(s: &mut String, rng: &mut Rng, b: u64, m: bool, shape: &mut Shape) {
    shape.blocks.push("variable_packet");
    let mask = *rng.pick(&[1u32, 3, 7, 15, 31, 63]);
    let (suffix, size) = *rng.pick(&SIZES);
    let span = size + rng.below(16) as u32;
    let mut off = rng.below(u64::from(span - size + 1)) as u32;
    let mut and = format!("    and %r5, {mask}\n");
    let mut second = format!("    jgt %r7, %r3, skip{b}\n");
    if m {
        match rng.below(3) {
            0 => {
                shape.mutations.push("mask removed (unbounded offset)");
                and = String::new();
            }
            1 => {
                shape.mutations.push("second bounds check removed");
                second = String::new();
            }
            _ => {
                shape.mutations.push("access past the variable check");
                off = span - size + 1;
            }
        }
    }
    shape.lengths.push(1);
    shape.lengths.push(mask + span);
    let _ = write!(
        s,
        "    mov %r4, %r2\n    add %r4, 1\n    jgt %r4, %r3, skip{b}\n    ldxb %r5, [%r2+0]\n{and}\
         \x20   mov %r4, %r2\n    add %r4, %r5\n    mov %r7, %r4\n    add %r7, {span}\n{second}\
         \x20   ldx{suffix} %r8, [%r4+{off}]\n    mov %r7, 0\nskip{b}:\n    mov %r7, 0\n"
    );
}

fn map_lookup(s: &mut String, rng: &mut Rng, b: u64, m: bool, shape: &mut Shape) {
    shape.blocks.push("map_lookup");
    let (suffix, size) = *rng.pick(&SIZES);
    let mut off = rng.below(u64::from(VALUE_SIZE - size + 1)) as u32;
    // Keys 0..3 exist once the map is filled; 4.. never.
    let key = rng.below(6);
    let mut null_check = format!("    jeq %r0, 0, skip{b}\n");
    let mut key_at = -4i32;
    if m {
        match rng.below(3) {
            0 => {
                shape.mutations.push("null check removed");
                null_check = String::new();
            }
            1 => {
                shape.mutations.push("value access past value_size");
                off = VALUE_SIZE - size + 1;
            }
            _ => {
                shape.mutations.push("key crosses the frame's end");
                key_at = -2;
            }
        }
    }
    let _ = write!(
        s,
        "    mov %r1, {key}\n    stxw [%r10{key_at}], %r1\n    lddw %r1, map_idx 0\n    mov %r2, %r10\n\
         \x20   add %r2, {key_at}\n    call 1\n{null_check}    ldx{suffix} %r5, [%r0+{off}]\n\
         \x20   add %r5, 1\n    stx{suffix} [%r0+{off}], %r5\nskip{b}:\n    ldxw %r2, [%r6+0]\n    ldxw %r3, [%r6+4]\n"
    );
}

fn stack(s: &mut String, rng: &mut Rng, m: bool, shape: &mut Shape) {
    shape.blocks.push("stack");
    let (suffix, size) = *rng.pick(&SIZES);
    let slots = 512 / size;
    let mut at = -((1 + rng.below(u64::from(slots))) as i64 * i64::from(size));
    if m {
        if rng.chance(50) {
            shape.mutations.push("stack access below the frame");
            at = -512 - i64::from(size);
        } else {
            shape.mutations.push("stack access at r10");
            at = 0;
        }
    }
    let _ = write!(
        s,
        "    mov %r5, 7\n    stx{suffix} [%r10{at:+}], %r5\n    ldx{suffix} %r9, [%r10{at:+}]\n"
    );
}

fn context(s: &mut String, rng: &mut Rng, m: bool, shape: &mut Shape) {
    shape.blocks.push("context");
    // data, data_end, data_meta, ingress_ifindex, rx_queue_index
    let mut field = *rng.pick(&[0u32, 4, 8, 12, 16]);
    let mut op = format!("    ldxw %r5, [%r6+{field}]\n");
    if m {
        match rng.below(3) {
            0 => {
                shape.mutations.push("context read past xdp_md");
                field = 24 + 4 * rng.below(4) as u32;
                op = format!("    ldxw %r5, [%r6+{field}]\n");
            }
            1 => {
                shape.mutations.push("misaligned context read");
                op = format!("    ldxw %r5, [%r6+{}]\n", field + 2);
            }
            _ => {
                shape.mutations.push("context write");
                op = format!("    mov %r5, 1\n    stxw [%r6+{field}], %r5\n");
            }
        }
    }
    s.push_str(&op);
    // Pointers read from the context are overwritten before the next
    // block compares them as scalars.
    s.push_str("    mov %r5, 0\n");
}

fn alu(s: &mut String, rng: &mut Rng, m: bool, shape: &mut Shape) {
    shape.blocks.push("alu");
    let ops = [
        "add", "sub", "mul", "div", "mod", "or", "and", "xor", "lsh", "rsh", "arsh",
    ];
    let _ = writeln!(s, "    mov %r5, {}", rng.below(1 << 20));
    for _ in 0..1 + rng.below(6) {
        let op = rng.pick(&ops);
        let w = if rng.chance(30) { "32" } else { "" };
        // Constant shifts must stay below the operand width (the kernel
        // refuses others as malformed).
        let imm = match (op.ends_with("sh"), w) {
            (true, "32") => rng.below(32),
            (true, _) => rng.below(64),
            // The kernel refuses division by an immediate zero.
            _ if matches!(*op, "div" | "mod") => 1 + rng.below(1 << 16),
            _ => rng.below(1 << 16),
        };
        let _ = writeln!(s, "    {op}{w} %r5, {imm}");
    }
    if m {
        shape
            .mutations
            .push("pointer arithmetic with a scalar product");
        s.push_str("    mov %r4, %r2\n    mul %r4, 3\n    ldxb %r5, [%r4+0]\n");
    }
}

/// Runs a program without verification on the boundary inputs; true if
/// some run traps (or the loader refuses it, e.g. a bad context access).
fn faults(insns: &[Insn], spec: &MapSpec, shape: &Shape) -> bool {
    let relocs = insns
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i, Insn::Lddw { .. }))
        .map(|(insn, _)| MapReloc::Map { insn, map: 0 })
        .collect();
    let image = ObjectImage {
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
    };
    let Ok(obj) = Loader::new().ncpus(1).load_image(image) else {
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
        // Link it: every `lddw map_idx 0` refers to the map.
        let relocs = insns
            .iter()
            .enumerate()
            .filter(|(_, i)| matches!(i, Insn::Lddw { .. }))
            .map(|(insn, _)| MapReloc::Map { insn, map: 0 })
            .collect();
        let image = ObjectImage {
            programs: vec![ProgramImage {
                name: "p".into(),
                section: "xdp".into(),
                insns: insns.clone(),
                relocs,
                functions: vec![],
            }],
            maps: vec![MapImage {
                spec: map_spec.clone(),
                init: None,
                readonly: false,
            }],
        };
        let obj = Loader::new()
            .ncpus(1)
            .load_image(image)
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
