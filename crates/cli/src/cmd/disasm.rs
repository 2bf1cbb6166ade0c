//! `oxbpf disasm FILE.bin | --hex "b7 00 …" [--jit]`: bytecode to
//! assembly, or with `--jit` to the x86-64 code the JIT makes of it.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use clap::Args;
use oxbpf_isa::disasm::{disassemble, format_insn};
use oxbpf_isa::{Insn, Reg, encode};
use oxbpf_jit::{JitListing, X86Line, disassemble_jit};
use oxbpf_runtime::Program;
use oxbpf_runtime::helpers::conformance;
use serde::Serialize;

use crate::error::{CliError, Result};
use crate::input::{decode, is_assembly, parse_hex, read_bytecode, read_program};

/// Arguments of `disasm`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  oxbpf disasm examples/hello.bin
  oxbpf disasm --hex \"b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00\"
  oxbpf disasm --hex 0x0000002a000000b7,0x95         # 64-bit words
  oxbpf disasm prog.hex                              # a file of hex text
  oxbpf disasm --jit bench-programs/arith_loop.s     # the x86-64 code too

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
as relative offsets (`ja +2`).

--jit compiles the program as `oxbpf run --engine jit` does (checked
mode, the conformance helper table; FILE may also be assembly, .s) and
prints each eBPF instruction followed by the x86-64 code it became,
indented, in Intel syntax with offsets from the start of the code:

     0: mov %r0, 1
          0099  mov eax,1

plus a `prologue:` section (entry and exit code shared by every run) and
an `out of line:` section (trap stubs, slow memory checks). In checked
mode the first instruction of a basic block starts with the budget charge.
--jit --json prints {\"code_len\": N, \"prologue\": [X86], \"insns\":
[{\"slot\": 0, \"text\": \"mov %r0, 1\", \"x86\": [X86]}],
\"out_of_line\": [X86]} where X86 is {\"offset\": 153, \"bytes\":
\"b801000000\", \"text\": \"mov eax,1\"}.")]
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
    /// Also show the x86-64 code the JIT generates for each instruction.
    #[arg(long)]
    pub jit: bool,
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
        (None, Some(path)) if is_assembly(path) => read_program(path)?,
        (None, Some(path)) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            read_bytecode(&bytes, &path.display().to_string())?
        }
        (None, None) => return Err(CliError::malformed(anyhow!("give FILE or --hex"))),
    };
    if args.jit {
        return jit(insns, args.json);
    }
    if args.json {
        return super::print_json(&listing(&insns));
    }
    print!("{}", disassemble(&insns));
    Ok(())
}

#[derive(Serialize)]
struct JsonX86 {
    offset: usize,
    bytes: String,
    text: String,
}

#[derive(Serialize)]
struct JsonJitInsn {
    slot: usize,
    text: String,
    x86: Vec<JsonX86>,
}

#[derive(Serialize)]
struct JsonJitListing {
    code_len: usize,
    prologue: Vec<JsonX86>,
    insns: Vec<JsonJitInsn>,
    out_of_line: Vec<JsonX86>,
}

fn json_x86(lines: &[X86Line]) -> Vec<JsonX86> {
    lines
        .iter()
        .map(|l| JsonX86 {
            offset: l.offset,
            bytes: l.bytes.iter().map(|b| format!("{b:02x}")).collect(),
            text: l.text.clone(),
        })
        .collect()
}

/// `disasm --jit`: compiles as `run --engine jit` would (same load check,
/// same helper table) so the listing is the code that command runs.
fn jit(insns: Vec<Insn>, json: bool) -> Result<()> {
    let program = Program::checked(insns, Arc::new(conformance::table()), &[Reg::R1, Reg::R2])
        .map_err(|e| CliError::failed(anyhow::Error::new(e).context("program rejected")))?;
    let listing = disassemble_jit(&program).map_err(|e| {
        CliError::failed(anyhow::Error::new(e).context("the jit cannot compile the program"))
    })?;
    if json {
        return super::print_json(&JsonJitListing {
            code_len: listing.code_len,
            prologue: json_x86(&listing.prologue),
            insns: listing
                .insns
                .iter()
                .map(|i| JsonJitInsn {
                    slot: i.slot,
                    text: i.text.clone(),
                    x86: json_x86(&i.x86),
                })
                .collect(),
            out_of_line: json_x86(&listing.out_of_line),
        });
    }
    print!("{}", jit_text(&listing));
    Ok(())
}

/// The text form of a JIT listing (see the `--help` text).
fn jit_text(listing: &JitListing) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let x86 = |out: &mut String, lines: &[X86Line]| {
        for l in lines {
            let _ = writeln!(out, "          {:04x}  {}", l.offset, l.text);
        }
    };
    let _ = writeln!(out, "prologue:");
    x86(&mut out, &listing.prologue);
    for insn in &listing.insns {
        let _ = writeln!(out, "{:6}: {}", insn.slot, insn.text);
        x86(&mut out, &insn.x86);
    }
    if !listing.out_of_line.is_empty() {
        let _ = writeln!(out, "out of line:");
        x86(&mut out, &listing.out_of_line);
    }
    let _ = writeln!(out, "code size: {} bytes", listing.code_len);
    out
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
