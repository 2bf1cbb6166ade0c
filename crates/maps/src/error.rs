//! Map errors, each carrying the errno the kernel returns for the same
//! failure.

use oxbpf_abi::map_kind::MapKind;

/// Linux errno values (x86-64 and every other architecture eBPF runs on
/// share these). Helpers return them negated.
pub mod errno {
    /// Operation not permitted.
    pub const EPERM: i32 = 1;
    /// No such entry.
    pub const ENOENT: i32 = 2;
    /// Argument list too long: the kernel's "map is full" and "index out of
    /// range" for updates.
    pub const E2BIG: i32 = 7;
    /// Try again: `bpf_ringbuf_output` with no room in the ring.
    pub const EAGAIN: i32 = 11;
    /// Out of memory.
    pub const ENOMEM: i32 = 12;
    /// No space left: a full `lpm_trie`.
    pub const ENOSPC: i32 = 28;
    /// Entry exists.
    pub const EEXIST: i32 = 17;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// Operation not supported on this map type.
    pub const EOPNOTSUPP: i32 = 95;
}

/// Why a map operation or a map creation failed.
///
/// Errors are small and `Copy` because programs hit some of them on their
/// fast path (`BPF_NOEXIST` on an existing key, a lookup miss); callers that
/// report them add the map's name. [`MapError::errno`] gives the kernel's
/// errno for the same failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// No entry for the key (`ENOENT`): lookup or delete of a missing key,
    /// `BPF_EXIST` update of a missing key, the end of a key iteration.
    #[error("no entry for the key")]
    NotFound,
    /// `BPF_NOEXIST` update of a key that has an entry (`EEXIST`). Every
    /// index of an array always has one.
    #[error("an entry exists for the key and the update has BPF_NOEXIST")]
    Exists,
    /// The map holds `max_entries` entries and the update would add one
    /// (`E2BIG`, as `htab_map_update_elem` returns).
    #[error("map is full: {max_entries} entries")]
    Full { max_entries: u32 },
    /// Update of an array index at or past `max_entries` (`E2BIG`, as
    /// `array_map_update_elem` returns).
    #[error("index {index} is out of range: the array has {max_entries} entries")]
    IndexOutOfRange { index: u32, max_entries: u32 },
    /// Update flags other than `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`
    /// (plus `BPF_F_LOCK` where the map type accepts it) (`EINVAL`).
    #[error("update flags {flags:#x} are invalid for a {kind} map")]
    BadFlags { flags: u64, kind: MapKind },
    /// `BPF_F_LOCK` on a map whose value has no `bpf_spin_lock` (`EINVAL`).
    #[error("BPF_F_LOCK needs a bpf_spin_lock in the value")]
    NoSpinLock,
    /// A key of the wrong size (`EINVAL`).
    #[error("key is {found} bytes, the map's keys are {expected}")]
    KeySize { expected: u32, found: usize },
    /// A value of the wrong size (`EINVAL`). For per-CPU maps on the
    /// control plane the expected size covers every CPU.
    #[error("value is {found} bytes, expected {expected}")]
    ValueSize { expected: usize, found: usize },
    /// A CPU id at or past the map's number of CPUs (`EINVAL`).
    #[error("cpu {cpu} is out of range: the map has {ncpus} cpus")]
    BadCpu { cpu: u32, ncpus: u32 },
    /// Deleting from an array (`EINVAL`, as `array_map_delete_elem`
    /// returns: array entries always exist).
    #[error("elements of a {kind} map cannot be deleted")]
    DeleteUnsupported { kind: MapKind },
    /// The map type does not implement the operation (`EOPNOTSUPP`).
    #[error("a {kind} map does not support {op}")]
    Unsupported { op: &'static str, kind: MapKind },
    /// The control plane may not write this map: it was created with
    /// `BPF_F_RDONLY` or frozen (`EPERM`), or may not read it
    /// (`BPF_F_WRONLY`); programs may not write a `BPF_F_RDONLY_PROG` map.
    #[error("{op} is not permitted on this map")]
    NotPermitted { op: &'static str },
    /// Creation attributes the map type rejects (`EINVAL`).
    #[error("invalid {kind} map: {reason}")]
    InvalidSpec { kind: MapKind, reason: &'static str },
    /// Creation attributes past a size limit (`E2BIG`).
    #[error("{what} of {size} bytes is too big for a {kind} map (limit {limit})")]
    TooBig {
        kind: MapKind,
        what: &'static str,
        size: u64,
        limit: u64,
    },
    /// An `lpm_trie` key whose prefix length exceeds the data's bits
    /// (`EINVAL`, as `trie_update_elem` and `trie_delete_elem` return).
    #[error("prefix length {prefixlen} exceeds the trie's maximum of {max}")]
    PrefixLen { prefixlen: u32, max: u32 },
    /// An `lpm_trie` holds `max_entries` prefixes and the update would add
    /// one (`ENOSPC`, as `trie_update_elem` returns).
    #[error("trie is full: {max_entries} prefixes")]
    NoSpace { max_entries: u32 },
    /// A ring buffer has no room for a record (`EAGAIN`, as
    /// `bpf_ringbuf_output` returns; `bpf_ringbuf_reserve` returns NULL).
    #[error("ring buffer has no room for a record of {size} bytes")]
    RingFull { size: u64 },
    /// The map's memory could not be allocated (`ENOMEM`).
    #[error("cannot allocate {bytes} bytes for the map")]
    NoMemory { bytes: u64 },
}

impl MapError {
    /// The kernel's errno for this failure (positive; helpers return it
    /// negated).
    pub fn errno(&self) -> i32 {
        use errno::*;
        match self {
            MapError::NotFound => ENOENT,
            MapError::Exists => EEXIST,
            MapError::Full { .. } | MapError::IndexOutOfRange { .. } | MapError::TooBig { .. } => {
                E2BIG
            }
            MapError::BadFlags { .. }
            | MapError::NoSpinLock
            | MapError::KeySize { .. }
            | MapError::ValueSize { .. }
            | MapError::BadCpu { .. }
            | MapError::DeleteUnsupported { .. }
            | MapError::InvalidSpec { .. }
            | MapError::PrefixLen { .. } => EINVAL,
            MapError::NoSpace { .. } => ENOSPC,
            MapError::RingFull { .. } => EAGAIN,
            MapError::Unsupported { .. } => EOPNOTSUPP,
            MapError::NotPermitted { .. } => EPERM,
            MapError::NoMemory { .. } => ENOMEM,
        }
    }

    /// The value a helper returns in r0 for this failure: `-errno` as a
    /// 64-bit two's complement integer.
    pub fn helper_ret(&self) -> u64 {
        (-(self.errno() as i64)) as u64
    }
}
