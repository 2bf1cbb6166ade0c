//! Program context layouts: which offsets of the context a program of each
//! type may read or write, with which sizes, and which fields are packet
//! pointers.
//!
//! The program sees the kernel's UAPI structures (`struct xdp_md`,
//! `struct __sk_buff`), whose pointer fields are declared `__u32`. The
//! kernel rewrites every context access into a load from its own internal
//! structure (`convert_ctx_accesses` in `kernel/bpf/verifier.c`, with the
//! per-type `*_convert_ctx_access` in `net/core/filter.c`). oxbpf does the
//! same: each field also names the offset of its 8-byte slot in the
//! *runtime context*, a `#[repr(C)]` structure of `u64` slots that the
//! runtime fills with real values and real pointers. Rewriting keeps the
//! access size for scalars (a narrow load of a little-endian slot reads the
//! same bytes as from the UAPI field) and turns a `u32` load of a pointer
//! field into a `u64` load.
//!
//! One table per layout; the context rewriting pass uses them now and the
//! verifier later.

/// What a context field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// A number.
    Scalar,
    /// Pointer to the first packet byte (`data`): `PTR_TO_PACKET`.
    PacketStart,
    /// Pointer one past the last packet byte (`data_end`):
    /// `PTR_TO_PACKET_END`.
    PacketEnd,
    /// Pointer to the packet metadata (`data_meta`): `PTR_TO_PACKET_META`.
    PacketMeta,
}

impl FieldKind {
    /// Whether the field is a pointer (loaded whole, never narrowed).
    pub const fn is_pointer(self) -> bool {
        !matches!(self, FieldKind::Scalar)
    }
}

/// One field of a context structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtxField {
    /// The UAPI name (`data_end`, `cb[2]`).
    pub name: &'static str,
    /// Offset in the UAPI structure the program sees.
    pub offset: u16,
    /// Size in the UAPI structure (4 or 8).
    pub size: u8,
    /// Whether programs may load it.
    pub readable: bool,
    /// Whether programs may store to it (whole-field stores only, as the
    /// kernel's `*_is_valid_access` requires).
    pub writable: bool,
    /// Scalar or packet pointer.
    pub kind: FieldKind,
    /// Offset of the field's 8-byte slot in the runtime context.
    pub slot: u16,
}

/// A context structure: the fields a program type may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtxLayout {
    /// The UAPI structure (`xdp_md`, `__sk_buff`).
    pub name: &'static str,
    /// `sizeof` the UAPI structure.
    pub size: u16,
    /// Fields, by ascending offset. Offsets not covered by a field are
    /// never accessible.
    pub fields: &'static [CtxField],
}

/// How an accepted context access is carried out on the runtime context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtxAccess {
    /// The field accessed.
    pub field: CtxField,
    /// Offset to use in the runtime context.
    pub runtime_offset: u16,
    /// Bytes to access in the runtime context: the program's size, or 8 for
    /// a pointer field.
    pub runtime_size: u8,
}

/// Why a context access is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtxAccessError {
    /// No field at this offset.
    NoField { layout: &'static str, offset: i64 },
    /// The access crosses the end of the field or is misaligned.
    Misaligned {
        layout: &'static str,
        field: &'static str,
        offset: i64,
        size: u8,
    },
    /// The field cannot be read (or written) by this program type.
    Denied {
        layout: &'static str,
        field: &'static str,
        write: bool,
    },
    /// Pointer fields are loaded whole; stores are whole-field.
    Narrow {
        layout: &'static str,
        field: &'static str,
        size: u8,
    },
}

// Formatted by hand: oxbpf-abi has no dependencies.
impl core::fmt::Display for CtxAccessError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            CtxAccessError::NoField { layout, offset } => {
                write!(f, "{layout} has no accessible field at offset {offset}")
            }
            CtxAccessError::Misaligned {
                layout,
                field,
                offset,
                size,
            } => write!(
                f,
                "{layout}.{field}: access of {size} bytes at offset {offset} is misaligned or crosses the field"
            ),
            CtxAccessError::Denied {
                layout,
                field,
                write,
            } => write!(
                f,
                "{layout}.{field} is not {} by this program type",
                if write { "writable" } else { "readable" }
            ),
            CtxAccessError::Narrow {
                layout,
                field,
                size,
            } => write!(
                f,
                "{layout}.{field}: {size}-byte access to a field that must be accessed whole"
            ),
        }
    }
}

impl core::error::Error for CtxAccessError {}

impl CtxLayout {
    /// Resolves an access of `size` bytes at `offset` of the UAPI structure,
    /// as the kernel's `*_is_valid_access` then `*_convert_ctx_access` do:
    /// the access lies in one field and is aligned to its size; pointer
    /// fields are read whole (`u32`); scalar fields may be read narrowly
    /// (`bpf_ctx_narrow_access_ok`); stores are whole-field.
    pub fn access(&self, offset: i64, size: u8, write: bool) -> Result<CtxAccess, CtxAccessError> {
        let layout = self.name;
        let field = self
            .fields
            .iter()
            .find(|f| {
                offset >= i64::from(f.offset) && offset < i64::from(f.offset) + i64::from(f.size)
            })
            .copied()
            .ok_or(CtxAccessError::NoField { layout, offset })?;
        let within = offset - i64::from(field.offset);
        if size == 0
            || within % i64::from(size) != 0
            || within + i64::from(size) > i64::from(field.size)
        {
            return Err(CtxAccessError::Misaligned {
                layout,
                field: field.name,
                offset,
                size,
            });
        }
        let allowed = if write {
            field.writable
        } else {
            field.readable
        };
        if !allowed {
            return Err(CtxAccessError::Denied {
                layout,
                field: field.name,
                write,
            });
        }
        if (write || field.kind.is_pointer()) && size != field.size {
            return Err(CtxAccessError::Narrow {
                layout,
                field: field.name,
                size,
            });
        }
        let runtime_size = if field.kind.is_pointer() { 8 } else { size };
        Ok(CtxAccess {
            field,
            runtime_offset: field.slot + within as u16,
            runtime_size,
        })
    }

    /// Bytes of the runtime context: one 8-byte slot per field.
    pub const fn runtime_size(&self) -> usize {
        self.fields.len() * 8
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&CtxField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

const fn field(
    name: &'static str,
    offset: u16,
    size: u8,
    writable: bool,
    kind: FieldKind,
    index: u16,
) -> CtxField {
    CtxField {
        name,
        offset,
        size,
        readable: true,
        writable,
        kind,
        slot: index * 8,
    }
}

use FieldKind::{PacketEnd, PacketMeta, PacketStart, Scalar};

/// `struct xdp_md` (`xdp_is_valid_access`): every field read-only; `data`,
/// `data_end`, `data_meta` are packet pointers.
pub const XDP_MD: CtxLayout = CtxLayout {
    name: "xdp_md",
    size: 24,
    fields: &[
        field("data", 0, 4, false, PacketStart, 0),
        field("data_end", 4, 4, false, PacketEnd, 1),
        field("data_meta", 8, 4, false, PacketMeta, 2),
        field("ingress_ifindex", 12, 4, false, Scalar, 3),
        field("rx_queue_index", 16, 4, false, Scalar, 4),
        field("egress_ifindex", 20, 4, false, Scalar, 5),
    ],
};

/// Slot indexes of [`XDP_MD`]'s fields in the runtime context.
pub mod xdp_slot {
    pub const DATA: usize = 0;
    pub const DATA_END: usize = 1;
    pub const DATA_META: usize = 2;
    pub const INGRESS_IFINDEX: usize = 3;
    pub const RX_QUEUE_INDEX: usize = 4;
    pub const EGRESS_IFINDEX: usize = 5;
}

/// Slot indexes of the `__sk_buff` layouts' fields in the runtime context
/// (the same for [`SK_BUFF_TC`] and [`SK_BUFF_SOCKET`]).
pub mod skb_slot {
    pub const LEN: usize = 0;
    pub const PKT_TYPE: usize = 1;
    pub const MARK: usize = 2;
    pub const QUEUE_MAPPING: usize = 3;
    pub const PROTOCOL: usize = 4;
    pub const VLAN_PRESENT: usize = 5;
    pub const VLAN_TCI: usize = 6;
    pub const VLAN_PROTO: usize = 7;
    pub const PRIORITY: usize = 8;
    pub const INGRESS_IFINDEX: usize = 9;
    pub const IFINDEX: usize = 10;
    pub const TC_INDEX: usize = 11;
    /// `cb[0]`; `cb[i]` is `CB0 + i`.
    pub const CB0: usize = 12;
    pub const HASH: usize = 17;
    pub const TC_CLASSID: usize = 18;
    pub const DATA: usize = 19;
    pub const DATA_END: usize = 20;
    pub const DATA_META: usize = 21;
    /// Number of slots.
    pub const COUNT: usize = 22;
}

/// `struct __sk_buff` for `sched_cls`/`sched_act` (tc) programs
/// (`tc_cls_act_is_valid_access`): mark, priority, tc_index, cb[] and
/// tc_classid are writable; data, data_end and data_meta are packet
/// pointers.
pub const SK_BUFF_TC: CtxLayout = CtxLayout {
    name: "__sk_buff",
    size: 192,
    fields: &[
        field("len", 0, 4, false, Scalar, 0),
        field("pkt_type", 4, 4, false, Scalar, 1),
        field("mark", 8, 4, true, Scalar, 2),
        field("queue_mapping", 12, 4, false, Scalar, 3),
        field("protocol", 16, 4, false, Scalar, 4),
        field("vlan_present", 20, 4, false, Scalar, 5),
        field("vlan_tci", 24, 4, false, Scalar, 6),
        field("vlan_proto", 28, 4, false, Scalar, 7),
        field("priority", 32, 4, true, Scalar, 8),
        field("ingress_ifindex", 36, 4, false, Scalar, 9),
        field("ifindex", 40, 4, false, Scalar, 10),
        field("tc_index", 44, 4, true, Scalar, 11),
        field("cb[0]", 48, 4, true, Scalar, 12),
        field("cb[1]", 52, 4, true, Scalar, 13),
        field("cb[2]", 56, 4, true, Scalar, 14),
        field("cb[3]", 60, 4, true, Scalar, 15),
        field("cb[4]", 64, 4, true, Scalar, 16),
        field("hash", 68, 4, false, Scalar, 17),
        field("tc_classid", 72, 4, true, Scalar, 18),
        field("data", 76, 4, false, PacketStart, 19),
        field("data_end", 80, 4, false, PacketEnd, 20),
        field("data_meta", 140, 4, false, PacketMeta, 21),
    ],
};

const fn denied(mut f: CtxField) -> CtxField {
    f.readable = false;
    f.writable = false;
    f
}

const fn readonly(mut f: CtxField) -> CtxField {
    f.writable = false;
    f
}

/// `struct __sk_buff` for `socket_filter` programs
/// (`sk_filter_is_valid_access`): only cb[] is writable; data, data_end,
/// data_meta and tc_classid cannot be read (such programs read the packet
/// with `ld_abs`/`ld_ind` or `bpf_skb_load_bytes`).
pub const SK_BUFF_SOCKET: CtxLayout = CtxLayout {
    name: "__sk_buff",
    size: 192,
    fields: &[
        readonly(SK_BUFF_TC.fields[0]),
        readonly(SK_BUFF_TC.fields[1]),
        readonly(SK_BUFF_TC.fields[2]),
        readonly(SK_BUFF_TC.fields[3]),
        readonly(SK_BUFF_TC.fields[4]),
        readonly(SK_BUFF_TC.fields[5]),
        readonly(SK_BUFF_TC.fields[6]),
        readonly(SK_BUFF_TC.fields[7]),
        readonly(SK_BUFF_TC.fields[8]),
        readonly(SK_BUFF_TC.fields[9]),
        readonly(SK_BUFF_TC.fields[10]),
        readonly(SK_BUFF_TC.fields[11]),
        SK_BUFF_TC.fields[12],
        SK_BUFF_TC.fields[13],
        SK_BUFF_TC.fields[14],
        SK_BUFF_TC.fields[15],
        SK_BUFF_TC.fields[16],
        readonly(SK_BUFF_TC.fields[17]),
        denied(SK_BUFF_TC.fields[18]),
        denied(SK_BUFF_TC.fields[19]),
        denied(SK_BUFF_TC.fields[20]),
        denied(SK_BUFF_TC.fields[21]),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdp_data_is_widened_to_a_pointer_load() {
        let a = XDP_MD.access(4, 4, false).unwrap();
        assert_eq!(a.field.kind, FieldKind::PacketEnd);
        assert_eq!((a.runtime_offset, a.runtime_size), (8, 8));
    }

    #[test]
    fn narrow_scalar_load_keeps_its_byte_offset() {
        // ingress_ifindex at 12, byte 2 of it: slot 3 (offset 24) + 2.
        let a = XDP_MD.access(14, 1, false).unwrap();
        assert_eq!((a.runtime_offset, a.runtime_size), (26, 1));
        let a = XDP_MD.access(18, 2, false).unwrap();
        assert_eq!((a.runtime_offset, a.runtime_size), (34, 2));
    }

    #[test]
    fn refused_accesses() {
        assert!(matches!(
            XDP_MD.access(0, 2, false),
            Err(CtxAccessError::Narrow { .. })
        ));
        assert!(matches!(
            XDP_MD.access(24, 4, false),
            Err(CtxAccessError::NoField { .. })
        ));
        assert!(matches!(
            XDP_MD.access(13, 2, false),
            Err(CtxAccessError::Misaligned { .. })
        ));
        assert!(matches!(
            XDP_MD.access(12, 4, true),
            Err(CtxAccessError::Denied { write: true, .. })
        ));
        assert!(matches!(
            SK_BUFF_SOCKET.access(76, 4, false),
            Err(CtxAccessError::Denied { write: false, .. })
        ));
        assert!(SK_BUFF_TC.access(8, 4, true).is_ok());
        assert!(SK_BUFF_SOCKET.access(56, 4, true).is_ok());
        assert!(SK_BUFF_SOCKET.access(8, 4, true).is_err());
    }

    #[test]
    fn slots_are_consecutive() {
        for layout in [XDP_MD, SK_BUFF_TC, SK_BUFF_SOCKET] {
            for (i, f) in layout.fields.iter().enumerate() {
                assert_eq!(usize::from(f.slot), i * 8, "{}", f.name);
            }
        }
        assert_eq!(SK_BUFF_TC.fields.len(), skb_slot::COUNT);
        assert_eq!(SK_BUFF_TC.fields[skb_slot::DATA].name, "data");
        assert_eq!(SK_BUFF_TC.fields[skb_slot::CB0].name, "cb[0]");
    }
}
