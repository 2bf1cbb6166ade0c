//! `oxbpf asm FILE.s [-o FILE.bin]`: assemble to raw bytecode.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Args;
use oxbpf_isa::encode_bytes;
use serde::Serialize;

use crate::error::{CliError, Result};
use crate::input::read_program;

/// Arguments of `asm`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  oxbpf asm examples/hello.s              # writes examples/hello.bin
  oxbpf asm prog.s -o /tmp/prog.bin
  oxbpf asm prog.s -o - | xxd             # bytecode to stdout

The output is raw bytecode: 8 little-endian bytes per instruction (16 for
lddw), as `oxbpf run` and `oxbpf disasm` read it. On success one line
`<input>: <N> instructions, <B> bytes -> <output>` is printed (on stderr
when the bytecode goes to stdout).

--json prints {\"input\": \"prog.s\", \"output\": \"prog.bin\",
\"insns\": N, \"bytes\": B} instead, where insns counts slots (lddw is 2).")]
pub struct AsmArgs {
    /// Assembly source (the bpf_conformance dialect: `mov32 %r0, 1`).
    pub file: PathBuf,
    /// Output file; `-` for stdout. Default: FILE with extension `.bin`.
    #[arg(short, long, value_name = "FILE.bin")]
    pub output: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Summary<'a> {
    input: &'a str,
    output: &'a str,
    insns: usize,
    bytes: usize,
}

/// Runs `asm`.
pub fn run(args: &AsmArgs) -> Result<()> {
    let output = match &args.output {
        Some(o) => o.clone(),
        None => default_output(&args.file)?,
    };
    let insns = read_program_as_assembly(&args.file)?;
    let bytes = encode_bytes(&insns);
    let to_stdout = output == Path::new("-");
    if to_stdout {
        std::io::stdout()
            .write_all(&bytes)
            .context("cannot write bytecode to stdout")?;
    } else {
        std::fs::write(&output, &bytes)
            .with_context(|| format!("cannot write {}", output.display()))?;
    }
    let input = args.file.display().to_string();
    let out_name = output.display().to_string();
    if args.json && !to_stdout {
        return super::print_json(&Summary {
            input: &input,
            output: &out_name,
            insns: insns.len(),
            bytes: bytes.len(),
        });
    }
    let line = format!(
        "{input}: {} instructions, {} bytes -> {out_name}",
        insns.len(),
        bytes.len()
    );
    if to_stdout {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
    Ok(())
}

/// `prog.s` -> `prog.bin`, refusing to overwrite the input.
fn default_output(input: &Path) -> Result<PathBuf> {
    let out = input.with_extension("bin");
    if out == input {
        return Err(CliError::malformed(anyhow!(
            "{} already ends in .bin; name the output with -o",
            input.display()
        )));
    }
    Ok(out)
}

/// `asm` always assembles, whatever the extension.
fn read_program_as_assembly(path: &Path) -> Result<Vec<oxbpf_isa::Insn>> {
    if crate::input::is_assembly(path) {
        return read_program(path);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    oxbpf_isa::asm::assemble(&text).map_err(|e| {
        CliError::malformed(
            anyhow::Error::new(e).context(format!("cannot assemble {}", path.display())),
        )
    })
}
