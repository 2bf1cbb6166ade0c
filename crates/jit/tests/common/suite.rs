//! A minimal reader of bpf_conformance `.data` files for the JIT's lockstep
//! run of the suite (the data-driven runner on every engine is
//! `crates/conformance`).
//!
//! Sections: `-- asm` (source), `-- raw` (64-bit instruction words), `-- mem`
//! (hex bytes), `-- result` (expected r0), `-- error` (must be refused).

use std::path::{Path, PathBuf};

use oxbpf_isa::{Insn, RawInsn};

const SUITE: &str = "../../../shared/conformance/bpf_conformance";

/// One `.data` file.
#[derive(Default, Debug)]
pub struct DataFile {
    pub asm: String,
    pub raw: Option<Vec<u64>>,
    pub mem: Vec<u8>,
    pub result: Option<u64>,
    pub error: bool,
}

impl DataFile {
    pub fn parse(text: &str) -> Result<DataFile, String> {
        let mut f = DataFile::default();
        let mut section = "";
        for line in text.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("--") {
                section = rest.trim();
                match section {
                    "raw" => f.raw = Some(Vec::new()),
                    "error" => f.error = true,
                    _ => {}
                }
                continue;
            }
            let content = line.split('#').next().unwrap_or_default().trim();
            match section {
                "asm" => {
                    f.asm.push_str(line);
                    f.asm.push('\n');
                }
                "raw" => {
                    let words = f.raw.get_or_insert_with(Vec::new);
                    let toks: Vec<&str> = content.split_whitespace().collect();
                    // negative/unused-*.data write one instruction per line
                    // as its 8 bytes.
                    if toks.len() == 8 && toks.iter().all(|t| t.len() <= 2) {
                        let mut b = [0u8; 8];
                        for (i, t) in toks.iter().enumerate() {
                            b[i] = u8::from_str_radix(t, 16)
                                .map_err(|e| format!("raw byte {t:?}: {e}"))?;
                        }
                        words.push(u64::from_le_bytes(b));
                        continue;
                    }
                    for tok in toks {
                        let digits = tok.strip_prefix("0x").unwrap_or(tok);
                        let w = u64::from_str_radix(digits, 16)
                            .map_err(|e| format!("raw token {tok:?}: {e}"))?;
                        words.push(w);
                    }
                }
                "mem" => {
                    for tok in content.split_whitespace() {
                        let b = u8::from_str_radix(tok, 16)
                            .map_err(|e| format!("mem token {tok:?}: {e}"))?;
                        f.mem.push(b);
                    }
                }
                "result" if !content.is_empty() => {
                    let v = match content.strip_prefix("0x") {
                        Some(h) => u64::from_str_radix(h, 16),
                        None => content.parse::<u64>(),
                    };
                    f.result = Some(v.map_err(|e| format!("result {content:?}: {e}"))?);
                }
                _ => {}
            }
        }
        Ok(f)
    }

    /// The program: decoded `raw` words if present, else the assembled text.
    pub fn program(&self) -> Result<Vec<Insn>, String> {
        match &self.raw {
            Some(words) => {
                let raw: Vec<RawInsn> = words.iter().map(|&w| RawInsn::from_u64(w)).collect();
                oxbpf_isa::decode(&raw).map_err(|e| format!("decode: {e}"))
            }
            None => oxbpf_isa::asm::assemble(&self.asm).map_err(|e| format!("assemble: {e}")),
        }
    }
}

/// The `.data` files of suite directory `dir` (`tests` or `negative`),
/// sorted by name.
pub fn files(dir: &str) -> Vec<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SUITE).join(dir);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    out.sort();
    out
}
