//! Per-run state handed to an engine and to helpers.

use core::marker::PhantomData;

use oxbpf_abi::limits::DEFAULT_BUDGET;

use crate::memory::{Region, RegionKind, Regions};
use crate::program::SafetyMode;
use oxbpf_abi::Trap;

/// Everything a run can see besides registers and stack: the memory
/// regions, the remaining instruction budget, and the helpers' scratch state.
///
/// The lifetime `'a` ties the state to the memory lent to it with
/// [`RunState::add_memory`], so a program can never run after that memory
/// is gone. A `RunState` can be reused for many runs.
#[derive(Debug)]
pub struct RunState<'a> {
    /// Regions checked mode allows. Engines add their stack for the duration
    /// of a run and remove it afterwards.
    pub regions: Regions,
    /// Instructions left; engines charge it per basic block (see
    /// [`crate::blocks`]). Reset it between runs.
    pub budget: u64,
    /// The safety mode of the program being run; set by the engine at the
    /// start of each run so helpers know whether to validate pointers.
    pub mode: SafetyMode,
    /// Lines printed by `trace_printk` and friends.
    pub log: Vec<String>,
    /// The CPU the run executes as (`bpf_get_smp_processor_id`, the copy
    /// of per-CPU maps it reaches). Default 0.
    pub cpu: u32,
    /// The maps the program may name; map helpers accept only their
    /// handles in checked mode. The caller must hold an
    /// [`oxbpf_maps::RunGuard`] on this thread for the whole run, so
    /// values handed to the program stay valid.
    pub maps: Option<crate::maps::SharedMaps>,
    /// Tail calls, redirect target and inner maps of the run (see
    /// [`crate::tail_call`]).
    pub calls: crate::tail_call::CallState,
    /// The XDP buffer lent with [`crate::packet::XdpBuff::attach`], as an
    /// address (kept as an integer so the state stays `Send`).
    xdp: Option<usize>,
    /// Whether the thread running the program holds an
    /// [`oxbpf_maps::RunGuard`] for the whole run (see
    /// [`RunState::set_pinned`]): map helpers then skip their own pin.
    pinned: bool,
    /// Scratch bytes helpers copy arguments into (kept between runs).
    pub(crate) scratch: Vec<u8>,
    _borrow: PhantomData<&'a mut [u8]>,
}

impl Default for RunState<'_> {
    fn default() -> Self {
        RunState::new()
    }
}

impl<'a> RunState<'a> {
    /// A state with no memory and the default budget.
    pub fn new() -> RunState<'a> {
        RunState {
            regions: Regions::new(),
            budget: DEFAULT_BUDGET,
            mode: SafetyMode::Checked,
            log: Vec::new(),
            cpu: 0,
            maps: None,
            calls: Default::default(),
            xdp: None,
            pinned: false,
            scratch: Vec::new(),
            _borrow: PhantomData,
        }
    }

    /// The same state, ready for another run with other memory: every
    /// region is dropped (the memory lent for `'a` is no longer reachable),
    /// the attached XDP buffer is forgotten, the budget is reset, the log
    /// emptied and [`RunState::set_pinned`] cleared; the maps, CPU,
    /// tail-call targets and the allocations (region list, log) are kept.
    /// Lets a caller that runs packet after packet keep one boxed state
    /// instead of building one per run (in place: nothing is copied).
    #[inline]
    pub fn recycle<'b>(mut self: Box<Self>) -> Box<RunState<'b>> {
        self.regions.truncate(0);
        self.log.clear();
        self.budget = DEFAULT_BUDGET;
        self.xdp = None;
        self.pinned = false;
        // SAFETY: `RunState<'a>` and `RunState<'b>` differ only in a
        // lifetime parameter (same layout). 'a bounds only the memory lent
        // with add_memory/add_readonly/XdpBuff::attach, which is reachable
        // only through `regions` and `xdp`, both cleared above; nothing
        // else in the state borrows for 'a.
        unsafe { Box::from_raw(Box::into_raw(self).cast::<RunState<'b>>()) }
    }

    /// Declares whether the thread that runs the program holds an
    /// [`oxbpf_maps::RunGuard`] for the whole of every run made with this
    /// state. When it does, map helpers look values up under that pin
    /// instead of pinning again (a thread-local access per call).
    ///
    /// # Safety
    /// While set, every run made with this state must happen on a thread
    /// that holds a live `RunGuard` from before the run starts until after
    /// it returns. Clear it before the state can be used otherwise.
    pub unsafe fn set_pinned(&mut self, pinned: bool) {
        self.pinned = pinned;
    }

    /// Whether [`RunState::set_pinned`] declared the run pinned.
    #[inline]
    pub fn pinned(&self) -> bool {
        self.pinned
    }

    /// `bpf_map_lookup_elem` on `map` with `key` from this run (its CPU,
    /// under its pin): the value's address, or 0. For engines that resolved
    /// the map when they compiled the call; the helper itself also checks
    /// the handle and, in checked mode, registers the value as a region.
    #[inline]
    pub fn lookup_value(&self, map: &dyn oxbpf_maps::Map, key: &[u8]) -> u64 {
        let found = if self.pinned {
            // SAFETY: set_pinned's contract: this thread holds a live
            // RunGuard for the whole run, which covers this lookup and the
            // program's later use of the value.
            map.lookup_ptr(key, self.cpu, unsafe {
                oxbpf_maps::RunGuard::assume_pinned()
            })
        } else {
            lookup_nested(map, key, self.cpu)
        };
        found.map_or(0, |p| p.addr())
    }

    /// Lends writable memory to the runs; returns its address as the
    /// program sees it.
    pub fn add_memory(&mut self, mem: &'a mut [u8], kind: RegionKind) -> u64 {
        let start = mem.as_mut_ptr() as u64;
        self.regions.push(Region {
            start,
            len: mem.len() as u64,
            writable: true,
            kind,
        });
        start
    }

    /// Lends read-only memory to the runs; returns its address.
    pub fn add_readonly(&mut self, mem: &'a [u8], kind: RegionKind) -> u64 {
        let start = mem.as_ptr() as u64;
        self.regions.push(Region {
            start,
            len: mem.len() as u64,
            writable: false,
            kind,
        });
        start
    }

    /// Makes `buf` reachable by the `xdp_adjust_*` helpers for the runs.
    #[inline]
    pub(crate) fn set_xdp(&mut self, buf: &'a mut crate::packet::XdpBuff) {
        self.xdp = Some(buf as *mut crate::packet::XdpBuff as usize);
    }

    /// The attached XDP buffer (see [`Self::set_xdp`]).
    pub(crate) fn xdp_ptr(&self) -> Option<*mut crate::packet::XdpBuff> {
        self.xdp.map(|a| a as *mut crate::packet::XdpBuff)
    }

    /// Borrows `len` bytes at `addr` for reading, as a helper does with a
    /// pointer argument. In checked mode the range must lie in a region; in
    /// verified mode the verifier has proved it valid.
    pub fn read_bytes(&self, addr: u64, len: u64) -> Result<&[u8], Trap> {
        if len == 0 {
            return Ok(&[]);
        }
        if self.mode == SafetyMode::Checked {
            self.regions.check(addr, len, false)?;
        }
        // SAFETY: in checked mode the range lies inside a region, and every
        // region is memory lent for 'a (add_memory/add_readonly) or owned by
        // the engine for the duration of the run; in verified mode the
        // verifier proved the pointer valid for `len` bytes.
        Ok(unsafe { core::slice::from_raw_parts(addr as *const u8, len as usize) })
    }

    /// Borrows `len` bytes at `addr` for writing (see [`Self::read_bytes`]).
    pub fn write_bytes(&mut self, addr: u64, len: u64) -> Result<&mut [u8], Trap> {
        if len == 0 {
            return Ok(&mut []);
        }
        if self.mode == SafetyMode::Checked {
            self.regions.check(addr, len, true)?;
        }
        // SAFETY: as in `read_bytes`, and the region is writable.
        Ok(unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, len as usize) })
    }
}

/// A lookup under a nested pin, for runs not marked pinned: out of line, so
/// the pinned path of [`RunState::lookup_value`] needs no registers for it.
#[cold]
#[inline(never)]
fn lookup_nested(map: &dyn oxbpf_maps::Map, key: &[u8], cpu: u32) -> Option<oxbpf_maps::ValuePtr> {
    // The caller holds a RunGuard for the whole run (see `RunState::maps`),
    // which keeps the value alive after this nested one drops.
    map.lookup_ptr(key, cpu, &oxbpf_maps::RunGuard::pin())
}
