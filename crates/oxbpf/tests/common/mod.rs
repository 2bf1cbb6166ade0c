//! Shared test support: compiling the examples with clang, packet builders.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use oxbpf::{EngineKind, Loader, Object};

/// Both engines, for tests that run every example on each.
pub const ENGINES: [EngineKind; 3] = [EngineKind::Interp, EngineKind::InterpFast, EngineKind::Jit];

static BUILD: Mutex<()> = Mutex::new(());

/// Compiles `bpf/examples/NAME.c` with the project's flags into the test
/// target directory (once per run) and returns the object's path. Panics if
/// clang fails: a missing compiler is a failure, not a skip.
pub fn example(name: &str) -> PathBuf {
    let _lock = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    oxbpf_testkit::bpf::example(name, Path::new(env!("CARGO_TARGET_TMPDIR")))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Loads an example with `ncpus` CPUs for per-CPU maps.
pub fn load(name: &str, ncpus: u32) -> Object {
    Loader::new()
        .ncpus(ncpus)
        .load_file(example(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Serialises an etherparse packet builder's output.
pub fn ipv4_udp(payload: &[u8], sport: u16, dport: u16) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(sport, dport);
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

pub fn ipv4_tcp(payload: &[u8], sport: u16, dport: u16) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(sport, dport, 1000, 4096);
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}
