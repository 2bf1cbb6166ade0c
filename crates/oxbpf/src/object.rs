//! [`oxbpf_object::Object`] → [`ObjectImage`]: the parsed object in the
//! neutral form linking takes, with global variables set first.
//!
//! `crates/object` has already resolved bpf-to-bpf calls (subprograms
//! appended after each program's entry function) and turned map references
//! into `lddw` with `MapIdx` / `MapIdxValue` sources plus a [`Reloc`] per
//! instruction; this module keeps the map relocations.
//!
//! [`Reloc`]: oxbpf_object::Reloc

use oxbpf_maps::MapSpec;
use oxbpf_object::{MapInit, RelocKind};

use crate::Error;
use crate::link::{MapImage, MapReloc, ObjectImage, ProgramImage};

/// A parsed object.
pub(crate) struct Parsed {
    pub(crate) image: ObjectImage,
    /// Initial slots of program arrays and maps of maps (libbpf's
    /// `.values = { ... }`), filled after the maps are created.
    pub(crate) slots: Vec<InitSlots>,
}

/// The initial slots of one map, by the map's index.
#[derive(Clone, Debug)]
pub(crate) enum InitSlots {
    /// Program array `map`: (index, program name).
    Programs {
        map: usize,
        slots: Vec<(u32, String)>,
    },
    /// Map of maps `map`: (index, inner map index).
    Maps {
        map: usize,
        slots: Vec<(u32, usize)>,
    },
}

fn obj_err(reason: impl ToString) -> Error {
    Error::Object {
        reason: reason.to_string(),
    }
}

/// Parses `elf`, applying `globals` (variable name → bytes) to the initial
/// contents of global data maps.
pub(crate) fn parse(elf: &[u8], globals: &[(String, Vec<u8>)]) -> Result<Parsed, Error> {
    let obj = oxbpf_object::Object::parse(elf).map_err(obj_err)?;
    let mut maps: Vec<MapImage> = Vec::with_capacity(obj.maps.len());
    let mut slots = Vec::new();
    for (index, m) in obj.maps.iter().enumerate() {
        let init = match &m.init {
            MapInit::None => None,
            MapInit::Data(bytes) => Some(bytes.clone()),
            MapInit::Maps(s) => {
                let slots_of = s.iter().map(|s| (s.index, s.map)).collect();
                slots.push(InitSlots::Maps {
                    map: index,
                    slots: slots_of,
                });
                None
            }
            MapInit::Programs(s) => {
                let slots_of = s.iter().map(|s| (s.index, s.program.clone())).collect();
                slots.push(InitSlots::Programs {
                    map: index,
                    slots: slots_of,
                });
                None
            }
        };
        let mut spec = MapSpec::new(m.kind, m.key_size, m.value_size, m.max_entries)
            .with_flags(m.map_flags)
            .with_name(m.name.clone());
        if let Some(inner) = &m.inner {
            spec = spec.with_inner(
                MapSpec::new(
                    inner.kind,
                    inner.key_size,
                    inner.value_size,
                    inner.max_entries,
                )
                .with_flags(inner.map_flags)
                .with_name(inner.name.clone()),
            );
        }
        maps.push(MapImage {
            spec,
            init,
            readonly: m.frozen,
        });
    }
    for (name, bytes) in globals {
        let (index, var) = obj
            .maps
            .iter()
            .enumerate()
            .find_map(|(i, m)| m.globals.iter().find(|g| &g.name == name).map(|g| (i, g)))
            .ok_or_else(|| obj_err(format!("no global variable named {name}")))?;
        if bytes.len() != var.size as usize {
            return Err(obj_err(format!(
                "global {name} is {} bytes, {} given",
                var.size,
                bytes.len()
            )));
        }
        let image = &mut maps[index];
        let init = image.init.get_or_insert_with(Vec::new);
        let end = (var.offset + var.size) as usize;
        if init.len() < end {
            init.resize(end, 0);
        }
        init[var.offset as usize..end].copy_from_slice(bytes);
    }
    let mut programs = Vec::with_capacity(obj.programs.len());
    for p in &obj.programs {
        let relocs = p
            .relocs
            .iter()
            .filter_map(|r| match r.kind {
                RelocKind::Map { map } => Some(MapReloc::Map { insn: r.insn, map }),
                RelocKind::MapValue { map, offset } => Some(MapReloc::Value {
                    insn: r.insn,
                    map,
                    offset,
                }),
                RelocKind::Call { .. } | RelocKind::FuncAddr { .. } => None,
            })
            .collect();
        programs.push(ProgramImage {
            name: p.name.clone(),
            section: p.section.clone(),
            insns: p.insns.clone(),
            relocs,
            functions: p
                .functions
                .iter()
                .map(|f| (f.name.clone(), f.start))
                .collect(),
        });
    }
    Ok(Parsed {
        image: ObjectImage { programs, maps },
        slots,
    })
}
