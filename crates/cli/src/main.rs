//! The `oxbpf` command.
//!
//! Nouns and verbs in the style of bpftool (see ARCHITECTURE.md, "The
//! oxbpf command"). Every command that prints data takes `--json`.
//!
//! Exit status everywhere: 0 success; 1 the program or a check failed
//! (trap, load-time rejection, conformance failure); 2 usage error or
//! malformed input (clap's usage errors included). Errors are printed on
//! stderr as `error: <message>: <cause>: ...`.

mod cmd;
mod engines;
mod error;
mod input;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::CliError;

/// oxbpf: an eBPF platform (RFC 9669 instruction set, assembler,
/// interpreter, conformance runner).
#[derive(Debug, Parser)]
#[command(
    name = "oxbpf",
    version,
    after_help = "\
Examples:
  oxbpf asm examples/hello.s && oxbpf run examples/hello.bin --data examples/hello.txt
  oxbpf disasm --hex \"b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00\"
  oxbpf conformance ../shared/conformance/bpf_conformance/tests
  oxbpf bench bench-programs/arith_loop.s

Exit status: 0 success, 1 the program or a check failed (trap, rejection,
mismatch), 2 usage error or malformed input.
`oxbpf <command> --help` explains each command with examples."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Assemble a .s file into raw bytecode.
    Asm(cmd::asm::AsmArgs),
    /// Disassemble raw bytecode (a file, or --hex).
    Disasm(cmd::disasm::DisasmArgs),
    /// Run a program once (or --repeat N times) and print r0.
    Run(cmd::run::RunArgs),
    /// Run a directory of bpf_conformance .data files.
    Conformance(cmd::conformance::ConformanceArgs),
    /// Map state files: `map dump STATE.json --object FILE.o`.
    Map(cmd::map::MapArgs),
    /// Time a program on several engines (interp, interp-fast, jit, kernel).
    Bench(cmd::bench::BenchArgs),
    /// Create an ed25519 key pair for signing objects (KEY, KEY.pub).
    Keygen(cmd::keygen::KeygenArgs),
    /// Write a detached signature of an object file (FILE.o.sig).
    Sign(cmd::sign::SignArgs),
    /// Check an object's detached signature against trusted public keys.
    VerifySignature(cmd::sign::VerifyArgs),
    /// Run an XDP program on a live interface (userspace or kernel).
    Xdp(cmd::xdp::XdpArgs),
    /// Load an object into the kernel and pin it, without attaching.
    Load(cmd::load::LoadArgs),
    /// Verify a program (object, .s or bytecode) and explain a rejection.
    Verify(cmd::verify::VerifyArgs),
    /// The load balancer: `lb run` (the daemon), `lb vip|backend|stats|stop`.
    Lb(cmd::lb::LbArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Asm(a) => cmd::asm::run(a),
        Command::Disasm(a) => cmd::disasm::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Conformance(a) => cmd::conformance::run(a),
        Command::Map(a) => cmd::map::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Keygen(a) => cmd::keygen::run(a),
        Command::Sign(a) => cmd::sign::run(a),
        Command::VerifySignature(a) => cmd::sign::verify(a),
        Command::Xdp(a) => cmd::xdp::run(a),
        Command::Load(a) => cmd::load::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Lb(a) => cmd::lb::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError { code, error }) => {
            // `{:#}` prints the whole chain: "cannot assemble x.s: line 2, ...".
            eprintln!("error: {error:#}");
            ExitCode::from(code)
        }
    }
}
