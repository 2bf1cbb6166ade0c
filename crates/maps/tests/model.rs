//! Property test: random operation sequences on each map type against a
//! model built on `std::collections::BTreeMap` that applies the kernel's
//! rules (written here from `kernel/bpf/arraymap.c` and `hashtab.c`, not
//! from oxbpf's code).

mod common;

use std::collections::BTreeMap;

use oxbpf_maps::{MapHandle, MapKind, MapOptions, MapSpec, RunGuard, create, errno::*};
use proptest::prelude::*;

const MAX: u32 = 6;
const NCPUS: u32 = 3;
const VALUE_SIZE: usize = 12;
const SLOT: usize = 16; // VALUE_SIZE rounded up to 8

#[derive(Clone, Debug)]
enum Op {
    Update {
        key: u8,
        val: u64,
        flags: u64,
    },
    ProgUpdate {
        key: u8,
        val: u64,
        flags: u64,
        cpu: u32,
    },
    Delete {
        key: u8,
        prog: bool,
    },
    Lookup {
        key: u8,
    },
    WritePtr {
        key: u8,
        cpu: u32,
        val: u64,
    },
    NextKey {
        key: Option<u8>,
    },
    Iterate,
    Clear,
}

fn flags() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0u64..3,
        1 => Just(4u64),
        1 => Just(5u64),
        1 => Just(3u64),
        1 => any::<u64>(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    // Keys 0..10 on a map of 6: arrays see out-of-range indices, hashes fill.
    let key = 0u8..10;
    prop_oneof![
        4 => (key.clone(), any::<u64>(), flags()).prop_map(|(key, val, flags)| Op::Update { key, val, flags }),
        3 => (key.clone(), any::<u64>(), flags(), 0..NCPUS + 1)
            .prop_map(|(key, val, flags, cpu)| Op::ProgUpdate { key, val, flags, cpu }),
        3 => (key.clone(), any::<bool>()).prop_map(|(key, prog)| Op::Delete { key, prog }),
        2 => key.clone().prop_map(|key| Op::Lookup { key }),
        2 => (key.clone(), 0..NCPUS + 1, any::<u64>()).prop_map(|(key, cpu, val)| Op::WritePtr { key, cpu, val }),
        1 => proptest::option::of(key).prop_map(|key| Op::NextKey { key }),
        1 => Just(Op::Iterate),
        1 => Just(Op::Clear),
    ]
}

/// A value of VALUE_SIZE bytes derived from `val`.
fn value(val: u64) -> Vec<u8> {
    let mut v = val.to_ne_bytes().to_vec();
    v.extend_from_slice(&((val as u32) ^ 0xabcd_0123).to_ne_bytes());
    v
}

struct Model {
    kind: MapKind,
    /// key → one value per slot (VALUE_SIZE bytes each).
    entries: BTreeMap<Vec<u8>, Vec<Vec<u8>>>,
}

impl Model {
    fn new(kind: MapKind) -> Model {
        let mut entries = BTreeMap::new();
        if Self::is_array(kind) {
            for i in 0..MAX {
                entries.insert(
                    i.to_ne_bytes().to_vec(),
                    vec![vec![0; VALUE_SIZE]; Self::slots(kind)],
                );
            }
        }
        Model { kind, entries }
    }

    fn is_array(kind: MapKind) -> bool {
        matches!(kind, MapKind::Array | MapKind::PercpuArray)
    }

    fn slots(kind: MapKind) -> usize {
        if kind.is_percpu() { NCPUS as usize } else { 1 }
    }

    fn key(&self, k: u8) -> Vec<u8> {
        if Self::is_array(self.kind) {
            u32::from(k).to_ne_bytes().to_vec()
        } else {
            // A 5-byte key: not a whole number of words.
            vec![k, k ^ 0x5a, 0, 0xff, k]
        }
    }

    /// The control-plane value for `val`: one value, or per CPU `val + cpu`
    /// zero-padded to SLOT bytes.
    fn user_value(&self, val: u64) -> Vec<u8> {
        if self.kind.is_percpu() {
            (0..u64::from(NCPUS))
                .flat_map(|c| {
                    let mut v = value(val.wrapping_add(c));
                    v.resize(SLOT, 0);
                    v
                })
                .collect()
        } else {
            value(val)
        }
    }

    fn user_of(&self, slots: &[Vec<u8>]) -> Vec<u8> {
        if self.kind.is_percpu() {
            slots
                .iter()
                .flat_map(|s| {
                    let mut v = s.clone();
                    v.resize(SLOT, 0);
                    v
                })
                .collect()
        } else {
            slots[0].clone()
        }
    }

    /// The kernel's answer to an update; `cpu` is Some for a program's.
    fn update(&mut self, key: Vec<u8>, val: u64, flags: u64, cpu: Option<u32>) -> Result<(), i32> {
        let percpu = self.kind.is_percpu();
        let array = Self::is_array(self.kind);
        if percpu && cpu.is_some_and(|cpu| cpu >= NCPUS) {
            return Err(EINVAL);
        }
        // percpu_hash (both sides) and percpu_array from the syscall reject
        // everything past BPF_EXIST; the others let BPF_F_LOCK through to
        // its own check.
        let strict = percpu && !(array && cpu.is_some());
        if (strict && flags > 2) || (!strict && flags & !4 > 2) {
            return Err(EINVAL);
        }
        let exists = self.entries.contains_key(&key);
        if array {
            if !exists {
                return Err(E2BIG);
            }
            if flags & 1 != 0 {
                return Err(EEXIST);
            }
            if flags & 4 != 0 {
                return Err(EINVAL);
            }
        } else {
            if flags & 4 != 0 {
                return Err(EINVAL);
            }
            if exists && flags == 1 {
                return Err(EEXIST);
            }
            if !exists && flags == 2 {
                return Err(ENOENT);
            }
            if !exists && self.entries.len() == MAX as usize {
                return Err(E2BIG);
            }
        }
        let slots = Self::slots(self.kind);
        let entry = self
            .entries
            .entry(key)
            .or_insert_with(|| vec![vec![0; VALUE_SIZE]; slots]);
        match cpu {
            Some(cpu) if percpu => entry[cpu as usize] = value(val),
            _ if percpu => {
                for (c, slot) in entry.iter_mut().enumerate() {
                    *slot = value(val.wrapping_add(c as u64));
                }
            }
            _ => entry[0] = value(val),
        }
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), i32> {
        if Self::is_array(self.kind) {
            return Err(EINVAL);
        }
        self.entries.remove(key).map(|_| ()).ok_or(ENOENT)
    }
}

fn run(kind: MapKind, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let key_size = if Model::is_array(kind) { 4 } else { 5 };
    let m: MapHandle = create(
        &MapSpec::new(kind, key_size, VALUE_SIZE as u32, MAX),
        &MapOptions::with_ncpus(NCPUS),
    )
    .unwrap();
    let mut model = Model::new(kind);
    let errno = |r: Result<(), oxbpf_maps::MapError>| r.map_err(|e| e.errno());
    for (i, op) in ops.into_iter().enumerate() {
        match op {
            Op::Update { key, val, flags } => {
                let key = model.key(key);
                let got = errno(m.update(&key, &model.user_value(val), flags));
                let want = model.update(key, val, flags, None);
                prop_assert_eq!(got, want, "op {}: update", i);
            }
            Op::ProgUpdate {
                key,
                val,
                flags,
                cpu,
            } => {
                let key = model.key(key);
                let got = errno(m.prog_update(&key, &value(val), flags, cpu));
                let want = model.update(key, val, flags, Some(cpu));
                prop_assert_eq!(got, want, "op {}: prog_update", i);
            }
            Op::Delete { key, prog } => {
                let key = model.key(key);
                let got = errno(if prog {
                    m.prog_delete(&key)
                } else {
                    m.delete(&key)
                });
                prop_assert_eq!(got, model.delete(&key), "op {}: delete", i);
            }
            Op::Lookup { key } => {
                let key = model.key(key);
                let got = m.lookup(&key).map_err(|e| e.errno());
                let want = model
                    .entries
                    .get(&key)
                    .map(|s| model.user_of(s))
                    .ok_or(ENOENT);
                prop_assert_eq!(got, want, "op {}: lookup", i);
            }
            Op::WritePtr { key, cpu, val } => {
                let key = model.key(key);
                let g = RunGuard::pin();
                let ptr = m.lookup_ptr(&key, cpu, &g);
                let slot = if kind.is_percpu() { cpu as usize } else { 0 };
                let cpu_ok = !kind.is_percpu() || cpu < NCPUS;
                match model.entries.get_mut(&key) {
                    Some(slots) if cpu_ok => {
                        let p = ptr.expect("lookup_ptr finds an entry the model has");
                        prop_assert_eq!(p.len(), VALUE_SIZE);
                        // SAFETY: 8-byte aligned value of 12 bytes, valid
                        // while `g` lives.
                        let old = unsafe { p.as_ptr().cast::<u64>().read() };
                        prop_assert_eq!(&old.to_ne_bytes()[..], &slots[slot][..8]);
                        // SAFETY: as above.
                        unsafe { p.as_ptr().cast::<u64>().write(val) };
                        slots[slot][..8].copy_from_slice(&val.to_ne_bytes());
                    }
                    _ => prop_assert!(ptr.is_none(), "op {}: pointer to a missing entry", i),
                }
            }
            Op::NextKey { key } => {
                let key = key.map(|k| model.key(k));
                let got = m.next_key(key.as_deref());
                match got {
                    Ok(next) => {
                        prop_assert!(
                            model.entries.contains_key(&next),
                            "op {}: next_key gave an absent key",
                            i
                        );
                        prop_assert!(
                            Some(&next) != key.as_ref(),
                            "op {}: next_key repeated its key",
                            i
                        );
                    }
                    Err(e) => {
                        prop_assert_eq!(e.errno(), ENOENT);
                        // Only past the last key, or on an empty map.
                        let known = key.as_ref().is_some_and(|k| model.entries.contains_key(k));
                        prop_assert!(known || model.entries.is_empty(), "op {}: early ENOENT", i);
                    }
                }
            }
            Op::Iterate => {
                let mut seen = Vec::new();
                let mut cur: Option<Vec<u8>> = None;
                loop {
                    match m.next_key(cur.as_deref()) {
                        Ok(next) => {
                            seen.push(next.clone());
                            cur = Some(next);
                        }
                        Err(e) => {
                            prop_assert_eq!(e.errno(), ENOENT);
                            break;
                        }
                    }
                    prop_assert!(
                        seen.len() <= model.entries.len(),
                        "op {}: iteration repeats",
                        i
                    );
                }
                seen.sort();
                let want: Vec<Vec<u8>> = model.entries.keys().cloned().collect();
                prop_assert_eq!(&seen, &want, "op {}: iteration", i);
                let mut entries = m.entries().unwrap();
                entries.sort();
                let want: Vec<(Vec<u8>, Vec<u8>)> = model
                    .entries
                    .iter()
                    .map(|(k, s)| (k.clone(), model.user_of(s)))
                    .collect();
                prop_assert_eq!(entries, want, "op {}: entries", i);
            }
            Op::Clear => {
                m.clear().unwrap();
                model = Model::new(kind);
            }
        }
        let expected_len = model.entries.len();
        prop_assert_eq!(m.stats().entries, expected_len, "op {}: entry count", i);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn hash_matches_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(MapKind::Hash, ops)?;
    }

    #[test]
    fn percpu_hash_matches_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(MapKind::PercpuHash, ops)?;
    }

    #[test]
    fn array_matches_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(MapKind::Array, ops)?;
    }

    #[test]
    fn percpu_array_matches_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(MapKind::PercpuArray, ops)?;
    }
}
