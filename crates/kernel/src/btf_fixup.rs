//! Making clang's `.BTF` loadable: `DATASEC` sizes and variable offsets.
//!
//! clang writes every `DATASEC` (`.data`, `.rodata`, `.bss`, `.maps`...)
//! with size 0 and variable offsets 0, because only the linker knows them;
//! the kernel's BTF checker (`btf_datasec_check_meta`) refuses a zero size
//! and requires the variables sorted by offset, non-overlapping, inside the
//! section. libbpf fixes them up from the ELF symbol table before
//! `BPF_BTF_LOAD`; oxbpf does the same from what `oxbpf-object` parsed:
//!
//! - a data section that became a map gets the map's value size, and each
//!   variable the offset of the global variable of the same name;
//! - any other section (`.maps`, whose contents are map definitions that
//!   the kernel never sees) gets its variables laid out one after the
//!   other, which satisfies the checker.
//!
//! Variables are then sorted by offset, as the kernel requires.

use oxbpf_object::{Btf, MapSource, Object};

/// `BTF_KIND_DATASEC`.
const KIND_DATASEC: u32 = 15;

/// Why the BTF cannot be fixed up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BtfFixupError {
    /// The raw bytes end before a header or type they announce.
    #[error("BTF: truncated at byte {at}: {what}")]
    Truncated { at: usize, what: &'static str },
    /// A type has a kind this fix-up does not know the size of.
    #[error("BTF: type {id} has unknown kind {kind}")]
    UnknownKind { id: u32, kind: u32 },
    /// A data section variable has no global variable of that name.
    #[error("BTF: variable {var:?} of {section} is not a global of the object's {section} map")]
    UnknownVar { section: String, var: String },
}

fn u32_at(raw: &[u8], at: usize, what: &'static str) -> Result<u32, BtfFixupError> {
    raw.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(BtfFixupError::Truncated { at, what })
}

fn put_u32(raw: &mut [u8], at: usize, v: u32) {
    raw[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Bytes following the 12-byte `struct btf_type` for `kind` with `vlen`
/// members (`include/uapi/linux/btf.h`).
fn trailing(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        1 | 14 | 17 => 4,             // INT, VAR, DECL_TAG
        3 => 12,                      // ARRAY
        4 | 5 | 15 | 19 => 12 * vlen, // STRUCT, UNION, DATASEC, ENUM64
        6 | 13 => 8 * vlen,           // ENUM, FUNC_PROTO
        2 | 7..=12 | 16 | 18 => 0,    // PTR, FWD, modifiers, FUNC, FLOAT, TYPE_TAG
        _ => return None,
    })
}

/// The raw BTF of `btf` with every `DATASEC` fixed up for `object`.
pub fn fix_datasecs(btf: &Btf, object: &Object) -> Result<Vec<u8>, BtfFixupError> {
    let mut raw = btf.raw().to_vec();
    let hdr_len = u32_at(&raw, 4, "header length")? as usize;
    let type_off = u32_at(&raw, 8, "type section offset")? as usize;
    let type_len = u32_at(&raw, 12, "type section length")? as usize;
    let start = hdr_len + type_off;
    let end = start + type_len;
    let mut at = start;
    let mut id = 1u32;
    while at < end {
        let info = u32_at(&raw, at + 4, "type info")?;
        let kind = (info >> 24) & 0x1f;
        let vlen = (info & 0xffff) as usize;
        let extra = trailing(kind, vlen).ok_or(BtfFixupError::UnknownKind { id, kind })?;
        if at + 12 + extra > end {
            return Err(BtfFixupError::Truncated {
                at,
                what: "type record",
            });
        }
        if kind == KIND_DATASEC {
            fix_one(&mut raw, at, vlen, id, btf, object)?;
        }
        at += 12 + extra;
        id += 1;
    }
    Ok(raw)
}

/// Fixes the `DATASEC` record at byte `at` (type `id`) with `vlen`
/// variables.
fn fix_one(
    raw: &mut [u8],
    at: usize,
    vlen: usize,
    id: u32,
    btf: &Btf,
    object: &Object,
) -> Result<(), BtfFixupError> {
    let section = btf
        .type_by_id(id)
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let data_map = object
        .maps
        .iter()
        .find(|m| m.name == section && matches!(m.source, MapSource::Data(_)));
    // (type, offset, size) of each variable.
    let mut vars = Vec::with_capacity(vlen);
    let mut next = 0u32;
    for i in 0..vlen {
        let rec = at + 12 + 12 * i;
        let type_id = u32_at(raw, rec, "datasec variable")?;
        let size = u32_at(raw, rec + 8, "datasec variable size")?;
        let offset = match data_map {
            Some(map) => {
                let name = btf
                    .type_by_id(type_id)
                    .map(|t| t.name.clone())
                    .unwrap_or_default();
                map.globals
                    .iter()
                    .find(|g| g.name == name)
                    .map(|g| g.offset)
                    .ok_or(BtfFixupError::UnknownVar {
                        section: section.clone(),
                        var: name,
                    })?
            }
            None => next,
        };
        next = next.max(offset.saturating_add(size));
        vars.push((type_id, offset, size));
    }
    vars.sort_by_key(|&(_, offset, _)| offset);
    let size = data_map.map_or(next, |m| m.value_size.max(next));
    put_u32(raw, at + 8, size);
    for (i, (type_id, offset, size)) in vars.into_iter().enumerate() {
        let rec = at + 12 + 12 * i;
        put_u32(raw, rec, type_id);
        put_u32(raw, rec + 4, offset);
        put_u32(raw, rec + 8, size);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxbpf_abi::map_kind::MapKind;
    use oxbpf_object::{DataKind, GlobalVar, MapInit, MapSpec, Pinning};

    fn words(ws: &[u32]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// BTF of `int b, a;` in `.data` as clang writes it: DATASEC size 0,
    /// offsets 0, `b` first.
    fn clang_btf() -> Btf {
        let strings = b"\0int\0b\0a\0.data\0";
        let types = [
            words(&[1, 1 << 24, 4, (1 << 24) | 32]), // [1] INT int, signed 32
            words(&[5, 14 << 24, 1, 1]),             // [2] VAR b: int, global
            words(&[7, 14 << 24, 1, 1]),             // [3] VAR a: int, global
            words(&[9, (15 << 24) | 2, 0]),          // [4] DATASEC .data, 2 vars
            words(&[2, 0, 4, 3, 0, 4]),              //     b@0 (4), a@0 (4)
        ]
        .concat();
        let mut raw = Vec::new();
        raw.extend_from_slice(&0xeb9fu16.to_le_bytes());
        raw.extend_from_slice(&[1, 0]);
        raw.extend(words(&[
            24,
            0,
            types.len() as u32,
            types.len() as u32,
            strings.len() as u32,
        ]));
        raw.extend(types);
        raw.extend_from_slice(strings);
        Btf::parse(&raw).expect("hand-made BTF parses")
    }

    fn data_map() -> MapSpec {
        let var = |name: &str, offset| GlobalVar {
            name: name.into(),
            offset,
            size: 4,
            type_id: None,
        };
        MapSpec {
            name: ".data".into(),
            kind: MapKind::Array,
            key_size: 4,
            value_size: 8,
            max_entries: 1,
            map_flags: 0,
            numa_node: 0,
            map_extra: 0,
            pinning: Pinning::None,
            key_type: None,
            value_type: Some(4),
            inner: None,
            source: MapSource::Data(DataKind::Data),
            init: MapInit::Data(vec![0; 8]),
            frozen: false,
            globals: vec![var("a", 0), var("b", 4)],
        }
    }

    #[test]
    fn datasec_gets_the_map_size_and_sorted_symbol_offsets() {
        let btf = clang_btf();
        let object = Object {
            programs: Vec::new(),
            maps: vec![data_map()],
            license: None,
            kernel_version: None,
            btf: None,
        };
        let fixed = Btf::parse(&fix_datasecs(&btf, &object).unwrap()).unwrap();
        match &fixed.type_by_id(4).unwrap().kind {
            oxbpf_object::btf::BtfKind::Datasec { size, vars } => {
                assert_eq!(*size, 8);
                let got: Vec<(u32, u32, u32)> =
                    vars.iter().map(|v| (v.type_id, v.offset, v.size)).collect();
                // a (type 3) at 0, then b (type 2) at 4.
                assert_eq!(got, vec![(3, 0, 4), (2, 4, 4)]);
            }
            other => panic!("type 4 is {other:?}"),
        }
    }

    #[test]
    fn sections_without_a_map_are_laid_out_in_order() {
        let btf = clang_btf();
        let object = Object {
            programs: Vec::new(),
            maps: Vec::new(),
            license: None,
            kernel_version: None,
            btf: None,
        };
        let fixed = Btf::parse(&fix_datasecs(&btf, &object).unwrap()).unwrap();
        match &fixed.type_by_id(4).unwrap().kind {
            oxbpf_object::btf::BtfKind::Datasec { size, vars } => {
                assert_eq!(*size, 8);
                assert_eq!((vars[0].offset, vars[1].offset), (0, 4));
            }
            other => panic!("type 4 is {other:?}"),
        }
    }

    #[test]
    fn a_variable_missing_from_the_map_is_named() {
        let mut map = data_map();
        map.globals.pop();
        let object = Object {
            programs: Vec::new(),
            maps: vec![map],
            license: None,
            kernel_version: None,
            btf: None,
        };
        assert_eq!(
            fix_datasecs(&clang_btf(), &object),
            Err(BtfFixupError::UnknownVar {
                section: ".data".into(),
                var: "b".into()
            })
        );
    }

    #[test]
    fn trailing_sizes_follow_the_uapi() {
        // struct btf_member / btf_enum / btf_param / btf_var_secinfo sizes.
        assert_eq!(trailing(4, 3), Some(36));
        assert_eq!(trailing(6, 2), Some(16));
        assert_eq!(trailing(13, 2), Some(16));
        assert_eq!(trailing(15, 1), Some(12));
        assert_eq!(trailing(1, 0), Some(4));
        assert_eq!(trailing(12, 0), Some(0));
        assert_eq!(trailing(20, 0), None);
    }
}
