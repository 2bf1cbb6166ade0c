//! What a map is made from ([`MapSpec`], [`MapOptions`]) and the checks
//! every map type shares.

use core::sync::atomic::{AtomicBool, Ordering};

use oxbpf_abi::map_kind::{
    MapKind,
    flags::{BPF_F_RDONLY, BPF_F_RDONLY_PROG, BPF_F_WRONLY, BPF_F_WRONLY_PROG},
};

use crate::MapError;
use crate::storage::round_up8;

/// The kernel's `PCPU_MIN_UNIT_SIZE`: the largest per-CPU value, after
/// rounding to 8 bytes (`array_map_alloc_check`, `htab_map_alloc_check`).
pub const PCPU_MIN_UNIT_SIZE: u32 = 32 * 1024;

/// The kernel's `KMALLOC_MAX_SIZE` on x86-64 (4 MiB): hash keys plus values
/// must stay below it so the syscall can copy an element.
pub const KMALLOC_MAX_SIZE: u64 = 1 << 22;

/// `sizeof(struct htab_elem)` on x86-64, which the kernel's hash size check
/// subtracts from [`KMALLOC_MAX_SIZE`].
pub(crate) const HTAB_ELEM_SIZE: u64 = 48;

/// The creation attributes of a map: the fields of `BPF_MAP_CREATE` that
/// oxbpf's maps use.
///
/// ```
/// use oxbpf_maps::MapSpec;
/// use oxbpf_abi::map_kind::{MapKind, flags::BPF_F_NO_PREALLOC};
///
/// let spec = MapSpec::new(MapKind::Hash, 4, 8, 1024)
///     .with_flags(BPF_F_NO_PREALLOC)
///     .with_name("flows");
/// assert_eq!(spec.max_entries, 1024);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MapSpec {
    /// The map type.
    pub kind: MapKind,
    /// Bytes of a key.
    pub key_size: u32,
    /// Bytes of a value (of one CPU's value, for per-CPU maps).
    pub value_size: u32,
    /// Capacity: the array length, or the most entries a hash may hold.
    pub max_entries: u32,
    /// `map_flags` ([`oxbpf_abi::map_kind::flags`]).
    pub flags: u32,
    /// The map's name (the object's symbol), for messages and dumps.
    pub name: String,
    /// The inner map template of an `array_of_maps` / `hash_of_maps`.
    pub inner: Option<Box<MapSpec>>,
}

impl MapSpec {
    /// A spec with no flags and no name.
    pub fn new(kind: MapKind, key_size: u32, value_size: u32, max_entries: u32) -> MapSpec {
        MapSpec {
            kind,
            key_size,
            value_size,
            max_entries,
            flags: 0,
            name: String::new(),
            inner: None,
        }
    }

    /// The same spec with `map_flags` set to `flags`.
    pub fn with_flags(mut self, flags: u32) -> MapSpec {
        self.flags = flags;
        self
    }

    /// The same spec with inner map template `inner` (maps of maps).
    pub fn with_inner(mut self, inner: MapSpec) -> MapSpec {
        self.inner = Some(Box::new(inner));
        self
    }

    /// The same spec named `name`.
    pub fn with_name(mut self, name: impl Into<String>) -> MapSpec {
        self.name = name.into();
        self
    }
}

/// Options of the process that creates maps, as opposed to attributes of
/// one map.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MapOptions {
    /// Possible CPUs: per-CPU maps keep one value per CPU, numbered
    /// `0..ncpus`. Engines run each worker as one of these CPUs.
    pub ncpus: u32,
}

impl MapOptions {
    /// Options with `ncpus` possible CPUs.
    pub fn with_ncpus(ncpus: u32) -> MapOptions {
        MapOptions { ncpus }
    }
}

impl Default for MapOptions {
    /// As many CPUs as the host offers to this process
    /// ([`std::thread::available_parallelism`]), at least 1.
    fn default() -> MapOptions {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        MapOptions {
            ncpus: u32::try_from(n).unwrap_or(u32::MAX),
        }
    }
}

/// State and checks shared by every map type.
#[derive(Debug)]
pub(crate) struct Common {
    pub(crate) spec: MapSpec,
    pub(crate) ncpus: u32,
    frozen: AtomicBool,
}

impl Common {
    /// Checks the attributes all types share and wraps the spec. `percpu`
    /// maps take `ncpus` from the options; the others have one copy.
    pub(crate) fn new(spec: &MapSpec, opts: &MapOptions) -> Result<Common, MapError> {
        let kind = spec.kind;
        // bpf_map_flags_access_ok(): a direction can't be both read-only and
        // write-only.
        let f = spec.flags;
        if (f & BPF_F_RDONLY != 0 && f & BPF_F_WRONLY != 0)
            || (f & BPF_F_RDONLY_PROG != 0 && f & BPF_F_WRONLY_PROG != 0)
        {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "flags make an access both read-only and write-only",
            });
        }
        if spec.max_entries == 0 {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "max_entries is 0",
            });
        }
        if spec.value_size == 0 {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "value_size is 0",
            });
        }
        let ncpus = if kind.is_percpu() {
            if opts.ncpus == 0 {
                return Err(MapError::InvalidSpec {
                    kind,
                    reason: "per-cpu map with 0 cpus",
                });
            }
            if round_up8(spec.value_size as usize) > PCPU_MIN_UNIT_SIZE as usize {
                return Err(MapError::TooBig {
                    kind,
                    what: "per-cpu value",
                    size: spec.value_size.into(),
                    limit: PCPU_MIN_UNIT_SIZE.into(),
                });
            }
            opts.ncpus
        } else {
            1
        };
        Ok(Common {
            spec: spec.clone(),
            ncpus,
            frozen: AtomicBool::new(false),
        })
    }

    /// [`Common::new`] for map types whose `value_size` must be 0 (ring
    /// buffers): the shared checks other than the value size.
    pub(crate) fn new_valueless(spec: &MapSpec, opts: &MapOptions) -> Result<Common, MapError> {
        let mut probe = spec.clone();
        probe.value_size = 1;
        let mut common = Common::new(&probe, opts)?;
        common.spec.value_size = spec.value_size;
        Ok(common)
    }

    /// Rejects flags outside `allowed`.
    pub(crate) fn check_flags_within(&self, allowed: u32) -> Result<(), MapError> {
        if self.spec.flags & !allowed != 0 {
            return Err(MapError::InvalidSpec {
                kind: self.spec.kind,
                reason: "map_flags has bits this map type does not accept",
            });
        }
        Ok(())
    }

    /// `Ok` if `key` has the map's key size.
    #[inline]
    pub(crate) fn check_key(&self, key: &[u8]) -> Result<(), MapError> {
        if key.len() != self.spec.key_size as usize {
            return Err(MapError::KeySize {
                expected: self.spec.key_size,
                found: key.len(),
            });
        }
        Ok(())
    }

    /// `Ok` if `value` has `expected` bytes.
    #[inline]
    pub(crate) fn check_value(&self, value: &[u8], expected: usize) -> Result<(), MapError> {
        if value.len() != expected {
            return Err(MapError::ValueSize {
                expected,
                found: value.len(),
            });
        }
        Ok(())
    }

    /// Bytes of one CPU's value slot: `value_size` rounded up to 8.
    #[inline]
    pub(crate) fn slot_bytes(&self) -> usize {
        round_up8(self.spec.value_size as usize)
    }

    /// Bytes of a value as the control plane reads and writes it:
    /// `value_size`, or for per-CPU maps one rounded slot per CPU (the
    /// layout of the kernel's `bpf_percpu_*_copy`).
    #[inline]
    pub(crate) fn user_value_size(&self) -> usize {
        if self.spec.kind.is_percpu() {
            self.slot_bytes() * self.ncpus as usize
        } else {
            self.spec.value_size as usize
        }
    }

    /// Control-plane read permission (`BPF_F_WRONLY` denies it).
    #[inline]
    pub(crate) fn check_read(&self, op: &'static str) -> Result<(), MapError> {
        if self.spec.flags & BPF_F_WRONLY != 0 {
            return Err(MapError::NotPermitted { op });
        }
        Ok(())
    }

    /// Control-plane write permission (`BPF_F_RDONLY` and freezing deny
    /// it, as `map_update_elem` and `map_delete_elem` check
    /// `FMODE_CAN_WRITE` and `map->frozen`).
    #[inline]
    pub(crate) fn check_write(&self, op: &'static str) -> Result<(), MapError> {
        if self.spec.flags & BPF_F_RDONLY != 0 || self.frozen.load(Ordering::Acquire) {
            return Err(MapError::NotPermitted { op });
        }
        Ok(())
    }

    /// Program write permission (`BPF_F_RDONLY_PROG` denies it; the
    /// verifier rejects such programs, this is the run-time backstop).
    #[inline]
    pub(crate) fn check_prog_write(&self, op: &'static str) -> Result<(), MapError> {
        if self.spec.flags & BPF_F_RDONLY_PROG != 0 {
            return Err(MapError::NotPermitted { op });
        }
        Ok(())
    }

    /// Whether programs may write values.
    #[inline]
    pub(crate) fn prog_writable(&self) -> bool {
        self.spec.flags & BPF_F_RDONLY_PROG == 0
    }

    /// `Ok` if `cpu` names one of the map's CPUs.
    #[inline]
    pub(crate) fn check_cpu(&self, cpu: u32) -> Result<(), MapError> {
        if cpu >= self.ncpus {
            return Err(MapError::BadCpu {
                cpu,
                ncpus: self.ncpus,
            });
        }
        Ok(())
    }

    pub(crate) fn freeze(&self) {
        self.frozen.store(true, Ordering::Release);
    }

    pub(crate) fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::Acquire)
    }
}
