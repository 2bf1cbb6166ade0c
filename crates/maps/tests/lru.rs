//! lru_hash and lru_percpu_hash: a full map evicts its least recently used
//! entry (exact LRU up to 256 entries), lookups count as uses, and the map
//! never holds more than max_entries.

mod common;

use common::{k, make, make_flags, u64_of, v};
use oxbpf_maps::{
    MapError, MapKind, MapOptions, MapSpec, RunGuard, create,
    flags::{BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC},
    update::*,
};

fn user(ncpus: u32, x: u64) -> Vec<u8> {
    (0..ncpus).flat_map(|_| x.to_ne_bytes()).collect()
}

#[test]
fn full_lru_evicts_the_oldest_insert() {
    for kind in [MapKind::LruHash, MapKind::LruPercpuHash] {
        let m = make(kind, 4, 8, 4);
        for i in 0..4 {
            m.update(&k(i), &user(m.ncpus(), i.into()), BPF_NOEXIST)
                .unwrap();
        }
        // A fifth key fits by evicting key 0, the oldest.
        m.update(&k(10), &user(m.ncpus(), 10), BPF_ANY).unwrap();
        assert_eq!(m.stats().entries, 4, "{kind}");
        assert_eq!(m.lookup(&k(0)), Err(MapError::NotFound), "{kind}");
        for i in [1, 2, 3, 10] {
            assert!(m.lookup(&k(i)).is_ok(), "{kind} key {i}");
        }
        // Programs' inserts evict too.
        m.prog_update(&k(11), &v(11), BPF_NOEXIST, 0).unwrap();
        assert_eq!(m.stats().entries, 4);
        assert_eq!(m.lookup(&k(1)), Err(MapError::NotFound), "{kind}");
    }
}

#[test]
fn lookups_mark_entries_used() {
    let m = make(MapKind::LruHash, 4, 8, 3);
    for i in 0..3 {
        m.update(&k(i), &v(i.into()), BPF_ANY).unwrap();
    }
    // Key 0 is the oldest insert, but a program looks it up, and then the
    // control plane looks key 1 up: key 2 is now the least recently used.
    let g = RunGuard::pin();
    assert!(m.lookup_ptr(&k(0), 0, &g).is_some());
    drop(g);
    assert_eq!(u64_of(&m.lookup(&k(1)).unwrap()), 1);
    m.update(&k(7), &v(7), BPF_ANY).unwrap();
    assert_eq!(m.lookup(&k(2)), Err(MapError::NotFound));
    assert!(m.lookup(&k(0)).is_ok());
    assert!(m.lookup(&k(1)).is_ok());
    // Uses now, oldest first: 7 (insert), 0 and 1 (the lookups above). An
    // update of an existing key is a use as well, and evicts nothing.
    m.update(&k(7), &v(70), BPF_EXIST).unwrap();
    assert_eq!(m.stats().entries, 3);
    m.update(&k(0), &v(100), BPF_EXIST).unwrap();
    // Oldest now: 1.
    m.update(&k(8), &v(8), BPF_ANY).unwrap();
    assert_eq!(m.lookup(&k(1)), Err(MapError::NotFound));
    assert_eq!(u64_of(&m.lookup(&k(7)).unwrap()), 70);
    assert_eq!(u64_of(&m.lookup(&k(0)).unwrap()), 100);
}

#[test]
fn flags_keep_their_meaning_on_a_full_lru() {
    let m = make(MapKind::LruHash, 4, 8, 2);
    m.update(&k(1), &v(1), BPF_ANY).unwrap();
    m.update(&k(2), &v(2), BPF_ANY).unwrap();
    // BPF_EXIST on a missing key does not evict: ENOENT.
    assert_eq!(m.update(&k(3), &v(3), BPF_EXIST), Err(MapError::NotFound));
    assert_eq!(m.stats().entries, 2);
    assert!(m.lookup(&k(1)).is_ok());
    // BPF_NOEXIST on an existing key: EEXIST.
    assert_eq!(m.update(&k(2), &v(3), BPF_NOEXIST), Err(MapError::Exists));
}

#[test]
fn creation_flags_as_the_kernel_checks_them() {
    // BPF_F_NO_COMMON_LRU is accepted by LRU maps only.
    let m = make_flags(MapKind::LruHash, 4, 8, 8, BPF_F_NO_COMMON_LRU);
    m.update(&k(1), &v(1), BPF_ANY).unwrap();
    make_flags(MapKind::LruPercpuHash, 4, 8, 8, BPF_F_NO_COMMON_LRU);
    let opts = MapOptions::with_ncpus(2);
    let spec = MapSpec::new(MapKind::Hash, 4, 8, 8).with_flags(BPF_F_NO_COMMON_LRU);
    assert!(matches!(
        create(&spec, &opts),
        Err(MapError::InvalidSpec { .. })
    ));
    // LRU maps are preallocated only.
    let spec = MapSpec::new(MapKind::LruHash, 4, 8, 8).with_flags(BPF_F_NO_PREALLOC);
    assert!(matches!(
        create(&spec, &opts),
        Err(MapError::InvalidSpec { .. })
    ));
}

#[test]
fn percpu_lru_keeps_per_cpu_values_of_survivors() {
    let m = make(MapKind::LruPercpuHash, 4, 8, 2);
    m.prog_update(&k(1), &v(11), BPF_ANY, 1).unwrap();
    m.prog_update(&k(2), &v(22), BPF_ANY, 3).unwrap();
    m.prog_update(&k(3), &v(33), BPF_ANY, 0).unwrap();
    assert_eq!(m.lookup(&k(1)), Err(MapError::NotFound));
    let val = m.lookup(&k(2)).unwrap();
    let per: Vec<u64> = val.chunks(8).map(u64_of).collect();
    assert_eq!(per, [0, 0, 0, 22]);
}

#[test]
fn large_lru_never_exceeds_max_entries_and_keeps_recent_keys() {
    // 4096 entries: eviction samples (approximate LRU); the most recent
    // inserts must survive, as the oldest sampled element always goes.
    let m = make(MapKind::LruHash, 4, 8, 4096);
    for i in 0..20_000u32 {
        m.update(&k(i), &v(i.into()), BPF_ANY).unwrap();
        assert!(m.stats().entries <= 4096);
    }
    assert_eq!(m.stats().entries, 4096);
    // The last 200 inserts are younger than at least 3800 other entries:
    // a sample of >= 256 always holds an older one.
    for i in 19_800..20_000 {
        assert_eq!(u64_of(&m.lookup(&k(i)).unwrap()), u64::from(i), "key {i}");
    }
}

#[test]
fn large_lru_keeps_entries_in_use_however_old_their_insert() {
    // 4096 entries; keys 0..100 are inserted first (the oldest inserts)
    // and then used between every 100 new inserts, so they stay among the
    // most recently used ~200. Evictions sweep buckets by a stamp that
    // uses do not update: a stale stamp must be refreshed, not trusted.
    let m = make(MapKind::LruHash, 4, 8, 4096);
    for i in 0..4096u32 {
        m.update(&k(i), &v(i.into()), BPF_ANY).unwrap();
    }
    let mut next = 4096u32;
    // 100,000 inserts: long enough for a sweep whose evictions do not
    // follow where the elements are to drain some stretches of buckets
    // and evict what is left there, in use or not.
    for _ in 0..1000 {
        for h in 0..100u32 {
            assert_eq!(
                u64_of(&m.lookup(&k(h)).unwrap()),
                u64::from(h),
                "hot key {h}"
            );
        }
        for _ in 0..100 {
            m.update(&k(next), &v(next.into()), BPF_ANY).unwrap();
            next += 1;
        }
    }
    assert_eq!(m.stats().entries, 4096);
    // 100,000 inserts went through a 4,096-entry table: the cold keys of
    // the first fill are long gone.
    let cold_left = (100..4096u32).filter(|&i| m.lookup(&k(i)).is_ok()).count();
    assert!(
        cold_left < 100,
        "{cold_left} cold keys of the first fill left"
    );
}

/// A large LRU map evicts from a queue of its entries in insertion order;
/// entries deleted or replaced leave stale queue entries behind, which
/// must neither be evicted again (taking a live entry with them) nor let
/// the queue grow without bound.
#[test]
fn large_lru_survives_deletes_and_replacements() {
    for kind in [MapKind::LruHash, MapKind::LruPercpuHash] {
        let m = make(kind, 4, 8, 1024);
        let val = |x: u32| user(m.ncpus(), x.into());
        // 50,000 insert/delete pairs and 50,000 replacements of one key:
        // 100,000 stale queue entries, 100 times the map's size.
        for i in 0..50_000u32 {
            m.update(&k(1_000_000 + i), &val(i), BPF_NOEXIST).unwrap();
            m.delete(&k(1_000_000 + i)).unwrap();
            m.update(&k(7), &val(i), BPF_ANY).unwrap();
        }
        assert_eq!(m.stats().entries, 1, "{kind}");
        assert_eq!(u64_of(&m.lookup(&k(7)).unwrap()[..8]), 49_999, "{kind}");
        // Fill, then overflow by half: the oldest inserts go, in order,
        // and the count never passes max_entries.
        for i in 0..1536u32 {
            m.update(&k(i + 10), &val(i), BPF_ANY).unwrap();
            assert!(m.stats().entries <= 1024, "{kind}");
        }
        assert_eq!(m.stats().entries, 1024, "{kind}");
        // The 513 evictions took the first 512 fill keys and key 7, older
        // than every fill key. In lru_hash each update of key 7 linked a
        // new element (queued anew), so it goes first; lru_percpu_hash
        // updates in place, which counts as a use since it was queued: it
        // gets a second chance and fill key 512 goes instead (CLOCK).
        let seven = m.lookup(&k(7)).is_ok();
        assert_eq!(seven, kind == MapKind::LruPercpuHash, "{kind}");
        let left = (0..1536u32)
            .filter(|&i| m.lookup(&k(i + 10)).is_ok())
            .count();
        assert_eq!(left, 1024 - usize::from(seven), "{kind}");
        for i in 513..1536u32 {
            assert!(m.lookup(&k(i + 10)).is_ok(), "{kind} fill key {i}");
        }
    }
}

/// A large LRU map's preallocated elements live in one array; when a run
/// holds its pin through many evictions the pool runs dry and elements
/// are allocated one by one. Dropping the map then frees each kind its
/// own way (the allocator aborts the test on a wrong free).
#[test]
fn large_lru_drops_cleanly_after_outgrowing_its_preallocation() {
    for kind in [MapKind::LruHash, MapKind::LruPercpuHash] {
        let m = make(kind, 4, 8, 20_000);
        let pinned = RunGuard::pin();
        for i in 0..60_000u32 {
            m.prog_update(&k(i), &v(i.into()), BPF_ANY, 0).unwrap();
        }
        assert_eq!(m.stats().entries, 20_000, "{kind}");
        for i in 40_000..60_000u32 {
            assert!(m.lookup(&k(i)).is_ok(), "{kind} key {i}");
        }
        drop(m);
        drop(pinned);
        for _ in 0..8 {
            RunGuard::pin().flush();
        }
    }
}
