//! Inserts of new keys into LRU hashes, as a program does them
//! (`prog_update`): into a table with room, and into a full one, where
//! every insert evicts. The balancer's connection tables are the model:
//! 40-byte keys, 8-byte values, 65,536 entries.
//!
//! `cargo bench -p oxbpf-maps --bench lru` prints ns per insert, the
//! median of five rounds.

use std::time::Instant;

use oxbpf_maps::{MapKind, MapOptions, MapSpec, create, update::BPF_ANY};

const ENTRIES: u32 = 65_536;

fn key(i: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    // Spread like flow keys: the varying part is in the middle.
    k[0..8].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    k[32..40].copy_from_slice(&i.to_le_bytes());
    k
}

fn main() {
    println!("{:<16} {:<10} {:>10}", "map", "table", "ns/insert");
    for kind in [MapKind::LruHash, MapKind::LruPercpuHash] {
        let spec = MapSpec::new(kind, 40, 8, ENTRIES);
        let m = create(&spec, &MapOptions::with_ncpus(2)).expect("create");
        let value = 7u64.to_ne_bytes();
        let mut next = 0u64;
        let mut round = |n: u64| {
            let t = Instant::now();
            for _ in 0..n {
                m.prog_update(&key(next), &value, BPF_ANY, 0)
                    .expect("insert");
                next += 1;
            }
            t.elapsed().as_nanos() as f64 / n as f64
        };
        let mut filling = Vec::new();
        for _ in 0..4 {
            filling.push(round(u64::from(ENTRIES) / 4));
        }
        let mut full: Vec<f64> = (0..5).map(|_| round(100_000)).collect();
        filling.sort_by(f64::total_cmp);
        full.sort_by(f64::total_cmp);
        println!(
            "{:<16} {:<10} {:>10.1}",
            kind.to_string(),
            "filling",
            filling[2]
        );
        println!("{:<16} {:<10} {:>10.1}", kind.to_string(), "full", full[2]);
    }
}
