//! Program types and expected attach types, numbered as the kernel's uapi
//! `linux/bpf.h` numbers them (`enum bpf_prog_type`, `enum
//! bpf_attach_type`), and the ELF section names that select them.
//!
//! An object file says what kind of program a function is only through the
//! name of the section it lives in (`SEC("xdp")`, `SEC("kprobe/do_sys_open")`).
//! [`section_def`] maps a section name to a program type and, where the
//! kernel wants one at load time, an expected attach type, with the
//! matching rules of libbpf's `section_defs` table (libbpf 1.x,
//! `sec_def_matches` in `tools/lib/bpf/libbpf.c`), so that an object built
//! for libbpf means the same thing to oxbpf. The table below is oxbpf's
//! own; entries follow libbpf's order because the first match wins.
//!
//! The numbers are passed to `bpf(BPF_PROG_LOAD)` unchanged by the kernel
//! backend and must never be renumbered.

/// A program type: the kernel's `enum bpf_prog_type`.
///
/// ```
/// use oxbpf_abi::program_type::ProgramType;
/// assert_eq!(ProgramType::Xdp.id(), 6);
/// assert_eq!(ProgramType::from_u32(3), Some(ProgramType::SchedCls));
/// assert_eq!(ProgramType::SchedCls.name(), "sched_cls");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum ProgramType {
    /// `BPF_PROG_TYPE_UNSPEC`: never a valid program.
    Unspec = 0,
    /// `BPF_PROG_TYPE_SOCKET_FILTER`: filters on sockets (`__sk_buff`).
    SocketFilter = 1,
    /// `BPF_PROG_TYPE_KPROBE`: kprobes, uprobes, USDT.
    Kprobe = 2,
    /// `BPF_PROG_TYPE_SCHED_CLS`: tc classifiers (`__sk_buff`).
    SchedCls = 3,
    /// `BPF_PROG_TYPE_SCHED_ACT`: tc actions.
    SchedAct = 4,
    /// `BPF_PROG_TYPE_TRACEPOINT`.
    Tracepoint = 5,
    /// `BPF_PROG_TYPE_XDP` (`xdp_md`).
    Xdp = 6,
    /// `BPF_PROG_TYPE_PERF_EVENT`.
    PerfEvent = 7,
    /// `BPF_PROG_TYPE_CGROUP_SKB`.
    CgroupSkb = 8,
    /// `BPF_PROG_TYPE_CGROUP_SOCK`.
    CgroupSock = 9,
    /// `BPF_PROG_TYPE_LWT_IN`.
    LwtIn = 10,
    /// `BPF_PROG_TYPE_LWT_OUT`.
    LwtOut = 11,
    /// `BPF_PROG_TYPE_LWT_XMIT`.
    LwtXmit = 12,
    /// `BPF_PROG_TYPE_SOCK_OPS`.
    SockOps = 13,
    /// `BPF_PROG_TYPE_SK_SKB`.
    SkSkb = 14,
    /// `BPF_PROG_TYPE_CGROUP_DEVICE`.
    CgroupDevice = 15,
    /// `BPF_PROG_TYPE_SK_MSG`.
    SkMsg = 16,
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT`.
    RawTracepoint = 17,
    /// `BPF_PROG_TYPE_CGROUP_SOCK_ADDR`.
    CgroupSockAddr = 18,
    /// `BPF_PROG_TYPE_LWT_SEG6LOCAL`.
    LwtSeg6local = 19,
    /// `BPF_PROG_TYPE_LIRC_MODE2`.
    LircMode2 = 20,
    /// `BPF_PROG_TYPE_SK_REUSEPORT`.
    SkReuseport = 21,
    /// `BPF_PROG_TYPE_FLOW_DISSECTOR`.
    FlowDissector = 22,
    /// `BPF_PROG_TYPE_CGROUP_SYSCTL`.
    CgroupSysctl = 23,
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE`.
    RawTracepointWritable = 24,
    /// `BPF_PROG_TYPE_CGROUP_SOCKOPT`.
    CgroupSockopt = 25,
    /// `BPF_PROG_TYPE_TRACING`: fentry/fexit/fmod_ret, tp_btf, iterators.
    Tracing = 26,
    /// `BPF_PROG_TYPE_STRUCT_OPS`.
    StructOps = 27,
    /// `BPF_PROG_TYPE_EXT`: freplace.
    Ext = 28,
    /// `BPF_PROG_TYPE_LSM`.
    Lsm = 29,
    /// `BPF_PROG_TYPE_SK_LOOKUP`.
    SkLookup = 30,
    /// `BPF_PROG_TYPE_SYSCALL`.
    Syscall = 31,
    /// `BPF_PROG_TYPE_NETFILTER`.
    Netfilter = 32,
}

/// Every program type with libbpf's name for it (`prog_type_name[]`, also
/// what `bpftool prog` prints), in kernel order with no gaps.
pub const PROGRAM_TYPES: &[(ProgramType, &str)] = &[
    (ProgramType::Unspec, "unspec"),
    (ProgramType::SocketFilter, "socket_filter"),
    (ProgramType::Kprobe, "kprobe"),
    (ProgramType::SchedCls, "sched_cls"),
    (ProgramType::SchedAct, "sched_act"),
    (ProgramType::Tracepoint, "tracepoint"),
    (ProgramType::Xdp, "xdp"),
    (ProgramType::PerfEvent, "perf_event"),
    (ProgramType::CgroupSkb, "cgroup_skb"),
    (ProgramType::CgroupSock, "cgroup_sock"),
    (ProgramType::LwtIn, "lwt_in"),
    (ProgramType::LwtOut, "lwt_out"),
    (ProgramType::LwtXmit, "lwt_xmit"),
    (ProgramType::SockOps, "sock_ops"),
    (ProgramType::SkSkb, "sk_skb"),
    (ProgramType::CgroupDevice, "cgroup_device"),
    (ProgramType::SkMsg, "sk_msg"),
    (ProgramType::RawTracepoint, "raw_tracepoint"),
    (ProgramType::CgroupSockAddr, "cgroup_sock_addr"),
    (ProgramType::LwtSeg6local, "lwt_seg6local"),
    (ProgramType::LircMode2, "lirc_mode2"),
    (ProgramType::SkReuseport, "sk_reuseport"),
    (ProgramType::FlowDissector, "flow_dissector"),
    (ProgramType::CgroupSysctl, "cgroup_sysctl"),
    (
        ProgramType::RawTracepointWritable,
        "raw_tracepoint_writable",
    ),
    (ProgramType::CgroupSockopt, "cgroup_sockopt"),
    (ProgramType::Tracing, "tracing"),
    (ProgramType::StructOps, "struct_ops"),
    (ProgramType::Ext, "ext"),
    (ProgramType::Lsm, "lsm"),
    (ProgramType::SkLookup, "sk_lookup"),
    (ProgramType::Syscall, "syscall"),
    (ProgramType::Netfilter, "netfilter"),
];

impl ProgramType {
    /// The kernel's number for this type.
    pub const fn id(self) -> u32 {
        self as u32
    }

    /// The type with kernel number `id`, if oxbpf knows it.
    pub fn from_u32(id: u32) -> Option<ProgramType> {
        // PROGRAM_TYPES is in kernel order with no gaps: the id is the index.
        PROGRAM_TYPES.get(id as usize).map(|&(t, _)| t)
    }

    /// libbpf's name for this type (`"sched_cls"`).
    pub fn name(self) -> &'static str {
        PROGRAM_TYPES[self as usize].1
    }

    /// The type libbpf names `name`.
    pub fn from_name(name: &str) -> Option<ProgramType> {
        PROGRAM_TYPES
            .iter()
            .find(|&&(_, n)| n == name)
            .map(|&(t, _)| t)
    }
}

impl core::fmt::Display for ProgramType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// An attach type: the kernel's `enum bpf_attach_type`, given as
/// `expected_attach_type` at load time and as the attach point of links.
///
/// ```
/// use oxbpf_abi::program_type::AttachType;
/// assert_eq!(AttachType::Xdp.id(), 37);
/// assert_eq!(AttachType::from_u32(46), Some(AttachType::TcxIngress));
/// assert_eq!(AttachType::TcxIngress.name(), "tcx_ingress");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum AttachType {
    /// `BPF_CGROUP_INET_INGRESS`.
    CgroupInetIngress = 0,
    /// `BPF_CGROUP_INET_EGRESS`.
    CgroupInetEgress = 1,
    /// `BPF_CGROUP_INET_SOCK_CREATE`.
    CgroupInetSockCreate = 2,
    /// `BPF_CGROUP_SOCK_OPS`.
    CgroupSockOps = 3,
    /// `BPF_SK_SKB_STREAM_PARSER`.
    SkSkbStreamParser = 4,
    /// `BPF_SK_SKB_STREAM_VERDICT`.
    SkSkbStreamVerdict = 5,
    /// `BPF_CGROUP_DEVICE`.
    CgroupDevice = 6,
    /// `BPF_SK_MSG_VERDICT`.
    SkMsgVerdict = 7,
    /// `BPF_CGROUP_INET4_BIND`.
    CgroupInet4Bind = 8,
    /// `BPF_CGROUP_INET6_BIND`.
    CgroupInet6Bind = 9,
    /// `BPF_CGROUP_INET4_CONNECT`.
    CgroupInet4Connect = 10,
    /// `BPF_CGROUP_INET6_CONNECT`.
    CgroupInet6Connect = 11,
    /// `BPF_CGROUP_INET4_POST_BIND`.
    CgroupInet4PostBind = 12,
    /// `BPF_CGROUP_INET6_POST_BIND`.
    CgroupInet6PostBind = 13,
    /// `BPF_CGROUP_UDP4_SENDMSG`.
    CgroupUdp4Sendmsg = 14,
    /// `BPF_CGROUP_UDP6_SENDMSG`.
    CgroupUdp6Sendmsg = 15,
    /// `BPF_LIRC_MODE2`.
    LircMode2 = 16,
    /// `BPF_FLOW_DISSECTOR`.
    FlowDissector = 17,
    /// `BPF_CGROUP_SYSCTL`.
    CgroupSysctl = 18,
    /// `BPF_CGROUP_UDP4_RECVMSG`.
    CgroupUdp4Recvmsg = 19,
    /// `BPF_CGROUP_UDP6_RECVMSG`.
    CgroupUdp6Recvmsg = 20,
    /// `BPF_CGROUP_GETSOCKOPT`.
    CgroupGetsockopt = 21,
    /// `BPF_CGROUP_SETSOCKOPT`.
    CgroupSetsockopt = 22,
    /// `BPF_TRACE_RAW_TP`.
    TraceRawTp = 23,
    /// `BPF_TRACE_FENTRY`.
    TraceFentry = 24,
    /// `BPF_TRACE_FEXIT`.
    TraceFexit = 25,
    /// `BPF_MODIFY_RETURN`.
    ModifyReturn = 26,
    /// `BPF_LSM_MAC`.
    LsmMac = 27,
    /// `BPF_TRACE_ITER`.
    TraceIter = 28,
    /// `BPF_CGROUP_INET4_GETPEERNAME`.
    CgroupInet4Getpeername = 29,
    /// `BPF_CGROUP_INET6_GETPEERNAME`.
    CgroupInet6Getpeername = 30,
    /// `BPF_CGROUP_INET4_GETSOCKNAME`.
    CgroupInet4Getsockname = 31,
    /// `BPF_CGROUP_INET6_GETSOCKNAME`.
    CgroupInet6Getsockname = 32,
    /// `BPF_XDP_DEVMAP`: XDP programs run by a devmap entry.
    XdpDevmap = 33,
    /// `BPF_CGROUP_INET_SOCK_RELEASE`.
    CgroupInetSockRelease = 34,
    /// `BPF_XDP_CPUMAP`: XDP programs run by a cpumap entry.
    XdpCpumap = 35,
    /// `BPF_SK_LOOKUP`.
    SkLookup = 36,
    /// `BPF_XDP`: XDP programs attached through links.
    Xdp = 37,
    /// `BPF_SK_SKB_VERDICT`.
    SkSkbVerdict = 38,
    /// `BPF_SK_REUSEPORT_SELECT`.
    SkReuseportSelect = 39,
    /// `BPF_SK_REUSEPORT_SELECT_OR_MIGRATE`.
    SkReuseportSelectOrMigrate = 40,
    /// `BPF_PERF_EVENT`.
    PerfEvent = 41,
    /// `BPF_TRACE_KPROBE_MULTI`.
    TraceKprobeMulti = 42,
    /// `BPF_LSM_CGROUP`.
    LsmCgroup = 43,
    /// `BPF_STRUCT_OPS`.
    StructOps = 44,
    /// `BPF_NETFILTER`.
    Netfilter = 45,
    /// `BPF_TCX_INGRESS`: tc ingress through tcx links.
    TcxIngress = 46,
    /// `BPF_TCX_EGRESS`: tc egress through tcx links.
    TcxEgress = 47,
    /// `BPF_TRACE_UPROBE_MULTI`.
    TraceUprobeMulti = 48,
    /// `BPF_CGROUP_UNIX_CONNECT`.
    CgroupUnixConnect = 49,
    /// `BPF_CGROUP_UNIX_SENDMSG`.
    CgroupUnixSendmsg = 50,
    /// `BPF_CGROUP_UNIX_RECVMSG`.
    CgroupUnixRecvmsg = 51,
    /// `BPF_CGROUP_UNIX_GETPEERNAME`.
    CgroupUnixGetpeername = 52,
    /// `BPF_CGROUP_UNIX_GETSOCKNAME`.
    CgroupUnixGetsockname = 53,
    /// `BPF_NETKIT_PRIMARY`.
    NetkitPrimary = 54,
    /// `BPF_NETKIT_PEER`.
    NetkitPeer = 55,
    /// `BPF_TRACE_KPROBE_SESSION`.
    TraceKprobeSession = 56,
    /// `BPF_TRACE_UPROBE_SESSION`.
    TraceUprobeSession = 57,
}

/// Every attach type with libbpf's name for it (`attach_type_name[]`), in
/// kernel order with no gaps.
pub const ATTACH_TYPES: &[(AttachType, &str)] = &[
    (AttachType::CgroupInetIngress, "cgroup_inet_ingress"),
    (AttachType::CgroupInetEgress, "cgroup_inet_egress"),
    (AttachType::CgroupInetSockCreate, "cgroup_inet_sock_create"),
    (AttachType::CgroupSockOps, "cgroup_sock_ops"),
    (AttachType::SkSkbStreamParser, "sk_skb_stream_parser"),
    (AttachType::SkSkbStreamVerdict, "sk_skb_stream_verdict"),
    (AttachType::CgroupDevice, "cgroup_device"),
    (AttachType::SkMsgVerdict, "sk_msg_verdict"),
    (AttachType::CgroupInet4Bind, "cgroup_inet4_bind"),
    (AttachType::CgroupInet6Bind, "cgroup_inet6_bind"),
    (AttachType::CgroupInet4Connect, "cgroup_inet4_connect"),
    (AttachType::CgroupInet6Connect, "cgroup_inet6_connect"),
    (AttachType::CgroupInet4PostBind, "cgroup_inet4_post_bind"),
    (AttachType::CgroupInet6PostBind, "cgroup_inet6_post_bind"),
    (AttachType::CgroupUdp4Sendmsg, "cgroup_udp4_sendmsg"),
    (AttachType::CgroupUdp6Sendmsg, "cgroup_udp6_sendmsg"),
    (AttachType::LircMode2, "lirc_mode2"),
    (AttachType::FlowDissector, "flow_dissector"),
    (AttachType::CgroupSysctl, "cgroup_sysctl"),
    (AttachType::CgroupUdp4Recvmsg, "cgroup_udp4_recvmsg"),
    (AttachType::CgroupUdp6Recvmsg, "cgroup_udp6_recvmsg"),
    (AttachType::CgroupGetsockopt, "cgroup_getsockopt"),
    (AttachType::CgroupSetsockopt, "cgroup_setsockopt"),
    (AttachType::TraceRawTp, "trace_raw_tp"),
    (AttachType::TraceFentry, "trace_fentry"),
    (AttachType::TraceFexit, "trace_fexit"),
    (AttachType::ModifyReturn, "modify_return"),
    (AttachType::LsmMac, "lsm_mac"),
    (AttachType::TraceIter, "trace_iter"),
    (
        AttachType::CgroupInet4Getpeername,
        "cgroup_inet4_getpeername",
    ),
    (
        AttachType::CgroupInet6Getpeername,
        "cgroup_inet6_getpeername",
    ),
    (
        AttachType::CgroupInet4Getsockname,
        "cgroup_inet4_getsockname",
    ),
    (
        AttachType::CgroupInet6Getsockname,
        "cgroup_inet6_getsockname",
    ),
    (AttachType::XdpDevmap, "xdp_devmap"),
    (
        AttachType::CgroupInetSockRelease,
        "cgroup_inet_sock_release",
    ),
    (AttachType::XdpCpumap, "xdp_cpumap"),
    (AttachType::SkLookup, "sk_lookup"),
    (AttachType::Xdp, "xdp"),
    (AttachType::SkSkbVerdict, "sk_skb_verdict"),
    (AttachType::SkReuseportSelect, "sk_reuseport_select"),
    (
        AttachType::SkReuseportSelectOrMigrate,
        "sk_reuseport_select_or_migrate",
    ),
    (AttachType::PerfEvent, "perf_event"),
    (AttachType::TraceKprobeMulti, "trace_kprobe_multi"),
    (AttachType::LsmCgroup, "lsm_cgroup"),
    (AttachType::StructOps, "struct_ops"),
    (AttachType::Netfilter, "netfilter"),
    (AttachType::TcxIngress, "tcx_ingress"),
    (AttachType::TcxEgress, "tcx_egress"),
    (AttachType::TraceUprobeMulti, "trace_uprobe_multi"),
    (AttachType::CgroupUnixConnect, "cgroup_unix_connect"),
    (AttachType::CgroupUnixSendmsg, "cgroup_unix_sendmsg"),
    (AttachType::CgroupUnixRecvmsg, "cgroup_unix_recvmsg"),
    (AttachType::CgroupUnixGetpeername, "cgroup_unix_getpeername"),
    (AttachType::CgroupUnixGetsockname, "cgroup_unix_getsockname"),
    (AttachType::NetkitPrimary, "netkit_primary"),
    (AttachType::NetkitPeer, "netkit_peer"),
    (AttachType::TraceKprobeSession, "trace_kprobe_session"),
    (AttachType::TraceUprobeSession, "trace_uprobe_session"),
];

impl AttachType {
    /// The kernel's number for this attach type.
    pub const fn id(self) -> u32 {
        self as u32
    }

    /// The attach type with kernel number `id`, if oxbpf knows it.
    pub fn from_u32(id: u32) -> Option<AttachType> {
        ATTACH_TYPES.get(id as usize).map(|&(t, _)| t)
    }

    /// libbpf's name for this attach type (`"tcx_ingress"`).
    pub fn name(self) -> &'static str {
        ATTACH_TYPES[self as usize].1
    }
}

impl core::fmt::Display for AttachType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a [`SectionDef`] pattern matches a section name (libbpf's
/// `sec_def_matches`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SectionMatch {
    /// The whole name equals the pattern (`"xdp"`, `"tc/ingress"`).
    Exact,
    /// The name equals the pattern or continues with `/` and a target
    /// (libbpf's trailing `+`: `"kprobe"`, `"kprobe/do_sys_open"`).
    ExactOrTarget,
}

/// One entry of the section table: which section names select which
/// program type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SectionDef {
    /// The section name or its first component (without libbpf's `+`).
    pub pattern: &'static str,
    /// How `pattern` matches.
    pub matching: SectionMatch,
    /// The program type of functions in matching sections.
    pub program_type: ProgramType,
    /// The `expected_attach_type` to load with, if the kernel needs one.
    pub attach_type: Option<AttachType>,
    /// Sleepable programs (`BPF_F_SLEEPABLE`; libbpf's `.s` suffixes).
    pub sleepable: bool,
    /// XDP programs that accept multi-buffer packets (`BPF_F_XDP_HAS_FRAGS`).
    pub xdp_frags: bool,
    /// The target after `/` names a kernel BTF function or type
    /// (fentry, lsm, iter, ...), resolved against kernel BTF at load time.
    pub attach_btf: bool,
}

impl SectionDef {
    /// Whether section `name` matches this entry.
    pub fn matches(&self, name: &str) -> bool {
        match self.matching {
            SectionMatch::Exact => name == self.pattern,
            SectionMatch::ExactOrTarget => match name.strip_prefix(self.pattern) {
                Some(rest) => rest.is_empty() || rest.starts_with('/'),
                None => false,
            },
        }
    }

    /// The attach target of section `name` (the text after the first `/`
    /// for [`SectionMatch::ExactOrTarget`] entries: `"do_sys_open"` for
    /// `"kprobe/do_sys_open"`), if any.
    pub fn target<'a>(&self, name: &'a str) -> Option<&'a str> {
        match self.matching {
            SectionMatch::Exact => None,
            SectionMatch::ExactOrTarget => name
                .strip_prefix(self.pattern)
                .and_then(|rest| rest.strip_prefix('/'))
                .filter(|t| !t.is_empty()),
        }
    }
}

const fn def(
    pattern: &'static str,
    matching: SectionMatch,
    program_type: ProgramType,
    attach_type: Option<AttachType>,
) -> SectionDef {
    SectionDef {
        pattern,
        matching,
        program_type,
        attach_type,
        sleepable: false,
        xdp_frags: false,
        attach_btf: false,
    }
}

const fn sleepable(d: SectionDef) -> SectionDef {
    SectionDef {
        sleepable: true,
        ..d
    }
}

const fn frags(d: SectionDef) -> SectionDef {
    SectionDef {
        xdp_frags: true,
        ..d
    }
}

const fn btf(d: SectionDef) -> SectionDef {
    SectionDef {
        attach_btf: true,
        ..d
    }
}

use AttachType as A;
use ProgramType as P;
use SectionMatch::{Exact as X, ExactOrTarget as T};

/// The section table, in libbpf's order (the first matching entry wins, so
/// `"xdp.frags/devmap"` comes before `"xdp.frags"`, and `"tc/ingress"`
/// before `"tc"`). Names checked against libbpf 1.x `section_defs[]`.
pub const SECTION_DEFS: &[SectionDef] = &[
    def("socket", X, P::SocketFilter, None),
    def(
        "sk_reuseport/migrate",
        X,
        P::SkReuseport,
        Some(A::SkReuseportSelectOrMigrate),
    ),
    def(
        "sk_reuseport",
        X,
        P::SkReuseport,
        Some(A::SkReuseportSelect),
    ),
    def("kprobe", T, P::Kprobe, None),
    def("uprobe", T, P::Kprobe, None),
    sleepable(def("uprobe.s", T, P::Kprobe, None)),
    def("kretprobe", T, P::Kprobe, None),
    def("uretprobe", T, P::Kprobe, None),
    sleepable(def("uretprobe.s", T, P::Kprobe, None)),
    def("kprobe.multi", T, P::Kprobe, Some(A::TraceKprobeMulti)),
    def("kretprobe.multi", T, P::Kprobe, Some(A::TraceKprobeMulti)),
    def("kprobe.session", T, P::Kprobe, Some(A::TraceKprobeSession)),
    def("uprobe.multi", T, P::Kprobe, Some(A::TraceUprobeMulti)),
    def("uretprobe.multi", T, P::Kprobe, Some(A::TraceUprobeMulti)),
    def("uprobe.session", T, P::Kprobe, Some(A::TraceUprobeSession)),
    sleepable(def(
        "uprobe.multi.s",
        T,
        P::Kprobe,
        Some(A::TraceUprobeMulti),
    )),
    sleepable(def(
        "uretprobe.multi.s",
        T,
        P::Kprobe,
        Some(A::TraceUprobeMulti),
    )),
    sleepable(def(
        "uprobe.session.s",
        T,
        P::Kprobe,
        Some(A::TraceUprobeSession),
    )),
    def("ksyscall", T, P::Kprobe, None),
    def("kretsyscall", T, P::Kprobe, None),
    def("usdt", T, P::Kprobe, None),
    sleepable(def("usdt.s", T, P::Kprobe, None)),
    // libbpf treats tc/ingress and tc/egress as aliases of tcx.
    def("tc/ingress", X, P::SchedCls, Some(A::TcxIngress)),
    def("tc/egress", X, P::SchedCls, Some(A::TcxEgress)),
    def("tcx/ingress", X, P::SchedCls, Some(A::TcxIngress)),
    def("tcx/egress", X, P::SchedCls, Some(A::TcxEgress)),
    def("tc", X, P::SchedCls, None),
    def("classifier", X, P::SchedCls, None),
    def("action", X, P::SchedAct, None),
    def("netkit/primary", X, P::SchedCls, Some(A::NetkitPrimary)),
    def("netkit/peer", X, P::SchedCls, Some(A::NetkitPeer)),
    def("tracepoint", T, P::Tracepoint, None),
    def("tp", T, P::Tracepoint, None),
    sleepable(def("tracepoint.s", T, P::Tracepoint, None)),
    sleepable(def("tp.s", T, P::Tracepoint, None)),
    def("raw_tracepoint", T, P::RawTracepoint, None),
    def("raw_tp", T, P::RawTracepoint, None),
    sleepable(def("raw_tracepoint.s", T, P::RawTracepoint, None)),
    sleepable(def("raw_tp.s", T, P::RawTracepoint, None)),
    def("raw_tracepoint.w", T, P::RawTracepointWritable, None),
    def("raw_tp.w", T, P::RawTracepointWritable, None),
    btf(def("tp_btf", T, P::Tracing, Some(A::TraceRawTp))),
    sleepable(btf(def("tp_btf.s", T, P::Tracing, Some(A::TraceRawTp)))),
    btf(def("fentry", T, P::Tracing, Some(A::TraceFentry))),
    btf(def("fmod_ret", T, P::Tracing, Some(A::ModifyReturn))),
    btf(def("fexit", T, P::Tracing, Some(A::TraceFexit))),
    sleepable(btf(def("fentry.s", T, P::Tracing, Some(A::TraceFentry)))),
    sleepable(btf(def("fmod_ret.s", T, P::Tracing, Some(A::ModifyReturn)))),
    sleepable(btf(def("fexit.s", T, P::Tracing, Some(A::TraceFexit)))),
    btf(def("freplace", T, P::Ext, None)),
    btf(def("lsm", T, P::Lsm, Some(A::LsmMac))),
    sleepable(btf(def("lsm.s", T, P::Lsm, Some(A::LsmMac)))),
    btf(def("lsm_cgroup", T, P::Lsm, Some(A::LsmCgroup))),
    btf(def("iter", T, P::Tracing, Some(A::TraceIter))),
    sleepable(btf(def("iter.s", T, P::Tracing, Some(A::TraceIter)))),
    sleepable(def("syscall", X, P::Syscall, None)),
    frags(def("xdp.frags/devmap", X, P::Xdp, Some(A::XdpDevmap))),
    def("xdp/devmap", X, P::Xdp, Some(A::XdpDevmap)),
    frags(def("xdp.frags/cpumap", X, P::Xdp, Some(A::XdpCpumap))),
    def("xdp/cpumap", X, P::Xdp, Some(A::XdpCpumap)),
    frags(def("xdp.frags", X, P::Xdp, Some(A::Xdp))),
    def("xdp", X, P::Xdp, Some(A::Xdp)),
    def("perf_event", X, P::PerfEvent, None),
    def("lwt_in", X, P::LwtIn, None),
    def("lwt_out", X, P::LwtOut, None),
    def("lwt_xmit", X, P::LwtXmit, None),
    def("lwt_seg6local", X, P::LwtSeg6local, None),
    def("sockops", X, P::SockOps, Some(A::CgroupSockOps)),
    def(
        "sk_skb/stream_parser",
        X,
        P::SkSkb,
        Some(A::SkSkbStreamParser),
    ),
    def(
        "sk_skb/stream_verdict",
        X,
        P::SkSkb,
        Some(A::SkSkbStreamVerdict),
    ),
    def("sk_skb/verdict", X, P::SkSkb, Some(A::SkSkbVerdict)),
    def("sk_skb", X, P::SkSkb, None),
    def("sk_msg", X, P::SkMsg, Some(A::SkMsgVerdict)),
    def("lirc_mode2", X, P::LircMode2, Some(A::LircMode2)),
    def(
        "flow_dissector",
        X,
        P::FlowDissector,
        Some(A::FlowDissector),
    ),
    def(
        "cgroup_skb/ingress",
        X,
        P::CgroupSkb,
        Some(A::CgroupInetIngress),
    ),
    def(
        "cgroup_skb/egress",
        X,
        P::CgroupSkb,
        Some(A::CgroupInetEgress),
    ),
    def("cgroup/skb", X, P::CgroupSkb, None),
    def(
        "cgroup/sock_create",
        X,
        P::CgroupSock,
        Some(A::CgroupInetSockCreate),
    ),
    def(
        "cgroup/sock_release",
        X,
        P::CgroupSock,
        Some(A::CgroupInetSockRelease),
    ),
    def(
        "cgroup/sock",
        X,
        P::CgroupSock,
        Some(A::CgroupInetSockCreate),
    ),
    def(
        "cgroup/post_bind4",
        X,
        P::CgroupSock,
        Some(A::CgroupInet4PostBind),
    ),
    def(
        "cgroup/post_bind6",
        X,
        P::CgroupSock,
        Some(A::CgroupInet6PostBind),
    ),
    def(
        "cgroup/bind4",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupInet4Bind),
    ),
    def(
        "cgroup/bind6",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupInet6Bind),
    ),
    def(
        "cgroup/connect4",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupInet4Connect),
    ),
    def(
        "cgroup/connect6",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupInet6Connect),
    ),
    def(
        "cgroup/connect_unix",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupUnixConnect),
    ),
    def(
        "cgroup/sendmsg4",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupUdp4Sendmsg),
    ),
    def(
        "cgroup/sendmsg6",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupUdp6Sendmsg),
    ),
    def(
        "cgroup/sendmsg_unix",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupUnixSendmsg),
    ),
    def(
        "cgroup/recvmsg4",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupUdp4Recvmsg),
    ),
    def(
        "cgroup/recvmsg6",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupUdp6Recvmsg),
    ),
    def(
        "cgroup/recvmsg_unix",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupUnixRecvmsg),
    ),
    def(
        "cgroup/getpeername4",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupInet4Getpeername),
    ),
    def(
        "cgroup/getpeername6",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupInet6Getpeername),
    ),
    def(
        "cgroup/getpeername_unix",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupUnixGetpeername),
    ),
    def(
        "cgroup/getsockname4",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupInet4Getsockname),
    ),
    def(
        "cgroup/getsockname6",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupInet6Getsockname),
    ),
    def(
        "cgroup/getsockname_unix",
        X,
        P::CgroupSockAddr,
        Some(A::CgroupUnixGetsockname),
    ),
    def("cgroup/sysctl", X, P::CgroupSysctl, Some(A::CgroupSysctl)),
    def(
        "cgroup/getsockopt",
        X,
        P::CgroupSockopt,
        Some(A::CgroupGetsockopt),
    ),
    def(
        "cgroup/setsockopt",
        X,
        P::CgroupSockopt,
        Some(A::CgroupSetsockopt),
    ),
    def("cgroup/dev", X, P::CgroupDevice, Some(A::CgroupDevice)),
    def("struct_ops", T, P::StructOps, None),
    sleepable(def("struct_ops.s", T, P::StructOps, None)),
    def("sk_lookup", X, P::SkLookup, Some(A::SkLookup)),
    def("netfilter", X, P::Netfilter, Some(A::Netfilter)),
];

/// The section table entry for ELF section `name`: the first entry of
/// [`SECTION_DEFS`] that matches, as libbpf's `find_sec_def` picks it.
///
/// ```
/// use oxbpf_abi::program_type::{section_def, AttachType, ProgramType};
/// assert_eq!(section_def("xdp").unwrap().program_type, ProgramType::Xdp);
/// assert_eq!(section_def("tc/ingress").unwrap().attach_type, Some(AttachType::TcxIngress));
/// let kp = section_def("kprobe/do_sys_open").unwrap();
/// assert_eq!(kp.program_type, ProgramType::Kprobe);
/// assert_eq!(kp.target("kprobe/do_sys_open"), Some("do_sys_open"));
/// assert!(section_def("xdpfoo").is_none());
/// ```
pub fn section_def(name: &str) -> Option<&'static SectionDef> {
    SECTION_DEFS.iter().find(|d| d.matches(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_indexed_by_kernel_number() {
        for (i, &(t, _)) in PROGRAM_TYPES.iter().enumerate() {
            assert_eq!(t as usize, i, "{t:?} out of place");
        }
        for (i, &(t, _)) in ATTACH_TYPES.iter().enumerate() {
            assert_eq!(t as usize, i, "{t:?} out of place");
        }
    }

    #[test]
    fn program_type_numbers_match_uapi() {
        // Numbers from enum bpf_prog_type in include/uapi/linux/bpf.h.
        let expected = [
            ("socket_filter", 1),
            ("kprobe", 2),
            ("sched_cls", 3),
            ("sched_act", 4),
            ("tracepoint", 5),
            ("xdp", 6),
            ("perf_event", 7),
            ("cgroup_skb", 8),
            ("sk_skb", 14),
            ("raw_tracepoint", 17),
            ("flow_dissector", 22),
            ("tracing", 26),
            ("ext", 28),
            ("lsm", 29),
            ("sk_lookup", 30),
            ("syscall", 31),
            ("netfilter", 32),
        ];
        for (name, id) in expected {
            let t = ProgramType::from_name(name).unwrap();
            assert_eq!(t.id(), id, "{name}");
            assert_eq!(ProgramType::from_u32(id), Some(t));
        }
        assert_eq!(ProgramType::from_u32(33), None);
        assert_eq!(ProgramType::from_name("nope"), None);
    }

    #[test]
    fn attach_type_numbers_match_uapi() {
        // Numbers from enum bpf_attach_type in include/uapi/linux/bpf.h.
        let expected = [
            (AttachType::CgroupInetIngress, 0),
            (AttachType::CgroupSockOps, 3),
            (AttachType::TraceRawTp, 23),
            (AttachType::TraceFentry, 24),
            (AttachType::LsmMac, 27),
            (AttachType::XdpDevmap, 33),
            (AttachType::XdpCpumap, 35),
            (AttachType::Xdp, 37),
            (AttachType::TraceKprobeMulti, 42),
            (AttachType::Netfilter, 45),
            (AttachType::TcxIngress, 46),
            (AttachType::TcxEgress, 47),
            (AttachType::NetkitPeer, 55),
            (AttachType::TraceUprobeSession, 57),
        ];
        for (t, id) in expected {
            assert_eq!(t.id(), id, "{t:?}");
        }
        assert_eq!(AttachType::from_u32(58), None);
    }

    /// Section names written by hand from libbpf's documentation of
    /// `SEC()` names ("Program Types and ELF Sections").
    #[test]
    fn section_names_select_program_types() {
        let cases: &[(&str, ProgramType, Option<AttachType>)] = &[
            ("xdp", P::Xdp, Some(A::Xdp)),
            ("xdp.frags", P::Xdp, Some(A::Xdp)),
            ("xdp/devmap", P::Xdp, Some(A::XdpDevmap)),
            ("xdp.frags/cpumap", P::Xdp, Some(A::XdpCpumap)),
            ("tc", P::SchedCls, None),
            ("classifier", P::SchedCls, None),
            ("tc/ingress", P::SchedCls, Some(A::TcxIngress)),
            ("tc/egress", P::SchedCls, Some(A::TcxEgress)),
            ("tcx/ingress", P::SchedCls, Some(A::TcxIngress)),
            ("action", P::SchedAct, None),
            ("socket", P::SocketFilter, None),
            ("kprobe/do_unlinkat", P::Kprobe, None),
            ("kretprobe/do_unlinkat", P::Kprobe, None),
            ("kprobe", P::Kprobe, None),
            ("uprobe//bin/bash:readline", P::Kprobe, None),
            ("tracepoint/syscalls/sys_enter_openat", P::Tracepoint, None),
            ("tp/sched/sched_switch", P::Tracepoint, None),
            ("raw_tracepoint/sched_switch", P::RawTracepoint, None),
            ("raw_tp/sched_switch", P::RawTracepoint, None),
            ("tp_btf/sched_switch", P::Tracing, Some(A::TraceRawTp)),
            ("fentry/do_unlinkat", P::Tracing, Some(A::TraceFentry)),
            ("fexit/do_unlinkat", P::Tracing, Some(A::TraceFexit)),
            ("fmod_ret/do_unlinkat", P::Tracing, Some(A::ModifyReturn)),
            ("lsm/file_open", P::Lsm, Some(A::LsmMac)),
            ("iter/task", P::Tracing, Some(A::TraceIter)),
            (
                "cgroup_skb/ingress",
                P::CgroupSkb,
                Some(A::CgroupInetIngress),
            ),
            ("cgroup_skb/egress", P::CgroupSkb, Some(A::CgroupInetEgress)),
            (
                "cgroup/connect4",
                P::CgroupSockAddr,
                Some(A::CgroupInet4Connect),
            ),
            ("cgroup/dev", P::CgroupDevice, Some(A::CgroupDevice)),
            ("sockops", P::SockOps, Some(A::CgroupSockOps)),
            ("sk_skb/stream_parser", P::SkSkb, Some(A::SkSkbStreamParser)),
            ("sk_msg", P::SkMsg, Some(A::SkMsgVerdict)),
            ("flow_dissector", P::FlowDissector, Some(A::FlowDissector)),
            ("perf_event", P::PerfEvent, None),
            ("syscall", P::Syscall, None),
            ("sk_lookup", P::SkLookup, Some(A::SkLookup)),
            ("netfilter", P::Netfilter, Some(A::Netfilter)),
            ("struct_ops/dummy", P::StructOps, None),
        ];
        for &(name, ty, attach) in cases {
            let d = section_def(name).unwrap_or_else(|| panic!("{name}: no entry"));
            assert_eq!(d.program_type, ty, "{name}");
            assert_eq!(d.attach_type, attach, "{name}");
        }
    }

    #[test]
    fn section_flags_and_targets() {
        assert!(section_def("xdp.frags").unwrap().xdp_frags);
        assert!(!section_def("xdp").unwrap().xdp_frags);
        assert!(section_def("fentry.s/x").unwrap().sleepable);
        assert!(section_def("fentry/x").unwrap().attach_btf);
        assert!(!section_def("kprobe/x").unwrap().attach_btf);
        let d = section_def("tracepoint/syscalls/sys_enter_openat").unwrap();
        assert_eq!(
            d.target("tracepoint/syscalls/sys_enter_openat"),
            Some("syscalls/sys_enter_openat")
        );
        assert_eq!(section_def("xdp").unwrap().target("xdp"), None);
    }

    #[test]
    fn near_misses_do_not_match() {
        // Exact entries take no suffix; "+" entries need a '/' separator.
        for name in [
            "xdpx",
            "xdp/",
            "xdp/foo",
            "tcx",
            "tc/other",
            "socket1",
            "kprobex/a",
            "fentryx",
            "",
        ] {
            assert!(section_def(name).is_none(), "{name:?} matched");
        }
    }
}
