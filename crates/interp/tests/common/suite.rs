//! A minimal reader of bpf_conformance `.data` files (`-- asm`, `-- raw`,
//! `-- mem`, `-- result`, `-- error`), for the interpreter's own
//! cross-checks; the real runner is `crates/conformance`.

use std::path::{Path, PathBuf};

use oxbpf_isa::{Insn, RawInsn, asm::assemble, decode};

const SUITE: &str = "../../../shared/conformance/bpf_conformance";

#[derive(Default)]
pub struct Case {
    pub asm: Option<String>,
    pub raw: Option<Vec<u64>>,
    pub mem: Vec<u8>,
    pub result: Option<u64>,
    pub error: bool,
}

pub fn parse(text: &str) -> Result<Case, String> {
    let mut case = Case::default();
    let mut section = String::new();
    let mut asm = String::new();
    for line in text.lines() {
        if let Some(name) = line.trim().strip_prefix("--") {
            section = name.trim().to_string();
            match section.as_str() {
                "raw" => case.raw = Some(Vec::new()),
                "error" => case.error = true,
                _ => {}
            }
            continue;
        }
        let body = line.split('#').next().unwrap_or("").trim();
        match section.as_str() {
            "asm" => {
                asm.push_str(line);
                asm.push('\n');
            }
            "raw" => {
                for tok in body.split_whitespace() {
                    let w = u64::from_str_radix(tok.trim_start_matches("0x"), 16)
                        .map_err(|e| format!("raw word {tok}: {e}"))?;
                    case.raw.get_or_insert_with(Vec::new).push(w);
                }
            }
            "mem" => {
                for tok in body.split_whitespace() {
                    let b = u8::from_str_radix(tok, 16).map_err(|e| format!("mem {tok}: {e}"))?;
                    case.mem.push(b);
                }
            }
            "result" if !body.is_empty() => {
                let v = match body.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => body.parse(),
                };
                case.result = Some(v.map_err(|e| format!("result {body}: {e}"))?);
            }
            _ => {}
        }
    }
    if !asm.trim().is_empty() {
        case.asm = Some(asm);
    }
    Ok(case)
}

pub fn program(case: &Case) -> Result<Vec<Insn>, String> {
    match (&case.raw, &case.asm) {
        (Some(words), _) => {
            let raw: Vec<RawInsn> = words.iter().map(|&w| RawInsn::from_u64(w)).collect();
            decode(&raw).map_err(|e| format!("decode: {e}"))
        }
        (None, Some(src)) => assemble(src).map_err(|e| format!("assemble: {e}")),
        (None, None) => Err("no program".into()),
    }
}

/// The sorted `.data` files of the suite directory `dir` (`tests` or
/// `negative`).
pub fn data_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(SUITE).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    files
}
