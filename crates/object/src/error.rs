//! Errors of object loading: one enum for the whole stage, each variant
//! naming the section, symbol, relocation or program it is about.

use oxbpf_isa::DecodeError;

use crate::btf::BtfError;

/// Why an ELF file is not a loadable BPF object.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The ELF structure itself is unreadable (header, section table,
    /// string or symbol tables).
    #[error("malformed ELF: {what}: {source}")]
    Elf {
        /// The structure being read.
        what: &'static str,
        /// The `object` crate's description.
        source: object::read::Error,
    },
    /// The file is ELF but not a relocatable eBPF object.
    #[error("not a BPF relocatable object: {what} is {found}, expected {expected}")]
    NotBpf {
        /// The header field (`e_machine`, `e_type`).
        what: &'static str,
        /// Its value.
        found: u32,
        /// The value a BPF `.o` has.
        expected: u32,
    },
    /// The object has no symbol table (stripped), so functions and maps
    /// cannot be named.
    #[error("no symbol table (.symtab): stripped objects cannot be loaded")]
    NoSymbolTable,
    /// The contents of a section cannot be read.
    #[error("section {section}: {source}")]
    SectionData {
        /// Section name (or `#index` when the name is unreadable).
        section: String,
        /// The `object` crate's description.
        source: object::read::Error,
    },
    /// A relocation section applies to a section that does not exist.
    #[error("relocation section {section} applies to section index {target}, which does not exist")]
    RelocTarget {
        /// The relocation section.
        section: String,
        /// Its `sh_info`.
        target: u32,
    },
    /// A symbol's name cannot be read.
    #[error("symbol {index}: {source}")]
    SymbolName {
        /// Index in `.symtab`.
        index: usize,
        /// The `object` crate's description.
        source: object::read::Error,
    },
    /// A function symbol does not describe whole instructions inside its
    /// section, or overlaps another function.
    #[error(
        "function {name} in section {section}: bytes {offset}..{end} {reason} (section size {size})"
    )]
    BadFunction {
        /// Function name.
        name: String,
        /// Section name.
        section: String,
        /// Start offset in bytes.
        offset: u64,
        /// End offset in bytes.
        end: u64,
        /// Section size in bytes.
        size: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A function in a program section is `static`: libbpf, and oxbpf,
    /// only treat global functions there as programs.
    #[error("section {section}: program {name} is static; programs must be global functions")]
    StaticProgram {
        /// Section name.
        section: String,
        /// Function name.
        name: String,
    },
    /// A relocation cannot be applied.
    #[error("relocation {index} of {section} (offset {offset:#x}, symbol {symbol}): {reason}")]
    Relocation {
        /// The section being relocated (`xdp`, `.text`, `.maps`).
        section: String,
        /// Index of the entry in the relocation section.
        index: usize,
        /// `r_offset`.
        offset: u64,
        /// Name of the symbol it refers to.
        symbol: String,
        /// Why it cannot be applied.
        reason: RelocError,
    },
    /// A map definition is invalid.
    #[error("map {map}: {reason}")]
    Map {
        /// Map name.
        map: String,
        /// What is wrong.
        reason: MapError,
    },
    /// A bpf-to-bpf call or function address cannot be linked.
    #[error("program {program}: insn {insn} of {function} (section {section}): {reason}")]
    Call {
        /// Program being linked.
        program: String,
        /// Function containing the call.
        function: String,
        /// Section of that function.
        section: String,
        /// Instruction index within that function.
        insn: usize,
        /// What is wrong.
        reason: CallError,
    },
    /// A program's linked instructions do not decode (RFC 9669 checks).
    #[error("program {program} (section {section}): {source}")]
    Decode {
        /// Program name.
        program: String,
        /// Its section.
        section: String,
        /// The decoder's error; its index is the slot in the linked program.
        source: DecodeError,
    },
    /// `.BTF` is malformed.
    #[error(".BTF: {0}")]
    Btf(#[source] BtfError),
    /// `.BTF.ext` is malformed.
    #[error(".BTF.ext: {0}")]
    BtfExt(#[source] BtfError),
    /// The `license` section is not a NUL-terminated UTF-8 string.
    #[error("section license: {reason}")]
    License {
        /// Why.
        reason: &'static str,
    },
    /// The `version` section is not a 4-byte kernel version.
    #[error("section version: size {size}, expected 4")]
    Version {
        /// Section size.
        size: u64,
    },
    /// The object uses a feature oxbpf recognises but does not implement.
    #[error("{feature} are not supported: {detail}")]
    Unsupported {
        /// Which feature.
        feature: Unsupported,
        /// Where it is used.
        detail: String,
    },
}

impl ObjectError {
    /// The unsupported feature this error reports, if it is one.
    pub fn unsupported(&self) -> Option<Unsupported> {
        match self {
            ObjectError::Unsupported { feature, .. } => Some(*feature),
            _ => None,
        }
    }
}

/// Object features that oxbpf recognises and refuses by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unsupported {
    /// CO-RE relocations (`.BTF.ext` `core_relo` records), which need
    /// kernel BTF to resolve.
    CoreRelocations,
    /// Calls to kernel functions (`extern ... __ksym` functions).
    KfuncCalls,
    /// `.kconfig` externs (`extern ... __kconfig`).
    KconfigExterns,
    /// `.ksyms` extern variables (`extern ... __ksym`).
    KsymsExterns,
    /// Nested map-in-map (an inner map that has inner maps itself).
    NestedInnerMaps,
}

impl Unsupported {
    /// The feature's name as errors print it.
    pub fn name(self) -> &'static str {
        match self {
            Unsupported::CoreRelocations => "CO-RE relocations",
            Unsupported::KfuncCalls => "kfunc calls",
            Unsupported::KconfigExterns => ".kconfig externs",
            Unsupported::KsymsExterns => ".ksyms externs",
            Unsupported::NestedInnerMaps => "multi-level inner maps",
        }
    }
}

impl core::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a relocation cannot be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RelocError {
    /// `r_offset` is not at an instruction boundary inside the section.
    #[error("offset is not an instruction inside the section (size {size})")]
    BadOffset {
        /// Section size in bytes.
        size: u64,
    },
    /// The symbol index is outside the symbol table.
    #[error("symbol index {sym} is outside the symbol table")]
    BadSymbol {
        /// `r_sym`.
        sym: u32,
    },
    /// The relocated instruction is neither `lddw` nor `call`.
    #[error("instruction opcode {opcode:#04x} is neither lddw nor call")]
    NotLddwOrCall {
        /// Opcode of the relocated instruction.
        opcode: u8,
    },
    /// A `call` relocation whose `src` is not `BPF_PSEUDO_CALL`.
    #[error("call has src {src}, expected 1 (BPF_PSEUDO_CALL)")]
    NotPseudoCall {
        /// The call's `src` field.
        src: u8,
    },
    /// The symbol is undefined and not an extern oxbpf recognises.
    #[error("symbol is undefined")]
    Undefined,
    /// The symbol lives in a section that holds neither maps, global data
    /// nor functions.
    #[error("symbol is in section {target}, which holds no map, data or function")]
    BadTarget {
        /// Its section.
        target: String,
    },
    /// A call or function address points into a section other than `.text`.
    #[error("call target is in section {target}; subprograms must be in .text")]
    CallOutsideText {
        /// Section of the target.
        target: String,
    },
    /// A map reference points at no map definition.
    #[error("no map is defined at offset {offset} of section {target}")]
    NoMapAt {
        /// Section of the symbol.
        target: String,
        /// Offset of the reference in that section.
        offset: i64,
    },
    /// A global data reference lies outside its section.
    #[error("data offset {offset} is outside section {target} (size {size})")]
    DataOutOfRange {
        /// The data section.
        target: String,
        /// Offset of the reference.
        offset: i64,
        /// Section size.
        size: u64,
    },
    /// A `.maps` relocation (initial slot of a map-in-map or prog array)
    /// is not inside a `values` array.
    #[error("not inside the values array of a map-in-map or prog-array definition")]
    NotInValues,
    /// A `.maps` slot refers to something of the wrong kind.
    #[error("slot {slot} must refer to {expected}")]
    BadSlot {
        /// Slot index in the `values` array.
        slot: u64,
        /// What it should refer to.
        expected: &'static str,
    },
}

/// Why a map definition is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// The `.maps` section needs BTF to be understood.
    #[error("BTF-defined maps need a .BTF section")]
    NoBtf,
    /// No `VAR` of the `.maps` `DATASEC` names this symbol.
    #[error("no BTF variable describes it in the .maps DATASEC")]
    NoBtfVar,
    /// The definition is not a struct.
    #[error("BTF type {type_id} of the definition is a {kind}, expected a struct")]
    NotStruct {
        /// Its BTF type.
        type_id: u32,
        /// Its kind.
        kind: &'static str,
    },
    /// A member is not of the shape `__uint`/`__type`/`__array` produce.
    #[error("field {field}: {reason}")]
    BadField {
        /// Member name.
        field: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A member oxbpf does not know (libbpf in strict mode refuses these).
    #[error("unknown field {field}")]
    UnknownField {
        /// Member name.
        field: String,
    },
    /// Two ways of giving a size disagree (`key_size` and `key`).
    #[error("conflicting {what}: {first} and {second}")]
    Conflict {
        /// Which size.
        what: &'static str,
        /// The first value.
        first: u64,
        /// The second value.
        second: u64,
    },
    /// The map type is missing (0) or unknown to oxbpf.
    #[error("map type {map_type} is not a known BPF map type")]
    UnknownType {
        /// The number found.
        map_type: u32,
    },
    /// `pinning` is neither `LIBBPF_PIN_NONE` nor `LIBBPF_PIN_BY_NAME`.
    #[error("pinning {value} is not 0 (none) or 1 (by name)")]
    BadPinning {
        /// The value found.
        value: u32,
    },
    /// A `values` initialiser on a map type that takes none.
    #[error("initial values are only allowed for map-in-map and prog-array maps")]
    ValuesNotAllowed,
    /// The `values` member is not last.
    #[error("values must be the last field")]
    ValuesNotLast,
    /// A legacy `maps` definition is too short or has non-zero extra bytes.
    #[error("legacy definition of {size} bytes at offset {offset}: {reason}")]
    BadLegacyDef {
        /// Definition size (section size / number of map symbols).
        size: u64,
        /// Offset in `maps`.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// The definition does not lie inside its section.
    #[error("definition at {offset}..{end} is outside its section (size {size})")]
    OutOfSection {
        /// Start.
        offset: u64,
        /// End.
        end: u64,
        /// Section size.
        size: u64,
    },
    /// A size does not fit the kernel's 32-bit fields.
    #[error("{what} {value} does not fit in 32 bits")]
    TooLarge {
        /// Which size.
        what: &'static str,
        /// The value.
        value: u64,
    },
    /// A BTF lookup needed by the definition failed.
    #[error("{0}")]
    Btf(#[source] BtfError),
    /// An initial slot index is not below `max_entries`.
    #[error("initial slot {slot} is not below max_entries {max_entries}")]
    SlotOutOfRange {
        /// The slot.
        slot: u64,
        /// The map's capacity.
        max_entries: u32,
    },
    /// Two maps share a name.
    #[error("defined twice")]
    Duplicate,
}

/// Why a call or function address cannot be linked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The target is not the first instruction of a `.text` function.
    #[error("target instruction {target} of section {section} is not the start of a function")]
    NotFunctionStart {
        /// Target section.
        section: String,
        /// Target instruction index within that section.
        target: i64,
    },
    /// A call without relocation inside a program section: libbpf only
    /// links subprograms from `.text`.
    #[error("local call to instruction {target} outside .text")]
    LocalCallOutsideText {
        /// Target instruction index within the section.
        target: i64,
    },
    /// The byte offset of a function address is not a whole instruction.
    #[error("function address offset {offset} is not a multiple of 8")]
    Unaligned {
        /// The byte offset.
        offset: i64,
    },
    /// The linked program would exceed the 32-bit offsets calls can hold.
    #[error("linked program too large for call offsets")]
    TooLarge,
}
