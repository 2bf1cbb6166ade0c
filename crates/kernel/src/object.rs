//! Loading an [`oxbpf_object::Object`] into the kernel: create its maps,
//! fill global data, resolve map references to the new fds, load every
//! program, fill program and map-in-map arrays.
//!
//! What libbpf's `bpf_object__load` does, for what `oxbpf-object` parses:
//!
//! - maps are created in object order (the inner-map template of a
//!   map-in-map first); `.data`/`.rodata` get their initial bytes, and maps
//!   the object marks frozen (`.rodata`, created `BPF_F_RDONLY_PROG`) are
//!   frozen so the verifier treats their contents as constants;
//! - `pinning: LIBBPF_PIN_BY_NAME` maps are reused from
//!   `<pin root>/<name>` when a compatible map is pinned there, else created
//!   and pinned;
//! - `lddw` map references, which the object encodes by map index
//!   (`BPF_PSEUDO_MAP_IDX`, `BPF_PSEUDO_MAP_IDX_VALUE`), are rewritten to
//!   the fd forms (`BPF_PSEUDO_MAP_FD`, `BPF_PSEUDO_MAP_VALUE`), which every
//!   kernel with eBPF maps accepts (`fd_array` needs 5.14+);
//! - each program loads with its type, expected attach type, license and
//!   flags; a rejection carries the verifier log.
//!
//! - the object's `.BTF`, with `DATASEC` sizes and offsets fixed up
//!   ([`crate::btf_fixup`]), is loaded first; maps get their key and value
//!   types (a map type that takes no BTF, like a prog array, is created
//!   again without, as libbpf does), programs their func and line info, so
//!   global functions and callbacks (`bpf_loop`) verify and the verifier
//!   log quotes source lines.
//!
//! Not yet: CO-RE, kfuncs and tracing attach targets (which need the
//! kernel's own BTF); `oxbpf-object` refuses the first two.

use std::os::fd::{AsFd, RawFd};
use std::path::{Path, PathBuf};

use oxbpf_abi::program_type::ProgramType;
use oxbpf_isa::{Insn, LddwSrc, RawInsn};
use oxbpf_object::{MapInit, Object, Pinning};

use crate::btf::KernelBtf;
use crate::btf_fixup::{BtfFixupError, fix_datasecs};
use crate::error::KernelError;
use crate::map::{KernelMap, MapBtf, MapSpec};
use crate::pin::BPFFS;
use crate::prog::{FuncInfo, KernelProgram, LineInfo, ProgramSpec, prog_flags};

/// Why an object could not be loaded; each variant names the map or
/// program at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ObjectLoadError {
    /// Creating, filling, freezing or pinning a map failed.
    #[error("map {map:?}: {source}")]
    Map { map: String, source: KernelError },
    /// A map pinned where the object wants its map is not compatible.
    #[error(
        "map {map:?}: the map pinned at {path} has {what} {found}, the object wants {expected}"
    )]
    PinMismatch {
        map: String,
        path: PathBuf,
        what: &'static str,
        expected: u64,
        found: u64,
    },
    /// Loading a program failed (the verifier log is in `source`).
    #[error("program {program:?}: {source}")]
    Program {
        program: String,
        source: KernelError,
    },
    /// An `lddw` refers to a map index the object does not have.
    #[error("program {program:?}: insn {insn}: refers to map {map}, the object has {count} maps")]
    BadMapRef {
        program: String,
        insn: usize,
        map: u64,
        count: usize,
    },
    /// A program's section names no program type the kernel knows, and
    /// the program needs an attach target oxbpf cannot resolve yet.
    #[error("program {program:?}: section {section:?} gives no program type the kernel can load")]
    UnknownType { program: String, section: String },
    /// The object's BTF could not be fixed up for the kernel.
    #[error("{source}")]
    BtfFixup { source: BtfFixupError },
    /// The kernel refused the object's BTF (its log is in `source`); load
    /// with `LoadOptions::btf = false` to do without.
    #[error("object BTF: {source}")]
    Btf { source: KernelError },
    /// A program array slot names a program the object does not have.
    #[error("map {map:?}: slot {index} names program {target:?}, which the object does not have")]
    UnknownProgram {
        map: String,
        index: u32,
        target: String,
    },
}

/// Options of [`KernelObject::load_with`].
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Directory of `LIBBPF_PIN_BY_NAME` pins (libbpf's default:
    /// `/sys/fs/bpf`).
    pub pin_root: PathBuf,
    /// Verifier log level of program loads (0: a log only on failure).
    pub log_level: u32,
    /// Load only the programs with these names (libbpf's autoload off
    /// for the others); `None` loads every program. Maps are all created.
    pub programs: Option<Vec<String>>,
    /// Load the object's BTF and give it to maps and programs.
    pub btf: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            pin_root: PathBuf::from(BPFFS),
            log_level: 0,
            programs: None,
            btf: true,
        }
    }
}

/// An object loaded into the kernel: its maps (in object order, so a map
/// index of the object is an index here) and programs.
#[derive(Debug)]
pub struct KernelObject {
    maps: Vec<(String, KernelMap)>,
    programs: Vec<KernelProgram>,
}

impl KernelObject {
    /// Loads `object` with default options.
    pub fn load(object: &Object) -> Result<KernelObject, ObjectLoadError> {
        KernelObject::load_with(object, &LoadOptions::default())
    }

    /// Loads `object`.
    pub fn load_with(object: &Object, opts: &LoadOptions) -> Result<KernelObject, ObjectLoadError> {
        let btf = match &object.btf {
            Some(btf) if opts.btf => {
                let raw = fix_datasecs(btf, object)
                    .map_err(|source| ObjectLoadError::BtfFixup { source })?;
                Some(KernelBtf::load(&raw).map_err(|source| ObjectLoadError::Btf { source })?)
            }
            _ => None,
        };
        let mut maps = Vec::with_capacity(object.maps.len());
        for spec in &object.maps {
            let map = create_map(spec, opts, btf.as_ref())?;
            maps.push((spec.name.clone(), map));
        }
        // Map-in-map slots refer to maps of the object.
        for spec in &object.maps {
            if let MapInit::Maps(slots) = &spec.init {
                let outer = map_at(&maps, &spec.name);
                for slot in slots {
                    let inner = maps.get(slot.map).map(|(_, m)| m.raw_fd()).ok_or(
                        ObjectLoadError::BadMapRef {
                            program: spec.name.clone(),
                            insn: slot.index as usize,
                            map: slot.map as u64,
                            count: maps.len(),
                        },
                    )?;
                    fill_fd_slot(outer, &spec.name, slot.index, inner)?;
                }
            }
        }

        let fds: Vec<RawFd> = maps.iter().map(|(_, m)| m.raw_fd()).collect();
        let license = object.license.clone().unwrap_or_default();
        let mut programs = Vec::with_capacity(object.programs.len());
        let wanted = |name: &str| {
            opts.programs
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| n == name))
        };
        for p in object.programs.iter().filter(|p| wanted(&p.name)) {
            if p.program_type == ProgramType::Unspec {
                return Err(ObjectLoadError::UnknownType {
                    program: p.name.clone(),
                    section: p.section.clone(),
                });
            }
            let insns = resolve_map_refs(&p.insns, &fds).map_err(|(insn, map)| {
                ObjectLoadError::BadMapRef {
                    program: p.name.clone(),
                    insn,
                    map,
                    count: fds.len(),
                }
            })?;
            let mut flags = 0;
            if p.sleepable {
                flags |= prog_flags::SLEEPABLE;
            }
            if p.xdp_frags {
                flags |= prog_flags::XDP_HAS_FRAGS;
            }
            let (func_info, line_info) = match &btf {
                Some(_) => btf_records(p),
                None => (Vec::new(), Vec::new()),
            };
            let spec = ProgramSpec {
                name: &p.name,
                prog_type: p.program_type.id(),
                expected_attach_type: p.expected_attach_type.map_or(0, |a| a.id()),
                insns: &insns,
                license: &license,
                btf: btf
                    .as_ref()
                    .filter(|_| !func_info.is_empty())
                    .map(|b| b.as_fd()),
                func_info: &func_info,
                line_info: &line_info,
                log_level: opts.log_level,
                prog_flags: flags,
                kern_version: object.kernel_version.unwrap_or(0),
            };
            let prog = KernelProgram::load(&spec).map_err(|source| ObjectLoadError::Program {
                program: p.name.clone(),
                source,
            })?;
            programs.push(prog);
        }

        // Program arrays' initial slots, now that the programs exist.
        for spec in &object.maps {
            if let MapInit::Programs(slots) = &spec.init {
                let outer = map_at(&maps, &spec.name);
                for slot in slots {
                    if object.program(&slot.program).is_none() {
                        return Err(ObjectLoadError::UnknownProgram {
                            map: spec.name.clone(),
                            index: slot.index,
                            target: slot.program.clone(),
                        });
                    }
                    // A program left out by `LoadOptions::programs` leaves
                    // its slot empty (a tail call to it falls through).
                    if let Some(prog) = programs.iter().find(|p| p.name() == slot.program) {
                        fill_fd_slot(outer, &spec.name, slot.index, prog.raw_fd())?;
                    }
                }
            }
        }
        Ok(KernelObject { maps, programs })
    }

    /// The map named `name`.
    pub fn map(&self, name: &str) -> Option<&KernelMap> {
        self.maps.iter().find(|(n, _)| n == name).map(|(_, m)| m)
    }

    /// The maps with their object names, in object order.
    pub fn maps(&self) -> impl Iterator<Item = (&str, &KernelMap)> {
        self.maps.iter().map(|(n, m)| (n.as_str(), m))
    }

    /// The program named `name`.
    pub fn program(&self, name: &str) -> Option<&KernelProgram> {
        self.programs.iter().find(|p| p.name() == name)
    }

    /// The programs, in object order.
    pub fn programs(&self) -> &[KernelProgram] {
        &self.programs
    }
}

fn map_at<'a>(maps: &'a [(String, KernelMap)], name: &str) -> &'a KernelMap {
    // Every spec of the object was created under its own name just before.
    &maps
        .iter()
        .find(|(n, _)| n == name)
        .expect("maps are created for every spec")
        .1
}

fn fill_fd_slot(map: &KernelMap, name: &str, index: u32, fd: RawFd) -> Result<(), ObjectLoadError> {
    map.update(&index.to_ne_bytes(), &(fd as u32).to_ne_bytes(), 0)
        .map_err(|source| ObjectLoadError::Map {
            map: name.to_string(),
            source,
        })
}

fn kernel_spec(spec: &oxbpf_object::MapSpec) -> MapSpec {
    MapSpec {
        name: spec.name.clone(),
        kind: spec.kind,
        key_size: spec.key_size,
        value_size: spec.value_size,
        max_entries: spec.max_entries,
        flags: spec.map_flags,
        map_extra: spec.map_extra,
        numa_node: spec.numa_node,
    }
}

/// The func and line info of `program` for `BPF_PROG_LOAD`: one func
/// record per function, by start slot, and the line records. Empty when a
/// function has no BTF `FUNC` (the kernel wants all or none).
fn btf_records(program: &oxbpf_object::Program) -> (Vec<FuncInfo>, Vec<LineInfo>) {
    let mut funcs = Vec::with_capacity(program.functions.len());
    for f in &program.functions {
        let Some(type_id) = f.btf_func else {
            return (Vec::new(), Vec::new());
        };
        funcs.push(FuncInfo {
            insn_off: f.start as u32,
            type_id,
        });
    }
    funcs.sort_by_key(|f| f.insn_off);
    let lines = program
        .line_info
        .iter()
        .map(|l| LineInfo {
            insn_off: l.insn as u32,
            file_name_off: l.raw[0],
            line_off: l.raw[1],
            line_col: l.raw[2],
        })
        .collect();
    (funcs, lines)
}

/// Creates (or reuses, for a by-name pin) one map and fills it.
fn create_map(
    spec: &oxbpf_object::MapSpec,
    opts: &LoadOptions,
    btf: Option<&KernelBtf>,
) -> Result<KernelMap, ObjectLoadError> {
    let err = |source| ObjectLoadError::Map {
        map: spec.name.clone(),
        source,
    };
    let pin_path = (spec.pinning == Pinning::ByName).then(|| opts.pin_root.join(&spec.name));
    if let Some(path) = &pin_path
        && path.exists()
    {
        let map = KernelMap::from_pin(path).map_err(err)?;
        check_compatible(spec, &map, path)?;
        return Ok(map);
    }
    let inner = match &spec.inner {
        Some(template) => Some(KernelMap::create(&kernel_spec(template)).map_err(err)?),
        None => None,
    };
    let typed = btf.filter(|_| spec.value_type.is_some()).map(|b| MapBtf {
        btf: b.as_fd(),
        key_type_id: spec.key_type.unwrap_or(0),
        value_type_id: spec.value_type.unwrap_or(0),
    });
    let map = match KernelMap::create_with(&kernel_spec(spec), typed, inner.as_ref()) {
        Ok(map) => map,
        // Map types without BTF support (prog arrays, map-in-map...)
        // refuse types (`map_check_no_btf`: ENOTSUPP, or EINVAL on older
        // kernels): create them plain, as libbpf does.
        Err(KernelError::Syscall { errno, .. })
            if typed.is_some() && (errno.0 == libc::EINVAL || errno.0 == 524) =>
        {
            KernelMap::create_with(&kernel_spec(spec), None, inner.as_ref()).map_err(err)?
        }
        Err(e) => return Err(err(e)),
    };
    if let MapInit::Data(bytes) = &spec.init
        && !bytes.is_empty()
    {
        let mut value = bytes.clone();
        value.resize(spec.value_size as usize, 0);
        map.update(&0u32.to_ne_bytes(), &value, 0).map_err(err)?;
    }
    if spec.frozen {
        map.freeze().map_err(err)?;
    }
    if let Some(path) = &pin_path {
        map.pin(path).map_err(err)?;
    }
    Ok(map)
}

/// A reused pinned map must have the shape the object's programs expect.
fn check_compatible(
    spec: &oxbpf_object::MapSpec,
    map: &KernelMap,
    path: &Path,
) -> Result<(), ObjectLoadError> {
    let have = map.spec();
    let checks: [(&'static str, u64, u64); 5] = [
        ("type", spec.kind.id().into(), have.kind.id().into()),
        ("key size", spec.key_size.into(), have.key_size.into()),
        ("value size", spec.value_size.into(), have.value_size.into()),
        (
            "max entries",
            spec.max_entries.into(),
            have.max_entries.into(),
        ),
        ("flags", spec.map_flags.into(), have.flags.into()),
    ];
    for (what, expected, found) in checks {
        if expected != found {
            return Err(ObjectLoadError::PinMismatch {
                map: spec.name.clone(),
                path: path.to_path_buf(),
                what,
                expected,
                found,
            });
        }
    }
    Ok(())
}

/// Encodes `insns` with map references by index (`BPF_PSEUDO_MAP_IDX`,
/// `BPF_PSEUDO_MAP_IDX_VALUE`) turned into references by fd
/// (`BPF_PSEUDO_MAP_FD`, `BPF_PSEUDO_MAP_VALUE`) to `fds[index]`. The value
/// offset stays in the high half of the 64-bit immediate (the second slot's
/// `imm`), as both encodings keep it. `Err((insn, index))` for an index
/// with no fd.
pub fn resolve_map_refs(insns: &[Insn], fds: &[RawFd]) -> Result<Vec<RawInsn>, (usize, u64)> {
    let mut out = insns.to_vec();
    for (i, insn) in out.iter_mut().enumerate() {
        let Insn::Lddw { src, imm, .. } = insn else {
            continue;
        };
        let value = match *src {
            LddwSrc::MapIdx => false,
            LddwSrc::MapIdxValue => true,
            _ => continue,
        };
        let index = *imm & 0xffff_ffff;
        let fd = usize::try_from(index)
            .ok()
            .and_then(|x| fds.get(x))
            .ok_or((i, index))?;
        *src = if value {
            LddwSrc::MapValue
        } else {
            LddwSrc::MapFd
        };
        *imm = (*imm & !0xffff_ffff) | u64::from(*fd as u32);
    }
    Ok(oxbpf_isa::encode(&out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxbpf_isa::Reg;

    #[test]
    fn map_indices_become_fds_and_offsets_stay() {
        let insns = [
            Insn::Lddw {
                dst: Reg::R1,
                src: LddwSrc::MapIdx,
                imm: 1,
            },
            Insn::LddwHi,
            Insn::Lddw {
                dst: Reg::R2,
                src: LddwSrc::MapIdxValue,
                imm: 24 << 32,
            },
            Insn::LddwHi,
            Insn::Exit,
        ];
        let raw = resolve_map_refs(&insns, &[40, 41]).unwrap();
        // BPF_PSEUDO_MAP_FD (1) with map 1's fd.
        assert_eq!((raw[0].src, raw[0].imm), (1, 41));
        // BPF_PSEUDO_MAP_VALUE (2) with map 0's fd, offset 24 in the second
        // slot.
        assert_eq!((raw[2].src, raw[2].imm, raw[3].imm), (2, 40, 24));
        assert_eq!(raw[4].opcode, 0x95);
    }

    #[test]
    fn unknown_map_index_is_reported_with_its_slot() {
        let insns = [
            Insn::Exit,
            Insn::Lddw {
                dst: Reg::R1,
                src: LddwSrc::MapIdx,
                imm: 5,
            },
            Insn::LddwHi,
        ];
        assert_eq!(resolve_map_refs(&insns, &[3]), Err((1, 5)));
    }
}
