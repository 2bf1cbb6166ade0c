//! max_entries: a full hash refuses new keys with E2BIG but still takes
//! updates of existing ones; deleting makes room again.

mod common;

use common::{k, make, u64_of, v};
use oxbpf_maps::{MapError, MapKind, errno::E2BIG, update::*};

fn fill_and_check(kind: MapKind) {
    let m = make(kind, 4, 8, 8);
    let user = |x: u64| -> Vec<u8> { (0..m.ncpus()).flat_map(|_| x.to_ne_bytes()).collect() };
    for i in 0..8 {
        assert_eq!(
            m.update(&k(i), &user(i.into()), BPF_NOEXIST),
            Ok(()),
            "{kind} key {i}"
        );
    }
    assert_eq!(m.stats().entries, 8);
    // A ninth key: E2BIG, by control plane and by program, any flag that
    // would insert.
    for flags in [BPF_ANY, BPF_NOEXIST] {
        let e = m.update(&k(100), &user(1), flags).unwrap_err();
        assert_eq!(e, MapError::Full { max_entries: 8 }, "{kind}");
        assert_eq!(e.errno(), E2BIG);
        assert_eq!(
            m.prog_update(&k(100), &v(1), flags, 0).unwrap_err().errno(),
            E2BIG
        );
    }
    // BPF_EXIST on a missing key still says ENOENT, not E2BIG.
    assert_eq!(
        m.update(&k(100), &user(1), BPF_EXIST),
        Err(MapError::NotFound)
    );
    // Existing keys can be updated in a full map.
    assert_eq!(m.update(&k(3), &user(33), BPF_ANY), Ok(()));
    assert_eq!(m.update(&k(4), &user(44), BPF_EXIST), Ok(()));
    assert_eq!(m.prog_update(&k(5), &v(55), BPF_ANY, 0), Ok(()));
    assert_eq!(
        m.update(&k(6), &user(1), BPF_NOEXIST),
        Err(MapError::Exists)
    );
    assert_eq!(u64_of(&m.lookup(&k(3)).unwrap()), 33);
    assert_eq!(u64_of(&m.lookup(&k(4)).unwrap()), 44);
    assert_eq!(u64_of(&m.lookup(&k(5)).unwrap()), 55);
    assert_eq!(m.stats().entries, 8);
    assert!(m.lookup(&k(100)).is_err());
    // Deleting one key makes room for exactly one.
    m.delete(&k(0)).unwrap();
    assert_eq!(m.update(&k(100), &user(100), BPF_NOEXIST), Ok(()));
    assert_eq!(
        m.update(&k(101), &user(101), BPF_NOEXIST)
            .unwrap_err()
            .errno(),
        E2BIG
    );
    assert_eq!(m.keys().unwrap().len(), 8);
    // Clearing makes room for max_entries again.
    m.clear().unwrap();
    for i in 200..208 {
        assert_eq!(m.prog_update(&k(i), &v(1), BPF_NOEXIST, 1), Ok(()));
    }
    assert_eq!(
        m.prog_update(&k(300), &v(1), BPF_ANY, 1)
            .unwrap_err()
            .errno(),
        E2BIG
    );
}

#[test]
fn hash_full_is_e2big() {
    fill_and_check(MapKind::Hash);
}

#[test]
fn percpu_hash_full_is_e2big() {
    fill_and_check(MapKind::PercpuHash);
}

#[test]
fn single_entry_hash() {
    let m = make(MapKind::Hash, 16, 4, 1);
    assert_eq!(m.update(&[1; 16], &[1; 4], BPF_ANY), Ok(()));
    assert_eq!(
        m.update(&[2; 16], &[2; 4], BPF_ANY).unwrap_err().errno(),
        E2BIG
    );
    assert_eq!(m.update(&[1; 16], &[3; 4], BPF_ANY), Ok(()));
    assert_eq!(m.lookup(&[1; 16]).unwrap(), vec![3; 4]);
}

#[test]
fn array_has_exactly_max_entries() {
    let m = make(MapKind::Array, 4, 8, 5);
    for i in 0..5 {
        assert_eq!(m.update(&k(i), &v(i.into()), BPF_ANY), Ok(()));
    }
    assert_eq!(m.update(&k(5), &v(0), BPF_ANY).unwrap_err().errno(), E2BIG);
    assert_eq!(m.stats().entries, 5);
    assert_eq!(m.entries().unwrap().len(), 5);
}
