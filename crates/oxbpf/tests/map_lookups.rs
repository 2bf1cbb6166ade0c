//! Map lookups the JIT resolves at compile time in verified mode (arrays
//! and per-CPU arrays inlined, hashes called directly) find exactly what
//! the map helpers find: in-range and out-of-range indexes, CPUs with and
//! without a per-CPU copy, runs with and without a session (whose runs are
//! marked pinned), on every engine. Expected verdicts and counts are worked
//! out here from the inputs, not taken from any engine.

mod common;

use common::{ENGINES, load};
use oxbpf::RunOptions;

const NCPUS: u32 = 2;
const HASH_KEYS: [u32; 3] = [1, 7, 0x8000_0000];

fn packet(idx: u32) -> Vec<u8> {
    let mut p = vec![0u8; 14];
    p.extend_from_slice(&idx.to_ne_bytes());
    p.extend_from_slice(&[0; 10]);
    p
}

/// The verdict the program must give: 8 plus a bit per lookup that found
/// a value (array, per-CPU array, hash).
fn expected(idx: u32, cpu: u32) -> u32 {
    let mut found = 0;
    if idx < 4 {
        found |= 1;
        if cpu < NCPUS {
            found |= 2;
        }
    }
    if HASH_KEYS.contains(&idx) {
        found |= 4;
    }
    8 + found
}

fn u64_at(bytes: &[u8], slot: usize) -> u64 {
    u64::from_ne_bytes(bytes[slot * 8..slot * 8 + 8].try_into().unwrap())
}

#[test]
fn resolved_lookups_match_the_helpers_on_every_engine() {
    let indexes = [0u32, 1, 2, 3, 4, 7, 0xffff_ffff, 0x8000_0000, 2, 3, 3];
    let cpus = [0u32, 1, 3];
    for engine in ENGINES {
        let obj = load("map_lookups", NCPUS);
        let hashed = obj.map("hashed").unwrap();
        for k in HASH_KEYS {
            hashed
                .update(&k.to_ne_bytes(), &0u64.to_ne_bytes(), 0)
                .unwrap();
        }
        let runner = obj.program("map_lookups").unwrap().load(engine).unwrap();
        // Counts the runs must leave: array per index, per-CPU array per
        // (CPU, index), hash per key.
        let mut arr = [0u64; 4];
        let mut pcpu = [[0u64; 4]; NCPUS as usize];
        let mut hash = [0u64; 3];
        for &cpu in &cpus {
            let opts = RunOptions {
                cpu,
                ..RunOptions::default()
            };
            let mut session = runner.xdp_session(opts).unwrap();
            for (n, &idx) in indexes.iter().enumerate() {
                // Alternate plain runs and session runs.
                let ret = if n % 2 == 0 {
                    runner.run_xdp_with(&packet(idx), &opts).unwrap().ret
                } else {
                    session.run(&packet(idx)).unwrap()
                };
                assert_eq!(
                    ret,
                    expected(idx, cpu),
                    "{engine:?}: index {idx:#x} on cpu {cpu}"
                );
                if idx < 4 {
                    arr[idx as usize] += 1;
                    if cpu < NCPUS {
                        pcpu[cpu as usize][idx as usize] += 1;
                    }
                }
                if let Some(h) = HASH_KEYS.iter().position(|&k| k == idx) {
                    hash[h] += 1;
                }
            }
        }
        let arr_map = obj.map("arr").unwrap();
        let pcpu_map = obj.map("pcpu").unwrap();
        for i in 0..4u32 {
            let got = arr_map.lookup(&i.to_ne_bytes()).unwrap();
            assert_eq!(u64_at(&got, 0), arr[i as usize], "{engine:?}: arr[{i}]");
            let got = pcpu_map.lookup(&i.to_ne_bytes()).unwrap();
            for (c, counts) in pcpu.iter().enumerate() {
                assert_eq!(
                    u64_at(&got, c),
                    counts[i as usize],
                    "{engine:?}: pcpu[{i}] on cpu {c}"
                );
            }
        }
        for (h, k) in HASH_KEYS.iter().enumerate() {
            let got = hashed.lookup(&k.to_ne_bytes()).unwrap();
            assert_eq!(u64_at(&got, 0), hash[h], "{engine:?}: hashed[{k:#x}]");
        }
    }
}
