//! BTF, the BPF Type Format (the kernel's `Documentation/bpf/btf.rst`):
//! the `.BTF` section that clang emits with `-g`.
//!
//! oxbpf parses BTF for three things: BTF-defined maps (whose attributes
//! are encoded as member types of the map's definition struct), the key and
//! value types of maps (so that tools can print values field by field), and
//! the strings that `.BTF.ext` line info points into. Every type is parsed
//! up front into [`BtfType`]; references between types are type ids and
//! are checked when followed, with a depth limit, so a malformed or cyclic
//! file gives an error rather than a loop.

use std::fmt::Write as _;

/// `BTF_MAGIC`.
pub const BTF_MAGIC: u16 = 0xeb9f;

/// How deep a chain of typedefs, modifiers and arrays may go before it is
/// declared cyclic (the kernel's `MAX_RESOLVE_DEPTH`).
const MAX_RESOLVE_DEPTH: usize = 32;

/// Why BTF (or `.BTF.ext`) data is malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BtfError {
    /// Shorter than the fixed header.
    #[error("{size} bytes is shorter than the {need}-byte header")]
    Short {
        /// Bytes available.
        size: usize,
        /// Header size.
        need: usize,
    },
    /// Wrong magic number.
    #[error("magic {found:#06x}, expected 0xeb9f")]
    BadMagic {
        /// The value found.
        found: u16,
    },
    /// Unknown format version.
    #[error("version {found}, expected 1")]
    BadVersion {
        /// The value found.
        found: u8,
    },
    /// A sub-section lies outside the data.
    #[error("{what} at {offset}+{len} is outside the {size}-byte section")]
    OutOfBounds {
        /// Which part.
        what: &'static str,
        /// Its start.
        offset: u64,
        /// Its length.
        len: u64,
        /// Size of the whole section.
        size: u64,
    },
    /// A type record runs past the end of the type section.
    #[error("type {id}: record truncated at byte {offset} of the type section")]
    Truncated {
        /// Type id being parsed.
        id: u32,
        /// Offset in the type section.
        offset: usize,
    },
    /// A type kind this parser does not know.
    #[error("type {id}: unknown kind {kind}")]
    UnknownKind {
        /// Type id.
        id: u32,
        /// Its kind number.
        kind: u32,
    },
    /// A string offset outside the string section, or a string without
    /// its terminating NUL.
    #[error("string offset {offset} is outside the {len}-byte string section or unterminated")]
    BadString {
        /// The offset.
        offset: u32,
        /// Size of the string section.
        len: usize,
    },
    /// A reference to a type id that does not exist.
    #[error("type {id} does not exist (last type is {last})")]
    NoType {
        /// The id.
        id: u32,
        /// Largest valid id.
        last: u32,
    },
    /// A chain of references longer than the kernel allows (or a cycle).
    #[error("type {id}: reference chain deeper than {MAX_RESOLVE_DEPTH} (cycle?)")]
    TooDeep {
        /// Type id where resolution started.
        id: u32,
    },
    /// The type has no size (void, function, forward declaration).
    #[error("type {id} is a {kind}, which has no size")]
    NoSize {
        /// The id.
        id: u32,
        /// Its kind.
        kind: &'static str,
    },
    /// A size computation overflowed.
    #[error("type {id}: size overflows")]
    SizeOverflow {
        /// The id.
        id: u32,
    },
    /// A `.BTF.ext` record size smaller than the record it must hold.
    #[error("{what}: record size {size}, need at least {min}")]
    RecordSize {
        /// Which table.
        what: &'static str,
        /// The declared size.
        size: u32,
        /// The minimum.
        min: u32,
    },
}

/// `BTF_INT_*` encoding bits of an integer type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct IntEncoding {
    /// `BTF_INT_SIGNED`.
    pub signed: bool,
    /// `BTF_INT_CHAR`.
    pub char: bool,
    /// `BTF_INT_BOOL`.
    pub bool: bool,
}

/// A member of a struct or union.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Name (empty for anonymous members).
    pub name: String,
    /// Type id.
    pub type_id: u32,
    /// Offset from the start of the struct, in bits.
    pub bit_offset: u32,
    /// Bitfield width in bits, 0 when the member is not a bitfield.
    pub bitfield_size: u32,
}

/// A parameter of a function prototype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Name (empty in prototypes without names).
    pub name: String,
    /// Type id (0 for a trailing `...`).
    pub type_id: u32,
}

/// One enumerator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enumerator {
    /// Name.
    pub name: String,
    /// Value (sign-extended from 32 bits for signed 32-bit enums).
    pub value: i64,
}

/// One variable of a data section (`DATASEC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VarSecInfo {
    /// The `VAR` (or extern `FUNC`) type id.
    pub type_id: u32,
    /// Offset in the section. Zero in clang's `.o` files: a loader takes
    /// the offset from the symbol table instead.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

/// Linkage of a `FUNC` or `VAR`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Linkage {
    /// `BTF_FUNC_STATIC` / `BTF_VAR_STATIC`.
    Static,
    /// `BTF_FUNC_GLOBAL` / `BTF_VAR_GLOBAL_ALLOCATED`.
    Global,
    /// `BTF_FUNC_EXTERN` / `BTF_VAR_GLOBAL_EXTERN`.
    Extern,
    /// Any other value.
    Other(u32),
}

impl Linkage {
    fn from_u32(v: u32) -> Linkage {
        match v {
            0 => Linkage::Static,
            1 => Linkage::Global,
            2 => Linkage::Extern,
            v => Linkage::Other(v),
        }
    }
}

/// What a BTF type is (`BTF_KIND_*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BtfKind {
    /// Type id 0.
    Void,
    /// `BTF_KIND_INT`.
    Int {
        /// Size in bytes.
        size: u32,
        /// Signedness and char/bool flags.
        encoding: IntEncoding,
        /// Bit offset of the value.
        offset: u8,
        /// Number of value bits.
        bits: u8,
    },
    /// `BTF_KIND_PTR`.
    Ptr {
        /// Pointee.
        target: u32,
    },
    /// `BTF_KIND_ARRAY`.
    Array {
        /// Element type.
        elem: u32,
        /// Index type.
        index: u32,
        /// Number of elements.
        len: u32,
    },
    /// `BTF_KIND_STRUCT`.
    Struct {
        /// Size in bytes.
        size: u32,
        /// Members in declaration order.
        members: Vec<Member>,
    },
    /// `BTF_KIND_UNION`.
    Union {
        /// Size in bytes.
        size: u32,
        /// Members.
        members: Vec<Member>,
    },
    /// `BTF_KIND_ENUM` and `BTF_KIND_ENUM64`.
    Enum {
        /// Size in bytes.
        size: u32,
        /// Signed values.
        signed: bool,
        /// Enumerators.
        values: Vec<Enumerator>,
    },
    /// `BTF_KIND_FWD`.
    Fwd {
        /// Forward-declared union rather than struct.
        union: bool,
    },
    /// `BTF_KIND_TYPEDEF`.
    Typedef {
        /// Aliased type.
        target: u32,
    },
    /// `BTF_KIND_VOLATILE`.
    Volatile {
        /// Qualified type.
        target: u32,
    },
    /// `BTF_KIND_CONST`.
    Const {
        /// Qualified type.
        target: u32,
    },
    /// `BTF_KIND_RESTRICT`.
    Restrict {
        /// Qualified type.
        target: u32,
    },
    /// `BTF_KIND_FUNC`.
    Func {
        /// Its `FUNC_PROTO`.
        proto: u32,
        /// Linkage.
        linkage: Linkage,
    },
    /// `BTF_KIND_FUNC_PROTO`.
    FuncProto {
        /// Return type (0 for void).
        ret: u32,
        /// Parameters.
        params: Vec<Param>,
    },
    /// `BTF_KIND_VAR`.
    Var {
        /// Variable type.
        type_id: u32,
        /// Linkage.
        linkage: Linkage,
    },
    /// `BTF_KIND_DATASEC`.
    Datasec {
        /// Section size (zero in clang's `.o` files).
        size: u32,
        /// Variables.
        vars: Vec<VarSecInfo>,
    },
    /// `BTF_KIND_FLOAT`.
    Float {
        /// Size in bytes.
        size: u32,
    },
    /// `BTF_KIND_DECL_TAG`.
    DeclTag {
        /// Tagged type.
        target: u32,
        /// Member or parameter index, -1 for the type itself.
        component: i32,
    },
    /// `BTF_KIND_TYPE_TAG`.
    TypeTag {
        /// Tagged type.
        target: u32,
    },
}

impl BtfKind {
    /// The kind's name as bpftool prints it (`"STRUCT"`).
    pub fn name(&self) -> &'static str {
        match self {
            BtfKind::Void => "VOID",
            BtfKind::Int { .. } => "INT",
            BtfKind::Ptr { .. } => "PTR",
            BtfKind::Array { .. } => "ARRAY",
            BtfKind::Struct { .. } => "STRUCT",
            BtfKind::Union { .. } => "UNION",
            BtfKind::Enum { .. } => "ENUM",
            BtfKind::Fwd { .. } => "FWD",
            BtfKind::Typedef { .. } => "TYPEDEF",
            BtfKind::Volatile { .. } => "VOLATILE",
            BtfKind::Const { .. } => "CONST",
            BtfKind::Restrict { .. } => "RESTRICT",
            BtfKind::Func { .. } => "FUNC",
            BtfKind::FuncProto { .. } => "FUNC_PROTO",
            BtfKind::Var { .. } => "VAR",
            BtfKind::Datasec { .. } => "DATASEC",
            BtfKind::Float { .. } => "FLOAT",
            BtfKind::DeclTag { .. } => "DECL_TAG",
            BtfKind::TypeTag { .. } => "TYPE_TAG",
        }
    }
}

/// One BTF type: its name (empty for anonymous types) and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtfType {
    /// Name.
    pub name: String,
    /// Kind and kind-specific data.
    pub kind: BtfKind,
}

/// Parsed BTF: the raw section bytes (what the kernel's `BPF_BTF_LOAD`
/// takes) and every type, indexed by type id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Btf {
    raw: Vec<u8>,
    strings: Vec<u8>,
    types: Vec<BtfType>,
}

/// A little-endian reader over a byte slice that reports how far it got.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        let end = self.pos.checked_add(4)?;
        let b = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn skip(&mut self, n: usize) -> Option<()> {
        let end = self.pos.checked_add(n)?;
        if end > self.data.len() {
            return None;
        }
        self.pos = end;
        Some(())
    }
}

/// Reads the `[off, off + len)` part of `data`, named `what` in errors.
pub(crate) fn sub<'a>(
    data: &'a [u8],
    off: u64,
    len: u64,
    what: &'static str,
) -> Result<&'a [u8], BtfError> {
    let oob = BtfError::OutOfBounds {
        what,
        offset: off,
        len,
        size: data.len() as u64,
    };
    let end = off.checked_add(len).ok_or(oob.clone())?;
    if end > data.len() as u64 {
        return Err(oob);
    }
    Ok(&data[off as usize..end as usize])
}

/// The NUL-terminated string at `off` of a string section.
pub(crate) fn string_at(strings: &[u8], off: u32) -> Result<&str, BtfError> {
    let bad = BtfError::BadString {
        offset: off,
        len: strings.len(),
    };
    let rest = strings.get(off as usize..).ok_or(bad.clone())?;
    let end = rest.iter().position(|&b| b == 0).ok_or(bad.clone())?;
    std::str::from_utf8(&rest[..end]).map_err(|_| bad)
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The common header of `.BTF` and `.BTF.ext`: magic, version, flags,
/// `hdr_len`. Returns `hdr_len`.
pub(crate) fn check_header(data: &[u8], min_len: usize) -> Result<usize, BtfError> {
    if data.len() < min_len {
        return Err(BtfError::Short {
            size: data.len(),
            need: min_len,
        });
    }
    let magic = le_u16(data, 0);
    if magic != BTF_MAGIC {
        return Err(BtfError::BadMagic { found: magic });
    }
    if data[2] != 1 {
        return Err(BtfError::BadVersion { found: data[2] });
    }
    let hdr_len = le_u32(data, 4) as usize;
    if hdr_len < min_len || hdr_len > data.len() {
        return Err(BtfError::OutOfBounds {
            what: "header",
            offset: 0,
            len: hdr_len as u64,
            size: data.len() as u64,
        });
    }
    Ok(hdr_len)
}

impl Btf {
    /// Parses a `.BTF` section.
    ///
    /// ```
    /// use oxbpf_object::btf::{Btf, BtfKind};
    /// // Header, one type (INT "int", 4 bytes, signed 32 bits), strings "\0int\0".
    /// let mut raw = vec![0x9f, 0xeb, 1, 0];
    /// for v in [24u32, 0, 16, 16, 5] { raw.extend_from_slice(&v.to_le_bytes()); }
    /// for v in [1u32, 1 << 24, 4, (1 << 24) | 32] { raw.extend_from_slice(&v.to_le_bytes()); }
    /// raw.extend_from_slice(b"\0int\0");
    /// let btf = Btf::parse(&raw).unwrap();
    /// assert_eq!(btf.type_by_id(1).unwrap().name, "int");
    /// assert_eq!(btf.resolve_size(1).unwrap(), 4);
    /// ```
    pub fn parse(raw: &[u8]) -> Result<Btf, BtfError> {
        const HDR: usize = 24;
        let hdr_len = check_header(raw, HDR)?;
        let body = &raw[hdr_len..];
        let type_off = le_u32(raw, 8);
        let type_len = le_u32(raw, 12);
        let str_off = le_u32(raw, 16);
        let str_len = le_u32(raw, 20);
        let type_data = sub(body, type_off.into(), type_len.into(), "type section")?;
        let strings = sub(body, str_off.into(), str_len.into(), "string section")?;
        let mut types = vec![BtfType {
            name: String::new(),
            kind: BtfKind::Void,
        }];
        let mut r = Reader::new(type_data);
        while r.pos() < type_data.len() {
            let id = types.len() as u32;
            let start = r.pos();
            let t = parse_type(&mut r, strings, id)
                .ok_or(BtfError::Truncated { id, offset: start })??;
            types.push(t);
        }
        Ok(Btf {
            raw: raw.to_vec(),
            strings: strings.to_vec(),
            types,
        })
    }

    /// The section bytes as they were in the object.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The string section.
    pub(crate) fn strings(&self) -> &[u8] {
        &self.strings
    }

    /// Number of types including the void type 0.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether there are no types besides void.
    pub fn is_empty(&self) -> bool {
        self.types.len() <= 1
    }

    /// Every type, indexed by type id (id 0 is void).
    pub fn types(&self) -> &[BtfType] {
        &self.types
    }

    /// The type with id `id`.
    pub fn type_by_id(&self, id: u32) -> Option<&BtfType> {
        self.types.get(id as usize)
    }

    /// The type with id `id`, or an error naming the missing id.
    pub fn get(&self, id: u32) -> Result<&BtfType, BtfError> {
        self.type_by_id(id).ok_or(BtfError::NoType {
            id,
            last: self.types.len().saturating_sub(1) as u32,
        })
    }

    /// The string at offset `off` of the string section (names and, for
    /// line info, file names and source lines).
    pub fn string(&self, off: u32) -> Result<&str, BtfError> {
        string_at(&self.strings, off)
    }

    /// The first type named `name` whose kind satisfies `pred`, with its id.
    pub fn find(&self, name: &str, pred: impl Fn(&BtfKind) -> bool) -> Option<(u32, &BtfType)> {
        self.types
            .iter()
            .enumerate()
            .find(|(_, t)| t.name == name && pred(&t.kind))
            .map(|(i, t)| (i as u32, t))
    }

    /// Follows typedefs and `const`/`volatile`/`restrict`/type tags to the
    /// underlying type id.
    pub fn skip_mods_and_typedefs(&self, id: u32) -> Result<u32, BtfError> {
        let mut cur = id;
        for _ in 0..MAX_RESOLVE_DEPTH {
            match self.get(cur)?.kind {
                BtfKind::Typedef { target }
                | BtfKind::Volatile { target }
                | BtfKind::Const { target }
                | BtfKind::Restrict { target }
                | BtfKind::TypeTag { target } => cur = target,
                _ => return Ok(cur),
            }
        }
        Err(BtfError::TooDeep { id })
    }

    /// Size in bytes of type `id`, as the kernel's `btf_resolve_size`
    /// computes it: through typedefs, modifiers and variables, arrays
    /// multiplied out, pointers 8 bytes.
    pub fn resolve_size(&self, id: u32) -> Result<u64, BtfError> {
        let mut cur = id;
        let mut mult: u64 = 1;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let t = self.get(cur)?;
            let size: u64 = match &t.kind {
                BtfKind::Int { size, .. }
                | BtfKind::Struct { size, .. }
                | BtfKind::Union { size, .. }
                | BtfKind::Enum { size, .. }
                | BtfKind::Datasec { size, .. }
                | BtfKind::Float { size } => (*size).into(),
                BtfKind::Ptr { .. } => 8,
                BtfKind::Typedef { target }
                | BtfKind::Volatile { target }
                | BtfKind::Const { target }
                | BtfKind::Restrict { target }
                | BtfKind::TypeTag { target }
                | BtfKind::Var {
                    type_id: target, ..
                } => {
                    cur = *target;
                    continue;
                }
                BtfKind::Array { elem, len, .. } => {
                    mult = mult
                        .checked_mul((*len).into())
                        .ok_or(BtfError::SizeOverflow { id })?;
                    cur = *elem;
                    continue;
                }
                other => {
                    return Err(BtfError::NoSize {
                        id: cur,
                        kind: other.name(),
                    });
                }
            };
            return size.checked_mul(mult).ok_or(BtfError::SizeOverflow { id });
        }
        Err(BtfError::TooDeep { id })
    }

    /// A C-like spelling of type `id` for messages and dumps:
    /// `"struct flow"`, `"__u32"`, `"__u8[16]"`, `"const int *"`.
    pub fn type_name(&self, id: u32) -> String {
        let mut out = String::new();
        self.write_name(id, &mut out, 0);
        out
    }

    fn write_name(&self, id: u32, out: &mut String, depth: usize) {
        if depth > MAX_RESOLVE_DEPTH {
            out.push_str("...");
            return;
        }
        let Some(t) = self.type_by_id(id) else {
            let _ = write!(out, "<type {id}>");
            return;
        };
        let named = |out: &mut String, prefix: &str| {
            if t.name.is_empty() {
                let _ = write!(out, "{prefix}(anon)");
            } else {
                let _ = write!(out, "{prefix}{}", t.name);
            }
        };
        match &t.kind {
            BtfKind::Void => out.push_str("void"),
            BtfKind::Struct { .. } => named(out, "struct "),
            BtfKind::Union { .. } => named(out, "union "),
            BtfKind::Enum { .. } => named(out, "enum "),
            BtfKind::Fwd { union } => named(out, if *union { "union " } else { "struct " }),
            BtfKind::Ptr { target } => {
                self.write_name(*target, out, depth + 1);
                out.push_str(" *");
            }
            BtfKind::Array { elem, len, .. } => {
                self.write_name(*elem, out, depth + 1);
                let _ = write!(out, "[{len}]");
            }
            BtfKind::Const { target } => {
                out.push_str("const ");
                self.write_name(*target, out, depth + 1);
            }
            BtfKind::Volatile { target } => {
                out.push_str("volatile ");
                self.write_name(*target, out, depth + 1);
            }
            BtfKind::Restrict { target } | BtfKind::TypeTag { target } => {
                self.write_name(*target, out, depth + 1);
            }
            BtfKind::FuncProto { .. } => out.push_str("fn"),
            _ => named(out, ""),
        }
    }
}

/// Parses one type record; `None` when the record is truncated.
fn parse_type(r: &mut Reader<'_>, strings: &[u8], id: u32) -> Option<Result<BtfType, BtfError>> {
    let name_off = r.u32()?;
    let info = r.u32()?;
    let size_or_type = r.u32()?;
    let vlen = (info & 0xffff) as usize;
    let kind_num = (info >> 24) & 0x1f;
    let kind_flag = info >> 31 == 1;
    let name = match string_at(strings, name_off) {
        Ok(s) => s.to_string(),
        Err(e) => return Some(Err(e)),
    };
    let mut names = Vec::new();
    // Collects `vlen` records of `n` u32 words, resolving the first as a name.
    let mut words = |n: usize, named: bool| -> Option<Result<Vec<Vec<u32>>, BtfError>> {
        // A record count is bounded by the remaining bytes before allocating.
        let need = vlen.checked_mul(n * 4)?;
        if need > r.data.len().saturating_sub(r.pos) {
            return None;
        }
        let mut out = Vec::with_capacity(vlen);
        for _ in 0..vlen {
            let mut rec = Vec::with_capacity(n);
            for _ in 0..n {
                rec.push(r.u32()?);
            }
            if named {
                match string_at(strings, rec[0]) {
                    Ok(s) => names.push(s.to_string()),
                    Err(e) => return Some(Err(e)),
                }
            }
            out.push(rec);
        }
        Some(Ok(out))
    };
    let kind = match kind_num {
        1 => {
            let enc = r.u32()?;
            let e = (enc >> 24) & 0xf;
            BtfKind::Int {
                size: size_or_type,
                encoding: IntEncoding {
                    signed: e & 1 != 0,
                    char: e & 2 != 0,
                    bool: e & 4 != 0,
                },
                offset: ((enc >> 16) & 0xff) as u8,
                bits: (enc & 0xff) as u8,
            }
        }
        2 => BtfKind::Ptr {
            target: size_or_type,
        },
        3 => {
            let elem = r.u32()?;
            let index = r.u32()?;
            let len = r.u32()?;
            BtfKind::Array { elem, index, len }
        }
        4 | 5 => {
            let recs = match words(3, true)? {
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            };
            let members = recs
                .into_iter()
                .zip(names.drain(..))
                .map(|(w, name)| {
                    // With kind_flag, the offset word packs the bitfield size
                    // in its top 8 bits (btf.rst, "BTF_KIND_STRUCT").
                    let (bit_offset, bitfield_size) = if kind_flag {
                        (w[2] & 0xff_ffff, w[2] >> 24)
                    } else {
                        (w[2], 0)
                    };
                    Member {
                        name,
                        type_id: w[1],
                        bit_offset,
                        bitfield_size,
                    }
                })
                .collect();
            if kind_num == 4 {
                BtfKind::Struct {
                    size: size_or_type,
                    members,
                }
            } else {
                BtfKind::Union {
                    size: size_or_type,
                    members,
                }
            }
        }
        6 | 19 => {
            let n = if kind_num == 6 { 2 } else { 3 };
            let recs = match words(n, true)? {
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            };
            let values = recs
                .into_iter()
                .zip(names.drain(..))
                .map(|(w, name)| {
                    let value = if kind_num == 6 {
                        if kind_flag {
                            w[1] as i32 as i64
                        } else {
                            w[1] as i64
                        }
                    } else {
                        ((u64::from(w[2]) << 32) | u64::from(w[1])) as i64
                    };
                    Enumerator { name, value }
                })
                .collect();
            BtfKind::Enum {
                size: size_or_type,
                signed: kind_flag,
                values,
            }
        }
        7 => BtfKind::Fwd { union: kind_flag },
        8 => BtfKind::Typedef {
            target: size_or_type,
        },
        9 => BtfKind::Volatile {
            target: size_or_type,
        },
        10 => BtfKind::Const {
            target: size_or_type,
        },
        11 => BtfKind::Restrict {
            target: size_or_type,
        },
        12 => BtfKind::Func {
            proto: size_or_type,
            linkage: Linkage::from_u32(vlen as u32),
        },
        13 => {
            let recs = match words(2, true)? {
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            };
            let params = recs
                .into_iter()
                .zip(names.drain(..))
                .map(|(w, name)| Param {
                    name,
                    type_id: w[1],
                })
                .collect();
            BtfKind::FuncProto {
                ret: size_or_type,
                params,
            }
        }
        14 => BtfKind::Var {
            type_id: size_or_type,
            linkage: Linkage::from_u32(r.u32()?),
        },
        15 => {
            let recs = match words(3, false)? {
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            };
            BtfKind::Datasec {
                size: size_or_type,
                vars: recs
                    .into_iter()
                    .map(|w| VarSecInfo {
                        type_id: w[0],
                        offset: w[1],
                        size: w[2],
                    })
                    .collect(),
            }
        }
        16 => BtfKind::Float { size: size_or_type },
        17 => BtfKind::DeclTag {
            target: size_or_type,
            component: r.u32()? as i32,
        },
        18 => BtfKind::TypeTag {
            target: size_or_type,
        },
        kind => return Some(Err(BtfError::UnknownKind { id, kind })),
    };
    Some(Ok(BtfType { name, kind }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(types: &[u32], strings: &[u8]) -> Vec<u8> {
        let mut raw = vec![0x9f, 0xeb, 1, 0];
        let tlen = (types.len() * 4) as u32;
        for v in [24u32, 0, tlen, tlen, strings.len() as u32] {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        for v in types {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        raw.extend_from_slice(strings);
        raw
    }

    const INT: u32 = 1 << 24;
    const PTR: u32 = 2 << 24;
    const ARRAY: u32 = 3 << 24;
    const STRUCT: u32 = 4 << 24;
    const TYPEDEF: u32 = 8 << 24;
    const CONST: u32 = 10 << 24;

    /// `\0int\0u32\0pair\0a\0b\0`
    const STRS: &[u8] = b"\0int\0u32\0pair\0a\0b\0";

    fn sample() -> Btf {
        #[rustfmt::skip]
        let types = [
            1, INT, 4, (1 << 24) | 32,      // 1: int (4 bytes, signed)
            5, TYPEDEF, 1,                  // 2: typedef u32 -> 1
            0, ARRAY, 0, 1, 1, 5,           // 3: int[5]
            9, STRUCT | 2, 24,              // 4: struct pair { int a; int b[5]; }
            14, 1, 0,                       //    a: int at bit 0
            16, 3, 32,                      //    b: int[5] at bit 32
            0, PTR, 6,                      // 5: const struct pair *
            0, CONST, 4,                    // 6: const -> 4
        ];
        Btf::parse(&build(&types, STRS)).unwrap()
    }

    #[test]
    fn parses_and_resolves_sizes() {
        let btf = sample();
        assert_eq!(btf.len(), 7);
        assert_eq!(btf.resolve_size(2).unwrap(), 4);
        assert_eq!(btf.resolve_size(3).unwrap(), 20);
        assert_eq!(btf.resolve_size(4).unwrap(), 24);
        assert_eq!(btf.resolve_size(5).unwrap(), 8);
        assert_eq!(btf.resolve_size(6).unwrap(), 24);
        let BtfKind::Struct { members, .. } = &btf.get(4).unwrap().kind else {
            panic!("not a struct");
        };
        assert_eq!(members[1].name, "b");
        assert_eq!(members[1].bit_offset, 32);
    }

    #[test]
    fn names_types_like_c() {
        let btf = sample();
        assert_eq!(btf.type_name(2), "u32");
        assert_eq!(btf.type_name(3), "int[5]");
        assert_eq!(btf.type_name(5), "const struct pair *");
        assert_eq!(btf.type_name(0), "void");
        assert_eq!(btf.type_name(99), "<type 99>");
    }

    #[test]
    fn void_has_no_size_and_missing_ids_are_errors() {
        let btf = sample();
        assert!(matches!(btf.resolve_size(0), Err(BtfError::NoSize { .. })));
        assert_eq!(
            btf.resolve_size(40),
            Err(BtfError::NoType { id: 40, last: 6 })
        );
    }

    #[test]
    fn typedef_cycle_is_an_error() {
        // 1: typedef a -> 2, 2: typedef b -> 1
        let types = [1, TYPEDEF, 2, 1, TYPEDEF, 1];
        let btf = Btf::parse(&build(&types, STRS)).unwrap();
        assert_eq!(btf.resolve_size(1), Err(BtfError::TooDeep { id: 1 }));
        assert_eq!(
            btf.skip_mods_and_typedefs(2),
            Err(BtfError::TooDeep { id: 2 })
        );
        // 1: const -> 2, 2: ptr -> 1: naming stops instead of recursing.
        let types = [0, CONST, 2, 0, PTR, 1];
        let btf = Btf::parse(&build(&types, STRS)).unwrap();
        assert!(btf.type_name(1).contains("..."), "{}", btf.type_name(1));
    }

    #[test]
    fn truncated_type_is_an_error() {
        // A struct announcing 3 members but carrying one.
        let types = [9, STRUCT | 3, 24, 14, 1, 0];
        let err = Btf::parse(&build(&types, STRS)).unwrap_err();
        assert_eq!(err, BtfError::Truncated { id: 1, offset: 0 });
    }

    #[test]
    fn bad_header_fields() {
        assert!(matches!(
            Btf::parse(&[0x9f, 0xeb]),
            Err(BtfError::Short { .. })
        ));
        let mut raw = build(&[], STRS);
        raw[0] = 0;
        assert!(matches!(Btf::parse(&raw), Err(BtfError::BadMagic { .. })));
        let mut raw = build(&[], STRS);
        raw[2] = 2;
        assert_eq!(Btf::parse(&raw), Err(BtfError::BadVersion { found: 2 }));
        let mut raw = build(&[], STRS);
        raw[20] = 0xff; // str_len far past the end
        assert!(matches!(
            Btf::parse(&raw),
            Err(BtfError::OutOfBounds {
                what: "string section",
                ..
            })
        ));
    }

    #[test]
    fn bad_name_offset_is_an_error() {
        let types = [1000, INT, 4, 32];
        assert!(matches!(
            Btf::parse(&build(&types, STRS)),
            Err(BtfError::BadString { offset: 1000, .. })
        ));
    }
}
