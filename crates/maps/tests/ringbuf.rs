//! ringbuf: reserve/submit/discard/output, order, wrapping records, the
//! kernel's size checks and query values.

use oxbpf_maps::{
    MapError, MapKind, MapOptions, MapSpec, RingBuf,
    errno::{EAGAIN, EINVAL},
    ringbuf::{BPF_RB_AVAIL_DATA, BPF_RB_CONS_POS, BPF_RB_PROD_POS, BPF_RB_RING_SIZE},
};

fn ring(size: u32) -> RingBuf {
    RingBuf::new(
        &MapSpec::new(MapKind::Ringbuf, 0, 0, size),
        &MapOptions::with_ncpus(1),
    )
    .unwrap()
}

fn drain(rb: &RingBuf) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    rb.consume(|r| v.push(r.to_vec()));
    v
}

#[test]
fn creation_checks() {
    let opts = MapOptions::with_ncpus(1);
    for spec in [
        MapSpec::new(MapKind::Ringbuf, 0, 0, 4096 * 3),
        MapSpec::new(MapKind::Ringbuf, 0, 0, 2048),
        MapSpec::new(MapKind::Ringbuf, 4, 0, 4096),
        MapSpec::new(MapKind::Ringbuf, 0, 8, 4096),
    ] {
        assert_eq!(
            RingBuf::new(&spec, &opts).unwrap_err().errno(),
            EINVAL,
            "{spec:?}"
        );
    }
    oxbpf_maps::create(&MapSpec::new(MapKind::Ringbuf, 0, 0, 8192), &opts).unwrap();
}

#[test]
fn records_come_out_in_reserve_order_and_discards_are_skipped() {
    let rb = ring(4096);
    let a = rb.reserve(3).unwrap();
    let b = rb.reserve(16).unwrap();
    let c = rb.reserve(5).unwrap();
    assert_eq!((a.len(), b.len(), c.len()), (3, 16, 5));
    // SAFETY: each pointer is writable for its reserved length.
    unsafe {
        a.as_ptr().copy_from(b"abc".as_ptr(), 3);
        b.as_ptr().write_bytes(0x42, 16);
        c.as_ptr().copy_from(b"hello".as_ptr(), 5);
    }
    // c submitted first, but a is still busy: nothing to consume.
    rb.commit(c.addr(), false).unwrap();
    assert!(drain(&rb).is_empty());
    rb.commit(a.addr(), false).unwrap();
    assert_eq!(drain(&rb), [b"abc".to_vec()]);
    rb.commit(b.addr(), true).unwrap();
    assert_eq!(drain(&rb), [b"hello".to_vec()]);
    // A pointer that is not an outstanding reservation is refused.
    assert_eq!(rb.commit(a.addr(), false), Err(MapError::NotFound));
    assert_eq!(rb.commit(a.addr() + 8, false), Err(MapError::NotFound));
    // Positions: 3 records of 8+8, 8+16, 8+8 bytes.
    assert_eq!(rb.query(BPF_RB_PROD_POS), 16 + 24 + 16);
    assert_eq!(rb.query(BPF_RB_CONS_POS), 56);
    assert_eq!(rb.query(BPF_RB_AVAIL_DATA), 0);
    assert_eq!(rb.query(BPF_RB_RING_SIZE), 4096);
}

#[test]
fn full_ring_refuses_and_wrapping_records_stay_whole() {
    let rb = ring(4096);
    // 1000-byte records take 1008 bytes: four fit, the fifth does not.
    let rec = |i: u8| -> Vec<u8> { (0..1000u32).map(|j| (j as u8).wrapping_mul(i)).collect() };
    for i in 1..=4 {
        rb.output(&rec(i), 0).unwrap();
    }
    assert_eq!(rb.output(&rec(5), 0).unwrap_err().errno(), EAGAIN);
    assert!(rb.reserve(1000).is_none());
    assert_eq!(rb.output(&rec(5), 4).unwrap_err().errno(), EINVAL);
    assert_eq!(drain(&rb).len(), 4);
    // Now the producer is at 4032: the next records wrap past 4096.
    for round in 0..20u8 {
        rb.output(&rec(round), 0).unwrap();
        assert_eq!(drain(&rb), [rec(round)], "round {round}");
    }
    // A record larger than the ring never fits.
    assert!(rb.reserve(4096).is_none());
}
