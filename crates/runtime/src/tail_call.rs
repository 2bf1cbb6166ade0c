//! Tail calls, redirects and inner maps: the per-run state of the helpers
//! in [`crate::helpers::kernel_calls`], and the loop every engine runs a
//! program in so that `bpf_tail_call` can replace it.
//!
//! # Tail calls
//!
//! `bpf_tail_call(ctx, prog_array, index)` looks up the slot; if it names a
//! program and fewer than [`MAX_TAIL_CALLS`] tail calls happened in this
//! run, the helper records the target and ends the current program with
//! [`HelperExit::Exit`](crate::HelperExit::Exit) — every engine already
//! unwinds all frames on it. [`drive`], which wraps each engine's
//! `Executable::run`, then runs the target with `r1 = ctx` and the same
//! [`RunState`] (budget, regions, maps, log), as many times as the chain
//! goes. The kernel jumps into the target reusing the frame instead; the
//! difference is not observable to a program, whose stack reads must follow
//! its own writes. A tail call that cannot happen (index out of range,
//! limit reached, empty slot) returns a negative errno and execution goes
//! on with the next instruction, as in the kernel, where the count is
//! charged before the slot is read (`___bpf_prog_run`'s `JMP_TAIL_CALL`).
//!
//! Programs are named by `u32` ids in `prog_array` slots; [`TailTargets`]
//! resolves them to executables of the same engine.

use std::sync::Arc;

use oxbpf_abi::limits::MAX_TAIL_CALLS;
use oxbpf_maps::MapHandle;

use crate::engine::{Executable, Trapped};
use crate::state::RunState;

/// The executables `prog_array` ids name, for one engine.
#[derive(Debug, Default)]
pub struct TailTargets {
    by_id: Vec<Option<Arc<dyn Executable>>>,
}

impl TailTargets {
    /// An empty table.
    pub fn new() -> TailTargets {
        TailTargets::default()
    }

    /// Makes `id` name `exe`.
    pub fn insert(&mut self, id: u32, exe: Arc<dyn Executable>) {
        let i = id as usize;
        if self.by_id.len() <= i {
            self.by_id.resize(i + 1, None);
        }
        self.by_id[i] = Some(exe);
    }

    /// The executable `id` names.
    #[inline]
    pub fn get(&self, id: u32) -> Option<&Arc<dyn Executable>> {
        self.by_id.get(id as usize).and_then(Option::as_ref)
    }
}

/// Where an XDP program asked the packet to go (`XDP_REDIRECT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Redirect {
    /// Out of interface `ifindex` (`bpf_redirect`, or a `devmap` slot).
    Ifindex(u32),
    /// To the AF_XDP socket of queue `queue` (an `xskmap` slot).
    XskQueue(u32),
}

/// Helper state of one run: tail calls, the redirect target, inner maps
/// looked up.
#[derive(Debug, Default)]
pub struct CallState {
    /// Programs `bpf_tail_call` may jump to; `None` makes every tail call
    /// fall through.
    pub targets: Option<Arc<TailTargets>>,
    /// Tail calls made so far in this run.
    pub tail_calls: u32,
    /// The target of the last successful `bpf_redirect` /
    /// `bpf_redirect_map` of this run, for the caller to forward the packet
    /// when the program returns `XDP_REDIRECT`.
    pub redirect: Option<Redirect>,
    /// The `bpf_spin_lock` the run holds (its address).
    pub(crate) held_lock: Option<u64>,
    pending: Option<(Arc<dyn Executable>, u64)>,
    active: bool,
    /// Inner maps handed to the program by lookups in maps of maps, kept
    /// alive for the run; their addresses are valid map handles.
    inner_maps: Vec<MapHandle>,
}

impl CallState {
    /// Records a tail call to `exe` with `ctx`, if the limit allows;
    /// returns whether it will happen. Counts the attempt either way.
    pub(crate) fn charge_tail_call(&mut self) -> bool {
        if self.tail_calls >= MAX_TAIL_CALLS {
            return false;
        }
        self.tail_calls += 1;
        true
    }

    pub(crate) fn set_pending(&mut self, exe: Arc<dyn Executable>, ctx: u64) {
        self.pending = Some((exe, ctx));
    }

    /// The handle a program holds for inner map `map`; keeps it alive for
    /// the run.
    pub(crate) fn inner_handle(&mut self, map: MapHandle) -> u64 {
        let addr = inner_addr(&map);
        if !self.inner_maps.iter().any(|m| inner_addr(m) == addr) {
            self.inner_maps.push(map);
        }
        addr
    }

    /// The inner map whose handle is `handle`, if a lookup of this run
    /// returned it.
    #[inline]
    pub(crate) fn inner_map(&self, handle: u64) -> Option<&MapHandle> {
        self.inner_maps.iter().find(|m| inner_addr(m) == handle)
    }
}

fn inner_addr(map: &MapHandle) -> u64 {
    Arc::as_ptr(map) as *const () as u64
}

/// Runs a program and then the chain of programs it tail-calls. Engines
/// wrap their `Executable::run` in it: `once` runs the engine's own code.
/// Nested calls (a tail target's own `run`) only run `once`; the outermost
/// call drives the chain and resets the per-run counters. Inlined into the
/// engine: a run without a tail call, a held lock or an inner map costs a
/// few stores and three tests here; the rest is out of line.
#[inline]
pub fn drive<'a>(
    state: &mut RunState<'a>,
    args: [u64; 5],
    once: impl FnOnce(&mut RunState<'a>, [u64; 5]) -> Result<u64, Trapped>,
) -> Result<u64, Trapped> {
    if state.calls.active {
        return once(state, args);
    }
    state.calls.active = true;
    state.calls.tail_calls = 0;
    state.calls.redirect = None;
    let mut result = once(state, args);
    if state.calls.pending.is_some() {
        result = run_chain(state, result);
    }
    state.calls.active = false;
    if state.calls.held_lock.is_some() || !state.calls.inner_maps.is_empty() {
        end_run(state);
    }
    result
}

/// The tail-call targets after the first program (`pending` is set).
#[cold]
#[inline(never)]
fn run_chain(state: &mut RunState<'_>, mut result: Result<u64, Trapped>) -> Result<u64, Trapped> {
    while result.is_ok() {
        let Some((exe, ctx)) = state.calls.pending.take() else {
            break;
        };
        result = exe.run(state, [ctx, 0, 0, 0, 0]);
    }
    // A trap ends the chain; a target it named does not run.
    state.calls.pending = None;
    result
}

/// Releases what a run left behind: a lock it still holds, the inner maps
/// it was handed.
#[cold]
#[inline(never)]
fn end_run(state: &mut RunState<'_>) {
    if let Some(lock) = state.calls.held_lock.take() {
        // A program that ends holding its lock (the kernel's verifier
        // refuses such programs; checked mode runs them): release it so
        // other runs do not spin forever.
        // SAFETY: spin_lock validated this 4-aligned word for the run, and
        // map values stay valid until the caller's RunGuard drops, after
        // this returns (the engine may already have dropped the value's
        // checked-mode region, so it is not looked up again). Other runs
        // touch the word only atomically.
        unsafe { core::sync::atomic::AtomicU32::from_ptr(lock as *mut u32) }
            .store(0, core::sync::atomic::Ordering::Release);
    }
    state.calls.inner_maps.clear();
}
