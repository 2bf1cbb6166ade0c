//! Several threads updating, looking up and deleting at once on hash,
//! lru_hash and lpm_trie, and ring buffer producers racing a consumer.
//! Each thread owns part of the key space and keeps a model of it, so the
//! final state is known exactly; every value carries a checksum of its key
//! so a torn or misplaced value is caught on every lookup. Thread and
//! operation counts are in the constants and the test names.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use oxbpf_maps::{
    MapError, MapHandle, MapKind, MapOptions, MapSpec, RingBuf, RunGuard, create,
    flags::BPF_F_NO_PREALLOC, update::*,
};

const THREADS: u64 = 4;
const OPS: u64 = 50_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A value for `key` at `version`: the version, and a checksum tying it
/// to the key and version.
fn value(key: u64, version: u64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&version.to_ne_bytes());
    let sum = key.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ version;
    v[8..].copy_from_slice(&sum.to_ne_bytes());
    v
}

/// The version in `v`, after checking its checksum against `key`.
fn check(key: u64, v: &[u8]) -> u64 {
    let version = u64::from_ne_bytes(v[..8].try_into().unwrap());
    let sum = u64::from_ne_bytes(v[8..16].try_into().unwrap());
    assert_eq!(
        sum,
        key.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ version,
        "key {key}: corrupted value"
    );
    version
}

/// Random updates, deletes and lookups by `THREADS` threads, each on its
/// own 256 keys; returns each thread's model.
fn hammer(m: &MapHandle) -> Vec<HashMap<u64, u64>> {
    thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let m = m.clone();
                s.spawn(move || {
                    let mut rng = Rng(0x1234_5678 + t);
                    let mut model = HashMap::new();
                    for op in 0..OPS {
                        let key = t * 1000 + rng.next() % 256;
                        let kb = key.to_ne_bytes();
                        match rng.next() % 4 {
                            0 | 1 => {
                                m.update(&kb, &value(key, op), BPF_ANY).unwrap();
                                model.insert(key, op);
                            }
                            2 => {
                                let r = m.delete(&kb);
                                match model.remove(&key) {
                                    Some(_) => r.unwrap(),
                                    None => assert_eq!(r, Err(MapError::NotFound)),
                                }
                            }
                            _ => {
                                let g = RunGuard::pin();
                                let got = m.lookup_ptr(&kb, 0, &g).map(|p| {
                                    // SAFETY: a 16-byte value pointer under a live guard.
                                    let b = unsafe { core::slice::from_raw_parts(p.as_ptr(), 16) };
                                    check(key, b)
                                });
                                assert_eq!(got, model.get(&key).copied(), "thread {t} key {key}");
                            }
                        }
                    }
                    model
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn hash_4_threads_x_50000_ops_match_per_thread_models() {
    let m = create(
        &MapSpec::new(MapKind::Hash, 8, 16, 1024),
        &MapOptions::with_ncpus(1),
    )
    .unwrap();
    let models = hammer(&m);
    let mut want: Vec<(u64, u64)> = models
        .iter()
        .flat_map(|m| m.iter().map(|(k, v)| (*k, *v)))
        .collect();
    want.sort();
    let mut got: Vec<(u64, u64)> = m
        .entries()
        .unwrap()
        .into_iter()
        .map(|(k, v)| {
            let key = u64::from_ne_bytes(k.try_into().unwrap());
            (key, check(key, &v))
        })
        .collect();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(m.stats().entries, want.len());
}

#[test]
fn lru_hash_4_threads_x_50000_inserts_stay_within_max_entries() {
    // 4 x 512 keys through a 64-entry table (exact LRU scans) and through
    // a 1024-entry one (the CLOCK queue): evictions all the time.
    lru_threads(64);
    lru_threads(1024);
}

#[test]
fn large_lru_keeps_its_queue_through_concurrent_deletes_and_evictions() {
    // Threads insert (program and control-plane updates), look up and
    // delete at once on a 1,024-entry LRU: evictions, stale queue entries
    // and elements queued before they are linked, all racing. Afterwards
    // the queue must still be the table's: 2,048 fresh inserts leave
    // exactly the last 1,024 (nothing is used meanwhile, so CLOCK is FIFO
    // by then).
    const MAX: u64 = 1024;
    let m = create(
        &MapSpec::new(MapKind::LruHash, 8, 16, MAX as u32),
        &MapOptions::with_ncpus(1),
    )
    .unwrap();
    thread::scope(|s| {
        for t in 0..THREADS {
            let m = m.clone();
            s.spawn(move || {
                let mut rng = Rng(0x5eed + t);
                for op in 0..OPS {
                    let key = t * 10_000 + rng.next() % 2048;
                    let kb = key.to_ne_bytes();
                    match op % 6 {
                        0 | 1 => {
                            if let Ok(v) = m.lookup(&kb) {
                                check(key, &v);
                            }
                        }
                        2 | 3 => m.update(&kb, &value(key, op), BPF_ANY).unwrap(),
                        4 => m.prog_update(&kb, &value(key, op), BPF_ANY, 0).unwrap(),
                        _ => {
                            let _ = m.delete(&kb);
                        }
                    }
                    assert!(m.stats().entries <= MAX as usize);
                }
            });
        }
    });
    for (k, v) in m.entries().unwrap() {
        check(u64::from_ne_bytes(k.try_into().unwrap()), &v);
    }
    let fresh = 1_000_000u64;
    for key in fresh..fresh + 2 * MAX {
        m.update(&key.to_ne_bytes(), &value(key, 0), BPF_ANY)
            .unwrap();
    }
    let mut left: Vec<u64> = m
        .entries()
        .unwrap()
        .into_iter()
        .map(|(k, _)| u64::from_ne_bytes(k.try_into().unwrap()))
        .collect();
    left.sort_unstable();
    let want: Vec<u64> = (fresh + MAX..fresh + 2 * MAX).collect();
    assert_eq!(left, want);
}

fn lru_threads(max: usize) {
    let m = create(
        &MapSpec::new(MapKind::LruHash, 8, 16, max as u32),
        &MapOptions::with_ncpus(1),
    )
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut max_seen = 0;
    thread::scope(|s| {
        let watcher = {
            let (m, stop) = (m.clone(), stop.clone());
            s.spawn(move || {
                let mut max_seen = 0;
                while !stop.load(Ordering::Relaxed) {
                    max_seen = max_seen.max(m.stats().entries);
                }
                max_seen
            })
        };
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let m = m.clone();
                s.spawn(move || {
                    let mut rng = Rng(0xabcd + t);
                    for op in 0..OPS {
                        // Inserts never fail.
                        let key = t * 1000 + rng.next() % 512;
                        let kb = key.to_ne_bytes();
                        if op % 3 == 0 {
                            if let Ok(v) = m.lookup(&kb) {
                                check(key, &v);
                            }
                        } else {
                            m.update(&kb, &value(key, op), BPF_ANY).unwrap();
                        }
                        assert!(m.stats().entries <= max);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        max_seen = watcher.join().unwrap();
    });
    println!("lru_hash: {THREADS} threads x {OPS} ops, most entries seen {max_seen} of {max}");
    assert!(max_seen <= max);
    let entries = m.entries().unwrap();
    assert_eq!(
        entries.len(),
        max,
        "a table that saw thousands of keys is full"
    );
    for (k, v) in entries {
        check(u64::from_ne_bytes(k.try_into().unwrap()), &v);
    }
}

/// An lpm_trie key for IPv4: prefix length and address.
fn lpm_key(plen: u32, a: [u8; 4]) -> Vec<u8> {
    let mut k = plen.to_ne_bytes().to_vec();
    k.extend_from_slice(&a);
    k
}

#[test]
fn lpm_trie_4_threads_x_50000_ops_longest_match_per_thread_model() {
    let m = create(
        &MapSpec::new(MapKind::LpmTrie, 8, 16, 4096).with_flags(BPF_F_NO_PREALLOC),
        &MapOptions::with_ncpus(1),
    )
    .unwrap();
    // A shared default route nobody changes: 10.0.0.0/8 -> version 0.
    let default_id = 8u64 << 32 | 0x0a00_0000;
    m.update(&lpm_key(8, [10, 0, 0, 0]), &value(default_id, 0), BPF_ANY)
        .unwrap();
    thread::scope(|s| {
        for t in 0..THREADS {
            let m = m.clone();
            s.spawn(move || {
                let mut rng = Rng(0x7777 + t);
                // Thread t owns every prefix under 10.t.0.0/16, /16 to /24.
                let mut model: HashMap<(u32, [u8; 4]), u64> = HashMap::new();
                let id = |plen: u32, a: [u8; 4]| {
                    u64::from(plen) << 32 | u64::from(u32::from_be_bytes(a))
                };
                for op in 0..OPS {
                    let plen = 16 + (rng.next() % 9) as u32;
                    let mut a = [10, t as u8, (rng.next() % 4) as u8, 0];
                    if plen < 24 {
                        // Clear host bits so one model key names one prefix.
                        let mask = u32::MAX << (32 - plen);
                        a = (u32::from_be_bytes(a) & mask).to_be_bytes();
                    }
                    match rng.next() % 3 {
                        0 => {
                            m.update(&lpm_key(plen, a), &value(id(plen, a), op), BPF_ANY)
                                .unwrap();
                            model.insert((plen, a), op);
                        }
                        1 => {
                            let r = m.delete(&lpm_key(plen, a));
                            match model.remove(&(plen, a)) {
                                Some(_) => r.unwrap(),
                                None => assert_eq!(r, Err(MapError::NotFound)),
                            }
                        }
                        _ => {
                            let host = [10, t as u8, (rng.next() % 4) as u8, rng.next() as u8];
                            let want = (16..=24)
                                .rev()
                                .find_map(|p: u32| {
                                    let mask = u32::MAX << (32 - p);
                                    let net = (u32::from_be_bytes(host) & mask).to_be_bytes();
                                    model.get(&(p, net)).map(|v| (id(p, net), *v))
                                })
                                .unwrap_or((default_id, 0));
                            let v = m.lookup(&lpm_key(32, host)).unwrap();
                            assert_eq!(check(want.0, &v), want.1, "thread {t} host {host:?}");
                        }
                    }
                }
            });
        }
    });
}

#[test]
fn ringbuf_4_producers_x_50000_records_1_consumer_nothing_lost() {
    let rb = Arc::new(
        RingBuf::new(
            &MapSpec::new(MapKind::Ringbuf, 0, 0, 1 << 16),
            &MapOptions::with_ncpus(1),
        )
        .unwrap(),
    );
    let done = Arc::new(AtomicBool::new(false));
    // Record: thread (8 bytes), sequence (8), then 0..40 bytes derived from
    // both, then a checksum (8).
    let payload = |t: u64, seq: u64| -> Vec<u8> {
        let n = ((t * 7 + seq) % 41) as usize;
        let mut r = Vec::with_capacity(24 + n);
        r.extend_from_slice(&t.to_ne_bytes());
        r.extend_from_slice(&seq.to_ne_bytes());
        r.extend((0..n).map(|i| (seq as u8).wrapping_add(i as u8) ^ t as u8));
        let sum = r.iter().fold(0u64, |s, b| s.rotate_left(5) ^ u64::from(*b));
        r.extend_from_slice(&sum.to_ne_bytes());
        r
    };
    let (mut next_seq, mut total) = (vec![0u64; THREADS as usize], 0u64);
    thread::scope(|s| {
        for t in 0..THREADS {
            let rb = rb.clone();
            s.spawn(move || {
                for seq in 0..OPS {
                    let rec = payload(t, seq);
                    if seq % 2 == 0 {
                        while rb.output(&rec, 0).is_err() {
                            thread::yield_now();
                        }
                    } else {
                        // reserve + write + submit, as a program does.
                        let p = loop {
                            match rb.reserve(rec.len() as u64) {
                                Some(p) => break p,
                                None => thread::yield_now(),
                            }
                        };
                        // SAFETY: the reservation is writable for rec.len() bytes.
                        unsafe { p.as_ptr().copy_from(rec.as_ptr(), rec.len()) };
                        rb.commit(p.addr(), false).unwrap();
                    }
                }
            });
        }
        let consumer = {
            let (rb, done) = (rb.clone(), done.clone());
            s.spawn(move || {
                let mut next = vec![0u64; THREADS as usize];
                let mut total = 0u64;
                while total < THREADS * OPS {
                    let n = rb.consume(|r| {
                        let t = u64::from_ne_bytes(r[..8].try_into().unwrap());
                        let seq = u64::from_ne_bytes(r[8..16].try_into().unwrap());
                        assert_eq!(
                            seq, next[t as usize],
                            "thread {t}: records in order, none lost"
                        );
                        assert_eq!(
                            r,
                            &payload(t, seq)[..],
                            "thread {t} seq {seq}: record intact"
                        );
                        next[t as usize] += 1;
                    });
                    total += n as u64;
                    if n == 0 {
                        thread::yield_now();
                    }
                }
                done.store(true, Ordering::Relaxed);
                (next, total)
            })
        };
        (next_seq, total) = consumer.join().unwrap();
    });
    assert!(done.load(Ordering::Relaxed));
    assert_eq!(total, THREADS * OPS);
    assert_eq!(next_seq, vec![OPS; THREADS as usize]);
    assert_eq!(rb.consume(|_| {}), 0);
}
