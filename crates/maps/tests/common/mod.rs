//! Helpers shared by the map tests.
#![allow(dead_code)]

use oxbpf_maps::{MapHandle, MapKind, MapOptions, MapSpec, create};

/// An array-style key: a host-endian u32.
pub fn k(i: u32) -> [u8; 4] {
    i.to_ne_bytes()
}

/// A u64 value's bytes.
pub fn v(x: u64) -> [u8; 8] {
    x.to_ne_bytes()
}

/// Decodes a u64 from the first 8 bytes.
pub fn u64_of(b: &[u8]) -> u64 {
    u64::from_ne_bytes(b[..8].try_into().unwrap())
}

/// Creates a map or panics with the error.
pub fn make(kind: MapKind, key_size: u32, value_size: u32, max_entries: u32) -> MapHandle {
    create(
        &MapSpec::new(kind, key_size, value_size, max_entries),
        &MapOptions::with_ncpus(4),
    )
    .unwrap_or_else(|e| panic!("creating a {kind} map: {e}"))
}

/// Creates a map with flags.
pub fn make_flags(
    kind: MapKind,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    flags: u32,
) -> MapHandle {
    create(
        &MapSpec::new(kind, key_size, value_size, max_entries).with_flags(flags),
        &MapOptions::with_ncpus(4),
    )
    .unwrap_or_else(|e| panic!("creating a {kind} map: {e}"))
}

/// A small deterministic generator (xorshift64*), seeded in each test.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
