//! Per-CPU maps: programs see only their CPU's copy; the control plane
//! sees all copies, each rounded to 8 bytes.

mod common;

use std::sync::Arc;

use common::{k, make, u64_of, v};
use oxbpf_maps::{MapError, MapKind, MapOptions, MapSpec, RunGuard, create, update::*};

/// Splits a control-plane per-CPU value into per-CPU u64s.
fn per_cpu(bytes: &[u8]) -> Vec<u64> {
    bytes.chunks_exact(8).map(u64_of).collect()
}

#[test]
fn percpu_array_program_updates_touch_one_cpu() {
    let m = make(MapKind::PercpuArray, 4, 8, 2);
    assert_eq!(m.ncpus(), 4);
    assert_eq!(m.user_value_size(), 32);
    m.prog_update(&k(1), &v(7), BPF_ANY, 1).unwrap();
    m.prog_update(&k(1), &v(9), BPF_ANY, 3).unwrap();
    assert_eq!(per_cpu(&m.lookup(&k(1)).unwrap()), [0, 7, 0, 9]);
    assert_eq!(per_cpu(&m.lookup(&k(0)).unwrap()), [0, 0, 0, 0]);
    // Writing through one CPU's pointer changes that copy only.
    let g = RunGuard::pin();
    let p2 = m.lookup_ptr(&k(1), 2, &g).unwrap();
    let p1 = m.lookup_ptr(&k(1), 1, &g).unwrap();
    assert_ne!(p1.addr(), p2.addr());
    // SAFETY: pointers from lookup_ptr under a live guard, 8 bytes long,
    // 8-byte aligned.
    unsafe {
        assert_eq!(p1.as_ptr().cast::<u64>().read(), 7);
        p2.as_ptr().cast::<u64>().write(5);
    }
    assert_eq!(per_cpu(&m.lookup(&k(1)).unwrap()), [0, 7, 5, 9]);
    // CPUs past ncpus are refused.
    assert!(m.lookup_ptr(&k(1), 4, &g).is_none());
    assert_eq!(
        m.prog_update(&k(1), &v(1), BPF_ANY, 4),
        Err(MapError::BadCpu { cpu: 4, ncpus: 4 })
    );
}

#[test]
fn percpu_array_control_plane_writes_every_cpu() {
    let m = make(MapKind::PercpuArray, 4, 4, 3);
    // value_size 4 rounds to 8 per CPU.
    assert_eq!(m.user_value_size(), 32);
    let mut value = Vec::new();
    for cpu in 0..4u32 {
        value.extend_from_slice(&(10 + cpu).to_ne_bytes());
        value.extend_from_slice(&[0; 4]);
    }
    m.update(&k(2), &value, BPF_ANY).unwrap();
    assert_eq!(m.lookup(&k(2)).unwrap(), value);
    let g = RunGuard::pin();
    for cpu in 0..4 {
        let p = m.lookup_ptr(&k(2), cpu, &g).unwrap();
        assert_eq!(p.len(), 4);
        // SAFETY: as above; 4 bytes read from a 4-byte value.
        let x = unsafe { p.as_ptr().cast::<u32>().read() };
        assert_eq!(x, 10 + cpu);
    }
}

#[test]
fn percpu_hash_program_insert_zeroes_other_cpus() {
    let m = make(MapKind::PercpuHash, 4, 8, 4);
    // Put nonzero values on every CPU, delete, then insert from a program:
    // the other CPUs must read zero, not what was there before.
    m.update(&k(1), &[0xff; 32], BPF_ANY).unwrap();
    m.delete(&k(1)).unwrap();
    m.prog_update(&k(1), &v(3), BPF_NOEXIST, 2).unwrap();
    assert_eq!(per_cpu(&m.lookup(&k(1)).unwrap()), [0, 0, 3, 0]);
    // Updating an existing key from a program leaves the other CPUs.
    let all: Vec<u8> = [1u64, 2, 3, 4]
        .iter()
        .flat_map(|x| x.to_ne_bytes())
        .collect();
    m.update(&k(1), &all, BPF_EXIST).unwrap();
    m.prog_update(&k(1), &v(40), BPF_EXIST, 0).unwrap();
    assert_eq!(per_cpu(&m.lookup(&k(1)).unwrap()), [40, 2, 3, 4]);
    let g = RunGuard::pin();
    let p3 = m.lookup_ptr(&k(1), 3, &g).unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { p3.as_ptr().cast::<u64>().read() }, 4);
    assert!(m.lookup_ptr(&k(1), 4, &g).is_none());
    assert!(m.lookup_ptr(&k(2), 0, &g).is_none());
    let entries = m.entries().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(per_cpu(&entries[0].1), [40, 2, 3, 4]);
}

/// Each thread plays one CPU and increments its copy with plain,
/// non-atomic read-modify-writes: if two CPUs shared a copy, increments
/// would be lost.
fn isolation_under_threads(kind: MapKind) {
    const THREADS: u32 = 4;
    const ROUNDS: u64 = 100_000;
    let m = make(kind, 4, 8, 4);
    if kind == MapKind::PercpuHash {
        m.update(&k(0), &[0; 32], BPF_NOEXIST).unwrap();
    }
    let handles: Vec<_> = (0..THREADS)
        .map(|cpu| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                for _ in 0..ROUNDS / 100 {
                    let g = RunGuard::pin();
                    let p = m.lookup_ptr(&k(0), cpu, &g).unwrap().as_ptr().cast::<u64>();
                    for _ in 0..100 {
                        // SAFETY: valid while `g` lives; only this thread
                        // (this CPU) touches this copy.
                        unsafe { p.write_volatile(p.read_volatile() + 1) };
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        per_cpu(&m.lookup(&k(0)).unwrap()),
        [ROUNDS; THREADS as usize]
    );
}

#[test]
fn percpu_array_cpus_are_isolated_under_threads() {
    isolation_under_threads(MapKind::PercpuArray);
}

#[test]
fn percpu_hash_cpus_are_isolated_under_threads() {
    isolation_under_threads(MapKind::PercpuHash);
}

#[test]
fn default_cpu_count_is_available_parallelism() {
    let n = std::thread::available_parallelism().unwrap().get() as u32;
    assert_eq!(MapOptions::default().ncpus, n);
    let m = create(
        &MapSpec::new(MapKind::PercpuArray, 4, 8, 1),
        &MapOptions::default(),
    )
    .unwrap();
    assert_eq!(m.ncpus(), n);
    assert_eq!(m.user_value_size(), 8 * n as usize);
    // Shared maps have one copy whatever the options say.
    let h = create(
        &MapSpec::new(MapKind::Hash, 4, 8, 1),
        &MapOptions::with_ncpus(16),
    )
    .unwrap();
    assert_eq!(h.ncpus(), 1);
    assert_eq!(h.user_value_size(), 8);
}
