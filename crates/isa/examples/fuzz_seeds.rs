//! Writes seed corpora for the fuzz targets in `fuzz/` from the conformance
//! suite: every `-- asm` section as text for `assemble`, and its bytecode
//! for `decode`.
//!
//! ```text
//! cargo run -p oxbpf-isa --example fuzz_seeds -- ../shared/conformance/bpf_conformance fuzz/corpus
//! ```

use std::path::{Path, PathBuf};

use oxbpf_isa::asm::assemble;
use oxbpf_isa::encode_bytes;

fn asm_section(text: &str) -> Option<String> {
    let mut out: Option<String> = None;
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("--") {
            inside = line.trim_start_matches('-').trim() == "asm";
            if inside {
                out = Some(String::new());
            }
            continue;
        }
        if inside && let Some(s) = out.as_mut() {
            s.push_str(line);
            s.push('\n');
        }
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, suite, out] = args.as_slice() else {
        return Err("usage: fuzz_seeds SUITE_DIR CORPUS_DIR".into());
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(out.join("assemble"))?;
    std::fs::create_dir_all(out.join("decode"))?;
    let mut count = 0;
    for dir in ["tests", "negative"] {
        for entry in std::fs::read_dir(Path::new(suite).join(dir))? {
            let path = entry?.path();
            let Some(src) = asm_section(&std::fs::read_to_string(&path)?) else {
                continue;
            };
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("seed")
                .to_string();
            std::fs::write(out.join("assemble").join(format!("{dir}-{stem}")), &src)?;
            if let Ok(p) = assemble(&src) {
                std::fs::write(
                    out.join("decode").join(format!("{dir}-{stem}")),
                    encode_bytes(&p),
                )?;
            }
            count += 1;
        }
    }
    println!("wrote seeds from {count} files");
    Ok(())
}
