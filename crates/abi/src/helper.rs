//! Helper ids and prototypes.
//!
//! Helpers are numbered per *environment*: programs loaded from objects use
//! the kernel's ids ([`kernel`]); the bpf_conformance suite uses its own
//! table ([`conformance`]). A helper table in the runtime maps ids to
//! implementations for one environment.

/// Kind of an argument or return value, as the verifier checks it.
/// Mirrors the kernel's `enum bpf_arg_type` / `bpf_return_type`, reduced to
/// what oxbpf's helpers need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgKind {
    /// Any scalar.
    Anything,
    /// A pointer to a map object (`lddw` with a map pseudo source).
    ConstMapPtr,
    /// Pointer to readable memory holding a map key of the map's key size.
    MapKey,
    /// Pointer to readable memory holding a value of the map's value size.
    MapValue,
    /// Pointer to memory the helper reads; size in the next argument.
    ReadMem,
    /// Pointer to memory the helper writes; size in the next argument.
    WriteMem,
    /// A size for the preceding memory argument (may be zero).
    SizeOrZero,
    /// The program context.
    Ctx,
    /// A record pointer `bpf_ringbuf_reserve` returned, released by the
    /// call (`ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE`).
    RingbufMem,
}

/// Kind of a helper's return value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetKind {
    /// An integer.
    Integer,
    /// Nothing meaningful (r0 is still written).
    Void,
    /// A pointer to a map value, or null.
    MapValueOrNull,
    /// A pointer to a reserved ring buffer record of the requested size,
    /// or null (`RET_PTR_TO_RINGBUF_MEM_OR_NULL`).
    RingbufMemOrNull,
}

/// A helper's signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prototype {
    pub id: u32,
    pub name: &'static str,
    pub args: &'static [ArgKind],
    pub ret: RetKind,
}

/// The bpf_conformance suite's helpers (numbered as its uBPF plugin does).
pub mod conformance {
    use super::{ArgKind::*, Prototype, RetKind};

    pub const GATHER_BYTES: u32 = 0;
    pub const MEMFROB: u32 = 1;
    pub const NO_OP: u32 = 2;
    pub const SQRTI: u32 = 3;
    pub const STRCMP: u32 = 4;
    pub const UNWIND: u32 = 5;

    /// Prototypes of the conformance helpers.
    pub const PROTOTYPES: &[Prototype] = &[
        Prototype {
            id: GATHER_BYTES,
            name: "gather_bytes",
            args: &[Anything, Anything, Anything, Anything, Anything],
            ret: RetKind::Integer,
        },
        Prototype {
            id: MEMFROB,
            name: "memfrob",
            args: &[WriteMem, SizeOrZero],
            ret: RetKind::Integer,
        },
        Prototype {
            id: NO_OP,
            name: "no_op",
            args: &[],
            ret: RetKind::Integer,
        },
        Prototype {
            id: SQRTI,
            name: "sqrti",
            args: &[Anything],
            ret: RetKind::Integer,
        },
        Prototype {
            id: STRCMP,
            name: "strcmp",
            args: &[ReadMem, ReadMem],
            ret: RetKind::Integer,
        },
        Prototype {
            id: UNWIND,
            name: "unwind",
            args: &[Anything],
            ret: RetKind::Integer,
        },
    ];
}

/// The kernel's helper ids (`enum bpf_func_id` in `include/uapi/linux/bpf.h`).
/// Prototypes are added with each helper's implementation.
pub mod kernel {
    use super::{ArgKind::*, Prototype, RetKind};

    /// Prototypes of the kernel helpers oxbpf implements, as the kernel's
    /// `bpf_func_proto`s declare them (`kernel/bpf/helpers.c`,
    /// `net/core/filter.c`, `kernel/trace/bpf_trace.c`).
    pub const PROTOTYPES: &[Prototype] = &[
        Prototype {
            id: MAP_LOOKUP_ELEM,
            name: "map_lookup_elem",
            args: &[ConstMapPtr, MapKey],
            ret: RetKind::MapValueOrNull,
        },
        Prototype {
            id: MAP_UPDATE_ELEM,
            name: "map_update_elem",
            args: &[ConstMapPtr, MapKey, MapValue, Anything],
            ret: RetKind::Integer,
        },
        Prototype {
            id: MAP_DELETE_ELEM,
            name: "map_delete_elem",
            args: &[ConstMapPtr, MapKey],
            ret: RetKind::Integer,
        },
        Prototype {
            id: KTIME_GET_NS,
            name: "ktime_get_ns",
            args: &[],
            ret: RetKind::Integer,
        },
        Prototype {
            id: TRACE_PRINTK,
            name: "trace_printk",
            args: &[ReadMem, SizeOrZero, Anything, Anything, Anything],
            ret: RetKind::Integer,
        },
        Prototype {
            id: GET_PRANDOM_U32,
            name: "get_prandom_u32",
            args: &[],
            ret: RetKind::Integer,
        },
        Prototype {
            id: GET_SMP_PROCESSOR_ID,
            name: "get_smp_processor_id",
            args: &[],
            ret: RetKind::Integer,
        },
        Prototype {
            id: CSUM_DIFF,
            name: "csum_diff",
            args: &[ReadMem, SizeOrZero, ReadMem, SizeOrZero, Anything],
            ret: RetKind::Integer,
        },
        Prototype {
            id: XDP_ADJUST_HEAD,
            name: "xdp_adjust_head",
            args: &[Ctx, Anything],
            ret: RetKind::Integer,
        },
        Prototype {
            id: XDP_ADJUST_META,
            name: "xdp_adjust_meta",
            args: &[Ctx, Anything],
            ret: RetKind::Integer,
        },
        Prototype {
            id: XDP_ADJUST_TAIL,
            name: "xdp_adjust_tail",
            args: &[Ctx, Anything],
            ret: RetKind::Integer,
        },
        Prototype {
            id: KTIME_GET_BOOT_NS,
            name: "ktime_get_boot_ns",
            args: &[],
            ret: RetKind::Integer,
        },
        // Queue and stack maps (kernel/bpf/helpers.c): the value argument
        // of pop and peek is written (ARG_PTR_TO_MAP_VALUE | MEM_UNINIT).
        Prototype {
            id: MAP_PUSH_ELEM,
            name: "map_push_elem",
            args: &[ConstMapPtr, MapValue, Anything],
            ret: RetKind::Integer,
        },
        Prototype {
            id: MAP_POP_ELEM,
            name: "map_pop_elem",
            args: &[ConstMapPtr, MapValue],
            ret: RetKind::Integer,
        },
        Prototype {
            id: MAP_PEEK_ELEM,
            name: "map_peek_elem",
            args: &[ConstMapPtr, MapValue],
            ret: RetKind::Integer,
        },
        // Ring buffers (kernel/bpf/ringbuf.c).
        Prototype {
            id: RINGBUF_OUTPUT,
            name: "ringbuf_output",
            args: &[ConstMapPtr, ReadMem, SizeOrZero, Anything],
            ret: RetKind::Integer,
        },
        Prototype {
            id: RINGBUF_RESERVE,
            name: "ringbuf_reserve",
            args: &[ConstMapPtr, Anything, Anything],
            ret: RetKind::RingbufMemOrNull,
        },
        Prototype {
            id: RINGBUF_SUBMIT,
            name: "ringbuf_submit",
            args: &[RingbufMem, Anything],
            ret: RetKind::Void,
        },
        Prototype {
            id: RINGBUF_DISCARD,
            name: "ringbuf_discard",
            args: &[RingbufMem, Anything],
            ret: RetKind::Void,
        },
        Prototype {
            id: RINGBUF_QUERY,
            name: "ringbuf_query",
            args: &[ConstMapPtr, Anything],
            ret: RetKind::Integer,
        },
    ];

    pub const L3_CSUM_REPLACE: u32 = 10;
    pub const L4_CSUM_REPLACE: u32 = 11;
    pub const SPIN_LOCK: u32 = 93;
    pub const SPIN_UNLOCK: u32 = 94;
    pub const PROBE_READ_USER: u32 = 112;
    pub const PROBE_READ_KERNEL: u32 = 113;
    pub const JIFFIES64: u32 = 118;
    pub const LOOP: u32 = 181;
    pub const MAP_LOOKUP_ELEM: u32 = 1;
    pub const MAP_UPDATE_ELEM: u32 = 2;
    pub const MAP_DELETE_ELEM: u32 = 3;
    pub const PROBE_READ: u32 = 4;
    pub const KTIME_GET_NS: u32 = 5;
    pub const TRACE_PRINTK: u32 = 6;
    pub const GET_PRANDOM_U32: u32 = 7;
    pub const GET_SMP_PROCESSOR_ID: u32 = 8;
    pub const TAIL_CALL: u32 = 12;
    pub const GET_CURRENT_PID_TGID: u32 = 14;
    pub const REDIRECT: u32 = 23;
    pub const CSUM_DIFF: u32 = 28;
    pub const XDP_ADJUST_HEAD: u32 = 44;
    pub const REDIRECT_MAP: u32 = 51;
    pub const XDP_ADJUST_META: u32 = 54;
    pub const XDP_ADJUST_TAIL: u32 = 65;
    pub const KTIME_GET_BOOT_NS: u32 = 125;
    // Queue/stack and ring buffer helpers.
    pub const MAP_PUSH_ELEM: u32 = 87;
    pub const MAP_POP_ELEM: u32 = 88;
    pub const MAP_PEEK_ELEM: u32 = 89;
    pub const RINGBUF_OUTPUT: u32 = 130;
    pub const RINGBUF_RESERVE: u32 = 131;
    pub const RINGBUF_SUBMIT: u32 = 132;
    pub const RINGBUF_DISCARD: u32 = 133;
    pub const RINGBUF_QUERY: u32 = 134;
}
