//! `oxbpf run FILE [--data FILE] [--engine E] [--repeat N]`: run bytecode.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, anyhow};
use clap::Args;
use clap::builder::PossibleValuesParser;
use oxbpf_abi::limits::DEFAULT_BUDGET;
use oxbpf_isa::Reg;
use oxbpf_runtime::helpers::conformance;
use oxbpf_runtime::{Program, RegionKind, RunState, Trapped};
use serde::Serialize;

use crate::engines;
use crate::error::{CliError, Result};
use crate::input::read_program;

/// Arguments of `run`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  oxbpf run examples/hello.s --data examples/hello.txt
  oxbpf run prog.bin --engine interp --repeat 100000
  oxbpf run prog.bin --json

FILE is assembly (.s, .asm: assembled first), hex text, or raw bytecode
(see `oxbpf disasm --help`). The program runs in checked mode with the
conformance suite's contract: r1 = address of a private copy of the --data
bytes (0 without --data), r2 = their length, r10 = top of the stack,
helpers 0-5 of the conformance table (0 gather_bytes, 1 memfrob, 2 no_op,
3 sqrti, 4 strcmp, 5 unwind). Registers read before any write are refused
at load time.

Output: `return: <r0 in decimal>`; with --repeat N the program runs N more
times (the budget reset each time, the memory kept as the runs leave it)
and `time: <mean> ns/run over N runs` follows.

--json prints {\"engine\": \"interp\", \"return\": 42, \"return_hex\":
\"0x2a\"}, plus \"runs\": N and \"ns_per_run\": T with --repeat. A trap
prints {\"engine\": ..., \"trap\": {\"code\": 1, \"message\": \"memory access
out of bounds\", \"pc\": 3}} and exits 1.

ELF objects (FILE.o from clang -target bpf): the XDP program (--prog NAME
when there are several) runs on the --data bytes as the packet; prints
`return: 2 (XDP_PASS)` and `packet: <hex>` (or writes it to --data-out).
--maps-in/--maps-out read and write map state as JSON (map name -> list of
{\"key\": hex, \"value\": hex or [hex per CPU]}); --trace prints each
instruction; --pcap IN --out OUT replays a capture (counts per verdict,
XDP_TX packets written out). --json prints {\"engine\", \"program\",
\"return\", \"action\", \"packet\", \"log\"} (plus \"runs\", \"ns_per_run\").
tc and socket filter programs run on an __sk_buff. Engines: interp,
interp-fast, jit, kernel (BPF_PROG_TEST_RUN; --repeat reports the
kernel's own mean duration; no --trace).

Exit status: 0 it ran, 1 it was refused at load time or trapped, 2 usage
error or malformed input.")]
pub struct RunArgs {
    /// Program: assembly (.s), hex text or raw bytecode.
    pub file: PathBuf,
    /// Input memory: the file's bytes are lent to the program (r1, r2).
    #[arg(long, visible_alias = "mem", value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Engine to run on.
    #[arg(long, default_value = "interp", value_parser = PossibleValuesParser::new(engines::names()))]
    pub engine: String,
    /// Run N more times and print the mean time per run.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub repeat: Option<u64>,
    /// Instruction budget of each run (charged per basic block).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BUDGET)]
    pub budget: u64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// ELF objects: the program to run (required when there are several).
    #[arg(long, value_name = "NAME")]
    pub prog: Option<String>,
    /// ELF objects: write the output packet (data to data_end) here
    /// instead of printing it as hex.
    #[arg(long, value_name = "FILE")]
    pub data_out: Option<PathBuf>,
    /// ELF objects: load map contents from this JSON state before the run.
    #[arg(long, value_name = "STATE.json")]
    pub maps_in: Option<PathBuf>,
    /// ELF objects: write every map's contents as JSON after the run.
    #[arg(long, value_name = "STATE.json")]
    pub maps_out: Option<PathBuf>,
    /// ELF objects: print each executed instruction with the registers it
    /// changed (runs on the interpreter).
    #[arg(long)]
    pub trace: bool,
    /// ELF objects: run an XDP program over every packet of this capture
    /// (classic pcap) instead of --data; prints counts per verdict.
    #[arg(long, value_name = "IN.pcap", conflicts_with = "data")]
    pub pcap: Option<PathBuf>,
    /// With --pcap: write the packets the program sends back (XDP_TX),
    /// as they leave, to this capture.
    #[arg(long, value_name = "OUT.pcap", requires = "pcap")]
    pub out: Option<PathBuf>,
    /// Refuse FILE unless its detached signature FILE.sig was made by one
    /// of the --trusted-key keys (checked before FILE is parsed).
    #[arg(long, requires = "trusted_keys")]
    pub require_signature: bool,
    /// With --require-signature: a trusted public key file (from `oxbpf
    /// keygen`); repeat for several.
    #[arg(
        long = "trusted-key",
        value_name = "PUB",
        requires = "require_signature"
    )]
    pub trusted_keys: Vec<PathBuf>,
}

#[derive(Serialize)]
struct JsonRun<'a> {
    engine: &'a str,
    #[serde(rename = "return")]
    ret: u64,
    return_hex: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    runs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ns_per_run: Option<u128>,
}

#[derive(Serialize)]
struct JsonTrap<'a> {
    engine: &'a str,
    trap: TrapInfo,
}

#[derive(Serialize)]
struct TrapInfo {
    code: u8,
    message: &'static str,
    pc: usize,
}

/// Runs `run`.
pub fn run(args: &RunArgs) -> Result<()> {
    if args.require_signature {
        // Checked before the file is even classified: an altered ELF magic
        // must fail the signature, not fall through to the bytecode path.
        let trusted = super::sign::trusted_keys(&args.trusted_keys)?;
        trusted
            .read_verified(&args.file)
            .map_err(super::sign::sign_error)?;
        if !super::run_object::is_elf(&args.file) {
            return Err(CliError::malformed(anyhow!(
                "--require-signature applies to ELF objects; {} is not one",
                args.file.display()
            )));
        }
    }
    if super::run_object::is_elf(&args.file) {
        return super::run_object::run(args);
    }
    let insns = read_program(&args.file)?;
    let mut data = match &args.data {
        Some(p) => std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => Vec::new(),
    };
    let engine = engines::engine(&args.engine)
        .ok_or_else(|| CliError::malformed(anyhow!("unknown engine '{}'", args.engine)))?;
    let program = Program::checked(insns, Arc::new(conformance::table()), &[Reg::R1, Reg::R2])
        .map_err(|e| CliError::failed(anyhow::Error::new(e).context("program rejected")))?;
    let exe = engine.load(&program).map_err(|e| {
        CliError::failed(anyhow::Error::new(e).context("engine cannot load the program"))
    })?;

    let len = data.len() as u64;
    let mut state = RunState::new();
    let addr = if data.is_empty() {
        0
    } else {
        state.add_memory(&mut data, RegionKind::Input)
    };
    let regs = [addr, len, 0, 0, 0];
    state.budget = args.budget;
    let trapped = |t: Trapped| -> CliError {
        if args.json {
            let _ = super::print_json(&JsonTrap {
                engine: engine.name(),
                trap: TrapInfo {
                    code: t.trap.code(),
                    message: t.trap.message(),
                    pc: t.pc,
                },
            });
        }
        CliError::failed(anyhow!("program trapped at {t}"))
    };
    let r0 = exe.run(&mut state, regs).map_err(trapped)?;

    let mut timing = None;
    if let Some(n) = args.repeat {
        let start = Instant::now();
        for _ in 0..n {
            state.budget = args.budget;
            exe.run(&mut state, regs).map_err(trapped)?;
        }
        let mean = start.elapsed().as_nanos() / u128::from(n);
        timing = Some((n, mean));
    }

    if args.json {
        return super::print_json(&JsonRun {
            engine: engine.name(),
            ret: r0,
            return_hex: format!("{r0:#x}"),
            runs: timing.map(|t| t.0),
            ns_per_run: timing.map(|t| t.1),
        });
    }
    println!("return: {r0}");
    if let Some((n, mean)) = timing {
        println!("time: {mean} ns/run over {n} runs");
    }
    Ok(())
}
