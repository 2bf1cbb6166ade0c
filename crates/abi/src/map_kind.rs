//! Map types and map flags, numbered as the kernel's uapi `linux/bpf.h`
//! numbers them (`enum bpf_map_type`, the `BPF_MAP_UPDATE_ELEM` flags and
//! the `BPF_MAP_CREATE` `map_flags`).
//!
//! Object files name map types by these numbers (the `type` field of a BTF
//! `.maps` definition or a legacy `struct bpf_map_def`), and the kernel
//! backend passes them to `bpf(BPF_MAP_CREATE)` unchanged, so the numbers
//! here must never be renumbered. The names are libbpf's (`bpftool map`
//! prints the same ones).

/// A map type: the kernel's `enum bpf_map_type`.
///
/// ```
/// use oxbpf_abi::map_kind::MapKind;
/// assert_eq!(MapKind::from_u32(6), Some(MapKind::PercpuArray));
/// assert_eq!(MapKind::PercpuArray.name(), "percpu_array");
/// assert_eq!(MapKind::from_name("lru_hash"), Some(MapKind::LruHash));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum MapKind {
    /// `BPF_MAP_TYPE_UNSPEC`: never a valid map.
    Unspec = 0,
    /// `BPF_MAP_TYPE_HASH`.
    Hash = 1,
    /// `BPF_MAP_TYPE_ARRAY`.
    Array = 2,
    /// `BPF_MAP_TYPE_PROG_ARRAY`: program slots for tail calls.
    ProgArray = 3,
    /// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`.
    PerfEventArray = 4,
    /// `BPF_MAP_TYPE_PERCPU_HASH`.
    PercpuHash = 5,
    /// `BPF_MAP_TYPE_PERCPU_ARRAY`.
    PercpuArray = 6,
    /// `BPF_MAP_TYPE_STACK_TRACE`.
    StackTrace = 7,
    /// `BPF_MAP_TYPE_CGROUP_ARRAY`.
    CgroupArray = 8,
    /// `BPF_MAP_TYPE_LRU_HASH`.
    LruHash = 9,
    /// `BPF_MAP_TYPE_LRU_PERCPU_HASH`.
    LruPercpuHash = 10,
    /// `BPF_MAP_TYPE_LPM_TRIE`.
    LpmTrie = 11,
    /// `BPF_MAP_TYPE_ARRAY_OF_MAPS`.
    ArrayOfMaps = 12,
    /// `BPF_MAP_TYPE_HASH_OF_MAPS`.
    HashOfMaps = 13,
    /// `BPF_MAP_TYPE_DEVMAP`: XDP redirect targets by index.
    Devmap = 14,
    /// `BPF_MAP_TYPE_SOCKMAP`.
    Sockmap = 15,
    /// `BPF_MAP_TYPE_CPUMAP`.
    Cpumap = 16,
    /// `BPF_MAP_TYPE_XSKMAP`: AF_XDP sockets.
    Xskmap = 17,
    /// `BPF_MAP_TYPE_SOCKHASH`.
    Sockhash = 18,
    /// `BPF_MAP_TYPE_CGROUP_STORAGE` (deprecated in the kernel).
    CgroupStorage = 19,
    /// `BPF_MAP_TYPE_REUSEPORT_SOCKARRAY`.
    ReuseportSockarray = 20,
    /// `BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE`.
    PercpuCgroupStorage = 21,
    /// `BPF_MAP_TYPE_QUEUE`.
    Queue = 22,
    /// `BPF_MAP_TYPE_STACK`.
    Stack = 23,
    /// `BPF_MAP_TYPE_SK_STORAGE`.
    SkStorage = 24,
    /// `BPF_MAP_TYPE_DEVMAP_HASH`.
    DevmapHash = 25,
    /// `BPF_MAP_TYPE_STRUCT_OPS`.
    StructOps = 26,
    /// `BPF_MAP_TYPE_RINGBUF`.
    Ringbuf = 27,
    /// `BPF_MAP_TYPE_INODE_STORAGE`.
    InodeStorage = 28,
    /// `BPF_MAP_TYPE_TASK_STORAGE`.
    TaskStorage = 29,
    /// `BPF_MAP_TYPE_BLOOM_FILTER`.
    BloomFilter = 30,
    /// `BPF_MAP_TYPE_USER_RINGBUF`.
    UserRingbuf = 31,
    /// `BPF_MAP_TYPE_CGRP_STORAGE`.
    CgrpStorage = 32,
    /// `BPF_MAP_TYPE_ARENA`.
    Arena = 33,
}

/// Every map type with its libbpf name, in kernel order. The single table
/// from which [`MapKind::name`], [`MapKind::from_u32`] and
/// [`MapKind::from_name`] are answered.
pub const MAP_KINDS: &[(MapKind, &str)] = &[
    (MapKind::Unspec, "unspec"),
    (MapKind::Hash, "hash"),
    (MapKind::Array, "array"),
    (MapKind::ProgArray, "prog_array"),
    (MapKind::PerfEventArray, "perf_event_array"),
    (MapKind::PercpuHash, "percpu_hash"),
    (MapKind::PercpuArray, "percpu_array"),
    (MapKind::StackTrace, "stack_trace"),
    (MapKind::CgroupArray, "cgroup_array"),
    (MapKind::LruHash, "lru_hash"),
    (MapKind::LruPercpuHash, "lru_percpu_hash"),
    (MapKind::LpmTrie, "lpm_trie"),
    (MapKind::ArrayOfMaps, "array_of_maps"),
    (MapKind::HashOfMaps, "hash_of_maps"),
    (MapKind::Devmap, "devmap"),
    (MapKind::Sockmap, "sockmap"),
    (MapKind::Cpumap, "cpumap"),
    (MapKind::Xskmap, "xskmap"),
    (MapKind::Sockhash, "sockhash"),
    (MapKind::CgroupStorage, "cgroup_storage"),
    (MapKind::ReuseportSockarray, "reuseport_sockarray"),
    (MapKind::PercpuCgroupStorage, "percpu_cgroup_storage"),
    (MapKind::Queue, "queue"),
    (MapKind::Stack, "stack"),
    (MapKind::SkStorage, "sk_storage"),
    (MapKind::DevmapHash, "devmap_hash"),
    (MapKind::StructOps, "struct_ops"),
    (MapKind::Ringbuf, "ringbuf"),
    (MapKind::InodeStorage, "inode_storage"),
    (MapKind::TaskStorage, "task_storage"),
    (MapKind::BloomFilter, "bloom_filter"),
    (MapKind::UserRingbuf, "user_ringbuf"),
    (MapKind::CgrpStorage, "cgrp_storage"),
    (MapKind::Arena, "arena"),
];

impl MapKind {
    /// The kernel's number for this type.
    pub const fn id(self) -> u32 {
        self as u32
    }

    /// The type with kernel number `id`, if oxbpf knows it.
    pub fn from_u32(id: u32) -> Option<MapKind> {
        // MAP_KINDS is in kernel order with no gaps, so the id is the index.
        MAP_KINDS.get(id as usize).map(|&(kind, _)| kind)
    }

    /// libbpf's name for this type (`"percpu_array"`).
    pub fn name(self) -> &'static str {
        MAP_KINDS[self as usize].1
    }

    /// The type libbpf names `name`.
    pub fn from_name(name: &str) -> Option<MapKind> {
        MAP_KINDS
            .iter()
            .find(|&&(_, n)| n == name)
            .map(|&(kind, _)| kind)
    }

    /// Whether each entry holds one value per possible CPU (programs see
    /// the current CPU's copy; the control plane sees all of them).
    pub fn is_percpu(self) -> bool {
        matches!(
            self,
            MapKind::PercpuHash
                | MapKind::PercpuArray
                | MapKind::LruPercpuHash
                | MapKind::PercpuCgroupStorage
        )
    }
}

impl core::fmt::Display for MapKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Flags of `bpf_map_update_elem` (the syscall's `BPF_MAP_UPDATE_ELEM` and
/// the helper alike).
pub mod update {
    /// Create a new element or update an existing one.
    pub const BPF_ANY: u64 = 0;
    /// Create a new element only if none exists for the key (else `EEXIST`).
    pub const BPF_NOEXIST: u64 = 1;
    /// Update an existing element only (else `ENOENT`).
    pub const BPF_EXIST: u64 = 2;
    /// Copy the value under the `bpf_spin_lock` it contains.
    pub const BPF_F_LOCK: u64 = 4;
}

/// `map_flags` of `BPF_MAP_CREATE`.
pub mod flags {
    /// Allocate hash elements on demand instead of all at creation.
    pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
    /// LRU maps: one LRU list per CPU instead of a common one.
    pub const BPF_F_NO_COMMON_LRU: u32 = 1 << 1;
    /// `numa_node` of the creation attributes is valid.
    pub const BPF_F_NUMA_NODE: u32 = 1 << 2;
    /// The control plane (syscall side) may only read.
    pub const BPF_F_RDONLY: u32 = 1 << 3;
    /// The control plane (syscall side) may only write.
    pub const BPF_F_WRONLY: u32 = 1 << 4;
    /// Stack trace maps store build ids.
    pub const BPF_F_STACK_BUILD_ID: u32 = 1 << 5;
    /// Hash maps: hash with seed 0 (reproducible bucket order; root only).
    pub const BPF_F_ZERO_SEED: u32 = 1 << 6;
    /// Programs may only read.
    pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
    /// Programs may only write.
    pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
    /// Clone the map from its pinned parent (sk_storage).
    pub const BPF_F_CLONE: u32 = 1 << 9;
    /// Array maps that user space may `mmap`.
    pub const BPF_F_MMAPABLE: u32 = 1 << 10;
    /// Perf event arrays keep their entries when the creator closes them.
    pub const BPF_F_PRESERVE_ELEMS: u32 = 1 << 11;
    /// Inner maps of map-in-map whose max_entries may differ.
    pub const BPF_F_INNER_MAP: u32 = 1 << 12;
    /// Both access directions, as the kernel's `BPF_F_ACCESS_MASK`.
    pub const BPF_F_ACCESS_MASK: u32 =
        BPF_F_RDONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY | BPF_F_WRONLY_PROG;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_kernel_number() {
        for (i, &(kind, _)) in MAP_KINDS.iter().enumerate() {
            assert_eq!(kind as usize, i, "{kind:?} out of place");
        }
    }

    #[test]
    fn kernel_numbers_match_uapi() {
        // Numbers from enum bpf_map_type in include/uapi/linux/bpf.h.
        let expected = [
            ("hash", 1),
            ("array", 2),
            ("prog_array", 3),
            ("perf_event_array", 4),
            ("percpu_hash", 5),
            ("percpu_array", 6),
            ("lru_hash", 9),
            ("lru_percpu_hash", 10),
            ("lpm_trie", 11),
            ("array_of_maps", 12),
            ("hash_of_maps", 13),
            ("devmap", 14),
            ("xskmap", 17),
            ("queue", 22),
            ("stack", 23),
            ("devmap_hash", 25),
            ("ringbuf", 27),
            ("bloom_filter", 30),
            ("user_ringbuf", 31),
            ("arena", 33),
        ];
        for (name, id) in expected {
            let kind = MapKind::from_name(name).unwrap();
            assert_eq!(kind.id(), id, "{name}");
            assert_eq!(MapKind::from_u32(id), Some(kind));
        }
        assert_eq!(MapKind::from_u32(34), None);
        assert_eq!(MapKind::from_name("no_such_map"), None);
    }

    #[test]
    fn percpu_kinds() {
        let percpu: Vec<_> = MAP_KINDS
            .iter()
            .filter(|(k, _)| k.is_percpu())
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(
            percpu,
            [
                "percpu_hash",
                "percpu_array",
                "lru_percpu_hash",
                "percpu_cgroup_storage"
            ]
        );
    }
}
