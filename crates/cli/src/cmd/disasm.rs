//! `oxbpf disasm FILE.bin | --hex "b7 00 …"`: bytecode to assembly.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Args;
use oxbpf_isa::disasm::{disassemble, format_insn};
use oxbpf_isa::{Insn, encode};
use serde::Serialize;

use crate::error::{CliError, Result};
use crate::input::{decode, parse_hex, read_bytecode};

/// Arguments of `disasm`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  oxbpf disasm examples/hello.bin
  oxbpf disasm --hex \"b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00\"
  oxbpf disasm --hex 0x0000002a000000b7,0x95         # 64-bit words
  oxbpf disasm prog.hex                              # a file of hex text

FILE holds raw bytecode (8 little-endian bytes per instruction), or hex
text: tokens separated by spaces, commas or newlines, `#` comments; a bare
token is bytes in order (`b7` or `b70000002a000000`), a `0x` token one
64-bit little-endian instruction word, as in the conformance suite's
`-- raw` sections.

The output is assembly with labels (`L<slot>`, `fn<slot>` for local
functions) that `oxbpf asm` turns back into the same bytes.

--json prints {\"insns\": [{\"pc\": 0, \"raw\": \"b70000002a000000\",
\"text\": \"mov %r0, 42\"}, ...]}: one entry per instruction, pc in 8-byte
slots (an lddw has 16 raw bytes and the next pc is 2 higher), jump targets
as relative offsets (`ja +2`).")]
pub struct DisasmArgs {
    /// Bytecode file (raw or hex text).
    #[arg(required_unless_present = "hex", conflicts_with = "hex")]
    pub file: Option<PathBuf>,
    /// Bytecode given as hex text on the command line.
    #[arg(long, value_name = "HEX")]
    pub hex: Option<String>,
    /// Print one JSON object instead of assembly text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct JsonInsn {
    pc: usize,
    raw: String,
    text: String,
}

#[derive(Serialize)]
struct JsonListing {
    insns: Vec<JsonInsn>,
}

/// Runs `disasm`.
pub fn run(args: &DisasmArgs) -> Result<()> {
    let insns = match (&args.hex, &args.file) {
        (Some(hex), _) => {
            let bytes = parse_hex(hex).map_err(|e| CliError::malformed(anyhow!("--hex: {e}")))?;
            decode(&bytes, "--hex bytecode")?
        }
        (None, Some(path)) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            read_bytecode(&bytes, &path.display().to_string())?
        }
        (None, None) => return Err(CliError::malformed(anyhow!("give FILE or --hex"))),
    };
    if args.json {
        return super::print_json(&listing(&insns));
    }
    print!("{}", disassemble(&insns));
    Ok(())
}

fn listing(insns: &[Insn]) -> JsonListing {
    let raw = encode(insns);
    let mut out = Vec::new();
    for (pc, insn) in insns.iter().enumerate() {
        if matches!(insn, Insn::LddwHi) {
            continue;
        }
        let end = (pc + insn.slots()).min(raw.len());
        let hex: String = raw[pc..end]
            .iter()
            .flat_map(|r| r.to_bytes())
            .map(|b| format!("{b:02x}"))
            .collect();
        out.push(JsonInsn {
            pc,
            raw: hex,
            text: format_insn(insn, pc),
        });
    }
    JsonListing { insns: out }
}
