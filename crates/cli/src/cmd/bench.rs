//! `oxbpf bench FILE [--engine E ...] [--repeat N] [--json]`: time a
//! program on several engines, net of each engine's own overhead.
//!
//! Every engine runs the program N times and the empty program
//! (`mov %r0, 0; exit`) N times; the empty program's time is the
//! engine's harness baseline (entry, exit, the loop around the runs) and
//! the net time is the difference, as in `crates/jit/benches/engines.rs`.
//! Our engines are timed with [`Instant`] around the whole batch (nothing
//! is allocated per run); the kernel times itself (`BPF_PROG_TEST_RUN`
//! with `repeat`, see the kernel's `bpf_test_run()`), so its figures
//! exclude the syscall.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::Args;
use clap::builder::PossibleValuesParser;
use oxbpf_abi::limits::DEFAULT_BUDGET;
use oxbpf_isa::{AluOp, Insn, Operand, Reg, Width};
use oxbpf_kernel::KernelEngine;
use oxbpf_runtime::helpers::conformance;
use oxbpf_runtime::{Executable, Program, RunState};
use serde::Serialize;

use crate::engines;
use crate::error::{CliError, Result};
use crate::input::read_program;

/// Engines measured when no `--engine` is given.
const DEFAULT_ENGINES: &[&str] = &["interp", "interp-fast", "jit", "kernel"];

/// How long the JIT compile-time measurement runs at most.
const COMPILE_TIME: Duration = Duration::from_millis(200);
/// Compiles at least this many times (and at most this many).
const COMPILES: (u32, u32) = (10, 100_000);

/// Arguments of `bench`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  oxbpf bench bench-programs/arith_loop.s
  oxbpf bench bench-programs/calls.s --engine jit --engine kernel --repeat 100000
  oxbpf bench prog.bin --engine interp --engine jit --json

FILE is assembly (.s, .asm), hex text, or raw bytecode (see `oxbpf disasm
--help`); the programs in bench-programs/ are written for this. Each
engine runs the program in checked mode (as `oxbpf run` does: r1 = r2 = 0,
no memory lent) --repeat times, and then the empty program (`mov %r0, 0;
exit`) as many times: its time is the engine's baseline (entry, exit, the
loop around the runs), and net = raw - baseline is the program's own time.

Engines (default: interp, interp-fast, jit, and kernel): ours are timed
with the wall clock around the whole batch; kernel runs the same bytecode
in the Linux kernel's JIT through BPF_PROG_TEST_RUN with repeat and uses
the kernel's own time per run (needs root or CAP_BPF + CAP_NET_ADMIN;
without, its row says `n/a: <reason>`). Times are wall-clock means: run
on an idle machine, and compare figures of one run only.

Output: one row per engine with raw and net ns per run and the net ratio
to jit (and to kernel when it ran); the r0 every engine returned (they
must agree: a mismatch is an error, exit 1); and the JIT's compile time
per 1,000 instructions (the program compiled repeatedly; a short program
is dominated by the fixed cost of each compile).

--json prints {\"program\": FILE, \"insns\": 12, \"runs\": 10000,
\"return\": 123, \"engines\": [{\"engine\": \"interp\", \"raw_ns\": 20.5,
\"baseline_ns\": 1.5, \"net_ns\": 19.0, \"net_per_jit\": 8.1,
\"net_per_kernel\": null}, {\"engine\": \"kernel\", \"na\": \"reason\"}],
\"jit_compile\": {\"compiles\": 1000, \"us_per_compile\": 6.2,
\"us_per_1000_insns\": 516.0}}. Ratios are null where they are
meaningless (the other engine did not run, or its net time is not
positive).

Exit status: 0 measured, 1 the program was refused, trapped, or engines
disagree on r0, 2 usage error or malformed input.")]
pub struct BenchArgs {
    /// Program: assembly (.s), hex text or raw bytecode.
    pub file: PathBuf,
    /// With --verify: more objects, or directories of `.o` files.
    #[arg(value_name = "MORE")]
    pub more: Vec<PathBuf>,
    /// Engine to measure (repeat the option for several; default:
    /// interp, interp-fast, jit, kernel).
    #[arg(long, value_parser = PossibleValuesParser::new(engines::names()))]
    pub engine: Vec<String>,
    /// Runs per engine (and as many of the empty program).
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Instruction budget of each run on our engines (checked mode).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BUDGET)]
    pub budget: u64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Time verification instead of runs: oxbpf's verifier on each program
    /// of FILE and MORE (ELF objects, or directories of them) against the
    /// kernel verifier's own "verification time" (median of --repeat, at
    /// most 1000; the kernel side of at most 5 loads), with processed
    /// instructions and states on both sides.
    #[arg(long)]
    pub verify: bool,
}

/// One engine's figures.
#[derive(Clone, Copy, Debug)]
struct Timing {
    raw_ns: f64,
    baseline_ns: f64,
    r0: u64,
}

impl Timing {
    fn net(&self) -> f64 {
        self.raw_ns - self.baseline_ns
    }
}

#[derive(Serialize)]
struct JsonEngine {
    engine: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_ns: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_ns: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    net_ns: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    net_per_jit: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    net_per_kernel: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    na: Option<String>,
}

#[derive(Serialize)]
struct JsonCompile {
    compiles: u32,
    us_per_compile: f64,
    us_per_1000_insns: f64,
}

#[derive(Serialize)]
struct JsonBench {
    program: String,
    insns: usize,
    runs: u32,
    #[serde(rename = "return")]
    ret: Option<u64>,
    engines: Vec<JsonEngine>,
    jit_compile: JsonCompile,
}

/// Runs `bench`.
pub fn run(args: &BenchArgs) -> Result<()> {
    if args.verify {
        let mut paths = vec![args.file.clone()];
        paths.extend(args.more.iter().cloned());
        return crate::cmd::bench_verify::run(&paths, args.repeat.min(1000), args.json);
    }
    if !args.more.is_empty() {
        return Err(crate::error::CliError::malformed(anyhow::anyhow!(
            "several files are measured with --verify only"
        )));
    }
    let insns = read_program(&args.file)?;
    let count = insns.len();
    let program = checked(insns).map_err(|e| e.context("program rejected"))?;
    let empty = checked(vec![
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R0,
            src: Operand::Imm(0),
        },
        Insn::Exit,
    ])?;

    let names: Vec<&str> = if args.engine.is_empty() {
        DEFAULT_ENGINES.to_vec()
    } else {
        args.engine.iter().map(String::as_str).collect()
    };
    let mut rows: Vec<(&str, std::result::Result<Timing, String>)> = Vec::new();
    for name in &names {
        if rows.iter().any(|(n, _)| n == name) {
            continue;
        }
        let row = if *name == "kernel" {
            kernel(&program, &empty, args.repeat)?
        } else {
            ours(name, &program, &empty, args)?
        };
        rows.push((name, row));
    }

    // Every engine that ran must have computed the same r0.
    let mut ran = rows
        .iter()
        .filter_map(|(n, r)| r.as_ref().ok().map(|t| (n, t)));
    let first = ran.next();
    if let Some((first_name, first)) = first {
        for (name, t) in ran {
            if t.r0 != first.r0 {
                return Err(CliError::failed(anyhow!(
                    "engines disagree on r0: {first_name} returned {} ({:#x}), {name} returned {} ({:#x})",
                    first.r0,
                    first.r0,
                    t.r0,
                    t.r0
                )));
            }
        }
    }
    let ret = first.map(|(_, t)| t.r0);

    let compile = compile_time(&program, count)?;

    let net_of = |engine: &str| {
        rows.iter()
            .find(|(n, _)| *n == engine)
            .and_then(|(_, r)| r.as_ref().ok())
            .map(Timing::net)
    };
    let ratio = |t: &Timing, other: Option<f64>| match other {
        Some(o) if o > 0.0 => Some(t.net() / o),
        _ => None,
    };
    let (jit_net, kernel_net) = (net_of("jit"), net_of("kernel"));

    if args.json {
        let engines = rows
            .iter()
            .map(|(name, r)| match r {
                Ok(t) => JsonEngine {
                    engine: name.to_string(),
                    raw_ns: Some(t.raw_ns),
                    baseline_ns: Some(t.baseline_ns),
                    net_ns: Some(t.net()),
                    net_per_jit: Some(ratio(t, jit_net)),
                    net_per_kernel: Some(ratio(t, kernel_net)),
                    na: None,
                },
                Err(why) => JsonEngine {
                    engine: name.to_string(),
                    raw_ns: None,
                    baseline_ns: None,
                    net_ns: None,
                    net_per_jit: None,
                    net_per_kernel: None,
                    na: Some(why.clone()),
                },
            })
            .collect();
        return super::print_json(&JsonBench {
            program: args.file.display().to_string(),
            insns: count,
            runs: args.repeat,
            ret,
            engines,
            jit_compile: compile,
        });
    }

    println!(
        "{}: {count} instructions, {} runs per engine (checked mode; the kernel verifies instead)",
        args.file.display(),
        args.repeat
    );
    let show_kernel = kernel_net.is_some();
    let fmt_ratio = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.2}x"));
    print!(
        "{:<12} {:>12} {:>12} {:>12} {:>9}",
        "engine", "raw ns/run", "base ns/run", "net ns/run", "net/jit"
    );
    if show_kernel {
        print!(" {:>11}", "net/kernel");
    }
    println!();
    for (name, r) in &rows {
        match r {
            Ok(t) => {
                print!(
                    "{name:<12} {:>12.1} {:>12.1} {:>12.1} {:>9}",
                    t.raw_ns,
                    t.baseline_ns,
                    t.net(),
                    fmt_ratio(ratio(t, jit_net))
                );
                if show_kernel {
                    print!(" {:>11}", fmt_ratio(ratio(t, kernel_net)));
                }
                println!();
            }
            Err(why) => println!("{name:<12} n/a: {why}"),
        }
    }
    println!("base = the empty program (mov %r0, 0; exit) on the same engine; net = raw - base");
    match ret {
        Some(r0) => println!("return: {r0} ({r0:#x}) on every engine"),
        None => println!("return: no engine ran"),
    }
    println!(
        "jit compile: {count} instructions in {:.1} us (mean of {} compiles) = {:.1} us per 1,000 instructions",
        compile.us_per_compile, compile.compiles, compile.us_per_1000_insns
    );
    Ok(())
}

/// A program with `oxbpf run`'s contract (conformance helper table, r1 and
/// r2 set at entry), loaded in checked mode: without a verifier, the safe
/// mode is the only one for an arbitrary file.
fn checked(insns: Vec<Insn>) -> std::result::Result<Program, anyhow::Error> {
    Program::checked(insns, Arc::new(conformance::table()), &[Reg::R1, Reg::R2])
        .map_err(anyhow::Error::new)
}

/// Entry arguments of every run: r1 = r2 = 0 (no memory lent).
const ARGS: [u64; 5] = [0; 5];

/// One of our engines: the program and the empty program, `repeat` runs
/// each. A load refusal is "n/a" (the engine cannot run the program); a
/// trap is an error, as in `oxbpf run`.
fn ours(
    name: &str,
    program: &Program,
    empty: &Program,
    args: &BenchArgs,
) -> Result<std::result::Result<Timing, String>> {
    let engine = engines::engine(name)
        .ok_or_else(|| CliError::malformed(anyhow!("unknown engine '{name}'")))?;
    let exe = match engine.load(program) {
        Ok(e) => e,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let base = match engine.load(empty) {
        Ok(e) => e,
        Err(e) => return Ok(Err(format!("the empty program: {e}"))),
    };
    let (raw_ns, r0) = time_ours(name, exe.as_ref(), args)?;
    let (baseline_ns, _) = time_ours(name, base.as_ref(), args)?;
    Ok(Ok(Timing {
        raw_ns,
        baseline_ns,
        r0,
    }))
}

/// Mean ns per run over `args.repeat` runs after one untimed run (which
/// also gives r0). The loop only resets the budget between runs.
fn time_ours(name: &str, exe: &dyn Executable, args: &BenchArgs) -> Result<(f64, u64)> {
    let mut state = RunState::new();
    let trapped = |t| CliError::failed(anyhow!("program trapped on {name} at {t}"));
    state.budget = args.budget;
    let r0 = exe.run(&mut state, ARGS).map_err(trapped)?;
    let start = Instant::now();
    for _ in 0..args.repeat {
        state.budget = args.budget;
        std::hint::black_box(exe.run(&mut state, ARGS).map_err(trapped)?);
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(args.repeat);
    Ok((ns, r0))
}

/// The kernel: "n/a" when this process cannot use bpf(2) or the verifier
/// refuses the program; the kernel's own mean time per run otherwise.
fn kernel(
    program: &Program,
    empty: &Program,
    repeat: u32,
) -> Result<std::result::Result<Timing, String>> {
    if let Err(e) = KernelEngine::available() {
        return Ok(Err(format!("kernel engine unavailable: {e}")));
    }
    let engine = KernelEngine::new();
    let run = |p: &Program, what: &str| -> std::result::Result<(f64, u64), String> {
        let exe = engine.load_kernel(p).map_err(|e| format!("{what}: {e}"))?;
        let mut state = RunState::new();
        let out = exe
            .test_run_repeat(&mut state, ARGS, repeat)
            .map_err(|e| format!("{what}: {e}"))?;
        Ok((f64::from(out.ns_per_run), out.r0))
    };
    let (raw_ns, r0) = match run(program, "the program") {
        Ok(v) => v,
        Err(why) => return Ok(Err(why)),
    };
    let (baseline_ns, _) = match run(empty, "the empty program") {
        Ok(v) => v,
        Err(why) => return Ok(Err(why)),
    };
    Ok(Ok(Timing {
        raw_ns,
        baseline_ns,
        r0,
    }))
}

/// JIT compile time: the program compiled repeatedly for about
/// [`COMPILE_TIME`], the mean scaled to 1,000 instructions.
fn compile_time(program: &Program, count: usize) -> Result<JsonCompile> {
    let start = Instant::now();
    let mut compiles = 0u32;
    while compiles < COMPILES.0 || (start.elapsed() < COMPILE_TIME && compiles < COMPILES.1) {
        let exe = oxbpf_jit::Jit.compile(program).map_err(|e| {
            CliError::failed(anyhow::Error::new(e).context("the jit cannot compile the program"))
        })?;
        std::hint::black_box(exe);
        compiles += 1;
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(compiles);
    Ok(JsonCompile {
        compiles,
        us_per_compile: us,
        us_per_1000_insns: us * 1000.0 / count.max(1) as f64,
    })
}
