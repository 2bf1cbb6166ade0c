//! The random XDP program generator of the soundness fuzzing: programs built from
//! blocks that touch the packet, the stack, the context and one hash map
//! (`lddw map_idx 0`, 4-byte keys, 16-byte values), plus mutants.

use std::fmt::Write as _;

/// xorshift64*: small, deterministic, good enough for program shapes.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

pub const VALUE_SIZE: u32 = 16;
const SIZES: [(&str, u32); 4] = [("b", 1), ("h", 2), ("w", 4), ("dw", 8)];

/// What a block did to its program, for choosing inputs.
#[derive(Default)]
pub struct Shape {
    /// Packet lengths proven by bounds checks.
    pub lengths: Vec<u32>,
    /// Mutations applied (the program may still be safe).
    pub mutations: Vec<&'static str>,
    /// Block kinds.
    pub blocks: Vec<&'static str>,
}

/// Emits the program's text. `r6` holds the context throughout, `r2`
/// and `r3` data and data_end (reloaded after calls).
pub fn program(rng: &mut Rng, mutate: bool) -> (String, Shape) {
    let mut s = String::new();
    let mut shape = Shape::default();
    s.push_str("    mov %r6, %r1\n    ldxw %r2, [%r6+0]\n    ldxw %r3, [%r6+4]\n");
    s.push_str("    mov %r5, 0\n    mov %r7, 0\n    mov %r8, 0\n    mov %r9, 0\n");
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
