//! ELF object → [`ObjectImage`], through `aya-obj`.
//!
//! A stopgap until `crates/object` (oxbpf's own object model) lands: aya-obj
//! parses programs, BTF and legacy map definitions, global data sections
//! and relocations, and links bpf-to-bpf calls (subprograms are appended
//! after each program's entry function). Map references are resolved with
//! each map's index (plus one) as a stand-in file descriptor, then turned
//! into [`MapReloc`]s by reading the pseudo `lddw`s back.

use aya_obj::EbpfSectionKind;
use aya_obj::ProgramSection;
use oxbpf_abi::map_kind::flags::BPF_F_RDONLY_PROG;
use oxbpf_isa::{Insn, LddwSrc, decode_bytes};
use oxbpf_maps::{MapKind, MapSpec};

use crate::Error;
use crate::link::{MapImage, MapReloc, ObjectImage, ProgramImage};

/// A parsed object, still holding aya-obj's view for global variables.
pub(crate) struct Parsed {
    pub(crate) image: ObjectImage,
}

fn obj_err(reason: impl ToString) -> Error {
    Error::Object {
        reason: reason.to_string(),
    }
}

fn section_name(s: &ProgramSection) -> String {
    match s {
        ProgramSection::Xdp { .. } => "xdp".into(),
        ProgramSection::SchedClassifier => "classifier".into(),
        ProgramSection::SocketFilter => "socket".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Parses `elf`, applying `globals` (name → bytes) to global data first.
pub(crate) fn parse(elf: &[u8], globals: &[(String, Vec<u8>)]) -> Result<Parsed, Error> {
    let mut obj = aya_obj::Object::parse(elf).map_err(obj_err)?;
    if !globals.is_empty() {
        // aya-obj's own (hashbrown) map type, inferred from the call.
        obj.patch_map_data(
            globals
                .iter()
                .map(|(n, b)| (n.as_str(), (b.as_slice(), true)))
                .collect(),
        )
        .map_err(obj_err)?;
    }
    // Stable map order: by name.
    let mut names: Vec<String> = obj.maps.keys().cloned().collect();
    names.sort();
    let mut maps = Vec::new();
    for name in &names {
        let m = &obj.maps[name];
        let kind = MapKind::from_u32(m.map_type())
            .ok_or_else(|| obj_err(format!("map {name}: map type {} is unknown", m.map_type())))?;
        let section = m.section_kind();
        let global = matches!(
            section,
            EbpfSectionKind::Data | EbpfSectionKind::Rodata | EbpfSectionKind::Bss
        );
        let readonly = section == EbpfSectionKind::Rodata;
        let mut flags = m.map_flags();
        if readonly {
            flags |= BPF_F_RDONLY_PROG;
        }
        let spec = MapSpec::new(kind, m.key_size(), m.value_size(), m.max_entries())
            .with_flags(flags)
            .with_name(name.clone());
        maps.push(MapImage {
            spec,
            init: global.then(|| m.data().to_vec()),
            readonly,
        });
    }
    let text_sections = obj.functions.keys().map(|(s, _)| *s).collect();
    {
        let fds: Vec<(&str, i32, &aya_obj::Map)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i as i32 + 1, &obj.maps[n]))
            .collect();
        // relocate_maps needs `&mut obj` while the maps are borrowed: work on
        // a clone of the map table.
        let owned: Vec<(String, i32, aya_obj::Map)> = fds
            .into_iter()
            .map(|(n, fd, m)| (n.to_string(), fd, m.clone()))
            .collect();
        obj.relocate_maps(
            owned.iter().map(|(n, fd, m)| (n.as_str(), *fd, m)),
            &text_sections,
        )
        .map_err(obj_err)?;
    }
    obj.relocate_calls(&text_sections).map_err(obj_err)?;
    let mut prog_names: Vec<&String> = obj.programs.keys().collect();
    prog_names.sort();
    let mut programs = Vec::new();
    for name in prog_names {
        let p = &obj.programs[name];
        let f = obj
            .functions
            .get(&p.function_key())
            .ok_or_else(|| obj_err(format!("program {name}: function not found")))?;
        let mut bytes = Vec::with_capacity(f.instructions.len() * 8);
        for i in &f.instructions {
            bytes.push(i.code);
            bytes.push((i.src_reg() << 4) | (i.dst_reg() & 0xf));
            bytes.extend_from_slice(&i.off.to_le_bytes());
            bytes.extend_from_slice(&i.imm.to_le_bytes());
        }
        let insns = decode_bytes(&bytes).map_err(|e| obj_err(format!("program {name}: {e}")))?;
        let relocs = map_relocs(name, &insns)?;
        programs.push(ProgramImage {
            name: name.clone(),
            section: section_name(&p.section),
            insns,
            relocs,
        });
    }
    Ok(Parsed {
        image: ObjectImage { programs, maps },
    })
}

/// Reads the stand-in descriptors back from the pseudo `lddw`s.
fn map_relocs(program: &str, insns: &[Insn]) -> Result<Vec<MapReloc>, Error> {
    let mut out = Vec::new();
    for (insn, i) in insns.iter().enumerate() {
        if let Insn::Lddw { src, imm, .. } = *i {
            let fd = imm as u32;
            let map = (fd as usize).wrapping_sub(1);
            match src {
                LddwSrc::Imm => {}
                LddwSrc::MapFd => out.push(MapReloc::Map { insn, map }),
                LddwSrc::MapValue => out.push(MapReloc::Value {
                    insn,
                    map,
                    offset: (imm >> 32) as u32,
                }),
                other => {
                    return Err(obj_err(format!(
                        "program {program}: insn {insn}: lddw source {other:?} is not supported"
                    )));
                }
            }
        }
    }
    Ok(out)
}
