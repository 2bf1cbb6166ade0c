//! Programs: every global function of a program section, linked with the
//! `.text` functions it calls, with map and global data references
//! resolved to map indices, and line info carried over.
//!
//! Linking follows libbpf (`bpf_object__reloc_code`): the entry function
//! comes first, and each `.text` function is appended the first time a
//! call (or a function address, `BPF_PSEUDO_FUNC`) refers to it, then
//! scanned for its own calls before the caller continues (depth first). A
//! function appears once per program however often it is called; two
//! programs that share a function each get their own copy, so the same
//! function may sit at different slots in different programs. Call
//! offsets are rewritten to the appended copy.

use std::collections::HashMap;

use object::elf;
use oxbpf_abi::program_type::{AttachType, ProgramType, section_def};
use oxbpf_isa::{Insn, RawInsn};

use crate::btf::{Btf, BtfKind};
use crate::btf_ext::BtfExt;
use crate::elf::{Elf, Rel, Symbol};
use crate::error::{CallError, ObjectError, RelocError, Unsupported};
use crate::maps::Maps;

/// `BPF_PSEUDO_CALL`: `call` to a program-local function.
const PSEUDO_CALL: u8 = 1;
/// `lddw` pseudo sources this crate writes (`BPF_PSEUDO_*` of `linux/bpf.h`).
const PSEUDO_FUNC: u8 = 4;
const PSEUDO_MAP_IDX: u8 = 5;
const PSEUDO_MAP_IDX_VALUE: u8 = 6;
/// Opcodes of `lddw` and `call`.
const OP_LDDW: u8 = 0x18;
const OP_CALL: u8 = 0x85;

/// One function inside a linked program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// Symbol name.
    pub name: String,
    /// ELF section it came from (the program's section for the entry
    /// function, `.text` for subprograms).
    pub section: String,
    /// First slot in [`Program::insns`].
    pub start: usize,
    /// Number of slots.
    pub len: usize,
    /// Its first instruction's index within the ELF section.
    pub section_insn: usize,
    /// The BTF `FUNC` type describing it (from `.BTF.ext` func info).
    pub btf_func: Option<u32>,
}

/// What a relocated instruction refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelocKind {
    /// `lddw` of a map: the instruction is
    /// `Insn::Lddw { src: LddwSrc::MapIdx, imm: map }`.
    Map {
        /// Index into [`crate::Object::maps`].
        map: usize,
    },
    /// `lddw` of an address inside a global data map's value: the
    /// instruction is `Insn::Lddw { src: LddwSrc::MapIdxValue, imm: map |
    /// (offset << 32) }`.
    MapValue {
        /// Index into [`crate::Object::maps`].
        map: usize,
        /// Byte offset inside the map's value.
        offset: u32,
    },
    /// `call` of a function of this program: `Insn::Call(CallTarget::Local(off))`
    /// with `insn + 1 + off` the function's first slot.
    Call {
        /// Index into [`Program::functions`].
        function: usize,
    },
    /// `lddw` of a function's address (callbacks such as `bpf_loop`'s):
    /// `Insn::Lddw { src: LddwSrc::Func, imm: off }`, relative like a call.
    FuncAddr {
        /// Index into [`Program::functions`].
        function: usize,
    },
}

/// A relocation applied to a program.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reloc {
    /// Slot of the relocated instruction in [`Program::insns`].
    pub insn: usize,
    /// The symbol it referred to (`.rodata` for section-relative data).
    pub symbol: String,
    /// What it refers to now.
    pub kind: RelocKind,
}

/// The source position of an instruction (`.BTF.ext` line info).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineInfo {
    /// First slot the record applies to; it covers the slots up to the
    /// next record of the same function.
    pub insn: usize,
    /// Source file as clang recorded it.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub column: u32,
    /// The text of the source line.
    pub text: String,
    /// BTF string offsets and packed line/column, as the kernel's
    /// `struct bpf_line_info` wants them (`file_name_off`, `line_off`,
    /// `line_col`).
    pub raw: [u32; 3],
}

/// A program: one entry function and the subprograms it uses, ready for
/// verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The entry function's name.
    pub name: String,
    /// The ELF section (`xdp`, `kprobe/do_unlinkat`).
    pub section: String,
    /// Program type selected by the section name;
    /// [`ProgramType::Unspec`] when the name matches no known section.
    pub program_type: ProgramType,
    /// `expected_attach_type` for loading, when the section implies one.
    pub expected_attach_type: Option<AttachType>,
    /// What the section name says to attach to (`do_unlinkat`).
    pub attach_target: Option<String>,
    /// Sleepable section (`fentry.s/...`).
    pub sleepable: bool,
    /// Multi-buffer XDP (`xdp.frags`).
    pub xdp_frags: bool,
    /// Linked instructions, one per slot (see the crate docs for map
    /// references).
    pub insns: Vec<Insn>,
    /// Functions in slot order; the entry function is first.
    pub functions: Vec<Function>,
    /// Every relocation applied, by slot.
    pub relocs: Vec<Reloc>,
    /// Line info, by slot.
    pub line_info: Vec<LineInfo>,
}

impl Program {
    /// The function containing slot `insn`.
    pub fn function_at(&self, insn: usize) -> Option<&Function> {
        self.functions
            .iter()
            .find(|f| insn >= f.start && insn < f.start + f.len)
    }

    /// The source line of slot `insn`: the last line record at or before
    /// it within the same function.
    pub fn line_at(&self, insn: usize) -> Option<&LineInfo> {
        let f = self.function_at(insn)?;
        let i = self.line_info.partition_point(|l| l.insn <= insn);
        let l = self.line_info.get(i.checked_sub(1)?)?;
        (l.insn >= f.start).then_some(l)
    }

    /// The relocation applied at slot `insn`, if any.
    pub fn reloc_at(&self, insn: usize) -> Option<&Reloc> {
        self.relocs.iter().find(|r| r.insn == insn)
    }
}

/// A function symbol within an executable section.
#[derive(Clone, Debug)]
struct FuncSym {
    name: String,
    start: usize,
    len: usize,
    global: bool,
}

/// What an instruction's ELF relocation resolves to, in section terms.
#[derive(Clone, Copy, Debug)]
enum Target {
    Map(usize),
    Data {
        map: usize,
        offset: u32,
    },
    /// A call: the target instruction index in `.text`.
    Call(i64),
    /// A function address: the target instruction index in `.text`.
    FuncAddr(i64),
}

#[derive(Clone, Debug)]
struct SecReloc {
    target: Target,
    symbol: String,
}

/// An executable section: its instructions, functions and resolved
/// relocations by instruction index.
#[derive(Debug)]
struct CodeSection {
    name: String,
    raw: Vec<RawInsn>,
    funcs: Vec<FuncSym>,
    relocs: HashMap<usize, SecReloc>,
}

/// Everything linking needs, shared by all programs of an object.
struct Linker<'a> {
    code: HashMap<usize, CodeSection>,
    text: Option<usize>,
    btf: Option<&'a Btf>,
    ext: Option<&'a BtfExt>,
}

/// Collects and links every program of the object.
pub(crate) fn collect(
    elf: &Elf<'_>,
    maps: &Maps,
    btf: Option<&Btf>,
    ext: Option<&BtfExt>,
) -> Result<Vec<Program>, ObjectError> {
    let text = elf
        .sections
        .iter()
        .position(|s| s.name == ".text" && s.is_exec());
    let mut code = HashMap::new();
    for (index, section) in elf.sections.iter().enumerate() {
        if !section.is_exec() || section.size == 0 {
            continue;
        }
        let sec = code_section(elf, index, maps, btf, text)?;
        code.insert(index, sec);
    }
    // An empty `.text` holds no functions; calls into it find none.
    let text = text.filter(|t| code.contains_key(t));
    let linker = Linker {
        code,
        text,
        btf,
        ext,
    };
    let mut order: Vec<usize> = linker.code.keys().copied().collect();
    order.sort_unstable();
    let mut programs = Vec::new();
    for index in order {
        if Some(index) == text {
            continue;
        }
        let sec = &linker.code[&index];
        for f in &sec.funcs {
            if !f.global {
                return Err(ObjectError::StaticProgram {
                    section: sec.name.clone(),
                    name: f.name.clone(),
                });
            }
            programs.push(linker.link(index, f)?);
        }
    }
    Ok(programs)
}

fn le_insns(data: &[u8]) -> Vec<RawInsn> {
    data.chunks_exact(8)
        .map(|c| RawInsn::from_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect()
}

/// Reads an executable section: its function symbols and relocations.
fn code_section(
    elf: &Elf<'_>,
    index: usize,
    maps: &Maps,
    btf: Option<&Btf>,
    text: Option<usize>,
) -> Result<CodeSection, ObjectError> {
    let section = &elf.sections[index];
    let raw = le_insns(section.data);
    let mut funcs: Vec<FuncSym> = Vec::new();
    let mut syms: Vec<&Symbol> = elf
        .symbols
        .iter()
        .filter(|s| s.is_func() && s.section() == Some(index))
        .collect();
    syms.sort_by_key(|s| s.value);
    let mut prev_end = 0u64;
    for s in syms {
        let end = s.value.checked_add(s.size);
        let bad = |reason| ObjectError::BadFunction {
            name: s.name.clone(),
            section: section.name.clone(),
            offset: s.value,
            end: end.unwrap_or(u64::MAX),
            size: section.size,
            reason,
        };
        let Some(end) = end else {
            return Err(bad("overflow"));
        };
        if s.value % 8 != 0 || s.size % 8 != 0 {
            return Err(bad("are not whole instructions"));
        }
        if s.size == 0 {
            return Err(bad("are empty"));
        }
        if end > section.data.len() as u64 {
            return Err(bad("lie outside the section"));
        }
        if s.value < prev_end {
            return Err(bad("overlap the previous function"));
        }
        prev_end = end;
        funcs.push(FuncSym {
            name: s.name.clone(),
            start: (s.value / 8) as usize,
            len: (s.size / 8) as usize,
            global: s.bind == elf::STB_GLOBAL || s.bind == elf::STB_WEAK,
        });
    }
    let mut relocs = HashMap::new();
    for (i, rel) in elf.relocs[index].iter().enumerate() {
        let (insn, r) = resolve(elf, index, i, rel, &raw, maps, btf, text)?;
        relocs.insert(insn, r);
    }
    Ok(CodeSection {
        name: section.name.clone(),
        raw,
        funcs,
        relocs,
    })
}

/// Resolves relocation `i` of executable section `sec` (libbpf's
/// `bpf_program__record_reloc`).
#[allow(clippy::too_many_arguments)]
fn resolve(
    elf: &Elf<'_>,
    sec: usize,
    i: usize,
    rel: &Rel,
    raw: &[RawInsn],
    maps: &Maps,
    btf: Option<&Btf>,
    text: Option<usize>,
) -> Result<(usize, SecReloc), ObjectError> {
    let section = &elf.sections[sec];
    let sym = elf.symbols.get(rel.sym as usize);
    let fail = |reason| ObjectError::Relocation {
        section: section.name.clone(),
        index: i,
        offset: rel.offset,
        symbol: sym.map(|s| s.name.clone()).unwrap_or_default(),
        reason,
    };
    let Some(sym) = sym else {
        return Err(fail(RelocError::BadSymbol { sym: rel.sym }));
    };
    if !rel.offset.is_multiple_of(8) || rel.offset / 8 >= raw.len() as u64 {
        return Err(fail(RelocError::BadOffset { size: section.size }));
    }
    let insn = (rel.offset / 8) as usize;
    let ins = raw[insn];
    let is_call = ins.opcode == OP_CALL;
    if !is_call && ins.opcode != OP_LDDW {
        return Err(fail(RelocError::NotLddwOrCall { opcode: ins.opcode }));
    }
    let name = |s: &Symbol| {
        if s.is_section() {
            elf.section_name(s.shndx as usize)
        } else {
            s.name.clone()
        }
    };
    let reloc = |target| {
        Ok((
            insn,
            SecReloc {
                target,
                symbol: name(sym),
            },
        ))
    };
    if sym.is_extern() {
        return Err(extern_error(btf, sym, is_call, &section.name, insn)
            .unwrap_or_else(|| fail(RelocError::Undefined)));
    }
    let Some(target_sec) = sym.section() else {
        return Err(fail(RelocError::Undefined));
    };
    let Some(target) = elf.sections.get(target_sec) else {
        return Err(fail(RelocError::BadTarget {
            target: format!("#{target_sec}"),
        }));
    };
    if is_call {
        if ins.src != PSEUDO_CALL {
            return Err(fail(RelocError::NotPseudoCall { src: ins.src }));
        }
        if Some(target_sec) != text {
            return Err(fail(RelocError::CallOutsideText {
                target: target.name.clone(),
            }));
        }
        if sym.value % 8 != 0 {
            return Err(fail(RelocError::BadOffset { size: target.size }));
        }
        // Global functions: the symbol is the function and imm is -1;
        // static ones: the symbol is the section and imm the offset.
        let t = (sym.value / 8) as i64 + i64::from(ins.imm) + 1;
        return reloc(Target::Call(t));
    }
    // lddw
    if target.is_exec() {
        if Some(target_sec) != text {
            return Err(fail(RelocError::CallOutsideText {
                target: target.name.clone(),
            }));
        }
        let off = sym.value as i64 + i64::from(ins.imm);
        if off % 8 != 0 {
            return Err(fail(RelocError::BadOffset { size: target.size }));
        }
        return reloc(Target::FuncAddr(off / 8));
    }
    if target.name == ".maps" || target.name == "maps" {
        let off = if sym.is_section() {
            sym.value as i64 + i64::from(ins.imm)
        } else if ins.imm != 0 {
            // `&map + n` is not a map.
            return Err(fail(RelocError::NoMapAt {
                target: target.name.clone(),
                offset: sym.value as i64 + i64::from(ins.imm),
            }));
        } else {
            sym.value as i64
        };
        let map = u64::try_from(off).ok().and_then(|o| maps.at(target_sec, o));
        let Some(map) = map else {
            return Err(fail(RelocError::NoMapAt {
                target: target.name.clone(),
                offset: off,
            }));
        };
        return reloc(Target::Map(map));
    }
    if let Some(&map) = maps.data_by_section.get(&target_sec) {
        // The address is symbol value plus the addend clang left in imm
        // (libbpf: `insn[1].imm = insn[0].imm + sym_off`).
        let off = sym.value as i64 + i64::from(ins.imm);
        if off < 0 || off as u64 >= target.size {
            return Err(fail(RelocError::DataOutOfRange {
                target: target.name.clone(),
                offset: off,
                size: target.size,
            }));
        }
        return reloc(Target::Data {
            map,
            offset: off as u32,
        });
    }
    Err(fail(RelocError::BadTarget {
        target: target.name.clone(),
    }))
}

/// The unsupported-feature error for a reference to extern `sym`, told
/// apart the way libbpf does: calls are kfuncs, variables are `.kconfig`
/// or `.ksyms` externs according to the BTF `DATASEC` that lists them.
fn extern_error(
    btf: Option<&Btf>,
    sym: &Symbol,
    is_call: bool,
    section: &str,
    insn: usize,
) -> Option<ObjectError> {
    let at = format!("{} at insn {insn} of section {section}", sym.name);
    if is_call {
        return Some(ObjectError::Unsupported {
            feature: Unsupported::KfuncCalls,
            detail: format!("call to {at}"),
        });
    }
    let btf = btf?;
    let in_datasec = |sec: &str| {
        btf.find(sec, |k| matches!(k, BtfKind::Datasec { .. }))
            .is_some_and(|(_, t)| match &t.kind {
                BtfKind::Datasec { vars, .. } => vars.iter().any(|v| {
                    btf.type_by_id(v.type_id)
                        .is_some_and(|t| t.name == sym.name)
                }),
                _ => false,
            })
    };
    let feature = if in_datasec(".kconfig") {
        Unsupported::KconfigExterns
    } else if in_datasec(".ksyms") {
        Unsupported::KsymsExterns
    } else {
        return None;
    };
    Some(ObjectError::Unsupported {
        feature,
        detail: format!("reference to {at}"),
    })
}

/// A program being linked.
struct State {
    prog: Program,
    out: Vec<RawInsn>,
    /// ELF section index of each function in `prog.functions`.
    sections: Vec<usize>,
    /// (section, function start) -> index in `prog.functions`.
    placed: HashMap<(usize, usize), usize>,
}

impl Linker<'_> {
    /// Links the program whose entry function is `entry` in section `sec`.
    fn link(&self, sec: usize, entry: &FuncSym) -> Result<Program, ObjectError> {
        let section = &self.code[&sec];
        let def = section_def(&section.name);
        let prog = Program {
            name: entry.name.clone(),
            section: section.name.clone(),
            program_type: def.map_or(ProgramType::Unspec, |d| d.program_type),
            expected_attach_type: def.and_then(|d| d.attach_type),
            attach_target: def
                .and_then(|d| d.target(&section.name))
                .map(str::to_string),
            sleepable: def.is_some_and(|d| d.sleepable),
            xdp_frags: def.is_some_and(|d| d.xdp_frags),
            insns: Vec::new(),
            functions: Vec::new(),
            relocs: Vec::new(),
            line_info: Vec::new(),
        };
        let mut st = State {
            prog,
            out: Vec::new(),
            sections: Vec::new(),
            placed: HashMap::new(),
        };
        self.place(&mut st, sec, entry)?;
        // Depth first like libbpf: (function index, next instruction). A
        // newly placed callee is scanned before its caller continues.
        let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
        while let Some(top) = stack.last_mut() {
            let (fi, local) = *top;
            if local >= st.prog.functions[fi].len {
                stack.pop();
                continue;
            }
            top.1 += 1;
            if let Some(callee) = self.link_insn(&mut st, fi, local)? {
                stack.push((callee, 0));
            }
        }
        let State { mut prog, out, .. } = st;
        prog.relocs.sort_by_key(|r| r.insn);
        prog.line_info.sort_by_key(|l| l.insn);
        prog.insns = oxbpf_isa::decode(&out).map_err(|source| ObjectError::Decode {
            program: prog.name.clone(),
            section: prog.section.clone(),
            source,
        })?;
        Ok(prog)
    }

    /// Links instruction `local` of function `fi` if it is a call or a
    /// function address; returns the callee's index when it was newly
    /// placed and must be scanned.
    fn link_insn(
        &self,
        st: &mut State,
        fi: usize,
        local: usize,
    ) -> Result<Option<usize>, ObjectError> {
        let fsec = st.sections[fi];
        let code = &self.code[&fsec];
        let (pc, sec_insn) = {
            let f = &st.prog.functions[fi];
            (f.start + local, f.section_insn + local)
        };
        let raw = st.out[pc];
        let call_err = |st: &State, reason| {
            let f = &st.prog.functions[fi];
            ObjectError::Call {
                program: st.prog.name.clone(),
                function: f.name.clone(),
                section: code.name.clone(),
                insn: local,
                reason,
            }
        };
        let (target, is_call, symbol) = match code.relocs.get(&sec_insn) {
            Some(SecReloc {
                target: Target::Call(t),
                symbol,
            }) => (*t, true, Some(symbol)),
            Some(SecReloc {
                target: Target::FuncAddr(t),
                symbol,
            }) => (*t, false, Some(symbol)),
            Some(_) => return Ok(None),
            None if raw.opcode == OP_CALL && raw.src == PSEUDO_CALL => {
                // A call without relocation targets its own section.
                let t = sec_insn as i64 + i64::from(raw.imm) + 1;
                if Some(fsec) != self.text {
                    return Err(call_err(st, CallError::LocalCallOutsideText { target: t }));
                }
                (t, true, None)
            }
            None => return Ok(None),
        };
        let not_start = |st: &State| {
            call_err(
                st,
                CallError::NotFunctionStart {
                    section: ".text".to_string(),
                    target,
                },
            )
        };
        let Some(text) = self.text else {
            return Err(not_start(st));
        };
        let Some(callee) = self.code[&text]
            .funcs
            .iter()
            .find(|g| g.start as i64 == target)
        else {
            return Err(not_start(st));
        };
        let (callee_idx, new) = match st.placed.get(&(text, callee.start)) {
            Some(&i) => (i, false),
            None => (self.place(st, text, callee)?, true),
        };
        let dest = st.prog.functions[callee_idx].start;
        let Ok(rel) = i32::try_from(dest as i64 - pc as i64 - 1) else {
            return Err(call_err(st, CallError::TooLarge));
        };
        st.out[pc].imm = rel;
        let kind = if is_call {
            RelocKind::Call {
                function: callee_idx,
            }
        } else {
            st.out[pc].src = PSEUDO_FUNC;
            if let Some(hi) = st.out.get_mut(pc + 1) {
                hi.imm = 0;
            }
            RelocKind::FuncAddr {
                function: callee_idx,
            }
        };
        // Section-relative references name the function they resolve to.
        let symbol = match symbol {
            Some(s) if s != ".text" => s.clone(),
            _ => callee.name.clone(),
        };
        st.prog.relocs.push(Reloc {
            insn: pc,
            symbol,
            kind,
        });
        Ok(new.then_some(callee_idx))
    }

    /// Appends function `f` of section `sec` to the program: copies its
    /// instructions, applies its map and data relocations, and carries
    /// over its func and line info. Returns its index in `functions`.
    fn place(&self, st: &mut State, sec: usize, f: &FuncSym) -> Result<usize, ObjectError> {
        let code = &self.code[&sec];
        let start = st.out.len();
        let end = f.start + f.len;
        // Function bounds were checked against the section when read.
        st.out.extend_from_slice(&code.raw[f.start..end]);
        for local in 0..f.len {
            let Some(r) = code.relocs.get(&(f.start + local)) else {
                continue;
            };
            let pc = start + local;
            // The second slot of lddw, if the function has it (else the
            // decoder reports the truncated lddw).
            let has_hi = local + 1 < f.len;
            let kind = match r.target {
                Target::Map(map) => {
                    st.out[pc].src = PSEUDO_MAP_IDX;
                    st.out[pc].imm = map as i32;
                    if has_hi {
                        st.out[pc + 1].imm = 0;
                    }
                    RelocKind::Map { map }
                }
                Target::Data { map, offset } => {
                    st.out[pc].src = PSEUDO_MAP_IDX_VALUE;
                    st.out[pc].imm = map as i32;
                    if has_hi {
                        st.out[pc + 1].imm = offset as i32;
                    }
                    RelocKind::MapValue { map, offset }
                }
                // Calls and function addresses are linked by the caller.
                Target::Call(_) | Target::FuncAddr(_) => continue,
            };
            st.prog.relocs.push(Reloc {
                insn: pc,
                symbol: r.symbol.clone(),
                kind,
            });
        }
        let mut func = Function {
            name: f.name.clone(),
            section: code.name.clone(),
            start,
            len: f.len,
            section_insn: f.start,
            btf_func: None,
        };
        if let (Some(ext), Some(btf)) = (self.ext, self.btf) {
            // Records address bytes of the section; keep those inside f.
            let local_of = |off: u32| {
                let i = (off / 8) as usize;
                (off.is_multiple_of(8) && i >= f.start && i < end).then(|| i - f.start)
            };
            for table in ext.func_info.iter().filter(|t| t.section == code.name) {
                for rec in &table.records {
                    if local_of(rec.insn_off) == Some(0) {
                        func.btf_func = Some(rec.type_id);
                    }
                }
            }
            for table in ext.line_info.iter().filter(|t| t.section == code.name) {
                for rec in &table.records {
                    let Some(local) = local_of(rec.insn_off) else {
                        continue;
                    };
                    let s = |off| {
                        btf.string(off)
                            .map(str::to_string)
                            .map_err(ObjectError::BtfExt)
                    };
                    st.prog.line_info.push(LineInfo {
                        insn: start + local,
                        file: s(rec.file_name_off)?,
                        // BPF_LINE_INFO_LINE_NUM / BPF_LINE_INFO_LINE_COL.
                        line: rec.line_col >> 10,
                        column: rec.line_col & 0x3ff,
                        text: s(rec.line_off)?,
                        raw: [rec.file_name_off, rec.line_off, rec.line_col],
                    });
                }
            }
        }
        let index = st.prog.functions.len();
        st.prog.functions.push(func);
        st.sections.push(sec);
        st.placed.insert((sec, f.start), index);
        Ok(index)
    }
}
