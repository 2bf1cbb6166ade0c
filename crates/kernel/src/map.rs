//! Kernel maps: create, open pinned, look up, update, delete, iterate.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use oxbpf_abi::map_kind::MapKind;

use crate::error::{KernelError, Result};
use crate::sys::{self, MapFd, attr::BpfMapInfo, attr::MapCreateAttr};

/// What a map is: the arguments of `BPF_MAP_CREATE` oxbpf uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// Name (at most 15 of the characters the kernel accepts are kept).
    pub name: String,
    pub kind: MapKind,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// `BPF_F_*` creation flags (`oxbpf_abi::map_kind::flags`).
    pub flags: u32,
    /// Map-type specific extra (bloom filter hash count...).
    pub map_extra: u64,
    /// NUMA node to allocate on, with `BPF_F_NUMA_NODE` in `flags`.
    pub numa_node: u32,
}

impl MapSpec {
    /// A spec with no flags.
    pub fn new(
        name: &str,
        kind: MapKind,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
    ) -> MapSpec {
        MapSpec {
            name: name.to_string(),
            kind,
            key_size,
            value_size,
            max_entries,
            flags: 0,
            map_extra: 0,
            numa_node: 0,
        }
    }
}

/// BTF describing a map's key and value, for maps the kernel wants typed
/// (spin locks, timers, kptrs, and `bpftool map dump` pretty printing).
#[derive(Clone, Copy, Debug)]
pub struct MapBtf<'a> {
    pub btf: BorrowedFd<'a>,
    pub key_type_id: u32,
    pub value_type_id: u32,
}

/// A map in the kernel. Closing the last fd (and unpinning) frees it.
///
/// ```no_run
/// use oxbpf_abi::map_kind::MapKind;
/// use oxbpf_kernel::{KernelMap, MapSpec};
/// let map = KernelMap::create(&MapSpec::new("counts", MapKind::Hash, 4, 8, 16))?;
/// map.update(&1u32.to_ne_bytes(), &7u64.to_ne_bytes(), 0)?;
/// assert_eq!(map.lookup(&1u32.to_ne_bytes())?, Some(7u64.to_ne_bytes().to_vec()));
/// # Ok::<(), oxbpf_kernel::KernelError>(())
/// ```
#[derive(Debug)]
pub struct KernelMap {
    fd: MapFd,
    spec: MapSpec,
    id: u32,
}

impl KernelMap {
    /// Creates a map (`BPF_MAP_CREATE`).
    pub fn create(spec: &MapSpec) -> Result<KernelMap> {
        KernelMap::create_with(spec, None, None)
    }

    /// Creates a map with BTF for its key and value and, for map-in-map
    /// types, the inner map it is modelled on.
    pub fn create_with(
        spec: &MapSpec,
        btf: Option<MapBtf<'_>>,
        inner: Option<&KernelMap>,
    ) -> Result<KernelMap> {
        let attr = MapCreateAttr {
            map_type: spec.kind.id(),
            key_size: spec.key_size,
            value_size: spec.value_size,
            max_entries: spec.max_entries,
            map_flags: spec.flags,
            numa_node: spec.numa_node,
            inner_map_fd: inner.map_or(0, |m| m.as_fd().as_raw_fd() as u32),
            map_name: sys::obj_name(&spec.name),
            btf_fd: btf.map_or(0, |b| b.btf.as_raw_fd() as u32),
            btf_key_type_id: btf.map_or(0, |b| b.key_type_id),
            btf_value_type_id: btf.map_or(0, |b| b.value_type_id),
            map_extra: spec.map_extra,
            ..MapCreateAttr::default()
        };
        let fd = sys::map_create(attr)?;
        let (info, _) = sys::obj_get_info::<BpfMapInfo>(fd.as_fd())?;
        Ok(KernelMap {
            fd,
            spec: spec.clone(),
            id: info.id,
        })
    }

    /// Takes ownership of a map fd (from a pin, another process...).
    pub fn from_fd(fd: OwnedFd) -> Result<KernelMap> {
        sys::expect_fd_kind(fd.as_fd(), sys::FdKind::Map)?;
        let (info, _) = sys::obj_get_info::<BpfMapInfo>(fd.as_fd())?;
        let kind = MapKind::from_u32(info.map_type).ok_or_else(|| KernelError::Invalid {
            what: "map type",
            reason: format!(
                "the kernel reports type {}, unknown to oxbpf",
                info.map_type
            ),
        })?;
        let fd = MapFd::from_fd(fd)?;
        Ok(KernelMap {
            fd,
            spec: MapSpec {
                name: sys::name_from(&info.name),
                kind,
                key_size: info.key_size,
                value_size: info.value_size,
                max_entries: info.max_entries,
                flags: info.map_flags,
                map_extra: info.map_extra,
                numa_node: 0,
            },
            id: info.id,
        })
    }

    /// Opens the map pinned at `path` (`BPF_OBJ_GET`).
    pub fn from_pin(path: &Path) -> Result<KernelMap> {
        KernelMap::from_fd(sys::obj_get(path)?)
    }

    /// Pins the map at `path` on a bpf filesystem (see [`crate::pin`]).
    pub fn pin(&self, path: &Path) -> Result<()> {
        crate::pin::pin(self.as_fd(), path)
    }

    /// The spec (for an opened map, as the kernel reports it).
    pub fn spec(&self) -> &MapSpec {
        &self.spec
    }

    /// The kernel's id of the map.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The fd number, for `lddw` map references (`BPF_PSEUDO_MAP_FD`).
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_fd().as_raw_fd()
    }

    /// The kernel's current view of the map.
    pub fn info(&self) -> Result<BpfMapInfo> {
        Ok(sys::obj_get_info::<BpfMapInfo>(self.as_fd())?.0)
    }

    /// Bytes of a value as lookups return it: for per-CPU maps, one
    /// 8-byte-aligned slot per possible CPU.
    pub fn value_buffer_size(&self) -> usize {
        self.fd.syscall_value_size()
    }

    /// The value of `key`, or `None` if it has none. For per-CPU maps, the
    /// slots of every possible CPU (see [`Self::lookup_percpu`]).
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut value = vec![0u8; self.fd.syscall_value_size()];
        Ok(sys::map_lookup_elem(&self.fd, key, &mut value, 0)?.then_some(value))
    }

    /// Looks `key` up into `value` (exactly [`Self::value_buffer_size`]
    /// bytes); `false` if it has no element.
    pub fn lookup_into(&self, key: &[u8], value: &mut [u8]) -> Result<bool> {
        sys::map_lookup_elem(&self.fd, key, value, 0)
    }

    /// The value of `key` on each possible CPU, for per-CPU maps.
    pub fn lookup_percpu(&self, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>> {
        let Some(all) = self.lookup(key)? else {
            return Ok(None);
        };
        let slot = (self.spec.value_size as usize).div_ceil(8) * 8;
        if !self.spec.kind.is_percpu() || slot == 0 {
            return Ok(Some(vec![all]));
        }
        Ok(Some(
            all.chunks(slot)
                .map(|c| c[..self.spec.value_size as usize].to_vec())
                .collect(),
        ))
    }

    /// Sets the value of `key` (`flags`: `oxbpf_abi::map_kind::update`).
    /// Per-CPU maps take [`Self::value_buffer_size`] bytes.
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<()> {
        sys::map_update_elem(&self.fd, key, value, flags)
    }

    /// Freezes the map: the syscall side can no longer write it (updates
    /// fail with `EPERM`); a program's verifier then treats a frozen
    /// read-only-to-programs array as constant (`.rodata`).
    pub fn freeze(&self) -> Result<()> {
        sys::map_freeze(&self.fd)
    }

    /// Deletes `key`; `false` if it had no element.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        sys::map_delete_elem(&self.fd, key)
    }

    /// The keys, in the kernel's iteration order (`BPF_MAP_GET_NEXT_KEY`).
    /// Deleting the current key while iterating restarts hash maps from the
    /// beginning, as in the kernel.
    pub fn keys(&self) -> Keys<'_> {
        Keys {
            map: &self.fd,
            current: None,
            done: false,
        }
    }

    /// Every `(key, value)` pair (values as [`Self::lookup`] returns them).
    /// A key deleted between listing and lookup is skipped.
    pub fn entries(&self) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for key in self.keys() {
            let key = key?;
            if let Some(value) = self.lookup(&key)? {
                out.push((key, value));
            }
        }
        Ok(out)
    }
}

impl AsFd for KernelMap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Iterator over a map's keys.
#[derive(Debug)]
pub struct Keys<'a> {
    map: &'a MapFd,
    current: Option<Vec<u8>>,
    done: bool,
}

impl Iterator for Keys<'_> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut next = vec![0u8; self.map.key_size()];
        match sys::map_get_next_key(self.map, self.current.as_deref(), &mut next) {
            Ok(true) => {
                self.current = Some(next.clone());
                Some(Ok(next))
            }
            Ok(false) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
