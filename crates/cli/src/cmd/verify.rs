//! `oxbpf verify FILE.o|FILE.s [--prog NAME] [--profile P] [--log states]
//! [--json] [--type T]`: run the verifier and print, per program, the
//! statistics of an accepted program or the diagnostic of a rejected one.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, anyhow};
use clap::Args;
use oxbpf_abi::program_type::ProgramType;
use oxbpf_isa::asm::assemble_unchecked;
use oxbpf_isa::{AsmError, Insn};
use oxbpf_verifier::{
    Input, Options, Outcome, Profile, VerifyError, decode_error, verify_logged,
    verify_object_program_logged,
};
use serde::Serialize;

use crate::error::{CliError, Result};
use crate::input::{is_assembly, looks_like_hex, parse_hex};

/// Arguments of `verify`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  oxbpf verify parse.o                       # every program of the object
  oxbpf verify parse.o --prog xdp_parse --profile strict
  oxbpf verify prog.s --type sched_cls --log states
  oxbpf verify parse.o --json

FILE is an ELF object (maps, line info and program types come from it),
or an assembly (.s) or bytecode file, verified as one program of --type
(default xdp) without maps.

Per program, an accepted program prints one line with its statistics
(instructions, processed instructions over all paths, stored, pruned and
evicted states (at most 64 are kept per instruction), the most stored at
one instruction, peak pending states, time); a rejected one prints the diagnostic:
the instruction, the rule, the registers involved, the source line and the
branch decisions on the path. --log states prints, before that, each
processed instruction with the registers it starts with.

--json prints {\"file\": F, \"programs\": [{\"name\", \"type\",
\"accepted\", \"insns\", \"processed\", \"states\", \"pruned\",
\"peak_states\", \"evicted\", \"max_states_per_insn\", \"uninit_stack_read\"
(null, or the first insn where a path may read stack it did not write),
\"time_us\", \"warnings\": [..], \"error\": null or
{\"kind\", \"pc\", \"insn\", \"source\", \"message\", \"detail\",
\"regs\": [{\"reg\", \"state\"}], \"path\": [{\"pc\", \"insn\",
\"taken\"}]}}]}.

Exit status: 0 every program accepted, 1 some program rejected, 2 usage
error or malformed input.")]
pub struct VerifyArgs {
    /// Object (.o), assembly (.s) or bytecode file.
    pub file: PathBuf,
    /// Verify only this program (default: all of the object).
    #[arg(long, value_name = "NAME")]
    pub prog: Option<String>,
    /// `privileged` (default: what the kernel accepts from root) or `strict`.
    #[arg(long, default_value = "privileged")]
    pub profile: String,
    /// `states`: print the state at every processed instruction.
    #[arg(long, value_name = "WHAT")]
    pub log: Option<String>,
    /// Program type for .s and bytecode files (xdp, sched_cls, socket_filter, ...).
    #[arg(long = "type", default_value = "xdp")]
    pub program_type: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report {
    file: String,
    programs: Vec<ProgReport>,
}

#[derive(Serialize)]
struct ProgReport {
    name: String,
    #[serde(rename = "type")]
    program_type: String,
    accepted: bool,
    insns: usize,
    processed: u64,
    states: u64,
    pruned: u64,
    peak_states: usize,
    evicted: u64,
    max_states_per_insn: usize,
    /// The first instruction where some path may read stack it did not
    /// write (accepted programs, privileged profile).
    uninit_stack_read: Option<usize>,
    time_us: u128,
    warnings: Vec<String>,
    error: Option<ErrReport>,
}

#[derive(Serialize)]
struct ErrReport {
    kind: &'static str,
    pc: Option<usize>,
    insn: Option<String>,
    source: Option<String>,
    message: String,
    detail: Option<String>,
    regs: Vec<RegReport>,
    path: Vec<StepReport>,
}

#[derive(Serialize)]
struct RegReport {
    reg: u8,
    state: String,
}

#[derive(Serialize)]
struct StepReport {
    pc: usize,
    insn: String,
    taken: bool,
}

fn err_report(e: &VerifyError) -> ErrReport {
    ErrReport {
        kind: e.kind.as_str(),
        pc: e.pc,
        insn: e.insn.clone(),
        source: e.source.clone(),
        message: e.message.clone(),
        detail: e.detail.clone(),
        regs: e
            .regs
            .iter()
            .map(|r| RegReport {
                reg: r.reg,
                state: r.state.clone(),
            })
            .collect(),
        path: e
            .path
            .iter()
            .map(|s| StepReport {
                pc: s.pc,
                insn: s.insn.clone(),
                taken: s.taken,
            })
            .collect(),
    }
}

/// Runs `verify`.
pub fn run(args: &VerifyArgs) -> Result<()> {
    let profile = Profile::from_name(&args.profile).ok_or_else(|| {
        CliError::malformed(anyhow!(
            "unknown profile '{}': expected privileged or strict",
            args.profile
        ))
    })?;
    let log_states = match args.log.as_deref() {
        None => false,
        Some("states") => true,
        Some(other) => {
            return Err(CliError::malformed(anyhow!(
                "unknown --log '{other}': expected states"
            )));
        }
    };
    let options = Options {
        profile,
        log_states,
        ..Options::default()
    };
    let shown = args.file.display().to_string();
    let mut reports = Vec::new();
    let mut logs = Vec::new();
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read {shown}"))?;
    if bytes.starts_with(b"\x7fELF") {
        let obj = oxbpf_object::Object::parse(&bytes).map_err(|e| {
            CliError::malformed(anyhow::Error::new(e).context(format!("cannot load {shown}")))
        })?;
        let progs: Vec<_> = match &args.prog {
            Some(name) => vec![obj.program(name).ok_or_else(|| {
                let names: Vec<_> = obj.programs.iter().map(|p| p.name.as_str()).collect();
                CliError::malformed(anyhow!(
                    "{shown} has no program '{name}' (it has: {})",
                    names.join(", ")
                ))
            })?],
            None => obj.programs.iter().collect(),
        };
        for p in progs {
            let start = Instant::now();
            let out = verify_object_program_logged(p, &obj.maps, options);
            let time = start.elapsed().as_micros();
            reports.push(report(&p.name, p.program_type, p.insns.len(), &out, time));
            logs.push(out.log);
        }
    } else {
        let t = ProgramType::from_name(&args.program_type)
            .or_else(|| (args.program_type == "tc").then_some(ProgramType::SchedCls))
            .or_else(|| (args.program_type == "socket").then_some(ProgramType::SocketFilter))
            .ok_or_else(|| {
                CliError::malformed(anyhow!("unknown program type '{}'", args.program_type))
            })?;
        let name = args
            .file
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let insns: std::result::Result<Vec<Insn>, Box<VerifyError>> = if is_assembly(&args.file) {
            let text = String::from_utf8(bytes)
                .map_err(|_| CliError::malformed(anyhow!("{shown} is not UTF-8 text")))?;
            match assemble_unchecked(&text) {
                Ok(i) => Ok(i),
                Err(AsmError::Decode(e)) => Err(decode_error(&e)),
                Err(e) => {
                    return Err(CliError::malformed(
                        anyhow::Error::new(e).context(format!("cannot assemble {shown}")),
                    ));
                }
            }
        } else {
            let raw = if looks_like_hex(&bytes) {
                parse_hex(&String::from_utf8_lossy(&bytes))
                    .map_err(|e| CliError::malformed(anyhow!("{shown}: {e}")))?
            } else {
                bytes
            };
            oxbpf_isa::decode_bytes(&raw).map_err(|e| decode_error(&e))
        };
        let start = Instant::now();
        let out = match &insns {
            Ok(insns) => {
                let mut input = Input::new(insns, t);
                input.options = options;
                verify_logged(&input)
            }
            Err(e) => Outcome {
                result: Err(e.clone()),
                log: vec![],
                stats: Default::default(),
            },
        };
        let time = start.elapsed().as_micros();
        let n = insns.as_ref().map(|i| i.len()).unwrap_or(0);
        reports.push(report(&name, t, n, &out, time));
        logs.push(out.log);
    }
    let rejected: Vec<String> = reports
        .iter()
        .filter(|r| !r.accepted)
        .map(|r| r.name.clone())
        .collect();
    if args.json {
        super::print_json(&Report {
            file: shown,
            programs: reports,
        })?;
    } else {
        for (r, log) in reports.iter().zip(&logs) {
            for line in log {
                println!("{line}");
            }
            print_text(r);
        }
    }
    if rejected.is_empty() {
        Ok(())
    } else {
        Err(CliError::failed(anyhow!(
            "rejected: {}",
            rejected.join(", ")
        )))
    }
}

fn report(name: &str, t: ProgramType, insns: usize, out: &Outcome, time: u128) -> ProgReport {
    let (accepted, warnings, error, uninit) = match &out.result {
        Ok(v) => (true, v.warnings.clone(), None, v.reads_uninit_stack),
        Err(e) => (false, vec![], Some(err_report(e)), None),
    };
    ProgReport {
        name: name.to_string(),
        program_type: t.name().to_string(),
        accepted,
        insns,
        processed: out.stats.processed,
        states: out.stats.states,
        pruned: out.stats.pruned,
        peak_states: out.stats.peak_states,
        evicted: out.stats.evicted,
        max_states_per_insn: out.stats.max_states_per_insn,
        uninit_stack_read: uninit,
        time_us: time,
        warnings,
        error,
    }
}

fn print_text(r: &ProgReport) {
    if r.accepted {
        println!(
            "{} ({}): accepted: {} insns, {} processed, {} states stored, {} pruned, {} evicted, at most {} per insn, peak {} pending, {} us",
            r.name,
            r.program_type,
            r.insns,
            r.processed,
            r.states,
            r.pruned,
            r.evicted,
            r.max_states_per_insn,
            r.peak_states,
            r.time_us
        );
        for w in &r.warnings {
            println!("  warning: {w}");
        }
        if let Some(pc) = r.uninit_stack_read {
            println!(
                "  note: insn {pc}: some path may read stack bytes the program did not write (allowed in this profile; runs start on a zeroed stack)"
            );
        }
        return;
    }
    println!("{} ({}): rejected", r.name, r.program_type);
    let e = r.error.as_ref().expect("rejected programs have an error");
    match (&e.pc, &e.insn) {
        (Some(pc), Some(insn)) => {
            println!("error at insn {pc} ({insn}): {} [{}]", e.message, e.kind)
        }
        (Some(pc), None) => println!("error at insn {pc}: {} [{}]", e.message, e.kind),
        _ => println!("error: {} [{}]", e.message, e.kind),
    }
    for reg in &e.regs {
        println!("  r{} is {}", reg.reg, reg.state);
    }
    if let Some(d) = &e.detail {
        println!("  {d}");
    }
    if let Some(s) = &e.source {
        println!("  source: {s}");
    }
    if !e.path.is_empty() {
        let steps: Vec<String> = e
            .path
            .iter()
            .map(|s| {
                format!(
                    "insn {} ({}) {}",
                    s.pc,
                    s.insn,
                    if s.taken { "taken" } else { "not taken" }
                )
            })
            .collect();
        println!("  path: {}", steps.join(", "));
    }
}
