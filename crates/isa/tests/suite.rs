//! The bpf_conformance data files as isa tests, one test case per file
//! (`cargo test -p oxbpf-isa --test suite -- lddw` runs one).
//!
//! For `tests/*.data`: the `-- asm` section assembles, the `-- raw` section
//! decodes, both give the same bytes where a file has both, and the program
//! survives disassembly and reassembly byte for byte. For `negative/*.data`:
//! every malformed program is rejected by the assembler or the decoder with
//! the error the file is about; the two files whose fault shows only at run
//! time must assemble.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use oxbpf_isa::asm::assemble;
use oxbpf_isa::disasm::disassemble;
use oxbpf_isa::{AsmError, DecodeError, Insn, decode_bytes, encode_bytes};

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/bpf_conformance")
}

/// The program sections of a data file.
#[derive(Debug, Default)]
struct DataFile {
    asm: Option<String>,
    raw: Option<String>,
}

/// Sections open with a line starting `--`; `#` lines outside sections are
/// headers. Only `asm` and `raw` matter here.
fn parse(text: &str) -> DataFile {
    let mut file = DataFile::default();
    let mut current: Option<&mut String> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("--") {
            current = match name.trim() {
                "asm" => Some(file.asm.insert(String::new())),
                "raw" => Some(file.raw.insert(String::new())),
                _ => None,
            };
            continue;
        }
        if let Some(section) = current.as_deref_mut() {
            section.push_str(line);
            section.push('\n');
        }
    }
    file
}

/// Raw sections come in two spellings: one 64-bit little-endian word per
/// token (`0x5566778800000018`), or 8 space-separated bytes per line.
fn raw_bytes(raw: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for line in raw.lines() {
        let line = line.split('#').next().unwrap_or("");
        let toks: Vec<&str> = line.split_whitespace().collect();
        if toks.is_empty() {
            continue;
        }
        if toks.len() == 8 && toks.iter().all(|t| t.len() == 2) {
            for t in toks {
                out.push(u8::from_str_radix(t, 16).map_err(|e| format!("byte {t}: {e}"))?);
            }
        } else {
            for t in toks {
                let hex = t.strip_prefix("0x").ok_or(format!("word {t} without 0x"))?;
                let w = u64::from_str_radix(hex, 16).map_err(|e| format!("word {t}: {e}"))?;
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
    }
    Ok(out)
}

fn check_positive(path: &Path) -> Result<(), Failed> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("read: {e}"))?;
    let file = parse(&text);
    let from_asm = match &file.asm {
        Some(src) => Some(assemble(src).map_err(|e| format!("assemble: {e}"))?),
        None => None,
    };
    let from_raw = match &file.raw {
        Some(raw) => {
            let bytes = raw_bytes(raw)?;
            let insns = decode_bytes(&bytes).map_err(|e| format!("decode: {e}"))?;
            if encode_bytes(&insns) != bytes {
                return Err("encode(decode(raw)) differs from raw".into());
            }
            Some(insns)
        }
        None => None,
    };
    if let (Some(a), Some(r)) = (&from_asm, &from_raw)
        && encode_bytes(a) != encode_bytes(r)
    {
        return Err(format!(
            "asm and raw sections differ:\n asm {:02x?}\n raw {:02x?}",
            encode_bytes(a),
            encode_bytes(r)
        )
        .into());
    }
    let programs: Vec<&Vec<Insn>> = from_asm.iter().chain(from_raw.iter()).collect();
    if programs.is_empty() {
        return Err("no asm or raw section".into());
    }
    for p in programs {
        round_trip(p)?;
    }
    Ok(())
}

fn round_trip(p: &[Insn]) -> Result<(), Failed> {
    let text = disassemble(p);
    let again = assemble(&text).map_err(|e| format!("reassembling disassembly: {e}\n{text}"))?;
    if encode_bytes(&again) != encode_bytes(p) {
        return Err(format!("disassembly reassembles to other bytes:\n{text}").into());
    }
    Ok(())
}

/// What a negative file must produce.
enum Expect {
    /// Assembly fails with a syntax error whose message contains the text.
    Syntax(&'static str),
    Undefined(&'static str),
    Empty,
    /// The raw program is rejected at slot 0 over the named field.
    Field(&'static str),
    /// The fault is found at run time or by the data-flow check, so isa
    /// must accept the program.
    Accepted,
}

fn expectation(name: &str) -> Option<Expect> {
    if let Some(rest) = name.strip_prefix("unused-") {
        // unused-<insn>-<field>: the field is the last part of the name.
        let field = match rest.rsplit('-').next()? {
            "offset" => "off",
            "src" => "src",
            "dst" => "dst",
            "imm" => "imm",
            _ => return None,
        };
        return Some(Expect::Field(field));
    }
    Some(match name {
        // No program section at all: the runner hands an empty source.
        "empty" | "empty_instructions" => Expect::Empty,
        // Only a bogus "-- Unknown directive" section follows the asm.
        "invalid_unknown_directive" => Expect::Empty,
        // Reads r10-relative before write / wrong result: not isa faults.
        "error" | "incorrect_return_value_high_bits" => Expect::Accepted,
        "invalid_imm32_dec_range" => Expect::Syntax("immediate 2147483648 is out of 32-bit range"),
        "invalid_imm32_hex_range" => Expect::Syntax("immediate 0x100000000 is out of 32-bit range"),
        "invalid_label" => Expect::Undefined("NOT_A_LABEL"),
        "invalid_lock" => {
            Expect::Syntax("wrong number of operands for 'lock or': expected 2, found 1")
        }
        "invalid_lock2" => Expect::Syntax("wrong number of operands for 'lock'"),
        "invalid_mnemonic" => Expect::Syntax("unknown mnemonic 'ldxq'"),
        "invalid_offset" => Expect::Syntax("expected a memory operand like [%r1+8], found '%r1'"),
        "invalid_offset_range" => Expect::Syntax("offset 0x10000 is out of 16-bit range"),
        "invalid_operand_count" => {
            Expect::Syntax("wrong number of operands for 'lddw': expected 2, found 1")
        }
        "invalid_register" => Expect::Syntax("invalid register '%r50'"),
        _ => return None,
    })
}

fn check_negative(path: &Path) -> Result<(), Failed> {
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let expect = expectation(name).ok_or(format!("no expectation written for {name}"))?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("read: {e}"))?;
    let file = parse(&text);
    let asm = file.asm.as_deref().unwrap_or("");
    match expect {
        Expect::Field(field) => {
            let raw = file.raw.as_deref().ok_or("no raw section")?;
            match decode_bytes(&raw_bytes(raw)?) {
                Err(
                    DecodeError::ReservedField {
                        index: 0, field: f, ..
                    }
                    | DecodeError::BadField {
                        index: 0, field: f, ..
                    },
                ) if f == field => Ok(()),
                other => {
                    Err(format!("expected field {field} rejected at insn 0, got {other:?}").into())
                }
            }
        }
        Expect::Accepted => match assemble(asm) {
            Ok(p) => round_trip(&p),
            Err(e) => Err(format!("valid program rejected: {e}").into()),
        },
        Expect::Empty => match assemble(asm) {
            Err(AsmError::Empty) => Ok(()),
            other => Err(format!("expected an empty-program error, got {other:?}").into()),
        },
        Expect::Undefined(label) => match assemble(asm) {
            Err(AsmError::UndefinedLabel { label: l, .. }) if l == label => Ok(()),
            other => Err(format!("expected undefined label {label}, got {other:?}").into()),
        },
        Expect::Syntax(msg) => match assemble(asm) {
            Err(AsmError::Syntax { message, .. }) if message.contains(msg) => Ok(()),
            other => {
                Err(format!("expected a syntax error containing {msg:?}, got {other:?}").into())
            }
        },
    }
}

fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("conformance suite at {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    files
}

fn main() {
    let args = Arguments::from_args();
    let root = suite_dir();
    let mut trials = Vec::new();
    let positive = data_files(&root.join("tests"));
    let negative = data_files(&root.join("negative"));
    // The suite is a fixed snapshot: a missing directory or file must fail,
    // not shrink the run.
    assert_eq!(positive.len(), 313, "positive conformance files");
    assert_eq!(negative.len(), 60, "negative conformance files");
    for path in positive {
        let name = format!(
            "tests/{}",
            path.file_stem().unwrap_or_default().to_string_lossy()
        );
        trials.push(Trial::test(name, move || check_positive(&path)));
    }
    for path in negative {
        let name = format!(
            "negative/{}",
            path.file_stem().unwrap_or_default().to_string_lossy()
        );
        trials.push(Trial::test(name, move || check_negative(&path)));
    }
    libtest_mimic::run(&args, trials).exit();
}
