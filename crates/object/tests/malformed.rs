//! Truncated and corrupted copies of real objects: parsing returns an
//! error naming what is wrong, and never panics.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{section_range, symbol_entry, symbol_index};
use object::{Object as _, ObjectSection as _, ObjectSymbol as _};
use oxbpf_object::{CallError, MapError, Object, ObjectError, RelocError, btf::BtfError};

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn parse_panic_free(bytes: &[u8]) -> Result<Object, ObjectError> {
    match catch_unwind(AssertUnwindSafe(|| Object::parse(bytes))) {
        Ok(r) => r,
        Err(_) => {
            let path = std::env::temp_dir().join("oxbpf-object-panic.o");
            std::fs::write(&path, bytes).unwrap();
            panic!("Object::parse panicked; input saved to {}", path.display());
        }
    }
}

#[test]
fn every_prefix_of_an_object_is_an_error() {
    for name in ["calls", "legacy_maps"] {
        let bytes = common::build(name);
        Object::parse(&bytes).expect("the whole object parses");
        for len in 0..bytes.len() {
            assert!(
                parse_panic_free(&bytes[..len]).is_err(),
                "{name}.o cut to {len} bytes parsed"
            );
        }
    }
}

/// xorshift64*: a fixed-seed generator so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// File ranges that the parser reads (DWARF is never read, so flips there
/// test nothing): the ELF header, section headers, and every section that
/// is not debug info.
fn parsed_ranges(bytes: &[u8]) -> Vec<(usize, usize)> {
    let file = object::File::parse(bytes).unwrap();
    let mut ranges = vec![(0, 64)];
    let shoff = u64_at(bytes, 0x28) as usize;
    let shnum = u16::from_le_bytes([bytes[0x3c], bytes[0x3d]]) as usize;
    ranges.push((shoff, shnum * 64));
    for s in file.sections() {
        let name = s.name().unwrap_or("");
        if name.contains(".debug") {
            continue;
        }
        if let Some((off, size)) = s.file_range()
            && size > 0
        {
            ranges.push((off as usize, size as usize));
        }
    }
    ranges
}

/// Mutants per fixture; `OXBPF_OBJECT_FLIPS=N` runs a longer sweep, and
/// `OXBPF_OBJECT_SEED=S` another sequence.
#[test]
fn random_byte_flips_never_panic() {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let mutants = env("OXBPF_OBJECT_FLIPS").unwrap_or(3000);
    let mut rng = Rng(env("OXBPF_OBJECT_SEED").unwrap_or(0x0b9f_5eed_1234_5678) | 1);
    let mut outcomes = (0usize, 0usize);
    for name in ["maps_btf", "globals", "calls", "legacy_maps", "sections"] {
        let bytes = common::build(name);
        let ranges = parsed_ranges(&bytes);
        for _ in 0..mutants {
            let mut m = bytes.clone();
            let flips = 1 + rng.below(4);
            for _ in 0..flips {
                // Mostly inside parsed structures, sometimes anywhere.
                let at = if rng.below(8) == 0 {
                    rng.below(m.len())
                } else {
                    let (off, len) = ranges[rng.below(ranges.len())];
                    off + rng.below(len)
                };
                m[at] = match rng.below(4) {
                    0 => 0,
                    1 => 0xff,
                    2 => m[at] ^ (1 << rng.below(8)),
                    _ => rng.next() as u8,
                };
            }
            match parse_panic_free(&m) {
                Ok(_) => outcomes.0 += 1,
                Err(e) => {
                    // Every error renders (Display must not panic either).
                    assert!(!e.to_string().is_empty());
                    outcomes.1 += 1;
                }
            }
        }
    }
    // Flips in names, padding or line text leave a valid object; the
    // count of rejections only shows that the mutations reach the parser.
    println!("byte flips: {} parsed, {} rejected", outcomes.0, outcomes.1);
    assert!(outcomes.1 > 0, "{outcomes:?}");
}

#[test]
fn garbage_and_foreign_files_are_errors() {
    assert!(matches!(Object::parse(&[]), Err(ObjectError::Elf { .. })));
    assert!(matches!(
        Object::parse(b"not an elf file at all, just text"),
        Err(ObjectError::Elf { .. })
    ));
    let mut bytes = common::build("calls");
    // e_machine = EM_X86_64 (62).
    bytes[18..20].copy_from_slice(&62u16.to_le_bytes());
    match Object::parse(&bytes) {
        Err(ObjectError::NotBpf {
            what: "e_machine",
            found: 62,
            expected: 247,
        }) => {}
        other => panic!("{other:?}"),
    }
}

/// Index of the section symbol of section `name`.
fn section_symbol(bytes: &[u8], name: &str) -> u32 {
    let file = object::File::parse(bytes).unwrap();
    let index = file.section_by_name(name).unwrap().index();
    file.symbols()
        .find(|s| s.kind() == object::SymbolKind::Section && s.section_index() == Some(index))
        .unwrap_or_else(|| panic!("no section symbol for {name}"))
        .index()
        .0 as u32
}

/// The relocation entry of `rel_section` whose symbol is `symbol` (a
/// section symbol when `symbol` starts with a dot).
fn reloc_entry(bytes: &[u8], rel_section: &str, symbol: &str) -> usize {
    let (off, size) = section_range(bytes, rel_section);
    let sym = if symbol.starts_with('.') {
        section_symbol(bytes, symbol)
    } else {
        symbol_index(bytes, symbol)
    };
    (0..size / 16)
        .map(|i| off + i * 16)
        .find(|&e| (u64_at(bytes, e + 8) >> 32) as u32 == sym)
        .unwrap_or_else(|| panic!("no relocation against {symbol} in {rel_section}"))
}

#[test]
fn unaligned_relocation_names_the_section() {
    let mut bytes = common::build("calls");
    let e = reloc_entry(&bytes, ".relxdp", "middle");
    let v = u64_at(&bytes, e) + 3;
    put_u64(&mut bytes, e, v);
    let err = Object::parse(&bytes).unwrap_err();
    match &err {
        ObjectError::Relocation {
            section,
            symbol,
            reason: RelocError::BadOffset { .. },
            ..
        } => {
            assert_eq!((section.as_str(), symbol.as_str()), ("xdp", "middle"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("of xdp"), "{err}");
}

#[test]
fn relocation_symbol_outside_the_table() {
    let mut bytes = common::build("calls");
    let e = reloc_entry(&bytes, ".relxdp", "middle");
    let info = u64_at(&bytes, e + 8);
    put_u64(&mut bytes, e + 8, (0xffff_u64 << 32) | (info & 0xffff_ffff));
    match Object::parse(&bytes) {
        Err(ObjectError::Relocation {
            reason: RelocError::BadSymbol { sym: 0xffff },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn function_of_partial_instructions_is_named() {
    let mut bytes = common::build("calls");
    let e = symbol_entry(&bytes, "first");
    let v = u64_at(&bytes, e + 16) + 4;
    put_u64(&mut bytes, e + 16, v);
    match Object::parse(&bytes) {
        Err(ObjectError::BadFunction { name, section, .. }) => {
            assert_eq!((name.as_str(), section.as_str()), ("first", "xdp"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn static_function_in_a_program_section_is_refused() {
    let mut bytes = common::build("calls");
    let e = symbol_entry(&bytes, "first");
    bytes[e + 4] = object::elf::STT_FUNC; // STB_LOCAL << 4 | STT_FUNC
    match Object::parse(&bytes) {
        Err(ObjectError::StaticProgram { name, section }) => {
            assert_eq!((name.as_str(), section.as_str()), ("first", "xdp"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn call_into_the_middle_of_a_function_is_named() {
    // second's call to the static `other` is relative to the .text section
    // symbol, with the offset in imm; moving imm by one lands inside a
    // function.
    let mut bytes = common::build("calls");
    let entry = reloc_entry(&bytes, ".relxdp", ".text");
    let (xdp, _) = section_range(&bytes, "xdp");
    let imm_at = xdp + u64_at(&bytes, entry) as usize + 4;
    let imm = i32::from_le_bytes(bytes[imm_at..imm_at + 4].try_into().unwrap());
    bytes[imm_at..imm_at + 4].copy_from_slice(&(imm + 1).to_le_bytes());
    match Object::parse(&bytes) {
        Err(ObjectError::Call {
            program,
            function,
            reason: CallError::NotFunctionStart { .. },
            ..
        }) => {
            assert_eq!((program.as_str(), function.as_str()), ("second", "second"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn map_reference_to_a_non_map_section_is_named() {
    let mut bytes = common::build("legacy_maps");
    let e = reloc_entry(&bytes, ".relsocket", "legacy_hash");
    let license = u64::from(symbol_index(&bytes, "LICENSE"));
    let info = u64_at(&bytes, e + 8);
    put_u64(&mut bytes, e + 8, (license << 32) | (info & 0xffff_ffff));
    match Object::parse(&bytes) {
        Err(ObjectError::Relocation {
            section,
            symbol,
            reason: RelocError::BadTarget { target },
            ..
        }) => {
            assert_eq!(
                (section.as_str(), symbol.as_str(), target.as_str()),
                ("socket", "LICENSE", "license")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_legacy_map_type_is_named() {
    let mut bytes = common::build("legacy_maps");
    let (maps, _) = section_range(&bytes, "maps");
    let e = symbol_entry(&bytes, "legacy_hash");
    let at = maps + u64_at(&bytes, e + 8) as usize;
    bytes[at..at + 4].copy_from_slice(&99u32.to_le_bytes());
    match Object::parse(&bytes) {
        Err(ObjectError::Map {
            map,
            reason: MapError::UnknownType { map_type: 99 },
        }) => assert_eq!(map, "legacy_hash"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn global_data_offset_past_the_section_is_named() {
    // `hidden` is static: clang addresses it as .bss + 8 with 8 in imm.
    let mut bytes = common::build("globals");
    let e = reloc_entry(&bytes, ".reltc", ".bss");
    let (tc, _) = section_range(&bytes, "tc");
    let imm_at = tc + u64_at(&bytes, e) as usize + 4;
    bytes[imm_at..imm_at + 4].copy_from_slice(&100i32.to_le_bytes());
    match Object::parse(&bytes) {
        Err(ObjectError::Relocation {
            reason:
                RelocError::DataOutOfRange {
                    target,
                    offset: 100,
                    size: 12,
                },
            ..
        }) => assert_eq!(target, ".bss"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn license_without_nul_is_an_error() {
    let mut bytes = common::build("globals");
    let (off, size) = section_range(&bytes, "license");
    bytes[off + size - 1] = b'X';
    assert!(matches!(
        Object::parse(&bytes),
        Err(ObjectError::License { .. })
    ));
}

#[test]
fn corrupt_btf_is_an_error() {
    let mut bytes = common::build("maps_btf");
    let (off, _) = section_range(&bytes, ".BTF");
    bytes[off] = 0;
    match Object::parse(&bytes) {
        Err(ObjectError::Btf(BtfError::BadMagic { .. })) => {}
        other => panic!("{other:?}"),
    }
}

/// Regression: a `.text` whose header says it is empty, while programs
/// still call into it, made linking index a missing section (found by the
/// byte-flip sweep).
#[test]
fn calls_into_an_emptied_text_section_are_errors() {
    let mut bytes = common::build("calls");
    let text = {
        let file = object::File::parse(&*bytes).unwrap();
        file.section_by_name(".text").unwrap().index().0
    };
    let shoff = u64_at(&bytes, 0x28) as usize;
    put_u64(&mut bytes, shoff + text * 64 + 32, 0);
    match parse_panic_free(&bytes) {
        Err(ObjectError::Call {
            program,
            reason: CallError::NotFunctionStart { .. },
            ..
        }) => assert_eq!(program, "first"),
        other => panic!("{other:?}"),
    }
}
