//! Arrays of large maps in memory that asks for transparent huge pages.
//!
//! A large hash map's buckets and elements are read at random: with 4 KiB
//! pages nearly every access to a cold element also misses the TLB, and on
//! a virtual machine a TLB miss walks two page tables. The kernel's maps
//! live in its direct mapping, which uses huge pages; oxbpf's ask for them
//! with `madvise(MADV_HUGEPAGE)` on an anonymous mapping aligned to 2 MiB
//! (the system's setting `transparent_hugepage=madvise`, a common default,
//! grants huge pages only to memory that asks). Smaller arrays, or a system
//! that refuses, get ordinary memory; nothing but speed depends on it.

use core::ptr::NonNull;

/// Size of a huge page on x86-64 (and of the alignment asked for).
const HUGE_PAGE: usize = 2 << 20;

/// Arrays at least this large are put in huge-page memory.
pub(crate) const HUGE_MIN_BYTES: usize = 1 << 20;

/// `len` values of `T` in an anonymous mapping aligned to [`HUGE_PAGE`],
/// advised to use huge pages. Dropped with its values.
pub(crate) struct HugeArray<T> {
    ptr: NonNull<T>,
    len: usize,
    /// The whole mapping, for `munmap`.
    map: *mut libc::c_void,
    map_len: usize,
}

// SAFETY: a HugeArray owns its values as a Box<[T]> would; sharing or
// sending it is sharing or sending them.
unsafe impl<T: Send> Send for HugeArray<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for HugeArray<T> {}

impl<T> HugeArray<T> {
    /// `len` values `init(0)`, `init(1)`, ..., or `None` if the array is
    /// smaller than [`HUGE_MIN_BYTES`] or the mapping fails (the caller
    /// then allocates ordinarily).
    pub(crate) fn new(len: usize, mut init: impl FnMut(usize) -> T) -> Option<HugeArray<T>> {
        let bytes = len.checked_mul(size_of::<T>())?;
        if bytes < HUGE_MIN_BYTES || align_of::<T>() > HUGE_PAGE {
            return None;
        }
        let map_len = bytes.checked_add(HUGE_PAGE)?;
        // SAFETY: an anonymous private mapping at an address of the
        // kernel's choosing; no existing memory is affected.
        let map = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return None;
        }
        let start = (map as usize).next_multiple_of(HUGE_PAGE);
        // SAFETY: [start, start + bytes) lies inside the mapping (it has
        // HUGE_PAGE bytes of slack for the alignment). The advice only
        // changes how pages are backed; if the system refuses it the
        // memory is still ordinary zeroed memory.
        unsafe {
            libc::madvise(start as *mut libc::c_void, bytes, libc::MADV_HUGEPAGE);
        }
        let ptr = NonNull::new(start as *mut T)?;
        for i in 0..len {
            // SAFETY: slot i is inside the mapping, aligned (start is
            // HUGE_PAGE-aligned, T's alignment divides it and its size),
            // and written once, before anything reads it. Were `init` to
            // panic, the mapping and the values written so far would leak,
            // which is safe.
            unsafe { ptr.add(i).write(init(i)) };
        }
        Some(HugeArray {
            ptr,
            len,
            map,
            map_len,
        })
    }

    /// The values.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[T] {
        // SAFETY: `len` values were written at `ptr` and live until drop.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Whether `p` points at one of the values.
    pub(crate) fn contains(&self, p: *const T) -> bool {
        self.as_slice().as_ptr_range().contains(&p)
    }
}

impl<T> Drop for HugeArray<T> {
    fn drop(&mut self) {
        // SAFETY: the values are initialised and no longer used (we own
        // them); the mapping is ours and unmapped once.
        unsafe {
            core::ptr::drop_in_place(core::ptr::slice_from_raw_parts_mut(
                self.ptr.as_ptr(),
                self.len,
            ));
            libc::munmap(self.map, self.map_len);
        }
    }
}

/// An array in huge-page memory when it is large ([`HugeArray`]), else on
/// the heap.
pub(crate) enum Slab<T> {
    Heap(Box<[T]>),
    Huge(HugeArray<T>),
}

impl<T> core::ops::Deref for Slab<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            Slab::Heap(b) => b,
            Slab::Huge(h) => h.as_slice(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counted<'a>(u64, &'a AtomicUsize);

    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn small_arrays_are_left_to_the_heap() {
        assert!(HugeArray::new(HUGE_MIN_BYTES / 8 - 1, |i| i as u64).is_none());
    }

    #[test]
    fn a_large_array_holds_its_values_and_drops_each_once() {
        let drops = AtomicUsize::new(0);
        let n = HUGE_MIN_BYTES / 16 * 3;
        let a = HugeArray::new(n, |i| Counted(i as u64 * 3, &drops)).expect("mmap");
        let s = a.as_slice();
        assert_eq!(s.len(), n);
        assert_eq!(s.as_ptr() as usize % HUGE_PAGE, 0, "aligned to a huge page");
        assert!(s.iter().enumerate().all(|(i, c)| c.0 == i as u64 * 3));
        assert!(a.contains(&s[0]) && a.contains(&s[n - 1]));
        let outside = Counted(0, &drops);
        assert!(!a.contains(&outside));
        drop(outside);
        drop(a);
        assert_eq!(drops.load(Ordering::Relaxed), n + 1);
    }
}
