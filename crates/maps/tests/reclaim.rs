//! The reclamation rule: memory a run may hold is not freed before the
//! run's guard drops, whatever the control plane does meanwhile; and it is
//! freed after.
//!
//! Each test plays a "run" on its own thread (a guard and a value pointer)
//! and the control plane on the test thread. `MapStats::reclaimed` counts
//! frees (a drop counter), and debug builds poison freed values, so reading
//! the held pointer would show the poison if memory were freed early.
//! The tests run one at a time: a guard held by one would hold back the
//! reclamation another waits for.

mod common;

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use common::{k, make};
use oxbpf_maps::{MapHandle, MapKind, RunGuard, update::*};

static SERIAL: Mutex<()> = Mutex::new(());

fn pattern(seed: u64) -> Vec<u8> {
    (0..4u64)
        .flat_map(|i| (seed.wrapping_mul(0x9e37_79b9) ^ (i << 56) ^ i).to_ne_bytes())
        .collect()
}

/// Reads 32 bytes at `p`.
///
/// # Safety
/// `p` must be valid for 32 bytes of reads.
unsafe fn read32(p: *const u8) -> Vec<u8> {
    // SAFETY: guaranteed by the caller.
    unsafe { std::slice::from_raw_parts(p, 32).to_vec() }
}

/// Pushes this thread's retired memory to the reclaimer and collects,
/// many times over, so that anything reclaimable is reclaimed.
fn push_reclamation() {
    for _ in 0..2_000 {
        RunGuard::pin().flush();
    }
}

/// Waits (a bounded number of rounds) until the map has reclaimed every
/// element it retired; returns the final stats.
fn wait_reclaimed(m: &MapHandle) -> oxbpf_maps::MapStats {
    for _ in 0..500 {
        let s = m.stats();
        if s.reclaimed == s.retired {
            return s;
        }
        push_reclamation();
        std::thread::yield_now();
    }
    m.stats()
}

/// A run on another thread: pins, looks `key` up on `cpu`, reports the
/// pointer's contents, waits for `go`, then checks the contents are still
/// `expect` and writable, waits again, and drops its guard.
fn spawn_run(
    m: &MapHandle,
    key: Vec<u8>,
    cpu: u32,
    expect: Vec<u8>,
) -> (Receiver<()>, Sender<()>, std::thread::JoinHandle<()>) {
    let (ready_tx, ready_rx) = channel();
    let (go_tx, go_rx) = channel::<()>();
    let m = Arc::clone(m);
    let handle = std::thread::spawn(move || {
        let guard = RunGuard::pin();
        let p = m.lookup_ptr(&key, cpu, &guard).expect("entry present");
        // SAFETY: valid for the value's 32 bytes while `guard` lives.
        assert_eq!(unsafe { read32(p.as_ptr()) }, expect);
        drop(m);
        ready_tx.send(()).unwrap();
        go_rx.recv().unwrap(); // the control plane has done its worst
        // SAFETY: as above: the guard is still alive.
        let now = unsafe { read32(p.as_ptr()) };
        assert_eq!(now, expect, "value changed under a live guard");
        // Still writable: the memory is the run's until the guard drops.
        // SAFETY: as above, 8-byte aligned.
        unsafe {
            let w = p.as_ptr().cast::<u64>();
            w.write(w.read() ^ 1);
            w.write(w.read() ^ 1);
        }
        ready_tx.send(()).unwrap();
        go_rx.recv().unwrap();
        drop(guard);
    });
    (ready_rx, go_tx, handle)
}

fn delete_during_run(kind: MapKind) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let m = make(kind, 4, 32, 16);
    let cpu = 2;
    let value = pattern(1);
    if kind.is_percpu() {
        m.update(&k(1), &vec![0; m.user_value_size()], BPF_NOEXIST)
            .unwrap();
        m.prog_update(&k(1), &value, BPF_EXIST, cpu).unwrap();
    } else {
        m.update(&k(1), &value, BPF_NOEXIST).unwrap();
    }
    let (ready, go, run) = spawn_run(&m, k(1).to_vec(), cpu, value.clone());
    ready.recv().unwrap();

    // The control plane deletes the entry, reinserts the key with another
    // value, and churns other keys, then pushes reclamation hard.
    m.delete(&k(1)).unwrap();
    m.prog_update(&k(1), &pattern(2), BPF_NOEXIST, cpu).unwrap();
    for i in 2..200 {
        m.prog_update(&k(i % 10 + 2), &pattern(i.into()), BPF_ANY, 0)
            .unwrap();
        if i % 3 == 0 {
            let _ = m.delete(&k(i % 10 + 2));
        }
    }
    push_reclamation();
    let s = m.stats();
    assert!(s.retired >= 1);
    assert_eq!(
        s.reclaimed, 0,
        "memory retired under a live guard was freed"
    );

    go.send(()).unwrap();
    ready.recv().unwrap(); // the run checked its value
    go.send(()).unwrap();
    run.join().unwrap();

    // After the guard dropped, everything retired is eventually freed.
    let s = wait_reclaimed(&m);
    assert_eq!(s.reclaimed, s.retired, "retired memory never reclaimed");
    // The reinserted key holds its new value.
    let g = RunGuard::pin();
    let p = m.lookup_ptr(&k(1), cpu, &g).unwrap();
    // SAFETY: valid while `g` lives.
    assert_eq!(unsafe { read32(p.as_ptr()) }, pattern(2));
}

#[test]
fn hash_delete_during_a_run_keeps_the_value_until_the_guard_drops() {
    delete_during_run(MapKind::Hash);
}

#[test]
fn percpu_hash_delete_during_a_run_keeps_the_value_until_the_guard_drops() {
    delete_during_run(MapKind::PercpuHash);
}

#[test]
fn hash_replace_during_a_run_leaves_the_run_on_the_old_value() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let m = make(MapKind::Hash, 4, 32, 4);
    m.update(&k(7), &pattern(7), BPF_NOEXIST).unwrap();
    let (ready, go, run) = spawn_run(&m, k(7).to_vec(), 0, pattern(7));
    ready.recv().unwrap();
    // Replacing builds a new element (htab_map_update_elem); the run keeps
    // the old one, and its writes do not reach the new value.
    m.update(&k(7), &pattern(8), BPF_EXIST).unwrap();
    push_reclamation();
    assert_eq!(m.stats().reclaimed, 0);
    go.send(()).unwrap();
    ready.recv().unwrap();
    assert_eq!(m.lookup(&k(7)).unwrap(), pattern(8));
    go.send(()).unwrap();
    run.join().unwrap();
    let s = wait_reclaimed(&m);
    assert_eq!((s.retired, s.reclaimed), (1, 1));
}

#[test]
fn hash_clear_during_a_run_keeps_the_value_until_the_guard_drops() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let m = make(MapKind::Hash, 4, 32, 64);
    for i in 0..64 {
        m.update(&k(i), &pattern(i.into()), BPF_NOEXIST).unwrap();
    }
    let (ready, go, run) = spawn_run(&m, k(33).to_vec(), 0, pattern(33));
    ready.recv().unwrap();
    m.clear().unwrap();
    push_reclamation();
    assert_eq!(m.stats().retired, 64);
    assert_eq!(m.stats().reclaimed, 0);
    go.send(()).unwrap();
    ready.recv().unwrap();
    go.send(()).unwrap();
    run.join().unwrap();
    let s = wait_reclaimed(&m);
    assert_eq!((s.retired, s.reclaimed, s.entries), (64, 64, 0));
}

#[test]
fn dropping_the_map_during_a_run_keeps_values_until_the_guard_drops() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for kind in [
        MapKind::Array,
        MapKind::PercpuArray,
        MapKind::Hash,
        MapKind::PercpuHash,
    ] {
        let m = make(kind, 4, 32, 4);
        let value = pattern(kind.id().into());
        m.prog_update(&k(3), &value, BPF_ANY, 1).unwrap();
        // The run does not keep the map alive (spawn_run drops its handle):
        // only its guard protects the memory.
        let (ready, go, run) = spawn_run(&m, k(3).to_vec(), 1, value);
        ready.recv().unwrap();
        assert_eq!(Arc::strong_count(&m), 1);
        drop(m);
        push_reclamation();
        go.send(()).unwrap();
        ready.recv().unwrap();
        go.send(()).unwrap();
        run.join().unwrap();
    }
}
