//! Map specifications: BTF-defined maps (`.maps`), legacy definitions
//! (`maps`), and global data sections as single-entry array maps.
//!
//! A BTF-defined map is a global variable in `.maps` whose type is an
//! anonymous struct; libbpf's macros encode each attribute in a member's
//! *type*, not its value: `__uint(max_entries, 8)` declares
//! `int (*max_entries)[8]` (the number is an array length), and
//! `__type(key, struct flow)` declares `struct flow *key` (the key type is
//! the pointee). The definition is read from BTF the way libbpf's
//! `parse_btf_map_def` reads it; the variable's bytes are all zero except
//! for `values` slots, which carry relocations (`.rel.maps`) to inner maps
//! or programs.

use std::collections::HashMap;

use oxbpf_abi::map_kind::{MapKind, flags::BPF_F_RDONLY_PROG};

use crate::btf::{Btf, BtfKind, Member};
use crate::elf::{Elf, Symbol};
use crate::error::{MapError, ObjectError, RelocError, Unsupported};

/// `LIBBPF_PIN_*`: whether the loader pins the map to bpffs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Pinning {
    /// `LIBBPF_PIN_NONE`.
    #[default]
    None,
    /// `LIBBPF_PIN_BY_NAME`: pinned at `<pin root>/<map name>`, and reused
    /// when a compatible map is already pinned there.
    ByName,
}

/// Which kind of global data section a map stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// `.data` and `.data.*`: initialised, writable.
    Data,
    /// `.rodata` and `.rodata.*` (including clang's `.rodata.str1.1` for
    /// string literals): initialised, read-only to programs, frozen after
    /// creation.
    Rodata,
    /// `.bss` and `.bss.*`: zero-initialised, writable.
    Bss,
}

/// Where a map was defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapSource {
    /// A BTF-defined map in `.maps`.
    BtfMaps,
    /// A `struct bpf_map_def` in the legacy `maps` section.
    Legacy,
    /// A global data section.
    Data(DataKind),
}

/// An initial slot of a map-in-map: entry `index` holds map `map` (an
/// index into [`crate::Object::maps`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MapSlot {
    /// Key (array index) of the slot.
    pub index: u32,
    /// The inner map, as an index into the object's maps.
    pub map: usize,
}

/// An initial slot of a program array: entry `index` holds program
/// `program` (a name in [`crate::Object::programs`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProgramSlot {
    /// Key (array index) of the slot.
    pub index: u32,
    /// The program's name.
    pub program: String,
}

/// What a map holds when it is created.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum MapInit {
    /// Nothing (entries are added at run time).
    #[default]
    None,
    /// Global data: the initial bytes of value 0. Shorter than
    /// `value_size` for `.bss` (empty): the rest is zero.
    Data(Vec<u8>),
    /// Map-in-map `values`, by slot.
    Maps(Vec<MapSlot>),
    /// Program-array `values`, by slot.
    Programs(Vec<ProgramSlot>),
}

/// A global variable inside a data section map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalVar {
    /// Symbol name (`static` variables keep their plain name).
    pub name: String,
    /// Byte offset in the map value.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
    /// BTF type of the variable, when BTF describes it.
    pub type_id: Option<u32>,
}

/// Everything needed to create one map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// The map's name: the variable name for `.maps` and `maps`
    /// definitions, the section name (`.rodata`, `.data.greet`) for global
    /// data.
    pub name: String,
    /// Map type.
    pub kind: MapKind,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes (for map-in-map and prog arrays: 4, an fd).
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// `BPF_MAP_CREATE` flags (`.rodata` maps carry `BPF_F_RDONLY_PROG`).
    pub map_flags: u32,
    /// NUMA node (`numa_node` field; meaningful with `BPF_F_NUMA_NODE`).
    pub numa_node: u32,
    /// `map_extra` (bloom filter hash count, arena address).
    pub map_extra: u64,
    /// Pinning requested by the definition.
    pub pinning: Pinning,
    /// BTF type of the key, when the definition names one (`__type(key, T)`).
    pub key_type: Option<u32>,
    /// BTF type of the value: `__type(value, T)`, or the `DATASEC` of a
    /// global data map.
    pub value_type: Option<u32>,
    /// The inner map template of a map-in-map.
    pub inner: Option<Box<MapSpec>>,
    /// Where it was defined.
    pub source: MapSource,
    /// Initial contents.
    pub init: MapInit,
    /// Freeze after initialisation (`.rodata`): neither programs nor the
    /// control plane may write afterwards.
    pub frozen: bool,
    /// Variables of a global data map, by offset.
    pub globals: Vec<GlobalVar>,
}

/// Where a map definition lives in the ELF file, to resolve relocations.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MapLoc {
    pub section: usize,
    pub offset: u64,
    pub size: u64,
    /// Offset of the `values` array within a BTF definition.
    pub values: Option<u64>,
}

/// The object's maps with their locations.
#[derive(Debug, Default)]
pub(crate) struct Maps {
    pub specs: Vec<MapSpec>,
    pub locs: Vec<MapLoc>,
    /// Global data maps by ELF section index.
    pub data_by_section: HashMap<usize, usize>,
}

impl Maps {
    /// The map defined at `offset` of section `section`.
    pub(crate) fn at(&self, section: usize, offset: u64) -> Option<usize> {
        self.locs
            .iter()
            .position(|l| l.section == section && l.offset == offset)
    }

    fn push(&mut self, spec: MapSpec, loc: MapLoc) -> Result<(), ObjectError> {
        if self.specs.iter().any(|m| m.name == spec.name) {
            return Err(ObjectError::Map {
                map: spec.name,
                reason: MapError::Duplicate,
            });
        }
        if let (MapSource::Data(_), section) = (spec.source, loc.section) {
            self.data_by_section.insert(section, self.specs.len());
        }
        self.specs.push(spec);
        self.locs.push(loc);
        Ok(())
    }
}

/// The data-section kind of a section name, as libbpf classifies them.
pub(crate) fn data_kind(name: &str) -> Option<DataKind> {
    let is =
        |base: &str| name == base || name.strip_prefix(base).is_some_and(|r| r.starts_with('.'));
    if is(".data") {
        Some(DataKind::Data)
    } else if is(".rodata") {
        Some(DataKind::Rodata)
    } else if is(".bss") {
        Some(DataKind::Bss)
    } else {
        None
    }
}

/// Collects every map of the object: BTF-defined maps first (in the order
/// of their definitions in `.maps`), then legacy maps, then global data
/// sections in section order.
pub(crate) fn collect(elf: &Elf<'_>, btf: Option<&Btf>) -> Result<Maps, ObjectError> {
    let mut maps = Maps::default();
    if let Some(sec) = elf.section_index(".maps") {
        btf_maps(elf, btf, sec, &mut maps)?;
    }
    if let Some(sec) = elf.section_index("maps") {
        legacy_maps(elf, sec, &mut maps)?;
    }
    data_maps(elf, btf, &mut maps)?;
    if let Some(sec) = elf.section_index(".maps") {
        map_values(elf, sec, &mut maps)?;
    }
    Ok(maps)
}

/// Symbols defined in section `sec` (not the section symbol itself),
/// sorted by offset.
fn symbols_in<'e>(elf: &'e Elf<'_>, sec: usize) -> Vec<&'e Symbol> {
    let mut syms: Vec<&Symbol> = elf
        .symbols
        .iter()
        .filter(|s| s.section() == Some(sec) && !s.is_section() && !s.name.is_empty())
        .collect();
    syms.sort_by_key(|s| s.value);
    syms
}

fn map_err(map: &str) -> impl Fn(MapError) -> ObjectError + '_ {
    move |reason| ObjectError::Map {
        map: map.to_string(),
        reason,
    }
}

fn to_u32(what: &'static str, value: u64) -> Result<u32, MapError> {
    u32::try_from(value).map_err(|_| MapError::TooLarge { what, value })
}

/// A definition read from BTF, before it becomes a [`MapSpec`].
#[derive(Debug, Default)]
struct Def {
    map_type: u32,
    key_size: Option<u64>,
    value_size: Option<u64>,
    max_entries: u32,
    map_flags: u32,
    numa_node: u32,
    map_extra: u64,
    pinning: Pinning,
    key_type: Option<u32>,
    value_type: Option<u32>,
    values: Option<Values>,
}

#[derive(Debug)]
enum Values {
    /// Byte offset of the `values` array in the definition, and the inner
    /// map template.
    Maps { offset: u64, inner: Box<Def> },
    /// Byte offset of the `values` array (prog arrays).
    Programs { offset: u64 },
}

impl Values {
    fn offset(&self) -> u64 {
        match self {
            Values::Maps { offset, .. } | Values::Programs { offset } => *offset,
        }
    }
}

/// `__uint(name, N)`: a pointer to an array of N ints (libbpf's
/// `get_map_field_int`).
fn field_int(btf: &Btf, m: &Member) -> Result<u32, MapError> {
    let bad = |reason| MapError::BadField {
        field: m.name.clone(),
        reason,
    };
    let t = btf
        .skip_mods_and_typedefs(m.type_id)
        .map_err(MapError::Btf)?;
    let BtfKind::Ptr { target } = btf.get(t).map_err(MapError::Btf)?.kind else {
        return Err(bad("expected a pointer to an array (__uint)"));
    };
    match btf.get(target).map_err(MapError::Btf)?.kind {
        BtfKind::Array { len, .. } => Ok(len),
        _ => Err(bad("expected a pointer to an array (__uint)")),
    }
}

/// `__ulong(name, N)` (an enum whose only value is N) or `__uint`
/// (libbpf's `get_map_field_long`).
fn field_long(btf: &Btf, m: &Member) -> Result<u64, MapError> {
    let t = btf
        .skip_mods_and_typedefs(m.type_id)
        .map_err(MapError::Btf)?;
    if let BtfKind::Enum { values, .. } = &btf.get(t).map_err(MapError::Btf)?.kind {
        return values
            .first()
            .map(|e| e.value as u64)
            .ok_or(MapError::BadField {
                field: m.name.clone(),
                reason: "enum without values",
            });
    }
    field_int(btf, m).map(u64::from)
}

/// `__type(name, T)`: a pointer to T; returns T and its size.
fn field_type(btf: &Btf, m: &Member) -> Result<(u32, u64), MapError> {
    let t = btf.get(m.type_id).map_err(MapError::Btf)?;
    let BtfKind::Ptr { target } = t.kind else {
        return Err(MapError::BadField {
            field: m.name.clone(),
            reason: "expected a pointer to the type (__type)",
        });
    };
    let size = btf.resolve_size(target).map_err(MapError::Btf)?;
    Ok((target, size))
}

fn set_size(slot: &mut Option<u64>, what: &'static str, size: u64) -> Result<(), MapError> {
    match *slot {
        Some(first) if first != size => Err(MapError::Conflict {
            what,
            first,
            second: size,
        }),
        _ => {
            *slot = Some(size);
            Ok(())
        }
    }
}

/// Reads a definition struct (libbpf's `parse_btf_map_def`). `inner` is
/// true while reading the template of a map-in-map's inner map.
fn parse_def(btf: &Btf, type_id: u32, inner: bool) -> Result<Def, ObjectError> {
    let fail = |reason| ObjectError::Map {
        map: String::new(),
        reason,
    };
    let id = btf
        .skip_mods_and_typedefs(type_id)
        .map_err(|e| fail(MapError::Btf(e)))?;
    let t = btf.get(id).map_err(|e| fail(MapError::Btf(e)))?;
    let BtfKind::Struct { members, .. } = &t.kind else {
        return Err(fail(MapError::NotStruct {
            type_id: id,
            kind: t.kind.name(),
        }));
    };
    let mut def = Def::default();
    for (i, m) in members.iter().enumerate() {
        let r: Result<(), MapError> = (|| {
            match m.name.as_str() {
                "type" => def.map_type = field_int(btf, m)?,
                "max_entries" => def.max_entries = field_int(btf, m)?,
                "map_flags" => def.map_flags = field_int(btf, m)?,
                "numa_node" => def.numa_node = field_int(btf, m)?,
                "key_size" => set_size(&mut def.key_size, "key size", field_int(btf, m)?.into())?,
                "value_size" => {
                    set_size(&mut def.value_size, "value size", field_int(btf, m)?.into())?
                }
                "key" => {
                    let (ty, size) = field_type(btf, m)?;
                    set_size(&mut def.key_size, "key size", size)?;
                    def.key_type = Some(ty);
                }
                "value" => {
                    let (ty, size) = field_type(btf, m)?;
                    set_size(&mut def.value_size, "value size", size)?;
                    def.value_type = Some(ty);
                }
                "pinning" => {
                    def.pinning = match field_int(btf, m)? {
                        0 => Pinning::None,
                        1 => Pinning::ByName,
                        value => return Err(MapError::BadPinning { value }),
                    }
                }
                "map_extra" => def.map_extra = field_long(btf, m)?,
                "values" => {
                    if i + 1 != members.len() {
                        return Err(MapError::ValuesNotLast);
                    }
                    def.values = Some(Values::Programs {
                        offset: u64::from(m.bit_offset / 8),
                    });
                }
                other => {
                    return Err(MapError::UnknownField {
                        field: other.to_string(),
                    });
                }
            }
            Ok(())
        })();
        r.map_err(fail)?;
        if m.name == "values" {
            // The value of each slot is an fd (libbpf forces value_size 4).
            let kind = MapKind::from_u32(def.map_type);
            let is_mim = matches!(kind, Some(MapKind::ArrayOfMaps | MapKind::HashOfMaps));
            if inner {
                return Err(ObjectError::Unsupported {
                    feature: Unsupported::NestedInnerMaps,
                    detail: "an inner map definition has a values field".to_string(),
                });
            }
            if !is_mim && kind != Some(MapKind::ProgArray) {
                return Err(fail(MapError::ValuesNotAllowed));
            }
            set_size(&mut def.value_size, "value size", 4).map_err(fail)?;
            let bad = |reason| {
                fail(MapError::BadField {
                    field: "values".to_string(),
                    reason,
                })
            };
            // `__array(values, T)` is a zero-length array of pointers to T.
            let arr = btf.get(m.type_id).map_err(|e| fail(MapError::Btf(e)))?;
            let BtfKind::Array { elem, len: 0, .. } = arr.kind else {
                return Err(bad("expected a zero-length array (__array)"));
            };
            let p = btf
                .skip_mods_and_typedefs(elem)
                .map_err(|e| fail(MapError::Btf(e)))?;
            let BtfKind::Ptr { target } = btf.get(p).map_err(|e| fail(MapError::Btf(e)))?.kind
            else {
                return Err(bad("expected an array of pointers (__array)"));
            };
            let offset = u64::from(m.bit_offset / 8);
            if is_mim {
                let inner_def = parse_def(btf, target, true)?;
                def.values = Some(Values::Maps {
                    offset,
                    inner: Box::new(inner_def),
                });
            } else {
                let f = btf
                    .skip_mods_and_typedefs(target)
                    .map_err(|e| fail(MapError::Btf(e)))?;
                if !matches!(
                    btf.get(f).map_err(|e| fail(MapError::Btf(e)))?.kind,
                    BtfKind::FuncProto { .. }
                ) {
                    return Err(bad("prog-array values must point to functions"));
                }
                def.values = Some(Values::Programs { offset });
            }
        }
    }
    Ok(def)
}

/// Turns a definition into a spec named `name`.
fn spec_from_def(name: &str, def: Def, source: MapSource) -> Result<MapSpec, ObjectError> {
    let err = map_err(name);
    let kind = match MapKind::from_u32(def.map_type) {
        Some(k) if k != MapKind::Unspec => k,
        _ => {
            return Err(err(MapError::UnknownType {
                map_type: def.map_type,
            }));
        }
    };
    let inner = match def.values {
        Some(Values::Maps { inner, .. }) => Some(Box::new(spec_from_def(
            &format!("{name}.inner"),
            *inner,
            source,
        )?)),
        _ => None,
    };
    Ok(MapSpec {
        name: name.to_string(),
        kind,
        key_size: to_u32("key size", def.key_size.unwrap_or(0)).map_err(&err)?,
        value_size: to_u32("value size", def.value_size.unwrap_or(0)).map_err(&err)?,
        max_entries: def.max_entries,
        map_flags: def.map_flags,
        numa_node: def.numa_node,
        map_extra: def.map_extra,
        pinning: def.pinning,
        key_type: def.key_type,
        value_type: def.value_type,
        inner,
        source,
        init: MapInit::None,
        frozen: false,
        globals: Vec::new(),
    })
}

/// BTF-defined maps: one per symbol of `.maps`, described by the `VAR` of
/// the same name in the `.maps` `DATASEC`.
fn btf_maps(
    elf: &Elf<'_>,
    btf: Option<&Btf>,
    sec: usize,
    maps: &mut Maps,
) -> Result<(), ObjectError> {
    let syms = symbols_in(elf, sec);
    if syms.is_empty() {
        return Ok(());
    }
    let section = &elf.sections[sec];
    let datasec = btf.and_then(|b| b.find(".maps", |k| matches!(k, BtfKind::Datasec { .. })));
    for sym in syms {
        let err = map_err(&sym.name);
        let Some(btf) = btf else {
            return Err(err(MapError::NoBtf));
        };
        // The VAR of the .maps DATASEC with the symbol's name gives the type.
        let var_type = datasec.and_then(|(_, t)| {
            let BtfKind::Datasec { vars, .. } = &t.kind else {
                return None;
            };
            vars.iter().find_map(|v| match btf.type_by_id(v.type_id) {
                Some(vt) if vt.name == sym.name => match vt.kind {
                    BtfKind::Var { type_id, .. } => Some(type_id),
                    _ => None,
                },
                _ => None,
            })
        });
        let Some(var_type) = var_type else {
            return Err(err(MapError::NoBtfVar));
        };
        let def = parse_def(btf, var_type, false).map_err(|e| name_map_error(e, &sym.name))?;
        let values_offset = def.values.as_ref().map(Values::offset);
        let size = btf
            .resolve_size(var_type)
            .map_err(|e| err(MapError::Btf(e)))?;
        // A definition with initial values is larger than its struct type
        // (the flexible `values` array); the symbol size covers both.
        let size = size.max(sym.size);
        check_in_section(sym.value, size, section.size).map_err(&err)?;
        let mut spec = spec_from_def(&sym.name, def, MapSource::BtfMaps)?;
        if values_offset.is_some() {
            spec.init = match spec.kind {
                MapKind::ProgArray => MapInit::Programs(Vec::new()),
                _ => MapInit::Maps(Vec::new()),
            };
        }
        maps.push(
            spec,
            MapLoc {
                section: sec,
                offset: sym.value,
                size,
                values: values_offset,
            },
        )?;
    }
    Ok(())
}

/// Errors from [`parse_def`] carry no map name (it recurses into inner
/// definitions); fill it in.
fn name_map_error(e: ObjectError, name: &str) -> ObjectError {
    match e {
        ObjectError::Map { map, reason } if map.is_empty() => ObjectError::Map {
            map: name.to_string(),
            reason,
        },
        ObjectError::Unsupported { feature, detail } => ObjectError::Unsupported {
            feature,
            detail: format!("map {name}: {detail}"),
        },
        other => other,
    }
}

fn check_in_section(offset: u64, size: u64, section_size: u64) -> Result<(), MapError> {
    let end = offset.checked_add(size);
    match end {
        Some(end) if end <= section_size => Ok(()),
        _ => Err(MapError::OutOfSection {
            offset,
            end: end.unwrap_or(u64::MAX),
            size: section_size,
        }),
    }
}

/// `struct bpf_map_def` is 5 u32s: type, key_size, value_size,
/// max_entries, map_flags.
const LEGACY_DEF_SIZE: u64 = 20;

/// Legacy definitions: the section is an array of equally sized
/// definitions, one per symbol (the size is section size / symbol count,
/// as libbpf before 1.0 computed it).
fn legacy_maps(elf: &Elf<'_>, sec: usize, maps: &mut Maps) -> Result<(), ObjectError> {
    let syms = symbols_in(elf, sec);
    if syms.is_empty() {
        return Ok(());
    }
    let section = &elf.sections[sec];
    let n = syms.len() as u64;
    let def_size = section.size / n;
    for sym in syms {
        let err = map_err(&sym.name);
        let bad = |reason| {
            err(MapError::BadLegacyDef {
                size: def_size,
                offset: sym.value,
                reason,
            })
        };
        if !section.size.is_multiple_of(n) || def_size < 16 {
            return Err(bad(
                "definition size cannot be determined from the section size",
            ));
        }
        check_in_section(sym.value, def_size, section.size).map_err(&err)?;
        let bytes = section
            .data
            .get(sym.value as usize..(sym.value + def_size) as usize)
            .ok_or_else(|| bad("definition bytes are missing"))?;
        // Fields past struct bpf_map_def belong to other loaders' formats
        // (iproute2's id/pinning); accept them only when zero.
        if bytes.iter().skip(LEGACY_DEF_SIZE as usize).any(|&b| b != 0) {
            return Err(bad("non-zero bytes after the 20-byte struct bpf_map_def"));
        }
        let word = |i: usize| {
            bytes
                .get(i * 4..i * 4 + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .unwrap_or(0)
        };
        let def = Def {
            map_type: word(0),
            key_size: Some(word(1).into()),
            value_size: Some(word(2).into()),
            max_entries: word(3),
            map_flags: word(4),
            ..Def::default()
        };
        let spec = spec_from_def(&sym.name, def, MapSource::Legacy)?;
        maps.push(
            spec,
            MapLoc {
                section: sec,
                offset: sym.value,
                size: def_size,
                values: None,
            },
        )?;
    }
    Ok(())
}

/// Global data sections as single-entry arrays (key `u32`, value = the
/// whole section), as libbpf's `bpf_object__init_global_data_maps` does.
fn data_maps(elf: &Elf<'_>, btf: Option<&Btf>, maps: &mut Maps) -> Result<(), ObjectError> {
    for (index, section) in elf.sections.iter().enumerate() {
        let Some(kind) = data_kind(&section.name) else {
            continue;
        };
        let fits = match kind {
            DataKind::Bss => section.sh_type == object::elf::SHT_NOBITS,
            _ => section.sh_type == object::elf::SHT_PROGBITS && !section.is_exec(),
        };
        if !fits || section.size == 0 {
            continue;
        }
        let err = map_err(&section.name);
        let value_size = to_u32("section size", section.size).map_err(&err)?;
        let datasec =
            btf.and_then(|b| b.find(&section.name, |k| matches!(k, BtfKind::Datasec { .. })));
        let globals = globals(elf, btf, datasec.map(|(_, t)| t), index, section.size);
        let readonly = kind == DataKind::Rodata;
        let spec = MapSpec {
            name: section.name.clone(),
            kind: MapKind::Array,
            key_size: 4,
            value_size,
            max_entries: 1,
            map_flags: if readonly { BPF_F_RDONLY_PROG } else { 0 },
            numa_node: 0,
            map_extra: 0,
            pinning: Pinning::None,
            key_type: None,
            value_type: datasec.map(|(id, _)| id),
            inner: None,
            source: MapSource::Data(kind),
            init: MapInit::Data(section.data.to_vec()),
            frozen: readonly,
            globals,
        };
        maps.push(
            spec,
            MapLoc {
                section: index,
                offset: 0,
                size: section.size,
                values: None,
            },
        )?;
    }
    Ok(())
}

/// The variables of data section `index`: its object symbols, and the
/// variables BTF lists that have no symbol (clang emits none for some
/// `static` variables, such as `bpf_printk`'s format strings; their
/// `DATASEC` offsets are exact, unlike those of global variables, which
/// are left for the linker to fill in).
fn globals(
    elf: &Elf<'_>,
    btf: Option<&Btf>,
    datasec: Option<&crate::btf::BtfType>,
    index: usize,
    section_size: u64,
) -> Vec<GlobalVar> {
    let inside =
        |offset: u64, size: u64| offset.checked_add(size).is_some_and(|e| e <= section_size);
    let mut out: Vec<GlobalVar> = symbols_in(elf, index)
        .into_iter()
        .filter(|s| s.st_type == object::elf::STT_OBJECT && inside(s.value, s.size))
        .map(|s| GlobalVar {
            name: s.name.clone(),
            offset: s.value as u32,
            size: s.size as u32,
            type_id: btf.zip(datasec).and_then(|(b, t)| var_type(b, t, &s.name)),
        })
        .collect();
    if let (Some(btf), Some(BtfKind::Datasec { vars, .. })) = (btf, datasec.map(|t| &t.kind)) {
        for v in vars {
            let Some(t) = btf.type_by_id(v.type_id) else {
                continue;
            };
            let BtfKind::Var { type_id, .. } = t.kind else {
                continue;
            };
            if out.iter().any(|g| g.name == t.name)
                || !inside(v.offset.into(), v.size.into())
                || t.name.is_empty()
            {
                continue;
            }
            out.push(GlobalVar {
                name: t.name.clone(),
                offset: v.offset,
                size: v.size,
                type_id: Some(type_id),
            });
        }
    }
    out.sort_by_key(|g| g.offset);
    out
}

/// The type of the variable `name` in a `DATASEC`.
fn var_type(btf: &Btf, datasec: &crate::btf::BtfType, name: &str) -> Option<u32> {
    let BtfKind::Datasec { vars, .. } = &datasec.kind else {
        return None;
    };
    vars.iter().find_map(|v| {
        let t = btf.type_by_id(v.type_id)?;
        match t.kind {
            BtfKind::Var { type_id, .. } if t.name == name => Some(type_id),
            _ => None,
        }
    })
}

/// Initial `values` of map-in-map and prog-array definitions, from the
/// relocations of `.maps` (libbpf's `bpf_object__collect_map_relos`).
fn map_values(elf: &Elf<'_>, sec: usize, maps: &mut Maps) -> Result<(), ObjectError> {
    let section_name = &elf.sections[sec].name;
    for (index, rel) in elf.relocs[sec].iter().enumerate() {
        let sym = elf.symbols.get(rel.sym as usize);
        let fail = |reason| ObjectError::Relocation {
            section: section_name.clone(),
            index,
            offset: rel.offset,
            symbol: sym.map(|s| s.name.clone()).unwrap_or_default(),
            reason,
        };
        let Some(sym) = sym else {
            return Err(fail(RelocError::BadSymbol { sym: rel.sym }));
        };
        // The outer map whose definition contains the relocated bytes.
        let outer = maps.locs.iter().position(|l| {
            l.section == sec
                && rel.offset >= l.offset
                && rel.offset < l.offset.saturating_add(l.size)
        });
        let Some(outer) = outer else {
            return Err(fail(RelocError::NotInValues));
        };
        let Some(values_off) = maps.locs[outer].values else {
            return Err(fail(RelocError::NotInValues));
        };
        let start = maps.locs[outer].offset + values_off;
        if rel.offset < start || !(rel.offset - start).is_multiple_of(8) {
            return Err(fail(RelocError::NotInValues));
        }
        let slot = (rel.offset - start) / 8;
        let max_entries = maps.specs[outer].max_entries;
        if slot >= u64::from(max_entries) {
            return Err(ObjectError::Map {
                map: maps.specs[outer].name.clone(),
                reason: MapError::SlotOutOfRange { slot, max_entries },
            });
        }
        let is_prog_array = maps.specs[outer].kind == MapKind::ProgArray;
        if is_prog_array {
            let is_prog = sym.is_func()
                && sym
                    .section()
                    .and_then(|s| elf.sections.get(s))
                    .is_some_and(|s| s.is_exec() && s.name != ".text");
            if !is_prog {
                return Err(fail(RelocError::BadSlot {
                    slot,
                    expected: "a program (a global function in a program section)",
                }));
            }
            if let MapInit::Programs(v) = &mut maps.specs[outer].init {
                v.push(ProgramSlot {
                    index: slot as u32,
                    program: sym.name.clone(),
                });
            }
        } else {
            let inner = sym
                .section()
                .filter(|&s| s == sec)
                .and_then(|s| maps.at(s, sym.value));
            let Some(inner) = inner else {
                return Err(fail(RelocError::BadSlot {
                    slot,
                    expected: "a map defined in .maps",
                }));
            };
            if let MapInit::Maps(v) = &mut maps.specs[outer].init {
                v.push(MapSlot {
                    index: slot as u32,
                    map: inner,
                });
            }
        }
    }
    for spec in &mut maps.specs {
        match &mut spec.init {
            MapInit::Maps(v) => v.sort_by_key(|s| s.index),
            MapInit::Programs(v) => v.sort_by_key(|s| s.index),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_section_names() {
        assert_eq!(data_kind(".data"), Some(DataKind::Data));
        assert_eq!(data_kind(".data.greet"), Some(DataKind::Data));
        assert_eq!(data_kind(".rodata"), Some(DataKind::Rodata));
        assert_eq!(data_kind(".rodata.str1.1"), Some(DataKind::Rodata));
        assert_eq!(data_kind(".bss"), Some(DataKind::Bss));
        assert_eq!(data_kind(".database"), None);
        assert_eq!(data_kind(".rodatax"), None);
        assert_eq!(data_kind("data"), None);
    }
}
