//! Linking an object's program into a runnable [`Program`]: maps created,
//! `lddw` map references resolved to host addresses, context accesses
//! rewritten.
//!
//! The object parser hands over [`ObjectImage`], a neutral description
//! (programs with their instructions and map relocations, map specs with
//! initial bytes), so linking does not depend on how the ELF was read.

use std::sync::Arc;

use oxbpf_abi::context::{CtxLayout, SK_BUFF_SOCKET, SK_BUFF_TC, XDP_MD};
use oxbpf_isa::{Insn, LddwSrc, Reg};
use oxbpf_maps::{MapHandle, MapOptions, MapSpec, create, update::BPF_ANY};
use oxbpf_runtime::context::rewrite_ctx_accesses;
use oxbpf_runtime::helpers::kernel;
use oxbpf_runtime::maps::LinkedMaps;
use oxbpf_runtime::{HelperTable, Program, Region, RegionKind};

use crate::Error;

/// The program types oxbpf can run, named as the kernel's
/// `enum bpf_prog_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProgramKind {
    /// `BPF_PROG_TYPE_XDP` (section `xdp`).
    Xdp,
    /// `BPF_PROG_TYPE_SCHED_CLS` (sections `tc`, `classifier`).
    SchedCls,
    /// `BPF_PROG_TYPE_SOCKET_FILTER` (section `socket`).
    SocketFilter,
    /// Any other type, by its section name.
    Other,
}

impl ProgramKind {
    /// The kind for an ELF section name, as libbpf's section table maps it.
    pub fn from_section(section: &str) -> ProgramKind {
        let head = section.split('/').next().unwrap_or(section);
        match head {
            "xdp" | "xdp.frags" => ProgramKind::Xdp,
            "tc" | "classifier" | "tcx" => ProgramKind::SchedCls,
            "socket" => ProgramKind::SocketFilter,
            _ => ProgramKind::Other,
        }
    }

    /// The context layout its programs see.
    pub fn layout(self) -> Option<&'static CtxLayout> {
        match self {
            ProgramKind::Xdp => Some(&XDP_MD),
            ProgramKind::SchedCls => Some(&SK_BUFF_TC),
            ProgramKind::SocketFilter => Some(&SK_BUFF_SOCKET),
            ProgramKind::Other => None,
        }
    }
}

/// A map reference to resolve in a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapReloc {
    /// `lddw` at `insn` loads map `map` (for helpers).
    Map { insn: usize, map: usize },
    /// `lddw` at `insn` loads the address of map `map`'s single value plus
    /// `offset` (global data).
    Value {
        insn: usize,
        map: usize,
        offset: u32,
    },
}

/// A program as the object describes it.
#[derive(Clone, Debug)]
pub struct ProgramImage {
    /// Function name.
    pub name: String,
    /// ELF section.
    pub section: String,
    /// Instructions, entry function first, subprograms after; local calls
    /// already point at their targets.
    pub insns: Vec<Insn>,
    /// Map references.
    pub relocs: Vec<MapReloc>,
    /// Function boundaries: each function's name and first slot, entry
    /// first (empty when unknown). Kept for diagnostics and later stages.
    pub functions: Vec<(String, usize)>,
}

/// A map as the object describes it.
#[derive(Clone, Debug)]
pub struct MapImage {
    /// Attributes.
    pub spec: MapSpec,
    /// Initial bytes of value 0 (global data sections).
    pub init: Option<Vec<u8>>,
    /// Read-only to programs (`.rodata`): frozen after initialisation.
    pub readonly: bool,
}

/// A parsed object, ready to link.
#[derive(Clone, Debug, Default)]
pub struct ObjectImage {
    pub programs: Vec<ProgramImage>,
    pub maps: Vec<MapImage>,
}

/// Creates the object's maps, filling global data.
pub(crate) fn create_maps(maps: &[MapImage], opts: &MapOptions) -> Result<LinkedMaps, Error> {
    let mut linked = LinkedMaps::new();
    for m in maps {
        let err = |source| Error::Map {
            map: m.spec.name.clone(),
            source,
        };
        let map: MapHandle = create(&m.spec, opts).map_err(err)?;
        if let Some(init) = &m.init {
            let mut value = init.clone();
            value.resize(m.spec.value_size as usize, 0);
            map.update(&0u32.to_ne_bytes(), &value, BPF_ANY)
                .map_err(err)?;
        }
        if m.readonly {
            map.freeze();
        }
        linked.push(m.spec.name.clone(), map);
    }
    Ok(linked)
}

/// Regions for the maps' direct values (global data), which checked mode
/// must allow for the whole run.
pub(crate) fn direct_regions(maps: &LinkedMaps) -> Vec<Region> {
    maps.iter()
        .filter_map(|s| s.map.direct_value())
        .map(|v| Region {
            start: v.addr(),
            len: v.len() as u64,
            writable: v.writable(),
            kind: if v.writable() {
                RegionKind::MapValue
            } else {
                RegionKind::ReadOnlyData
            },
        })
        .collect()
}

/// Links one program against the created maps. `verified` is `None` for
/// checked mode, else whether the verifier found a path that may read
/// uninitialised stack.
pub(crate) fn link_program(
    image: &ProgramImage,
    maps: &LinkedMaps,
    helpers: &Arc<HelperTable>,
    verified: Option<bool>,
) -> Result<Program, Error> {
    let program = image.name.clone();
    let mut insns = image.insns.clone();
    for r in &image.relocs {
        let (index, map, offset) = match *r {
            MapReloc::Map { insn, map } => (insn, map, None),
            MapReloc::Value { insn, map, offset } => (insn, map, Some(offset)),
        };
        let slot = maps.at(map).ok_or_else(|| Error::UnknownMap {
            program: program.clone(),
            index,
            map,
        })?;
        let addr = match offset {
            None => maps.handle(map).unwrap_or_default(),
            Some(off) => {
                let v = slot
                    .map
                    .direct_value()
                    .ok_or_else(|| Error::NoDirectValue {
                        program: program.clone(),
                        index,
                        map: slot.name.clone(),
                    })?;
                v.addr() + u64::from(off)
            }
        };
        match insns.get_mut(index) {
            Some(Insn::Lddw { src, imm, .. }) => {
                *src = LddwSrc::Imm;
                *imm = addr;
            }
            _ => {
                return Err(Error::RelocNotLddw {
                    program: program.clone(),
                    index,
                });
            }
        }
    }
    // Program types without a context layout here (kprobes and friends)
    // still link, so an object mixing them with XDP programs loads; running
    // them is refused by the runner.
    if let Some(layout) = ProgramKind::from_section(&image.section).layout() {
        rewrite_ctx_accesses(&mut insns, layout).map_err(|source| Error::Context {
            program: program.clone(),
            source,
        })?;
    }
    // bpf_loop becomes a local call to an appended loop (see
    // oxbpf_runtime::loop_inline), as the kernel's verifier inlines it.
    oxbpf_runtime::loop_inline::inline_bpf_loop(&mut insns);
    let checked = Program::checked(insns, helpers.clone(), &[Reg::R1])
        .map_err(|source| Error::Load { program, source })?;
    let Some(reads_uninit_stack) = verified else {
        return Ok(checked);
    };
    // The verifier proved the object's program safe (`Loader::load`); the
    // links above only turn map references into addresses and context
    // offsets into runtime ones, which preserves what it proved (the
    // appended bpf_loop code writes no stack).
    Ok(Program::new_unchecked(
        checked.insns().to_vec(),
        helpers.clone(),
        oxbpf_runtime::SafetyMode::Verified,
    )
    .with_zeroed_stack(reads_uninit_stack))
}

/// The kernel helper table, shared by every program.
pub(crate) fn kernel_helpers() -> Arc<HelperTable> {
    Arc::new(kernel::table())
}
