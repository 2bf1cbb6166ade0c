//! Maglev properties from issue 10: shares, weights, stable-mode
//! disruption and determinism across processes.

use oxbpf_lb::maglev::{DEFAULT_RING_SIZE, MaglevBackend, NO_BACKEND, build, build_stable, diff};

const M: u32 = DEFAULT_RING_SIZE;

fn backends(n: u32) -> Vec<MaglevBackend> {
    (1..=n)
        .map(|i| MaglevBackend::new(i, 1, format!("10.1.{}.{}", i / 256, i % 256)))
        .collect()
}

fn count(ring: &[u32], id: u32) -> u64 {
    ring.iter().filter(|&&s| s == id).count() as u64
}

/// max(1% of the ideal share, 1 slot).
fn bound(ideal: f64) -> f64 {
    (ideal * 0.01).max(1.0)
}

#[test]
fn equal_weights_give_equal_shares() {
    for n in [1u32, 3, 10, 100, 1000] {
        let ring = build(&backends(n), M).unwrap();
        assert!(!ring.contains(&NO_BACKEND), "{n} backends: empty slot");
        let ideal = f64::from(M) / f64::from(n);
        for id in 1..=n {
            let c = count(&ring, id) as f64;
            assert!(
                (c - ideal).abs() <= bound(ideal),
                "{n} backends: backend {id} has {c} slots, ideal {ideal:.1}"
            );
        }
    }
}

#[test]
fn weights_are_honoured() {
    let weights = [1u32, 2, 3, 5, 10, 0, 7];
    let b: Vec<_> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| MaglevBackend::new(i as u32 + 1, w, format!("b{i}")))
        .collect();
    let ring = build(&b, M).unwrap();
    let total: u32 = weights.iter().sum();
    for (i, &w) in weights.iter().enumerate() {
        let ideal = f64::from(M) * f64::from(w) / f64::from(total);
        let c = count(&ring, i as u32 + 1) as f64;
        assert!(
            (c - ideal).abs() <= bound(ideal),
            "weight {w}: {c} slots, ideal {ideal:.1}"
        );
    }
    assert_eq!(count(&ring, 6), 0, "weight 0 takes no slot");
}

#[test]
fn ring_does_not_depend_on_list_order() {
    let mut b = backends(20);
    let a = build(&b, M).unwrap();
    b.reverse();
    assert_eq!(a, build(&b, M).unwrap());
}

/// Removing k of N backends: stable mode moves at most 1.1x the removed
/// share; plain Maglev's figure is printed beside it.
#[test]
fn stable_mode_moves_little_when_backends_leave() {
    println!(
        "{:>5} {:>3} {:>10} {:>12} {:>12}",
        "N", "k", "removed", "stable", "plain"
    );
    for (n, k) in [(10u32, 1u32), (10, 3), (100, 1), (100, 10), (1000, 50)] {
        let all = backends(n);
        let old = build(&all, M).unwrap();
        // Remove every (n/k)-th backend.
        let step = n / k;
        let kept: Vec<_> = all
            .iter()
            .filter(|b| (b.id - 1) % step != 0 || (b.id - 1) / step >= k)
            .cloned()
            .collect();
        assert_eq!(kept.len() as u32, n - k);
        let removed: u64 = all
            .iter()
            .filter(|b| !kept.contains(b))
            .map(|b| count(&old, b.id))
            .sum();
        let stable = build_stable(&kept, M, &old).unwrap();
        let plain = build(&kept, M).unwrap();
        let moved_stable = diff(&old, &stable).len() as u64;
        let moved_plain = diff(&old, &plain).len() as u64;
        println!(
            "{n:>5} {k:>3} {removed:>10} {moved_stable:>12} {moved_plain:>12}   (slots of {M})"
        );
        assert!(
            moved_stable as f64 <= 1.1 * removed as f64,
            "N={n} k={k}: stable moved {moved_stable}, removed share {removed}"
        );
        // The stable ring is still balanced.
        let ideal = f64::from(M) / f64::from(n - k);
        for b in &kept {
            let c = count(&stable, b.id) as f64;
            assert!(
                (c - ideal).abs() <= bound(ideal),
                "N={n} k={k}: {c} vs {ideal:.1}"
            );
        }
    }
}

#[test]
fn stable_mode_adding_a_backend_moves_only_its_share() {
    let all = backends(11);
    let old = build(&all[..10], M).unwrap();
    let new = build_stable(&all, M, &old).unwrap();
    let moved = diff(&old, &new);
    assert!(
        moved.iter().all(|&(_, id)| id == 11),
        "only the new backend gains slots"
    );
    let ideal = f64::from(M) / 11.0;
    assert!((moved.len() as f64 - ideal).abs() <= bound(ideal));
}

fn digest(ring: &[u32]) -> u64 {
    let bytes: Vec<u8> = ring.iter().flat_map(|s| s.to_le_bytes()).collect();
    oxbpf_lb::maglev::stable_hash(&bytes, 0)
}

fn reference_config() -> Vec<MaglevBackend> {
    let mut b = backends(37);
    b[3].weight = 4;
    b[9].weight = 0;
    b
}

/// Run by `same_ring_in_two_processes` in a child process.
#[test]
fn child_prints_ring_digest() {
    if std::env::var_os("OXBPF_LB_MAGLEV_CHILD").is_none() {
        return;
    }
    let ring = build(&reference_config(), M).unwrap();
    println!("RING-DIGEST {:016x}", digest(&ring));
}

#[test]
fn same_ring_in_two_processes() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "child_prints_ring_digest",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("OXBPF_LB_MAGLEV_CHILD", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split("RING-DIGEST ").nth(1).map(str::trim))
        .unwrap_or_else(|| panic!("child printed no digest: {stdout}"));
    let ring = build(&reference_config(), M).unwrap();
    assert_eq!(line, format!("{:016x}", digest(&ring)));
}
