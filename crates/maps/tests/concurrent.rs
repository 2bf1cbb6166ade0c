//! Several threads at once: atomic adds through value pointers lose
//! nothing, and concurrent inserts, deletes and reinserts leave the state a
//! sequential model predicts.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use common::{Rng, k, make, u64_of, v};
use oxbpf_maps::{MapError, MapHandle, MapKind, RunGuard, update::*};

const THREADS: usize = 4;
const ADDS: u64 = 100_000;

/// `THREADS` threads each do `ADDS` `fetch_add(1)` through `lookup_ptr`
/// on `key`, re-pinning every 64 adds as a run per batch would. Returns the
/// final value.
fn hammer(m: &MapHandle, key: &[u8]) -> u64 {
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let m = Arc::clone(m);
            let key = key.to_vec();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let mut done = 0;
                while done < ADDS {
                    let g = RunGuard::pin();
                    for _ in 0..64.min(ADDS - done) {
                        let p = m.lookup_ptr(&key, 0, &g).expect("value present");
                        // SAFETY: an 8-byte aligned, 8-byte value that stays
                        // valid while `g` lives; every access to it here is
                        // atomic.
                        let a = unsafe { AtomicU64::from_ptr(p.as_ptr().cast()) };
                        a.fetch_add(1, Ordering::Relaxed);
                        done += 1;
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    u64_of(&m.lookup(key).unwrap())
}

#[test]
fn atomic_adds_on_an_array_value_lose_nothing() {
    let m = make(MapKind::Array, 4, 8, 4);
    assert_eq!(hammer(&m, &k(2)), THREADS as u64 * ADDS);
    // Neighbours untouched.
    assert_eq!(u64_of(&m.lookup(&k(1)).unwrap()), 0);
    assert_eq!(u64_of(&m.lookup(&k(3)).unwrap()), 0);
}

#[test]
fn atomic_adds_on_a_hash_value_lose_nothing() {
    let m = make(MapKind::Hash, 8, 8, 64);
    m.update(&42u64.to_ne_bytes(), &v(0), BPF_NOEXIST).unwrap();
    assert_eq!(hammer(&m, &42u64.to_ne_bytes()), THREADS as u64 * ADDS);
}

#[test]
fn atomic_adds_on_a_hash_value_while_other_keys_churn() {
    // Inserts and deletes of other keys in the same (few) buckets must not
    // disturb the element being added to.
    let m = make(MapKind::Hash, 4, 8, 8);
    m.update(&k(0), &v(0), BPF_NOEXIST).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let m = Arc::clone(&m);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut rng = Rng(0x5eed_0001);
            let mut ops = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = k(1 + rng.below(20) as u32);
                let _ = if rng.below(2) == 0 {
                    m.update(&key, &v(ops), BPF_ANY)
                } else {
                    m.delete(&key)
                };
                ops += 1;
            }
            ops
        })
    };
    let total = hammer(&m, &k(0));
    stop.store(true, Ordering::Relaxed);
    let churned = churn.join().unwrap();
    assert_eq!(total, THREADS as u64 * ADDS);
    assert!(churned > 0);
    assert!(m.stats().entries <= 8);
}

/// A value that says which key and which write it came from, in every
/// word, so a torn or misplaced value is visible.
fn tagged(key: u32, stamp: u64) -> Vec<u8> {
    let tag = (u64::from(key) << 40) | stamp;
    [tag, !tag, tag.rotate_left(7)]
        .iter()
        .flat_map(|w| w.to_ne_bytes())
        .collect()
}

fn check_tagged(key: u32, value: &[u8]) -> u64 {
    let w: Vec<u64> = value.chunks_exact(8).map(u64_of).collect();
    assert_eq!(w[1], !w[0], "key {key}: torn value {w:x?}");
    assert_eq!(w[2], w[0].rotate_left(7), "key {key}: torn value {w:x?}");
    assert_eq!(w[0] >> 40, u64::from(key), "key {key}: another key's value");
    w[0] & ((1 << 40) - 1)
}

#[test]
fn delete_and_reinsert_under_contention_matches_a_model() {
    // 4 writers share 64 keys (16 each, interleaved) in a 48-entry map with
    // 64 buckets, so they contend on buckets and on the entry count; each
    // keeps a model of its own keys and checks every result against it.
    // A reader checks that every value it sees belongs to its key.
    const KEYS: u32 = 64;
    const OPS: usize = 30_000;
    let m = make(MapKind::Hash, 4, 24, KEYS);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let m = Arc::clone(&m);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut seen = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for key in 0..KEYS {
                    let g = RunGuard::pin();
                    if let Some(p) = m.lookup_ptr(&k(key), 0, &g) {
                        // SAFETY: 24 readable bytes while `g` lives.
                        let bytes = unsafe { std::slice::from_raw_parts(p.as_ptr(), 24) };
                        check_tagged(key, bytes);
                        seen += 1;
                    }
                }
            }
            seen
        })
    };
    let writers: Vec<_> = (0..THREADS as u32)
        .map(|t| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                let mut rng = Rng(0x0c0f_fee0 + u64::from(t));
                let mut model: HashMap<u32, u64> = HashMap::new();
                for op in 0..OPS as u64 {
                    let key = (rng.below(u64::from(KEYS) / 4) as u32) * 4 + t;
                    match rng.below(5) {
                        0 | 1 => {
                            let flags = [BPF_ANY, BPF_NOEXIST, BPF_EXIST][rng.below(3) as usize];
                            let r = m.update(&k(key), &tagged(key, op), flags);
                            let exists = model.contains_key(&key);
                            match (flags, exists) {
                                (BPF_NOEXIST, true) => assert_eq!(r, Err(MapError::Exists)),
                                (BPF_EXIST, false) => assert_eq!(r, Err(MapError::NotFound)),
                                (_, true) => {
                                    assert_eq!(r, Ok(()));
                                    model.insert(key, op);
                                }
                                (_, false) => match r {
                                    Ok(()) => {
                                        model.insert(key, op);
                                    }
                                    // Others may hold the remaining room.
                                    Err(MapError::Full { .. }) => {}
                                    Err(e) => panic!("insert of {key}: {e}"),
                                },
                            }
                        }
                        2 => {
                            let r = m.delete(&k(key));
                            match model.remove(&key) {
                                Some(_) => assert_eq!(r, Ok(())),
                                None => assert_eq!(r, Err(MapError::NotFound)),
                            }
                        }
                        _ => match (m.lookup(&k(key)), model.get(&key)) {
                            (Ok(value), Some(&stamp)) => {
                                assert_eq!(check_tagged(key, &value), stamp)
                            }
                            (Err(MapError::NotFound), None) => {}
                            (got, want) => panic!("key {key}: map {got:?}, model {want:?}"),
                        },
                    }
                }
                model
            })
        })
        .collect();
    let mut model = HashMap::new();
    for w in writers {
        model.extend(w.join().unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);

    let mut entries: Vec<(u32, u64)> = m
        .entries()
        .unwrap()
        .iter()
        .map(|(key, value)| {
            let key = u32::from_ne_bytes(key[..].try_into().unwrap());
            (key, check_tagged(key, value))
        })
        .collect();
    entries.sort_unstable();
    let mut expected: Vec<(u32, u64)> = model.into_iter().collect();
    expected.sort_unstable();
    assert_eq!(entries, expected);
    assert_eq!(m.stats().entries, expected.len());
}

#[test]
fn racing_inserts_never_exceed_max_entries() {
    // Every thread tries to insert 32 keys of its own into a 40-entry map:
    // exactly 40 inserts succeed in total, the rest fail with E2BIG.
    const MAX: u32 = 40;
    for round in 0..20 {
        let m = make(MapKind::Hash, 4, 8, MAX);
        let ok = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS as u32)
            .map(|t| {
                let (m, ok, barrier) = (Arc::clone(&m), Arc::clone(&ok), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    for i in 0..32 {
                        match m.prog_update(&k(t * 1000 + i), &v(1), BPF_NOEXIST, 0) {
                            Ok(()) => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => assert_eq!(e, MapError::Full { max_entries: MAX }),
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(ok.load(Ordering::Relaxed), MAX as usize, "round {round}");
        assert_eq!(m.keys().unwrap().len(), MAX as usize, "round {round}");
        assert_eq!(m.stats().entries, MAX as usize);
    }
}

#[test]
fn shared_keys_under_contention_stay_consistent() {
    // All threads update and delete the same 8 keys. The final state is
    // whatever won, but every value present must be whole and belong to its
    // key, and the count must match the keys present.
    let m = make(MapKind::Hash, 4, 24, 8);
    let handles: Vec<_> = (0..THREADS as u64)
        .map(|t| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                let mut rng = Rng(0xabcd_0000 + t);
                for op in 0..40_000u64 {
                    let key = rng.below(8) as u32;
                    let _ = match rng.below(3) {
                        0 => m.delete(&k(key)),
                        _ => m.update(&k(key), &tagged(key, op), BPF_ANY),
                    };
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let entries = m.entries().unwrap();
    for (key, value) in &entries {
        check_tagged(u32::from_ne_bytes(key[..].try_into().unwrap()), value);
    }
    assert_eq!(m.stats().entries, entries.len());
    let s = m.stats();
    assert!(s.retired >= s.reclaimed);
}
