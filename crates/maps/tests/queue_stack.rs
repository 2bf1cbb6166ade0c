//! queue and stack: FIFO/LIFO order, BPF_EXIST overwriting the oldest
//! value when full, and the kernel's errors.

use oxbpf_maps::{
    MapError, MapKind, MapOptions, MapSpec, create,
    errno::{E2BIG, EINVAL, ENOENT},
    update::*,
};

fn make(kind: MapKind, max: u32) -> oxbpf_maps::MapHandle {
    create(&MapSpec::new(kind, 0, 4, max), &MapOptions::with_ncpus(1)).unwrap()
}

fn pop(m: &oxbpf_maps::MapHandle) -> Result<u32, MapError> {
    let mut out = [0u8; 4];
    m.pop(&mut out).map(|()| u32::from_ne_bytes(out))
}

#[test]
fn queue_is_fifo_and_stack_is_lifo() {
    let q = make(MapKind::Queue, 4);
    let s = make(MapKind::Stack, 4);
    for i in 1..=3u32 {
        q.push(&i.to_ne_bytes(), BPF_ANY).unwrap();
        s.push(&i.to_ne_bytes(), BPF_ANY).unwrap();
    }
    let mut out = [0u8; 4];
    q.peek(&mut out).unwrap();
    assert_eq!(u32::from_ne_bytes(out), 1);
    s.peek(&mut out).unwrap();
    assert_eq!(u32::from_ne_bytes(out), 3);
    // entries() lists values in pop order.
    let qv: Vec<Vec<u8>> = q.entries().unwrap().into_iter().map(|e| e.1).collect();
    assert_eq!(qv, [1u32, 2, 3].map(|x| x.to_ne_bytes().to_vec()));
    assert_eq!([pop(&q), pop(&q), pop(&q)], [Ok(1), Ok(2), Ok(3)]);
    assert_eq!([pop(&s), pop(&s), pop(&s)], [Ok(3), Ok(2), Ok(1)]);
    assert_eq!(pop(&q).unwrap_err().errno(), ENOENT);
    assert_eq!(s.peek(&mut out).unwrap_err().errno(), ENOENT);
}

#[test]
fn full_push_needs_bpf_exist_which_drops_the_oldest() {
    for kind in [MapKind::Queue, MapKind::Stack] {
        let m = make(kind, 2);
        m.push(&1u32.to_ne_bytes(), BPF_ANY).unwrap();
        m.push(&2u32.to_ne_bytes(), BPF_ANY).unwrap();
        assert_eq!(
            m.push(&3u32.to_ne_bytes(), BPF_ANY).unwrap_err().errno(),
            E2BIG
        );
        assert_eq!(
            m.push(&3u32.to_ne_bytes(), BPF_NOEXIST)
                .unwrap_err()
                .errno(),
            EINVAL
        );
        m.push(&3u32.to_ne_bytes(), BPF_EXIST).unwrap();
        let mut left = vec![pop(&m).unwrap(), pop(&m).unwrap()];
        left.sort();
        assert_eq!(left, [2, 3], "{kind}: the oldest (1) went");
    }
}

#[test]
fn control_plane_commands_and_creation_errors() {
    let q = make(MapKind::Queue, 2);
    // BPF_MAP_UPDATE_ELEM pushes, BPF_MAP_LOOKUP_ELEM peeks.
    q.update(&[], &5u32.to_ne_bytes(), BPF_ANY).unwrap();
    assert_eq!(q.lookup(&[]).unwrap(), 5u32.to_ne_bytes());
    assert_eq!(q.delete(&[]).unwrap_err().errno(), EINVAL);
    assert_eq!(q.next_key(None).unwrap_err().errno(), EINVAL);
    let bad = create(
        &MapSpec::new(MapKind::Queue, 4, 4, 2),
        &MapOptions::with_ncpus(1),
    );
    assert_eq!(bad.unwrap_err().errno(), EINVAL);
}
