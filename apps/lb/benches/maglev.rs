//! Maglev ring build time for 10, 100 and 1,000 backends at 65,537 slots
//! (issue 10 goal: 1,000 backends under 5 ms).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use oxbpf_lb::maglev::{DEFAULT_RING_SIZE, MaglevBackend, build};

fn ring_build(c: &mut Criterion) {
    let mut g = c.benchmark_group("maglev_build");
    for n in [10u32, 100, 1000] {
        let b: Vec<_> = (1..=n)
            .map(|i| MaglevBackend::new(i, 1, format!("10.1.{}.{}", i / 256, i % 256)))
            .collect();
        g.bench_with_input(BenchmarkId::from_parameter(n), &b, |bch, b| {
            bch.iter(|| build(b, DEFAULT_RING_SIZE).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, ring_build);
criterion_main!(benches);
