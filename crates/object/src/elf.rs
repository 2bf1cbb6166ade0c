//! The ELF layer: sections, symbols and relocations of a BPF `.o`, read
//! with the `object` crate's low-level ELF API (which checks every offset
//! and size against the file) and copied into plain structs so that the
//! rest of the crate works with indices and slices only.

use object::LittleEndian;
use object::elf;
use object::read::elf::{FileHeader, Rel as _, SectionHeader as _, Sym as _};

use crate::error::ObjectError;

type Header = elf::FileHeader64<LittleEndian>;

/// `EM_BPF`.
pub(crate) const EM_BPF: u16 = 247;

/// One section.
#[derive(Debug)]
pub(crate) struct Section<'a> {
    pub name: String,
    pub sh_type: u32,
    pub flags: u64,
    /// `sh_size` (for `SHT_NOBITS` there are no bytes in the file).
    pub size: u64,
    /// The bytes (empty for `SHT_NOBITS`).
    pub data: &'a [u8],
}

impl Section<'_> {
    pub(crate) fn is_exec(&self) -> bool {
        self.sh_type == elf::SHT_PROGBITS && self.flags & u64::from(elf::SHF_EXECINSTR) != 0
    }
}

/// One symbol.
#[derive(Clone, Debug)]
pub(crate) struct Symbol {
    pub name: String,
    pub st_type: u8,
    pub bind: u8,
    pub shndx: u16,
    pub value: u64,
    pub size: u64,
}

impl Symbol {
    pub(crate) fn is_func(&self) -> bool {
        self.st_type == elf::STT_FUNC
    }

    pub(crate) fn is_section(&self) -> bool {
        self.st_type == elf::STT_SECTION
    }

    /// An undefined global/weak symbol without type: what clang emits for
    /// `extern` declarations (libbpf's `sym_is_extern`).
    pub(crate) fn is_extern(&self) -> bool {
        self.shndx == elf::SHN_UNDEF
            && (self.bind == elf::STB_GLOBAL || self.bind == elf::STB_WEAK)
            && self.st_type == elf::STT_NOTYPE
    }

    /// The index of a regular section the symbol is defined in.
    pub(crate) fn section(&self) -> Option<usize> {
        (self.shndx != elf::SHN_UNDEF && self.shndx < elf::SHN_LORESERVE)
            .then_some(self.shndx as usize)
    }
}

/// One `Elf64_Rel` entry (BPF objects use REL, not RELA: the addend is
/// in the relocated instruction's `imm`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rel {
    pub offset: u64,
    pub sym: u32,
}

/// An ELF BPF object, read.
#[derive(Debug)]
pub(crate) struct Elf<'a> {
    pub sections: Vec<Section<'a>>,
    pub symbols: Vec<Symbol>,
    /// Relocations by the index of the section they apply to.
    pub relocs: Vec<Vec<Rel>>,
}

fn elf_err(what: &'static str) -> impl Fn(object::read::Error) -> ObjectError {
    move |source| ObjectError::Elf { what, source }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl<'a> Elf<'a> {
    pub(crate) fn parse(data: &'a [u8]) -> Result<Elf<'a>, ObjectError> {
        let header = Header::parse(data).map_err(elf_err("file header"))?;
        let endian = header.endian().map_err(elf_err("file header"))?;
        let machine = header.e_machine(endian);
        if machine != EM_BPF {
            return Err(ObjectError::NotBpf {
                what: "e_machine",
                found: machine.into(),
                expected: EM_BPF.into(),
            });
        }
        let e_type = header.e_type(endian);
        if e_type != elf::ET_REL {
            return Err(ObjectError::NotBpf {
                what: "e_type",
                found: e_type.into(),
                expected: elf::ET_REL.into(),
            });
        }
        let table = header
            .sections(endian, data)
            .map_err(elf_err("section headers"))?;
        let mut sections = Vec::with_capacity(table.len());
        for (index, sh) in table.enumerate() {
            let name = match table.section_name(endian, sh) {
                Ok(n) => lossy(n),
                Err(_) => format!("#{}", index.0),
            };
            let sh_type = sh.sh_type(endian);
            let data = if sh_type == elf::SHT_NOBITS {
                &[][..]
            } else {
                sh.data(endian, data)
                    .map_err(|source| ObjectError::SectionData {
                        section: name.clone(),
                        source,
                    })?
            };
            sections.push(Section {
                name,
                sh_type,
                flags: sh.sh_flags(endian),
                size: sh.sh_size(endian),
                data,
            });
        }
        let symtab = table
            .symbols(endian, data, elf::SHT_SYMTAB)
            .map_err(elf_err("symbol table"))?;
        if symtab.is_empty() {
            return Err(ObjectError::NoSymbolTable);
        }
        let mut symbols = Vec::with_capacity(symtab.len());
        for (index, sym) in symtab.enumerate() {
            let name =
                sym.name(endian, symtab.strings())
                    .map_err(|source| ObjectError::SymbolName {
                        index: index.0,
                        source,
                    })?;
            symbols.push(Symbol {
                name: lossy(name),
                st_type: sym.st_type(),
                bind: sym.st_bind(),
                shndx: sym.st_shndx(endian),
                value: sym.st_value(endian),
                size: sym.st_size(endian),
            });
        }
        let mut relocs = vec![Vec::new(); sections.len()];
        for (index, sh) in table.enumerate() {
            let Some((rels, _link)) =
                sh.rel(endian, data)
                    .map_err(|source| ObjectError::SectionData {
                        section: sections[index.0].name.clone(),
                        source,
                    })?
            else {
                continue;
            };
            let target = sh.sh_info(endian) as usize;
            let Some(list) = relocs.get_mut(target) else {
                return Err(ObjectError::RelocTarget {
                    section: sections[index.0].name.clone(),
                    target: target as u32,
                });
            };
            for r in rels {
                list.push(Rel {
                    offset: r.r_offset(endian),
                    sym: r.r_sym(endian),
                });
            }
        }
        Ok(Elf {
            sections,
            symbols,
            relocs,
        })
    }

    /// The index of the section named `name`.
    pub(crate) fn section_index(&self, name: &str) -> Option<usize> {
        self.sections.iter().position(|s| s.name == name)
    }

    /// The name of section `index`, or `#index` if there is none.
    pub(crate) fn section_name(&self, index: usize) -> String {
        self.sections
            .get(index)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| format!("#{index}"))
    }
}
