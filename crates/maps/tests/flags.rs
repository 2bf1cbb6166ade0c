//! Update flags, creation attributes, permissions and key iteration, with
//! the errors (and errnos) the kernel gives for each.

mod common;

use common::{k, make, make_flags, u64_of, v};
use oxbpf_maps::{
    MapError, MapKind, MapOptions, MapSpec, RunGuard, create,
    errno::{E2BIG, EEXIST, EINVAL, ENOENT, EOPNOTSUPP, EPERM},
    flags::*,
    update::*,
};

#[test]
fn array_update_flags_follow_array_map_update_elem() {
    let m = make(MapKind::Array, 4, 8, 4);
    assert_eq!(m.update(&k(1), &v(10), BPF_ANY), Ok(()));
    assert_eq!(m.update(&k(1), &v(11), BPF_EXIST), Ok(()));
    assert_eq!(u64_of(&m.lookup(&k(1)).unwrap()), 11);
    // Every index exists: BPF_NOEXIST always fails, with EEXIST.
    let e = m.update(&k(2), &v(1), BPF_NOEXIST).unwrap_err();
    assert_eq!(e, MapError::Exists);
    assert_eq!(e.errno(), EEXIST);
    // Unknown flags: EINVAL, checked before the index.
    for flags in [3, 8, 1 << 32, u64::MAX] {
        let e = m.update(&k(9), &v(1), flags).unwrap_err();
        assert_eq!(e.errno(), EINVAL, "flags {flags:#x}");
        assert!(matches!(e, MapError::BadFlags { .. }));
    }
    // Index past the end: E2BIG.
    let e = m.update(&k(4), &v(1), BPF_ANY).unwrap_err();
    assert_eq!(
        e,
        MapError::IndexOutOfRange {
            index: 4,
            max_entries: 4
        }
    );
    assert_eq!(e.errno(), E2BIG);
    // BPF_F_LOCK passes the unknown-flag check, then fails for lack of a
    // spin lock, after the BPF_NOEXIST check.
    assert_eq!(
        m.update(&k(1), &v(1), BPF_F_LOCK).unwrap_err().errno(),
        EINVAL
    );
    assert_eq!(
        m.update(&k(1), &v(1), BPF_F_LOCK | BPF_NOEXIST),
        Err(MapError::Exists)
    );
    // Nothing above changed index 1 or 2.
    assert_eq!(u64_of(&m.lookup(&k(1)).unwrap()), 11);
    assert_eq!(u64_of(&m.lookup(&k(2)).unwrap()), 0);
}

#[test]
fn array_lookup_out_of_range_is_enoent_and_delete_is_einval() {
    let m = make(MapKind::Array, 4, 8, 4);
    assert_eq!(m.lookup(&k(4)).unwrap_err().errno(), ENOENT);
    assert_eq!(m.lookup(&k(u32::MAX)), Err(MapError::NotFound));
    let e = m.delete(&k(0)).unwrap_err();
    assert_eq!(
        e,
        MapError::DeleteUnsupported {
            kind: MapKind::Array
        }
    );
    assert_eq!(e.errno(), EINVAL);
    assert_eq!(m.prog_delete(&k(0)).unwrap_err().errno(), EINVAL);
    let g = RunGuard::pin();
    assert!(m.lookup_ptr(&k(3), 0, &g).is_some());
    assert!(m.lookup_ptr(&k(4), 0, &g).is_none());
}

#[test]
fn array_starts_zeroed() {
    let m = make(MapKind::Array, 4, 12, 3);
    for i in 0..3 {
        assert_eq!(m.lookup(&k(i)).unwrap(), vec![0u8; 12]);
    }
}

#[test]
fn hash_update_flags_follow_check_flags() {
    let m = make(MapKind::Hash, 4, 8, 16);
    // BPF_EXIST on a missing key: ENOENT, and nothing is inserted.
    let e = m.update(&k(1), &v(1), BPF_EXIST).unwrap_err();
    assert_eq!(e, MapError::NotFound);
    assert_eq!(e.errno(), ENOENT);
    assert_eq!(m.lookup(&k(1)), Err(MapError::NotFound));
    // BPF_NOEXIST on a missing key inserts.
    assert_eq!(m.update(&k(1), &v(1), BPF_NOEXIST), Ok(()));
    // ... and on an existing one fails with EEXIST, keeping the value.
    let e = m.update(&k(1), &v(2), BPF_NOEXIST).unwrap_err();
    assert_eq!(e.errno(), EEXIST);
    assert_eq!(u64_of(&m.lookup(&k(1)).unwrap()), 1);
    // BPF_EXIST and BPF_ANY replace.
    assert_eq!(m.update(&k(1), &v(3), BPF_EXIST), Ok(()));
    assert_eq!(u64_of(&m.lookup(&k(1)).unwrap()), 3);
    assert_eq!(m.update(&k(1), &v(4), BPF_ANY), Ok(()));
    assert_eq!(u64_of(&m.lookup(&k(1)).unwrap()), 4);
    assert_eq!(m.update(&k(2), &v(5), BPF_ANY), Ok(()));
    // Unknown flags: EINVAL whether or not the key exists.
    for flags in [3, 5 | 2, 16, u64::MAX] {
        assert_eq!(m.update(&k(1), &v(9), flags).unwrap_err().errno(), EINVAL);
        assert_eq!(m.update(&k(7), &v(9), flags).unwrap_err().errno(), EINVAL);
    }
    // BPF_F_LOCK without a spin lock: EINVAL, before existence is checked.
    assert_eq!(
        m.update(&k(7), &v(9), BPF_F_LOCK | BPF_EXIST),
        Err(MapError::NoSpinLock)
    );
    assert_eq!(m.lookup(&k(7)), Err(MapError::NotFound));
    // Delete: ENOENT when missing.
    assert_eq!(m.delete(&k(1)), Ok(()));
    assert_eq!(m.delete(&k(1)).unwrap_err().errno(), ENOENT);
    assert_eq!(m.lookup(&k(1)).unwrap_err().errno(), ENOENT);
    assert_eq!(m.stats().entries, 1);
}

#[test]
fn program_updates_use_the_same_flag_rules() {
    let h = make(MapKind::Hash, 4, 8, 16);
    assert_eq!(
        h.prog_update(&k(1), &v(1), BPF_EXIST, 0),
        Err(MapError::NotFound)
    );
    assert_eq!(h.prog_update(&k(1), &v(1), BPF_NOEXIST, 0), Ok(()));
    assert_eq!(
        h.prog_update(&k(1), &v(1), BPF_NOEXIST, 0),
        Err(MapError::Exists)
    );
    assert_eq!(
        h.prog_update(&k(1), &v(1), 7, 0).unwrap_err().errno(),
        EINVAL
    );
    assert_eq!(h.prog_delete(&k(1)), Ok(()));
    assert_eq!(h.prog_delete(&k(1)), Err(MapError::NotFound));

    let a = make(MapKind::Array, 4, 8, 2);
    assert_eq!(a.prog_update(&k(1), &v(5), BPF_EXIST, 0), Ok(()));
    assert_eq!(
        a.prog_update(&k(1), &v(5), BPF_NOEXIST, 0),
        Err(MapError::Exists)
    );
    assert_eq!(
        a.prog_update(&k(2), &v(5), BPF_ANY, 0).unwrap_err().errno(),
        E2BIG
    );
}

#[test]
fn percpu_maps_reject_f_lock_as_an_unknown_flag() {
    for kind in [MapKind::PercpuArray, MapKind::PercpuHash] {
        let m = make(kind, 4, 8, 4);
        let all = vec![0u8; m.user_value_size()];
        let e = m.update(&k(0), &all, BPF_F_LOCK).unwrap_err();
        assert!(
            matches!(e, MapError::BadFlags { flags: 4, .. }),
            "{kind}: {e:?}"
        );
        assert_eq!(m.update(&k(0), &all, 3).unwrap_err().errno(), EINVAL);
        assert_eq!(
            m.prog_update(&k(0), &v(1), 3, 0).unwrap_err().errno(),
            EINVAL
        );
    }
    let pa = make(MapKind::PercpuArray, 4, 8, 4);
    let all = vec![0u8; pa.user_value_size()];
    assert_eq!(pa.update(&k(0), &all, BPF_NOEXIST), Err(MapError::Exists));
    assert_eq!(pa.update(&k(4), &all, BPF_ANY).unwrap_err().errno(), E2BIG);
    assert_eq!(pa.delete(&k(0)).unwrap_err().errno(), EINVAL);

    let ph = make(MapKind::PercpuHash, 4, 8, 4);
    assert_eq!(ph.update(&k(0), &all, BPF_EXIST), Err(MapError::NotFound));
    assert_eq!(ph.update(&k(0), &all, BPF_NOEXIST), Ok(()));
    assert_eq!(ph.update(&k(0), &all, BPF_NOEXIST), Err(MapError::Exists));
}

#[test]
fn sizes_of_keys_and_values_are_checked() {
    let h = make(MapKind::Hash, 6, 10, 4);
    assert_eq!(
        h.update(&[0; 5], &[0; 10], BPF_ANY),
        Err(MapError::KeySize {
            expected: 6,
            found: 5
        })
    );
    assert_eq!(
        h.update(&[0; 6], &[0; 11], BPF_ANY),
        Err(MapError::ValueSize {
            expected: 10,
            found: 11
        })
    );
    assert_eq!(h.lookup(&[0; 7]).unwrap_err().errno(), EINVAL);
    assert_eq!(h.update(&[1; 6], &[7; 10], BPF_ANY), Ok(()));
    assert_eq!(h.lookup(&[1; 6]).unwrap(), vec![7; 10]);
    let g = RunGuard::pin();
    assert!(h.lookup_ptr(&[1; 5], 0, &g).is_none());
    // Per-CPU control-plane values cover every CPU, each rounded to 8.
    let p = make(MapKind::PercpuHash, 4, 12, 4);
    assert_eq!(p.user_value_size(), 4 * 16);
    assert_eq!(
        p.update(&k(0), &[0; 48], BPF_ANY),
        Err(MapError::ValueSize {
            expected: 64,
            found: 48
        })
    );
    // A program's value is one CPU's, unrounded.
    assert_eq!(p.prog_update(&k(0), &[0; 12], BPF_ANY, 0), Ok(()));
    assert_eq!(
        p.prog_update(&k(0), &[0; 16], BPF_ANY, 0)
            .unwrap_err()
            .errno(),
        EINVAL
    );
}

#[test]
fn creation_checks_follow_map_alloc_check() {
    let o = MapOptions::with_ncpus(2);
    let err = |spec: MapSpec| create(&spec, &o).map(|_| ()).unwrap_err();
    use MapKind::*;
    for (spec, errno) in [
        (MapSpec::new(Array, 8, 8, 4), EINVAL), // array keys are u32
        (MapSpec::new(Array, 4, 8, 0), EINVAL), // max_entries 0
        (MapSpec::new(Array, 4, 0, 4), EINVAL), // value_size 0
        (MapSpec::new(Hash, 0, 8, 4), EINVAL),  // key_size 0
        (MapSpec::new(Hash, 4, 0, 4), EINVAL),  // value_size 0
        (MapSpec::new(PercpuHash, 4, 8, 0), EINVAL), // max_entries 0
        (MapSpec::new(PercpuArray, 4, 32769, 1), E2BIG), // rounds to 32776 > 32 KiB
        (MapSpec::new(PercpuHash, 4, 32769, 1), E2BIG), // rounds to 32776
        (MapSpec::new(Hash, 4, 1 << 22, 1), E2BIG), // past KMALLOC_MAX_SIZE
        (
            MapSpec::new(Hash, 4, 8, 4).with_flags(BPF_F_NO_COMMON_LRU),
            EINVAL,
        ),
        (
            MapSpec::new(Hash, 4, 8, 4).with_flags(BPF_F_MMAPABLE),
            EINVAL,
        ),
        (
            MapSpec::new(Hash, 4, 8, 4).with_flags(BPF_F_RDONLY | BPF_F_WRONLY),
            EINVAL,
        ),
        (
            MapSpec::new(Array, 4, 8, 4).with_flags(BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG),
            EINVAL,
        ),
        (
            MapSpec::new(Array, 4, 8, 4).with_flags(BPF_F_NO_PREALLOC),
            EINVAL,
        ),
        (
            MapSpec::new(Array, 4, 8, 4).with_flags(BPF_F_PRESERVE_ELEMS),
            EINVAL,
        ),
        (
            MapSpec::new(PercpuArray, 4, 8, 4).with_flags(BPF_F_NUMA_NODE),
            EINVAL,
        ),
        (
            MapSpec::new(PercpuArray, 4, 8, 4).with_flags(BPF_F_MMAPABLE),
            EINVAL,
        ),
        (
            MapSpec::new(PercpuHash, 4, 8, 4).with_flags(BPF_F_NUMA_NODE),
            EINVAL,
        ),
        (MapSpec::new(Ringbuf, 0, 0, 4000), EINVAL), // not a power-of-two number of pages
        (MapSpec::new(StackTrace, 4, 8, 4), EOPNOTSUPP), // not implemented
    ] {
        assert_eq!(err(spec.clone()).errno(), errno, "{spec:?}");
    }
    // Limits themselves are accepted.
    for spec in [
        MapSpec::new(PercpuArray, 4, 32768, 1),
        MapSpec::new(PercpuHash, 4, 32761, 1), // rounds to exactly 32 KiB
        MapSpec::new(Hash, 4, 8, 4).with_flags(BPF_F_NO_PREALLOC | BPF_F_ZERO_SEED),
        MapSpec::new(Array, 4, 8, 4).with_flags(BPF_F_MMAPABLE | BPF_F_RDONLY_PROG),
        MapSpec::new(Hash, 4, 8, 4).with_flags(BPF_F_NUMA_NODE),
    ] {
        assert!(create(&spec, &o).is_ok(), "{spec:?}");
    }
    assert_eq!(
        create(
            &MapSpec::new(PercpuArray, 4, 8, 1),
            &MapOptions::with_ncpus(0)
        )
        .map(|_| ())
        .unwrap_err()
        .errno(),
        EINVAL
    );
}

#[test]
fn access_flags_and_freezing_limit_the_control_plane() {
    let ro = make_flags(MapKind::Hash, 4, 8, 4, BPF_F_RDONLY);
    assert_eq!(ro.update(&k(1), &v(1), BPF_ANY).unwrap_err().errno(), EPERM);
    assert_eq!(ro.lookup(&k(1)), Err(MapError::NotFound));
    // Programs may still write a BPF_F_RDONLY map.
    assert_eq!(ro.prog_update(&k(1), &v(1), BPF_ANY, 0), Ok(()));
    assert_eq!(ro.delete(&k(1)).unwrap_err().errno(), EPERM);

    let wo = make_flags(MapKind::Array, 4, 8, 4, BPF_F_WRONLY);
    assert_eq!(wo.update(&k(1), &v(1), BPF_ANY), Ok(()));
    assert_eq!(wo.lookup(&k(1)).unwrap_err().errno(), EPERM);
    assert_eq!(wo.next_key(None).unwrap_err().errno(), EPERM);

    let rodata = make_flags(MapKind::Array, 4, 16, 1, BPF_F_RDONLY_PROG);
    assert_eq!(rodata.update(&k(0), &[3; 16], BPF_ANY), Ok(()));
    rodata.freeze();
    assert!(rodata.is_frozen());
    assert_eq!(
        rodata.update(&k(0), &[4; 16], BPF_ANY).unwrap_err().errno(),
        EPERM
    );
    assert_eq!(rodata.clear().unwrap_err().errno(), EPERM);
    assert_eq!(
        rodata
            .prog_update(&k(0), &[4; 16], BPF_ANY, 0)
            .unwrap_err()
            .errno(),
        EPERM
    );
    assert_eq!(rodata.lookup(&k(0)).unwrap(), vec![3; 16]);
    let g = RunGuard::pin();
    let p = rodata.lookup_ptr(&k(0), 0, &g).unwrap();
    assert!(!p.writable());
    assert_eq!(p.len(), 16);
    assert_eq!(rodata.direct_value().map(|d| d.addr()), Some(p.addr()));

    // Freezing stops the control plane only.
    let h = make(MapKind::Hash, 4, 8, 4);
    h.freeze();
    assert_eq!(h.update(&k(1), &v(1), BPF_ANY).unwrap_err().errno(), EPERM);
    assert_eq!(h.prog_update(&k(1), &v(1), BPF_ANY, 0), Ok(()));
    assert!(h.lookup_ptr(&k(1), 0, &g).unwrap().writable());
}

#[test]
fn direct_value_is_for_single_entry_arrays() {
    let one = make(MapKind::Array, 4, 24, 1);
    let d = one.direct_value().unwrap();
    assert_eq!(d.len(), 24);
    let g = RunGuard::pin();
    assert_eq!(one.lookup_ptr(&k(0), 0, &g), Some(d));
    assert!(make(MapKind::Array, 4, 8, 2).direct_value().is_none());
    assert!(make(MapKind::Hash, 4, 8, 1).direct_value().is_none());
}

#[test]
fn array_next_key_follows_array_map_get_next_key() {
    let m = make(MapKind::Array, 4, 8, 3);
    assert_eq!(m.next_key(None).unwrap(), k(0));
    assert_eq!(m.next_key(Some(&k(0))).unwrap(), k(1));
    assert_eq!(m.next_key(Some(&k(1))).unwrap(), k(2));
    assert_eq!(m.next_key(Some(&k(2))), Err(MapError::NotFound));
    // An index past the end restarts at 0.
    assert_eq!(m.next_key(Some(&k(3))).unwrap(), k(0));
    assert_eq!(m.next_key(Some(&k(u32::MAX))).unwrap(), k(0));
    assert_eq!(
        m.keys().unwrap(),
        vec![k(0).to_vec(), k(1).to_vec(), k(2).to_vec()]
    );
}

#[test]
fn hash_next_key_visits_every_key_once() {
    let m = make(MapKind::Hash, 4, 8, 64);
    assert_eq!(m.next_key(None), Err(MapError::NotFound));
    for i in 0..50u32 {
        m.update(&k(i * 7919), &v(i.into()), BPF_ANY).unwrap();
    }
    let mut seen = Vec::new();
    let mut cur = m.next_key(None).unwrap();
    loop {
        seen.push(u32::from_ne_bytes(cur[..].try_into().unwrap()));
        match m.next_key(Some(&cur)) {
            Ok(next) => cur = next,
            Err(e) => {
                assert_eq!(e, MapError::NotFound);
                break;
            }
        }
        assert!(seen.len() <= 50, "iteration does not end");
    }
    seen.sort_unstable();
    let expected: Vec<u32> = (0..50).map(|i| i * 7919).collect();
    assert_eq!(seen, expected);
    // A key that is not in the map restarts from the first key.
    assert_eq!(m.next_key(Some(&k(1))).unwrap(), m.next_key(None).unwrap());
    // keys() and entries() agree with the iteration.
    let mut keys: Vec<u32> = m
        .keys()
        .unwrap()
        .iter()
        .map(|b| u32::from_ne_bytes(b[..].try_into().unwrap()))
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, expected);
    for (key, value) in m.entries().unwrap() {
        let key = u32::from_ne_bytes(key[..].try_into().unwrap());
        assert_eq!(u64_of(&value), u64::from(key / 7919));
    }
}

#[test]
fn helper_return_is_negative_errno() {
    assert_eq!(MapError::Exists.helper_ret(), (-17i64) as u64);
    assert_eq!(MapError::NotFound.helper_ret(), (-2i64) as u64);
    assert_eq!(
        MapError::Full { max_entries: 1 }.helper_ret(),
        (-7i64) as u64
    );
}

#[test]
fn values_are_8_byte_aligned_whatever_the_sizes() {
    let g = RunGuard::pin();
    for (kind, key_size) in [
        (MapKind::Array, 4),
        (MapKind::PercpuArray, 4),
        (MapKind::Hash, 3),
        (MapKind::Hash, 13),
        (MapKind::PercpuHash, 5),
    ] {
        for value_size in [1, 3, 8, 12, 20] {
            let m = make(kind, key_size, value_size, 8);
            let user = vec![0u8; m.user_value_size()];
            for i in 0..8u8 {
                let key = if matches!(kind, MapKind::Array | MapKind::PercpuArray) {
                    k(i.into()).to_vec()
                } else {
                    vec![i; key_size as usize]
                };
                m.update(&key, &user, BPF_ANY).unwrap();
                for cpu in 0..m.ncpus() {
                    let p = m.lookup_ptr(&key, cpu, &g).unwrap();
                    assert_eq!(p.addr() % 8, 0, "{kind} key {key_size} value {value_size}");
                    assert_eq!(p.len(), value_size as usize);
                }
            }
        }
    }
}

#[test]
fn clear_empties_hashes_and_zeroes_arrays() {
    let h = make(MapKind::Hash, 4, 8, 8);
    for i in 0..8 {
        h.update(&k(i), &v(1), BPF_ANY).unwrap();
    }
    h.clear().unwrap();
    assert_eq!(h.stats().entries, 0);
    assert_eq!(h.keys().unwrap().len(), 0);
    for i in 0..8 {
        h.update(&k(i + 100), &v(1), BPF_NOEXIST).unwrap();
    }
    let a = make(MapKind::PercpuArray, 4, 8, 2);
    a.update(&k(1), &[1; 32], BPF_ANY).unwrap();
    a.clear().unwrap();
    assert_eq!(a.lookup(&k(1)).unwrap(), vec![0; 32]);
}
