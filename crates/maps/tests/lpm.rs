//! lpm_trie: longest-prefix match lookups, exact-match update and delete,
//! the kernel's creation and update errors, and next_key post-order.

use oxbpf_maps::{
    MapError, MapKind, MapOptions, MapSpec, RunGuard, create,
    errno::{EINVAL, ENOSPC},
    flags::BPF_F_NO_PREALLOC,
    update::*,
};

/// An IPv4 LPM key: prefix length (host order) + address bytes.
fn key4(plen: u32, a: [u8; 4]) -> Vec<u8> {
    let mut k = plen.to_ne_bytes().to_vec();
    k.extend_from_slice(&a);
    k
}

fn trie(max: u32) -> oxbpf_maps::MapHandle {
    create(
        &MapSpec::new(MapKind::LpmTrie, 8, 4, max).with_flags(BPF_F_NO_PREALLOC),
        &MapOptions::with_ncpus(2),
    )
    .unwrap()
}

fn val(m: &oxbpf_maps::MapHandle, k: &[u8]) -> Result<u32, MapError> {
    m.lookup(k)
        .map(|v| u32::from_ne_bytes(v[..4].try_into().unwrap()))
}

#[test]
fn longest_prefix_wins() {
    let m = trie(16);
    m.update(&key4(0, [0; 4]), &1u32.to_ne_bytes(), BPF_ANY)
        .unwrap();
    m.update(&key4(8, [10, 0, 0, 0]), &2u32.to_ne_bytes(), BPF_ANY)
        .unwrap();
    m.update(&key4(24, [10, 1, 2, 0]), &3u32.to_ne_bytes(), BPF_ANY)
        .unwrap();
    m.update(&key4(32, [10, 1, 2, 3]), &4u32.to_ne_bytes(), BPF_ANY)
        .unwrap();
    m.update(&key4(9, [10, 128, 0, 0]), &5u32.to_ne_bytes(), BPF_ANY)
        .unwrap();
    assert_eq!(val(&m, &key4(32, [10, 1, 2, 3])), Ok(4));
    assert_eq!(val(&m, &key4(32, [10, 1, 2, 4])), Ok(3));
    assert_eq!(val(&m, &key4(32, [10, 9, 9, 9])), Ok(2));
    assert_eq!(val(&m, &key4(32, [10, 200, 9, 9])), Ok(5));
    assert_eq!(val(&m, &key4(32, [192, 168, 0, 1])), Ok(1));
    // The key's own prefix length bounds the match.
    assert_eq!(val(&m, &key4(16, [10, 1, 2, 3])), Ok(2));
    // Programs get a pointer to the same value.
    let g = RunGuard::pin();
    let p = m.lookup_ptr(&key4(32, [10, 1, 2, 99]), 0, &g).unwrap();
    // SAFETY: a 4-byte value pointer from lookup_ptr under a live guard.
    assert_eq!(unsafe { p.as_ptr().cast::<u32>().read() }, 3);
    // Delete is exact: removing /24 makes /8 the answer.
    assert_eq!(m.delete(&key4(16, [10, 1, 0, 0])), Err(MapError::NotFound));
    m.delete(&key4(24, [10, 1, 2, 77])).unwrap();
    assert_eq!(val(&m, &key4(32, [10, 1, 2, 4])), Ok(2));
    // The held pointer still reads the deleted value.
    // SAFETY: as above; the guard keeps the deleted element alive.
    assert_eq!(unsafe { p.as_ptr().cast::<u32>().read() }, 3);
    drop(g);
    assert_eq!(m.stats().entries, 4);
}

#[test]
fn kernel_errors() {
    let opts = MapOptions::with_ncpus(1);
    // No BPF_F_NO_PREALLOC, or a key without data: EINVAL.
    for spec in [
        MapSpec::new(MapKind::LpmTrie, 8, 4, 4),
        MapSpec::new(MapKind::LpmTrie, 4, 4, 4).with_flags(BPF_F_NO_PREALLOC),
        MapSpec::new(MapKind::LpmTrie, 261, 4, 4).with_flags(BPF_F_NO_PREALLOC),
    ] {
        assert_eq!(
            create(&spec, &opts).unwrap_err().errno(),
            EINVAL,
            "{spec:?}"
        );
    }
    create(
        &MapSpec::new(MapKind::LpmTrie, 260, 4, 4).with_flags(BPF_F_NO_PREALLOC),
        &opts,
    )
    .unwrap();
    let m = trie(2);
    let v = 7u32.to_ne_bytes();
    assert_eq!(
        m.update(&key4(33, [1, 2, 3, 4]), &v, BPF_ANY)
            .unwrap_err()
            .errno(),
        EINVAL
    );
    assert_eq!(
        m.delete(&key4(33, [1, 2, 3, 4])).unwrap_err().errno(),
        EINVAL
    );
    assert_eq!(
        m.update(&key4(8, [1, 0, 0, 0]), &v, 4).unwrap_err().errno(),
        EINVAL
    );
    assert_eq!(
        m.update(&key4(8, [1, 0, 0, 0]), &v, BPF_EXIST),
        Err(MapError::NotFound)
    );
    m.update(&key4(8, [1, 0, 0, 0]), &v, BPF_NOEXIST).unwrap();
    // Same prefix bits, different host bits: the same entry.
    assert_eq!(
        m.update(&key4(8, [1, 9, 9, 9]), &v, BPF_NOEXIST),
        Err(MapError::Exists)
    );
    m.update(&key4(16, [1, 1, 0, 0]), &v, BPF_ANY).unwrap();
    let e = m.update(&key4(16, [1, 2, 0, 0]), &v, BPF_ANY).unwrap_err();
    assert_eq!(e.errno(), ENOSPC);
    // Replacing an existing prefix in a full trie is fine.
    m.update(&key4(16, [1, 1, 0, 0]), &9u32.to_ne_bytes(), BPF_EXIST)
        .unwrap();
    assert_eq!(val(&m, &key4(32, [1, 1, 5, 5])), Ok(9));
}

#[test]
fn next_key_is_post_order_more_specific_first() {
    let m = trie(16);
    let keys = [
        key4(0, [0; 4]),
        key4(8, [10, 0, 0, 0]),
        key4(16, [10, 1, 0, 0]),
        key4(16, [10, 128, 0, 0]),
        key4(8, [192, 0, 0, 0]),
        key4(24, [10, 1, 2, 0]),
    ];
    for k in &keys {
        m.update(k, &1u32.to_ne_bytes(), BPF_ANY).unwrap();
    }
    // Post-order of the binary trie, worked out by hand: left (0) subtree
    // before right (1) subtree before the node itself.
    let expected = [
        key4(24, [10, 1, 2, 0]),
        key4(16, [10, 1, 0, 0]),
        key4(16, [10, 128, 0, 0]),
        key4(8, [10, 0, 0, 0]),
        key4(8, [192, 0, 0, 0]),
        key4(0, [0; 4]),
    ];
    let mut got = Vec::new();
    let mut cur = None;
    while let Ok(k) = m.next_key(cur.as_deref()) {
        got.push(k.clone());
        cur = Some(k);
    }
    assert_eq!(got, expected);
    assert_eq!(m.keys().unwrap(), expected);
    // An absent key starts over.
    assert_eq!(
        m.next_key(Some(&key4(20, [1, 1, 1, 1]))).unwrap(),
        expected[0]
    );
}
