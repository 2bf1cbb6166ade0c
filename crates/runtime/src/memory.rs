//! Memory regions: the only memory a program in checked mode may touch.

use oxbpf_abi::Trap;

/// What a region holds; used in diagnostics and by helpers that care
/// (a packet region moves when `xdp_adjust_head` runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// The eBPF stack (all frames).
    Stack,
    /// Input memory given to the program (`--data`, conformance `-- mem`).
    Input,
    /// A program context structure.
    Context,
    /// Packet data.
    Packet,
    /// A map value.
    MapValue,
    /// Read-only global data (`.rodata`).
    ReadOnlyData,
}

/// A contiguous range of host memory `[start, start + len)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub start: u64,
    pub len: u64,
    pub writable: bool,
    pub kind: RegionKind,
}

impl Region {
    /// Whether `[addr, addr + len)` lies inside the region (no overflow).
    #[inline]
    pub fn contains(&self, addr: u64, len: u64) -> bool {
        addr >= self.start
            && addr
                .checked_add(len)
                .is_some_and(|end| end <= self.start + self.len)
    }
}

/// The set of regions of one run. Few regions exist at a time, so lookup is
/// a linear scan, most recently added first.
#[derive(Clone, Debug, Default)]
pub struct Regions {
    list: Vec<Region>,
}

impl Regions {
    /// An empty set.
    pub fn new() -> Regions {
        Regions::default()
    }

    /// Adds a region; returns its index.
    #[inline]
    pub fn push(&mut self, region: Region) -> usize {
        self.list.push(region);
        self.list.len() - 1
    }

    /// Removes regions added after the first `len`.
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        self.list.truncate(len);
    }

    /// Number of regions.
    #[inline]
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are no regions.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The regions, oldest first.
    pub fn as_slice(&self) -> &[Region] {
        &self.list
    }

    /// Mutable access, for helpers that move a region (packet adjustments).
    pub fn as_mut_slice(&mut self) -> &mut [Region] {
        &mut self.list
    }

    /// Checks an access of `len` bytes at `addr`: `Ok` if one region holds
    /// all of it (and is writable, for a write).
    #[inline]
    pub fn check(&self, addr: u64, len: u64, write: bool) -> Result<(), Trap> {
        let mut readonly_hit = false;
        for r in self.list.iter().rev() {
            if r.contains(addr, len) {
                if !write || r.writable {
                    return Ok(());
                }
                readonly_hit = true;
            }
        }
        Err(if readonly_hit {
            Trap::ReadOnly
        } else {
            Trap::OutOfBounds
        })
    }
}
