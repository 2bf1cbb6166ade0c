//! The reclamation guard a run holds: while it lives, no map memory that a
//! program could have been handed since it was taken is freed.

use crossbeam_epoch as epoch;

/// Keeps map memory alive for the duration of a run.
///
/// An engine takes one with [`RunGuard::pin`] before a run starts (or
/// before a batch of runs on one thread), passes it to every
/// [`Map::lookup_ptr`](crate::Map::lookup_ptr) the run makes, and drops it
/// after the run has returned and no pointer from it is used any more.
/// Every value pointer handed out under the guard stays valid for reads and
/// writes of the value's size until the guard drops, even if the control
/// plane (or another run) deletes or replaces the entry, clears the map or
/// drops it meanwhile: freed entries are retired, and retired memory is
/// reclaimed only once every guard that was alive at retirement has
/// dropped. This is epoch-based reclamation ([`crossbeam_epoch`]), the
/// user-space counterpart of the RCU read-side critical section the kernel
/// runs each program in.
///
/// A guard is tied to its thread (`!Send`). Guards nest cheaply. A guard
/// held for a long time delays the reclamation of every map in the process,
/// not only the ones it touched: drop it between runs, or at least every
/// few milliseconds on a busy worker.
///
/// ```
/// use oxbpf_maps::{create, Map, MapOptions, MapSpec, RunGuard};
/// use oxbpf_abi::map_kind::{MapKind, update::BPF_ANY};
///
/// let map = create(&MapSpec::new(MapKind::Hash, 4, 8, 16), &MapOptions::default()).unwrap();
/// map.update(&7u32.to_ne_bytes(), &1u64.to_ne_bytes(), BPF_ANY).unwrap();
/// let guard = RunGuard::pin();
/// let value = map.lookup_ptr(&7u32.to_ne_bytes(), 0, &guard).unwrap();
/// map.delete(&7u32.to_ne_bytes()).unwrap();
/// // Still readable: the guard keeps the deleted entry's memory alive.
/// // SAFETY: `value` came from lookup_ptr under `guard`, which is alive;
/// // it is 8-byte aligned and 8 bytes long.
/// assert_eq!(unsafe { value.as_ptr().cast::<u64>().read() }, 1);
/// drop(guard);
/// ```
#[derive(Debug)]
#[repr(transparent)] // `assume_pinned` reinterprets an `epoch::Guard`
pub struct RunGuard {
    inner: epoch::Guard,
}

impl RunGuard {
    /// Pins the current thread: map memory retired from now on is not
    /// reclaimed before this guard drops.
    #[inline]
    pub fn pin() -> RunGuard {
        RunGuard {
            inner: epoch::pin(),
        }
    }

    /// A guard that pins nothing, for a lookup made while another
    /// [`RunGuard`] pins the calling thread: saves the thread-local access
    /// of a nested [`RunGuard::pin`] on every map helper call of a run.
    /// Lookups ([`Map::lookup_ptr`](crate::Map::lookup_ptr)) only read
    /// under their guard, so the pin that protects them is the one the
    /// thread already holds; memory retired under this guard would be freed
    /// at once, so it must not be passed to anything that retires.
    ///
    /// # Safety
    /// The calling thread must hold a live [`RunGuard`] for as long as the
    /// returned reference, and every pointer looked up under it, is used.
    #[inline]
    pub unsafe fn assume_pinned() -> &'static RunGuard {
        // SAFETY: the caller guarantees the thread is pinned by another
        // guard for the whole use (see above); `RunGuard` is a transparent
        // wrapper of `epoch::Guard`, so the cast keeps layout and validity.
        unsafe { &*(epoch::unprotected() as *const epoch::Guard).cast::<RunGuard>() }
    }

    /// Hands memory this thread retired to the global reclaimer and tries
    /// to reclaim what no live guard can still reach. Reclamation also
    /// happens on its own as threads pin; a worker that retires much and
    /// pins rarely, or a test waiting for reclamation, calls this.
    pub fn flush(&self) {
        self.inner.flush();
    }

    /// The underlying epoch guard.
    #[inline]
    pub(crate) fn epoch(&self) -> &epoch::Guard {
        &self.inner
    }
}
