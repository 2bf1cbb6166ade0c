//! Map updates the JIT resolves at compile time in verified mode (it calls
//! the map's update directly, not the helper) give exactly what the
//! helper gives, on every engine: the kernel's errors for each flag on
//! full and missing entries, LRU eviction, per-CPU slots, arrays, and a
//! value that lies in the element it replaces. Expected returns and
//! contents are worked out here, not taken from any engine.

mod common;

use common::{ENGINES, load};
use oxbpf::{Object, RunOptions};

const ANY: u32 = 0;
const NOEXIST: u32 = 1;
const EXIST: u32 = 2;
const ENOENT: i32 = 2;
const E2BIG: i32 = 7;
const EEXIST: i32 = 17;
const EINVAL: i32 = 22;

fn packet(key: u32, flags: u32, val: u32) -> Vec<u8> {
    let mut p = vec![0u8; 14];
    for x in [key, flags, val] {
        p.extend_from_slice(&x.to_ne_bytes());
    }
    p.extend_from_slice(&[0; 8]);
    p
}

fn u64_of(b: &[u8]) -> u64 {
    u64::from_ne_bytes(b[..8].try_into().unwrap())
}

fn value(obj: &Object, map: &str, key: u32) -> Option<u64> {
    obj.map(map)
        .unwrap()
        .lookup(&key.to_ne_bytes())
        .ok()
        .map(|v| u64_of(&v))
}

#[test]
fn resolved_updates_match_the_helpers_on_every_engine() {
    for engine in ENGINES {
        let obj = load("map_updates", 2);
        let run = |prog: &str, key: u32, flags: u32, val: u32, cpu: u32| -> i32 {
            let runner = obj.program(prog).unwrap().load(engine).unwrap();
            let opts = RunOptions {
                cpu,
                ..RunOptions::default()
            };
            runner
                .run_xdp_with(&packet(key, flags, val), &opts)
                .unwrap()
                .ret as i32
        };
        let hash = |key, flags, val| run("update_hash", key, flags, val, 0);
        // hash, 4 entries.
        assert_eq!(hash(1, ANY, 10), 0, "{engine:?}");
        assert_eq!(hash(1, NOEXIST, 11), -EEXIST, "{engine:?}");
        assert_eq!(hash(2, EXIST, 20), -ENOENT, "{engine:?}");
        assert_eq!(hash(2, NOEXIST, 21), 0, "{engine:?}");
        assert_eq!(hash(3, ANY, 30), 0, "{engine:?}");
        assert_eq!(hash(4, ANY, 40), 0, "{engine:?}");
        assert_eq!(hash(5, ANY, 50), -E2BIG, "{engine:?}: full");
        assert_eq!(hash(1, EXIST, 12), 0, "{engine:?}");
        assert_eq!(hash(1, 3, 13), -EINVAL, "{engine:?}: bad flags");
        let want = [
            (1, Some(12)),
            (2, Some(21)),
            (3, Some(30)),
            (4, Some(40)),
            (5, None),
        ];
        for (k, v) in want {
            assert_eq!(value(&obj, "hashed", k), v, "{engine:?}: hashed[{k}]");
        }
        // The value handed over is the element's own: the update copies
        // it first, so the element keeps its value.
        assert_eq!(run("update_from_itself", 2, ANY, 0, 0), 0, "{engine:?}");
        assert_eq!(run("update_from_itself", 9, ANY, 0, 0), 1000, "{engine:?}");
        assert_eq!(value(&obj, "hashed", 2), Some(21), "{engine:?}");
        // lru_hash, 512 entries: 600 inserts evict the 88 oldest.
        for k in 0..600 {
            assert_eq!(
                run("update_lru", k, ANY, k + 1, 0),
                0,
                "{engine:?}: lru {k}"
            );
        }
        let lru = obj.map("lru").unwrap();
        assert_eq!(lru.stats().entries, 512, "{engine:?}");
        for k in 0..600 {
            let want = (k >= 88).then_some(u64::from(k) + 1);
            assert_eq!(value(&obj, "lru", k), want, "{engine:?}: lru[{k}]");
        }
        // percpu_hash: each run writes its own CPU's slot.
        assert_eq!(run("update_pcpu", 7, ANY, 70, 0), 0, "{engine:?}");
        assert_eq!(run("update_pcpu", 7, EXIST, 71, 1), 0, "{engine:?}");
        assert_eq!(run("update_pcpu", 8, EXIST, 80, 1), -ENOENT, "{engine:?}");
        let got = obj
            .map("pcpu_hashed")
            .unwrap()
            .lookup(&7u32.to_ne_bytes())
            .unwrap();
        assert_eq!((u64_of(&got), u64_of(&got[8..])), (70, 71), "{engine:?}");
        // array, 4 entries: elements always exist; an index past the end
        // is E2BIG, as in the kernel.
        assert_eq!(run("update_arr", 2, ANY, 22, 0), 0, "{engine:?}");
        assert_eq!(run("update_arr", 2, NOEXIST, 23, 0), -EEXIST, "{engine:?}");
        assert_eq!(run("update_arr", 9, ANY, 90, 0), -E2BIG, "{engine:?}");
        assert_eq!(value(&obj, "arr", 2), Some(22), "{engine:?}");
    }
}
