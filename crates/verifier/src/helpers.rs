//! What the verifier knows about helpers: argument and return kinds finer
//! than [`oxbpf_abi::helper::ArgKind`] (the kernel's `bpf_func_proto`
//! `arg*_type` / `ret_type`), whether a helper may move the packet
//! (`bpf_helper_changes_pkt_data` in `net/core/filter.c`), and which
//! program types may call it (each type's `*_func_proto`).
//!
//! Ids are the kernel's (`enum bpf_func_id`); those named in
//! [`oxbpf_abi::helper::kernel`] come from there, and a unit test checks
//! that every prototype there agrees with the entry here.

use oxbpf_abi::helper::kernel as ids;
use oxbpf_abi::program_type::ProgramType;

/// How the verifier checks one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// Any initialised value (privileged: pointers too).
    Anything,
    /// A map object (`lddw` of a map).
    MapPtr,
    /// Readable memory of the map's key size.
    MapKey,
    /// Readable memory of the map's value size.
    MapValue,
    /// Readable memory whose size is the next argument.
    ReadMem,
    /// Writable memory whose size is the next argument (it need not be
    /// initialised: the helper fills it).
    WriteMem,
    /// A size for the preceding memory argument, proven bounded; zero
    /// allowed.
    SizeOrZero,
    /// A size proven bounded and non-zero.
    Size,
    /// A size known exactly (ring buffer reservations).
    ConstSize,
    /// The context pointer, unmodified.
    Ctx,
    /// A function address (`bpf_loop` callbacks).
    Func,
    /// Memory returned by `ringbuf_reserve`, non-null.
    RingbufMem,
    /// Writable memory of the map's value size, which the helper fills
    /// (`ARG_PTR_TO_MAP_VALUE | MEM_UNINIT`: queue/stack pop and peek).
    MapValueOut,
    /// A non-null pointer into a map value (the `struct bpf_spin_lock`
    /// inside it; lock discipline is checked in part 2).
    MapValuePtr,
}

/// What a helper returns in r0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    /// Any number.
    Integer,
    /// A number in `0..=u32::MAX`.
    U32,
    /// A value of the map in argument 1, or null.
    MapValueOrNull,
    /// Ring buffer memory of the size in argument 2, or null.
    RingbufMemOrNull,
}

/// Which program types may call a helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allow {
    /// Every program type (`bpf_base_func_proto`, privileged: on this
    /// kernel that includes the current task's ids and `probe_read_*`).
    All,
    /// Programs that see packets (`__sk_buff` or `xdp_md`).
    Net,
    /// XDP only.
    Xdp,
    /// tc classifiers and actions.
    Tc,
    /// Programs with an `__sk_buff` context.
    Skb,
    /// tc and XDP.
    TcXdp,
    /// Tracing programs (kprobe, tracepoint, perf event, raw tracepoint,
    /// tracing).
    Tracing,
}

/// A helper as the verifier sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelperSpec {
    pub id: u32,
    pub name: &'static str,
    pub args: &'static [Arg],
    pub ret: Ret,
    /// Whether a call invalidates packet pointers.
    pub moves_packet: bool,
    pub allow: Allow,
}

/// Kernel ids not (yet) named in `oxbpf_abi`.
pub mod extra_ids {
    pub const SKB_STORE_BYTES: u32 = 9;
    pub const L3_CSUM_REPLACE: u32 = 10;
    pub const L4_CSUM_REPLACE: u32 = 11;
    pub const GET_CURRENT_UID_GID: u32 = 15;
    pub const GET_CURRENT_COMM: u32 = 16;
    pub const GET_CGROUP_CLASSID: u32 = 17;
    pub const SKB_VLAN_PUSH: u32 = 18;
    pub const SKB_VLAN_POP: u32 = 19;
    pub const PERF_EVENT_OUTPUT: u32 = 25;
    pub const SKB_LOAD_BYTES: u32 = 26;
    pub const GET_HASH_RECALC: u32 = 34;
    pub const GET_CURRENT_TASK: u32 = 35;
    pub const SKB_CHANGE_PROTO: u32 = 31;
    pub const SKB_CHANGE_TYPE: u32 = 32;
    pub const SKB_CHANGE_TAIL: u32 = 38;
    pub const SKB_PULL_DATA: u32 = 39;
    pub const GET_NUMA_NODE_ID: u32 = 42;
    pub const SKB_CHANGE_HEAD: u32 = 43;
    pub const FIB_LOOKUP: u32 = 69;
    pub const MAP_PUSH_ELEM: u32 = 87;
    pub const MAP_POP_ELEM: u32 = 88;
    pub const MAP_PEEK_ELEM: u32 = 89;
    pub const PROBE_READ_USER: u32 = 112;
    pub const PROBE_READ_KERNEL: u32 = 113;
    pub const PROBE_READ_KERNEL_STR: u32 = 115;
    pub const RINGBUF_OUTPUT: u32 = 130;
    pub const RINGBUF_RESERVE: u32 = 131;
    pub const RINGBUF_SUBMIT: u32 = 132;
    pub const RINGBUF_DISCARD: u32 = 133;
    pub const RINGBUF_QUERY: u32 = 134;
    pub const JIFFIES64: u32 = 118;
    pub const LOOP: u32 = 181;
    pub const CLONE_REDIRECT: u32 = 13;
    pub const SKB_ADJUST_ROOM: u32 = 50;
    pub const SPIN_LOCK: u32 = 93;
    pub const SPIN_UNLOCK: u32 = 94;
    pub const KTIME_GET_COARSE_NS: u32 = 160;
    pub const XDP_LOAD_BYTES: u32 = 189;
    pub const XDP_STORE_BYTES: u32 = 190;
}

use Arg::*;
use extra_ids as x;

const fn h(
    id: u32,
    name: &'static str,
    args: &'static [Arg],
    ret: Ret,
    moves_packet: bool,
    allow: Allow,
) -> HelperSpec {
    HelperSpec {
        id,
        name,
        args,
        ret,
        moves_packet,
        allow,
    }
}

/// Every helper the verifier accepts calls to.
pub const HELPERS: &[HelperSpec] = &[
    h(
        ids::MAP_LOOKUP_ELEM,
        "map_lookup_elem",
        &[MapPtr, MapKey],
        Ret::MapValueOrNull,
        false,
        Allow::All,
    ),
    h(
        ids::MAP_UPDATE_ELEM,
        "map_update_elem",
        &[MapPtr, MapKey, MapValue, Anything],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        ids::MAP_DELETE_ELEM,
        "map_delete_elem",
        &[MapPtr, MapKey],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        ids::PROBE_READ,
        "probe_read",
        &[WriteMem, SizeOrZero, Anything],
        Ret::Integer,
        false,
        Allow::Tracing,
    ),
    h(
        ids::KTIME_GET_NS,
        "ktime_get_ns",
        &[],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        ids::TRACE_PRINTK,
        "trace_printk",
        &[ReadMem, Size],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        ids::GET_PRANDOM_U32,
        "get_prandom_u32",
        &[],
        Ret::U32,
        false,
        Allow::All,
    ),
    h(
        ids::GET_SMP_PROCESSOR_ID,
        "get_smp_processor_id",
        &[],
        Ret::U32,
        false,
        Allow::All,
    ),
    h(
        x::SKB_STORE_BYTES,
        "skb_store_bytes",
        &[Ctx, Anything, ReadMem, Size, Anything],
        Ret::Integer,
        true,
        Allow::Tc,
    ),
    h(
        x::L3_CSUM_REPLACE,
        "l3_csum_replace",
        &[Ctx, Anything, Anything, Anything, Anything],
        Ret::Integer,
        true,
        Allow::Tc,
    ),
    h(
        x::L4_CSUM_REPLACE,
        "l4_csum_replace",
        &[Ctx, Anything, Anything, Anything, Anything],
        Ret::Integer,
        true,
        Allow::Tc,
    ),
    h(
        ids::TAIL_CALL,
        "tail_call",
        &[Ctx, MapPtr, Anything],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        ids::GET_CURRENT_PID_TGID,
        "get_current_pid_tgid",
        &[],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::GET_CURRENT_UID_GID,
        "get_current_uid_gid",
        &[],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::GET_CURRENT_COMM,
        "get_current_comm",
        &[WriteMem, Size],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::GET_CGROUP_CLASSID,
        "get_cgroup_classid",
        &[Ctx],
        Ret::U32,
        false,
        Allow::Tc,
    ),
    h(
        x::SKB_VLAN_PUSH,
        "skb_vlan_push",
        &[Ctx, Anything, Anything],
        Ret::Integer,
        true,
        Allow::Tc,
    ),
    h(
        x::SKB_VLAN_POP,
        "skb_vlan_pop",
        &[Ctx],
        Ret::Integer,
        true,
        Allow::Tc,
    ),
    h(
        ids::REDIRECT,
        "redirect",
        &[Anything, Anything],
        Ret::Integer,
        false,
        Allow::TcXdp,
    ),
    h(
        x::PERF_EVENT_OUTPUT,
        "perf_event_output",
        &[Ctx, MapPtr, Anything, ReadMem, SizeOrZero],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::SKB_LOAD_BYTES,
        "skb_load_bytes",
        &[Ctx, Anything, WriteMem, Size],
        Ret::Integer,
        false,
        Allow::Skb,
    ),
    h(
        ids::CSUM_DIFF,
        "csum_diff",
        &[ReadMem, SizeOrZero, ReadMem, SizeOrZero, Anything],
        Ret::Integer,
        false,
        Allow::Net,
    ),
    h(
        x::SKB_CHANGE_PROTO,
        "skb_change_proto",
        &[Ctx, Anything, Anything],
        Ret::Integer,
        true,
        Allow::Tc,
    ),
    h(
        x::SKB_CHANGE_TYPE,
        "skb_change_type",
        &[Ctx, Anything],
        Ret::Integer,
        false,
        Allow::Tc,
    ),
    h(
        x::GET_HASH_RECALC,
        "get_hash_recalc",
        &[Ctx],
        Ret::U32,
        false,
        Allow::Tc,
    ),
    h(
        x::GET_CURRENT_TASK,
        "get_current_task",
        &[],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::SKB_CHANGE_TAIL,
        "skb_change_tail",
        &[Ctx, Anything, Anything],
        Ret::Integer,
        true,
        Allow::Tc,
    ),
    h(
        x::SKB_PULL_DATA,
        "skb_pull_data",
        &[Ctx, Anything],
        Ret::Integer,
        true,
        Allow::Tc,
    ),
    h(
        x::GET_NUMA_NODE_ID,
        "get_numa_node_id",
        &[],
        Ret::U32,
        false,
        Allow::All,
    ),
    h(
        x::SKB_CHANGE_HEAD,
        "skb_change_head",
        &[Ctx, Anything, Anything],
        Ret::Integer,
        true,
        Allow::Tc,
    ),
    h(
        ids::XDP_ADJUST_HEAD,
        "xdp_adjust_head",
        &[Ctx, Anything],
        Ret::Integer,
        true,
        Allow::Xdp,
    ),
    h(
        ids::REDIRECT_MAP,
        "redirect_map",
        &[MapPtr, Anything, Anything],
        Ret::Integer,
        false,
        Allow::TcXdp,
    ),
    h(
        ids::XDP_ADJUST_META,
        "xdp_adjust_meta",
        &[Ctx, Anything],
        Ret::Integer,
        true,
        Allow::Xdp,
    ),
    h(
        ids::XDP_ADJUST_TAIL,
        "xdp_adjust_tail",
        &[Ctx, Anything],
        Ret::Integer,
        true,
        Allow::Xdp,
    ),
    h(
        x::FIB_LOOKUP,
        "fib_lookup",
        &[Ctx, WriteMem, Size, Anything],
        Ret::Integer,
        false,
        Allow::TcXdp,
    ),
    h(
        x::MAP_PUSH_ELEM,
        "map_push_elem",
        &[MapPtr, MapValue, Anything],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::MAP_POP_ELEM,
        "map_pop_elem",
        &[MapPtr, MapValueOut],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::MAP_PEEK_ELEM,
        "map_peek_elem",
        &[MapPtr, MapValueOut],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::PROBE_READ_USER,
        "probe_read_user",
        &[WriteMem, SizeOrZero, Anything],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::PROBE_READ_KERNEL,
        "probe_read_kernel",
        &[WriteMem, SizeOrZero, Anything],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::PROBE_READ_KERNEL_STR,
        "probe_read_kernel_str",
        &[WriteMem, SizeOrZero, Anything],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::JIFFIES64,
        "jiffies64",
        &[],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        ids::KTIME_GET_BOOT_NS,
        "ktime_get_boot_ns",
        &[],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::RINGBUF_OUTPUT,
        "ringbuf_output",
        &[MapPtr, ReadMem, SizeOrZero, Anything],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::RINGBUF_RESERVE,
        "ringbuf_reserve",
        &[MapPtr, ConstSize, Anything],
        Ret::RingbufMemOrNull,
        false,
        Allow::All,
    ),
    h(
        x::RINGBUF_SUBMIT,
        "ringbuf_submit",
        &[RingbufMem, Anything],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::RINGBUF_DISCARD,
        "ringbuf_discard",
        &[RingbufMem, Anything],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::RINGBUF_QUERY,
        "ringbuf_query",
        &[MapPtr, Anything],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::LOOP,
        "loop",
        &[Anything, Func, Anything, Anything],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::CLONE_REDIRECT,
        "clone_redirect",
        &[Ctx, Anything, Anything],
        Ret::Integer,
        false,
        Allow::Tc,
    ),
    h(
        x::SKB_ADJUST_ROOM,
        "skb_adjust_room",
        &[Ctx, Anything, Anything, Anything],
        Ret::Integer,
        true,
        Allow::Tc,
    ),
    h(
        x::SPIN_LOCK,
        "spin_lock",
        &[MapValuePtr],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::SPIN_UNLOCK,
        "spin_unlock",
        &[MapValuePtr],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::KTIME_GET_COARSE_NS,
        "ktime_get_coarse_ns",
        &[],
        Ret::Integer,
        false,
        Allow::All,
    ),
    h(
        x::XDP_LOAD_BYTES,
        "xdp_load_bytes",
        &[Ctx, Anything, WriteMem, Size],
        Ret::Integer,
        false,
        Allow::Xdp,
    ),
    h(
        x::XDP_STORE_BYTES,
        "xdp_store_bytes",
        &[Ctx, Anything, ReadMem, Size],
        Ret::Integer,
        false,
        Allow::Xdp,
    ),
];

/// The helper with kernel id `id`.
pub fn spec(id: i32) -> Option<&'static HelperSpec> {
    let id = u32::try_from(id).ok()?;
    HELPERS.iter().find(|h| h.id == id)
}

/// Whether a program of type `t` may call a helper allowed for `allow`.
pub fn allowed(allow: Allow, t: ProgramType) -> bool {
    use ProgramType as P;
    let tc = matches!(t, P::SchedCls | P::SchedAct);
    let skb = tc
        || matches!(
            t,
            P::SocketFilter | P::CgroupSkb | P::LwtIn | P::LwtOut | P::LwtXmit | P::SkSkb
        );
    match allow {
        Allow::All => true,
        Allow::Net => skb || t == P::Xdp,
        Allow::Xdp => t == P::Xdp,
        Allow::Tc => tc,
        Allow::Skb => skb,
        Allow::TcXdp => tc || t == P::Xdp,
        Allow::Tracing => matches!(
            t,
            P::Kprobe
                | P::Tracepoint
                | P::PerfEvent
                | P::RawTracepoint
                | P::Tracing
                | P::RawTracepointWritable
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_abi_prototypes() {
        use oxbpf_abi::helper::ArgKind as K;
        for p in oxbpf_abi::helper::kernel::PROTOTYPES {
            let s = spec(p.id as i32).unwrap_or_else(|| panic!("{} has no spec", p.name));
            assert_eq!(s.name, p.name);
            // The kernel leaves trailing arguments unchecked
            // (`ARG_DONTCARE`) where oxbpf-abi lists them as anything.
            assert!(s.args.len() <= p.args.len(), "{}", p.name);
            assert!(
                p.args[s.args.len()..].iter().all(|k| *k == K::Anything),
                "{}",
                p.name
            );
            for (a, k) in s.args.iter().zip(p.args) {
                let ok = matches!(
                    (k, a),
                    (K::Anything, Arg::Anything)
                        | (K::ConstMapPtr, Arg::MapPtr)
                        | (K::MapKey, Arg::MapKey)
                        | (K::MapValue, Arg::MapValue)
                        | (K::ReadMem, Arg::ReadMem)
                        | (K::WriteMem, Arg::WriteMem)
                        | (K::MapValue, Arg::MapValueOut)
                        | (K::SizeOrZero, Arg::SizeOrZero | Arg::Size)
                        | (K::Ctx, Arg::Ctx)
                        | (K::RingbufMem, Arg::RingbufMem)
                        // The size of a reservation: any number to the
                        // runtime, a constant to the verifier.
                        | (K::Anything, Arg::ConstSize)
                );
                assert!(ok, "{}: {k:?} vs {a:?}", p.name);
            }
        }
    }

    #[test]
    fn packet_helpers_are_xdp_only() {
        let s = spec(ids::XDP_ADJUST_HEAD as i32).unwrap();
        assert!(s.moves_packet);
        assert!(allowed(s.allow, ProgramType::Xdp));
        assert!(!allowed(s.allow, ProgramType::SocketFilter));
        assert!(spec(9999).is_none());
    }
}
