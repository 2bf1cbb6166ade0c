//! `BPF_MAP_TYPE_RINGBUF`: a multi-producer, single-consumer ring of
//! variable-length records (kernel: `kernel/bpf/ringbuf.c`).
//!
//! `max_entries` is the ring's size in bytes: a power of two and a multiple
//! of the 4096-byte page; `key_size` and `value_size` are 0. A record is an
//! 8-byte header (`u32 len` with `BPF_RINGBUF_BUSY_BIT` (bit 31) while
//! reserved and `BPF_RINGBUF_DISCARD_BIT` (bit 30) once discarded, then
//! `u32 pg_off`, here the header's offset in the ring in pages) followed by
//! `len` bytes, the whole rounded up to 8 bytes. Producers reserve space at
//! the producer position under a lock, as `__bpf_ringbuf_reserve` does
//! under `rb->spinlock`; a reservation fails (NULL, or `-EAGAIN` for
//! output) when the new producer position would be more than the ring's
//! size ahead of the consumer position. Submitting or discarding clears the
//! busy bit with a release store; the consumer ([`RingBuf::consume`]) reads
//! records in order up to the first still busy one and skips discarded
//! ones, then advances the consumer position.
//!
//! The kernel maps the data pages twice in a row so that a record that
//! wraps past the ring's end is still contiguous. oxbpf allocates the data
//! area twice the ring's size instead: a reservation that wraps is handed
//! out contiguous, running into the second half, and on submit the part past
//! the end is copied to the ring's start, where the consumer reads it. The
//! copy happens before the busy bit clears, so the consumer never sees a
//! record half copied.
//!
//! Wakeup flags (`BPF_RB_NO_WAKEUP`, `BPF_RB_FORCE_WAKEUP`) are accepted
//! and have no effect: consumers poll ([`RingBuf::consume`]), nothing
//! sleeps on an epoll set.

use core::any::Any;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use oxbpf_abi::map_kind::flags::{BPF_F_ACCESS_MASK, BPF_F_NUMA_NODE};

use crate::spec::Common;
use crate::storage::alloc_words;
use crate::{Entry, Map, MapError, MapOptions, MapSpec, MapStats, RunGuard, ValuePtr};

/// `BPF_RINGBUF_BUSY_BIT`.
pub const BUSY_BIT: u32 = 1 << 31;
/// `BPF_RINGBUF_DISCARD_BIT`.
pub const DISCARD_BIT: u32 = 1 << 30;
/// `BPF_RINGBUF_HDR_SZ`.
pub const HDR_SIZE: u64 = 8;
/// `BPF_RB_NO_WAKEUP`.
pub const BPF_RB_NO_WAKEUP: u64 = 1;
/// `BPF_RB_FORCE_WAKEUP`.
pub const BPF_RB_FORCE_WAKEUP: u64 = 2;
/// `bpf_ringbuf_query` flags: available data, ring size, consumer and
/// producer positions.
pub const BPF_RB_AVAIL_DATA: u64 = 0;
/// See [`BPF_RB_AVAIL_DATA`].
pub const BPF_RB_RING_SIZE: u64 = 1;
/// See [`BPF_RB_AVAIL_DATA`].
pub const BPF_RB_CONS_POS: u64 = 2;
/// See [`BPF_RB_AVAIL_DATA`].
pub const BPF_RB_PROD_POS: u64 = 3;
/// The page size ring sizes are multiples of.
const PAGE_SIZE: u32 = 4096;
/// `RINGBUF_MAX_RECORD_SZ`: `UINT_MAX / 4`.
const MAX_RECORD_SIZE: u64 = (u32::MAX / 4) as u64;

/// A `ringbuf` map.
#[derive(Debug)]
pub struct RingBuf {
    common: Common,
    /// Ring size in bytes.
    size: u64,
    /// Twice the ring: the second half takes the tail of wrapping records.
    data: Box<[AtomicU64]>,
    /// Outstanding reservations: ring offset of the header -> (position,
    /// data length). Held while reserving and committing.
    producer: Mutex<BTreeMap<u64, (u64, u32)>>,
    prod_pos: AtomicU64,
    cons_pos: AtomicU64,
    /// One consumer at a time.
    consumer: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RingBuf {
    /// Creates the ring, checking attributes as `ringbuf_map_alloc` does.
    pub fn new(spec: &MapSpec, opts: &MapOptions) -> Result<RingBuf, MapError> {
        let kind = spec.kind;
        let common = Common::new_valueless(spec, opts)?;
        common.check_flags_within(BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK)?;
        if spec.key_size != 0 || spec.value_size != 0 {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "key_size and value_size must be 0",
            });
        }
        if !spec.max_entries.is_power_of_two() || !spec.max_entries.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "max_entries must be a power of two multiple of the page size",
            });
        }
        let size = u64::from(spec.max_entries);
        Ok(RingBuf {
            common,
            size,
            data: alloc_words((2 * size / 8) as usize)?,
            producer: Mutex::new(BTreeMap::new()),
            prod_pos: AtomicU64::new(0),
            cons_pos: AtomicU64::new(0),
            consumer: Mutex::new(()),
        })
    }

    /// Ring size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn header_word(&self, off: u64) -> &AtomicU64 {
        &self.data[(off / 8) as usize]
    }

    fn byte_at(&self, off: u64) -> u8 {
        let w = self.data[(off / 8) as usize].load(Ordering::Relaxed);
        w.to_ne_bytes()[(off % 8) as usize]
    }

    /// Reserves a record of `size` bytes (`bpf_ringbuf_reserve`): a pointer
    /// to its data, writable for exactly `size` bytes until
    /// [`RingBuf::commit`], or `None` if the size is invalid or the ring
    /// lacks room. The memory stays allocated as long as the map.
    pub fn reserve(&self, size: u64) -> Option<ValuePtr> {
        if size > MAX_RECORD_SIZE {
            return None;
        }
        let total = (size + HDR_SIZE).div_ceil(8) * 8;
        if total > self.size {
            return None;
        }
        let mut pending = lock(&self.producer);
        let cons = self.cons_pos.load(Ordering::Acquire);
        let prod = self.prod_pos.load(Ordering::Relaxed);
        if prod + total - cons > self.size {
            return None;
        }
        let off = prod & (self.size - 1);
        let pg_off = off / u64::from(PAGE_SIZE);
        self.header_word(off).store(
            u64::from(size as u32 | BUSY_BIT) | (pg_off << 32),
            Ordering::Release,
        );
        pending.insert(off, (prod, size as u32));
        self.prod_pos.store(prod + total, Ordering::Release);
        Some(ValuePtr::new(
            NonNull::from(&self.data[(off / 8 + 1) as usize]).cast::<u8>(),
            size as u32,
            true,
        ))
    }

    /// Whether `addr` points into this ring's data area (where reserved
    /// records live), so a helper given only a record pointer can find its
    /// ring.
    pub fn owns(&self, addr: u64) -> bool {
        let base = self.data.as_ptr() as u64;
        addr >= base && addr < base + 2 * self.size
    }

    /// Submits (`discard == false`) or discards the record whose data
    /// starts at `addr` (`bpf_ringbuf_submit`, `bpf_ringbuf_discard`).
    /// `NotFound` if `addr` is not the data of an outstanding reservation.
    pub fn commit(&self, addr: u64, discard: bool) -> Result<(), MapError> {
        let base = self.data.as_ptr() as u64;
        let Some(off) = addr
            .checked_sub(base + HDR_SIZE)
            .filter(|o| o % 8 == 0 && *o < self.size)
        else {
            return Err(MapError::NotFound);
        };
        let mut pending = lock(&self.producer);
        let (_, len) = pending.remove(&off).ok_or(MapError::NotFound)?;
        let end = off + (u64::from(len) + HDR_SIZE).div_ceil(8) * 8;
        // The tail of a wrapping record went to the mirror half: move it to
        // the ring's start before the consumer may read it.
        let mut w = self.size;
        while w < end {
            let v = self.data[(w / 8) as usize].load(Ordering::Relaxed);
            self.data[((w - self.size) / 8) as usize].store(v, Ordering::Relaxed);
            w += 8;
        }
        drop(pending);
        let hdr = self.header_word(off);
        let old = hdr.load(Ordering::Relaxed);
        let mut lenword = old as u32 & !BUSY_BIT;
        if discard {
            lenword |= DISCARD_BIT;
        }
        hdr.store((old & !0xffff_ffff) | u64::from(lenword), Ordering::Release);
        Ok(())
    }

    /// Copies `data` into a new record and submits it
    /// (`bpf_ringbuf_output`): `RingFull` (`-EAGAIN`) without room,
    /// `BadFlags` for flags other than the wakeup flags.
    pub fn output(&self, data: &[u8], flags: u64) -> Result<(), MapError> {
        if flags & !(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP) != 0 {
            return Err(MapError::BadFlags {
                flags,
                kind: self.common.spec.kind,
            });
        }
        let size = data.len() as u64;
        let ptr = self.reserve(size).ok_or(MapError::RingFull { size })?;
        let start = ptr.addr() - self.data.as_ptr() as u64;
        for (i, chunk) in data.chunks(8).enumerate() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.data[(start / 8) as usize + i].store(u64::from_ne_bytes(word), Ordering::Relaxed);
        }
        self.commit(ptr.addr(), false)
    }

    /// `bpf_ringbuf_query`: available bytes, ring size, consumer or
    /// producer position; 0 for other flags.
    pub fn query(&self, flags: u64) -> u64 {
        let cons = self.cons_pos.load(Ordering::Acquire);
        let prod = self.prod_pos.load(Ordering::Acquire);
        match flags {
            BPF_RB_AVAIL_DATA => prod - cons,
            BPF_RB_RING_SIZE => self.size,
            BPF_RB_CONS_POS => cons,
            BPF_RB_PROD_POS => prod,
            _ => 0,
        }
    }

    /// Walks submitted records from `cons`, stopping at the first busy one;
    /// calls `f` with each submitted (not discarded) record's bytes and
    /// returns the position after the last record walked.
    fn walk(&self, mut cons: u64, mut f: impl FnMut(&[u8])) -> u64 {
        let mut buf = Vec::new();
        loop {
            let prod = self.prod_pos.load(Ordering::Acquire);
            if cons >= prod {
                return cons;
            }
            let off = cons & (self.size - 1);
            let hdr = self.header_word(off).load(Ordering::Acquire) as u32;
            if hdr & BUSY_BIT != 0 {
                return cons;
            }
            let len = hdr & !(BUSY_BIT | DISCARD_BIT);
            if hdr & DISCARD_BIT == 0 {
                buf.clear();
                buf.extend(
                    (0..u64::from(len))
                        .map(|i| self.byte_at((off + HDR_SIZE + i) & (self.size - 1))),
                );
                f(&buf);
            }
            cons += (u64::from(len) + HDR_SIZE).div_ceil(8) * 8;
        }
    }

    /// Consumes every submitted record in order, calling `f` with each
    /// record's bytes (discarded records are skipped), up to the first
    /// record still reserved. Returns the number of records passed to `f`.
    ///
    /// ```
    /// use oxbpf_maps::{MapOptions, MapSpec, MapKind, RingBuf};
    ///
    /// let rb = RingBuf::new(&MapSpec::new(MapKind::Ringbuf, 0, 0, 4096), &MapOptions::default()).unwrap();
    /// rb.output(b"hello", 0).unwrap();
    /// let mut got = Vec::new();
    /// assert_eq!(rb.consume(|r| got.push(r.to_vec())), 1);
    /// assert_eq!(got, [b"hello".to_vec()]);
    /// ```
    pub fn consume(&self, mut f: impl FnMut(&[u8])) -> usize {
        let _one = lock(&self.consumer);
        let mut n = 0;
        let cons = self.cons_pos.load(Ordering::Relaxed);
        let end = self.walk(cons, |r| {
            n += 1;
            f(r)
        });
        self.cons_pos.store(end, Ordering::Release);
        n
    }

    /// Copies of the submitted records not consumed yet, in order, without
    /// consuming them (for dumps such as `--maps-out`).
    pub fn records(&self) -> Vec<Vec<u8>> {
        let _one = lock(&self.consumer);
        let mut out = Vec::new();
        self.walk(self.cons_pos.load(Ordering::Relaxed), |r| {
            out.push(r.to_vec())
        });
        out
    }

    fn unsupported(&self, op: &'static str) -> MapError {
        MapError::Unsupported {
            op,
            kind: self.common.spec.kind,
        }
    }
}

impl Map for RingBuf {
    fn spec(&self) -> &MapSpec {
        &self.common.spec
    }

    fn ncpus(&self) -> u32 {
        1
    }

    fn stats(&self) -> MapStats {
        MapStats {
            entries: self.records().len(),
            retired: 0,
            reclaimed: 0,
        }
    }

    fn lookup_into(&self, _key: &[u8], _out: &mut [u8]) -> Result<(), MapError> {
        Err(self.unsupported("lookup"))
    }

    /// Ring buffers have no keyed update: `--maps-in` and control planes
    /// add records with [`RingBuf::output`].
    fn update(&self, _key: &[u8], _value: &[u8], _flags: u64) -> Result<(), MapError> {
        Err(self.unsupported("update"))
    }

    fn delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(self.unsupported("delete"))
    }

    fn next_key(&self, _key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        Err(self.unsupported("next_key"))
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        Ok(Vec::new())
    }

    /// The unconsumed records, in order, each with an empty key.
    fn entries(&self) -> Result<Vec<Entry>, MapError> {
        Ok(self
            .records()
            .into_iter()
            .map(|r| (Vec::new(), r))
            .collect())
    }

    /// Consumes and drops every submitted record.
    fn clear(&self) -> Result<(), MapError> {
        self.consume(|_| {});
        Ok(())
    }

    fn freeze(&self) {
        self.common.freeze();
    }

    fn is_frozen(&self) -> bool {
        self.common.is_frozen()
    }

    fn lookup_ptr(&self, _key: &[u8], _cpu: u32, _guard: &RunGuard) -> Option<ValuePtr> {
        None
    }

    fn prog_update(
        &self,
        _key: &[u8],
        _value: &[u8],
        _flags: u64,
        _cpu: u32,
    ) -> Result<(), MapError> {
        Err(self.unsupported("update"))
    }

    fn prog_delete(&self, _key: &[u8]) -> Result<(), MapError> {
        Err(self.unsupported("delete"))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
