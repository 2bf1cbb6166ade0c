//! ELF object loading for oxbpf.
//!
//! [`Object::parse`] reads an eBPF object file as `clang -O2 -g -target bpf`
//! produces it and returns pure data: [`Program`]s ready for verification,
//! [`MapSpec`]s ready to create, BTF and line info. Nothing here touches
//! the kernel or allocates maps; a loader (the `oxbpf` facade, the kernel
//! backend) turns the data into running things.
//!
//! ```no_run
//! let bytes = std::fs::read("prog.o").unwrap();
//! let obj = oxbpf_object::Object::parse(&bytes).unwrap();
//! for p in &obj.programs {
//!     println!("{} ({}): {} insns", p.name, p.program_type, p.insns.len());
//! }
//! for (i, m) in obj.maps.iter().enumerate() {
//!     println!("map {i}: {} {} {}/{} x{}", m.name, m.kind, m.key_size, m.value_size, m.max_entries);
//! }
//! ```
//!
//! # What an object contains
//!
//! - **Programs**: every global function of an executable section other
//!   than `.text` is a program; its section name selects the program type
//!   through [`oxbpf_abi::program_type::section_def`] (libbpf's table). A
//!   section may hold several programs.
//! - **Maps**: BTF-defined maps in `.maps` (type, key/value sizes from the
//!   `key`/`value` types or `key_size`/`value_size`, `max_entries`,
//!   `map_flags`, `numa_node`, `map_extra`, `pinning`, the inner map of a
//!   map-in-map and initial `values` of map-in-map and prog arrays), legacy
//!   `struct bpf_map_def` definitions in `maps`, and one single-entry array
//!   per global data section (`.data`, `.rodata`, `.bss`, and their `.*`
//!   variants). [`Object::maps`] lists BTF maps in definition order, then
//!   legacy maps, then data sections in section order.
//! - `license` and `version`, and [`btf::Btf`] when the object has `.BTF`.
//!
//! # Design decisions
//!
//! **Map references are indices.** A program never contains file
//! descriptors or addresses; it refers to maps by their index in
//! [`Object::maps`], using the kernel's own encoding for that
//! (`BPF_PSEUDO_MAP_IDX` / `BPF_PSEUDO_MAP_IDX_VALUE`, which
//! `bpf(BPF_PROG_LOAD)` resolves through `fd_array`):
//!
//! - `r1 = &map` becomes
//!   `Insn::Lddw { src: LddwSrc::MapIdx, imm: map_index }`;
//! - a global variable `&var` (and any address inside a data section)
//!   becomes `Insn::Lddw { src: LddwSrc::MapIdxValue, imm: map_index |
//!   (offset << 32) }`: the low half is the data map's index, the high half
//!   the byte offset inside its value (the second `lddw` slot's `imm`, as
//!   the kernel reads it).
//!
//! Every such instruction is also listed in [`Program::relocs`]
//! ([`RelocKind::Map`], [`RelocKind::MapValue`]), so a loader can patch in
//! handles or addresses without decoding `imm`, and a kernel loader can
//! submit the instructions unchanged with an `fd_array` in map-index order.
//!
//! **Subprograms are linked per program, as libbpf does.** A program's
//! [`Program::insns`] start with its entry function, followed by each
//! `.text` function it reaches through `call` (or a function address for
//! callbacks, `BPF_PSEUDO_FUNC`), appended on first use in depth-first
//! order, with call offsets rewritten to the appended copies.
//! [`Program::functions`] records every function's slot range (entry
//! first), and [`RelocKind::Call`] entries name the callee of every local
//! call, so a verifier or JIT knows the function boundaries without
//! re-deriving them.
//!
//! **BTF is read, not rewritten.** BTF is parsed for map definitions, key
//! and value type ids ([`MapSpec::key_type`], [`MapSpec::value_type`];
//! print them with [`btf::Btf::type_name`]) and the strings of line info.
//! [`btf::Btf::raw`] keeps the section as clang wrote it (`DATASEC` sizes
//! and offsets still zero, as libbpf would fix them up before
//! `BPF_BTF_LOAD`). `.BTF.ext` line info becomes [`Program::line_info`],
//! renumbered to the linked program's slots; [`Program::line_at`] maps an
//! instruction to `file:line:col` and the source text.
//!
//! **Global data maps are plain arrays.** A data section becomes an
//! `array` map with one `u32`-keyed entry whose value is the section
//! ([`MapInit::Data`] holds the initial bytes; `.bss` gives none, meaning
//! zeros). `.rodata` maps carry `BPF_F_RDONLY_PROG` and
//! [`MapSpec::frozen`]; no map carries `BPF_F_MMAPABLE`, which a kernel
//! loader may add. [`MapSpec::globals`] names the variables inside with
//! their offsets and BTF types, so a loader can set a `const volatile`
//! before creating the map.
//!
//! # Using an object
//!
//! A loader creates [`Object::maps`] in index order (a map-in-map's
//! [`MapSpec::inner`] is the template for its inner maps), writes
//! [`MapInit::Data`] at key 0 and freezes maps marked [`MapSpec::frozen`],
//! and fills [`MapInit::Maps`] / [`MapInit::Programs`] slots once the maps
//! and programs they name exist. It then takes a [`Program`]'s
//! [`Program::insns`] and, for each entry of [`Program::relocs`], replaces
//! the `lddw` at [`Reloc::insn`] by the map's handle ([`RelocKind::Map`])
//! or the address of its value plus the offset ([`RelocKind::MapValue`]).
//! Error messages point at source lines through [`Program::line_at`].
//!
//! **Unsupported means an error that says so.** CO-RE relocations, kfunc
//! calls, `.kconfig` and `.ksyms` externs are refused with
//! [`ObjectError::Unsupported`] naming the feature ([`Unsupported`]) and
//! where it is used. Malformed input never panics: every offset, size,
//! count and index read from the file is checked, and the error names the
//! section, symbol, relocation or map at fault.

pub mod btf;
mod btf_ext;
mod elf;
mod error;
mod maps;
mod program;

pub use btf::Btf;
pub use error::{CallError, MapError, ObjectError, RelocError, Unsupported};
pub use maps::{DataKind, GlobalVar, MapInit, MapSlot, MapSource, MapSpec, Pinning, ProgramSlot};
pub use program::{Function, LineInfo, Program, Reloc, RelocKind};

use btf_ext::BtfExt;

/// A parsed object file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// Programs, in section order and, within a section, by offset.
    pub programs: Vec<Program>,
    /// Maps; programs refer to them by index.
    pub maps: Vec<MapSpec>,
    /// The `license` section's string (`"GPL"`), if present.
    pub license: Option<String>,
    /// The `version` section's kernel version, if present.
    pub kernel_version: Option<u32>,
    /// `.BTF`, if present.
    pub btf: Option<Btf>,
}

impl Object {
    /// Parses an ELF object.
    pub fn parse(data: &[u8]) -> Result<Object, ObjectError> {
        let elf = elf::Elf::parse(data)?;
        let btf = match elf.section_index(".BTF") {
            Some(i) => Some(Btf::parse(elf.sections[i].data).map_err(ObjectError::Btf)?),
            None => None,
        };
        let ext = match (elf.section_index(".BTF.ext"), &btf) {
            (Some(i), Some(btf)) => Some(
                BtfExt::parse(elf.sections[i].data, btf_strings(btf))
                    .map_err(ObjectError::BtfExt)?,
            ),
            _ => None,
        };
        if let Some(ext) = &ext {
            reject_core(ext)?;
        }
        let license = license(&elf)?;
        let kernel_version = version(&elf)?;
        let maps = maps::collect(&elf, btf.as_ref())?;
        let programs = program::collect(&elf, &maps, btf.as_ref(), ext.as_ref())?;
        Ok(Object {
            programs,
            maps: maps.specs,
            license,
            kernel_version,
            btf,
        })
    }

    /// The program named `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The map named `name`.
    pub fn map(&self, name: &str) -> Option<&MapSpec> {
        self.maps.iter().find(|m| m.name == name)
    }

    /// The index of the map named `name` (what `lddw` references hold).
    pub fn map_index(&self, name: &str) -> Option<usize> {
        self.maps.iter().position(|m| m.name == name)
    }
}

/// The string section of parsed BTF, for `.BTF.ext` names.
fn btf_strings(btf: &Btf) -> &[u8] {
    btf.strings()
}

fn reject_core(ext: &BtfExt) -> Result<(), ObjectError> {
    let Some(table) = ext.core_relo.iter().find(|t| !t.records.is_empty()) else {
        return Ok(());
    };
    let total: usize = ext.core_relo.iter().map(|t| t.records.len()).sum();
    Err(ObjectError::Unsupported {
        feature: Unsupported::CoreRelocations,
        detail: format!(
            "{total} in .BTF.ext, the first at insn {} of section {}",
            table.records[0].insn_off / 8,
            table.section
        ),
    })
}

fn license(elf: &elf::Elf<'_>) -> Result<Option<String>, ObjectError> {
    let Some(i) = elf.section_index("license") else {
        return Ok(None);
    };
    let data = elf.sections[i].data;
    let end = data
        .iter()
        .position(|&b| b == 0)
        .ok_or(ObjectError::License {
            reason: "no terminating NUL",
        })?;
    let s = std::str::from_utf8(&data[..end]).map_err(|_| ObjectError::License {
        reason: "not UTF-8",
    })?;
    Ok(Some(s.to_string()))
}

fn version(elf: &elf::Elf<'_>) -> Result<Option<u32>, ObjectError> {
    let Some(i) = elf.section_index("version") else {
        return Ok(None);
    };
    let data = elf.sections[i].data;
    let b: [u8; 4] = data.try_into().map_err(|_| ObjectError::Version {
        size: data.len() as u64,
    })?;
    Ok(Some(u32::from_le_bytes(b)))
}
