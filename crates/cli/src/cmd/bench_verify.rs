//! `oxbpf bench --verify FILE.o`: how long oxbpf's verifier takes on each
//! program of an object, against the kernel verifier's own "verification
//! time" for the same object (from its log at `BPF_LOG_STATS`).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, anyhow};
use oxbpf_kernel::{KernelObject, LoadOptions};
use oxbpf_verifier::{Options, verify_object_program};
use serde_json::json;

use crate::error::{CliError, Result};

/// `BPF_LOG_STATS`: the kernel prints statistics only.
const LOG_STATS: u32 = 4;

/// One program's figures.
#[derive(Debug)]
struct Row {
    program: String,
    insns: usize,
    ours_us: f64,
    ours_processed: u64,
    kernel: std::result::Result<(f64, u64), String>,
}

/// The median of `xs` (sorted in place).
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

/// "verification time 52 usec" and "processed 12 insns" from a kernel log.
fn parse_kernel_stats(log: &str) -> Option<(f64, u64)> {
    let time = log.lines().find_map(|l| {
        l.strip_prefix("verification time ")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
    })?;
    let processed = log.lines().find_map(|l| {
        l.strip_prefix("processed ")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    })?;
    Some((time, processed))
}

/// Runs the comparison on one object, `repeat` verifications each side.
pub fn run(file: &Path, repeat: u32, json: bool) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let obj = oxbpf_object::Object::parse(&bytes).map_err(|e| {
        CliError::malformed(anyhow::Error::new(e).context(file.display().to_string()))
    })?;
    let repeat = repeat.clamp(1, 1000) as usize;
    let mut rows = Vec::new();
    for prog in &obj.programs {
        let mut times = Vec::with_capacity(repeat);
        let mut processed = 0;
        for _ in 0..repeat {
            let start = Instant::now();
            let v = verify_object_program(prog, &obj.maps, Options::default()).map_err(|e| {
                CliError::failed(anyhow!("{}: oxbpf's verifier rejects it:\n{e}", prog.name))
            })?;
            times.push(start.elapsed().as_secs_f64() * 1e6);
            processed = v.stats.processed;
        }
        // The kernel: load this program alone with statistics, a few times
        // (each load costs milliseconds), median of its own figure.
        let kernel = (|| -> std::result::Result<(f64, u64), String> {
            let opts = LoadOptions {
                log_level: LOG_STATS,
                programs: Some(vec![prog.name.clone()]),
                ..LoadOptions::default()
            };
            let mut ktimes = Vec::new();
            let mut kprocessed = 0;
            for _ in 0..repeat.min(5) {
                let k = KernelObject::load_with(&obj, &opts).map_err(|e| e.to_string())?;
                let p = k
                    .program(&prog.name)
                    .ok_or_else(|| format!("{} not loaded", prog.name))?;
                let (t, n) = parse_kernel_stats(p.log())
                    .ok_or_else(|| format!("no statistics in the kernel's log: {:?}", p.log()))?;
                ktimes.push(t);
                kprocessed = n;
            }
            Ok((median(&mut ktimes), kprocessed))
        })();
        rows.push(Row {
            program: prog.name.clone(),
            insns: prog.insns.len(),
            ours_us: median(&mut times),
            ours_processed: processed,
            kernel,
        });
    }
    if json {
        for r in &rows {
            let (k_us, k_proc, k_err) = match &r.kernel {
                Ok((t, n)) => (Some(*t), Some(*n), None),
                Err(e) => (None, None, Some(e.clone())),
            };
            crate::cmd::print_json(&json!({
                "object": file.display().to_string(),
                "program": r.program,
                "insns": r.insns,
                "oxbpf_us": r.ours_us,
                "oxbpf_processed": r.ours_processed,
                "kernel_us": k_us,
                "kernel_processed": k_proc,
                "kernel_error": k_err,
                "ratio": k_us.map(|k| r.ours_us / k.max(1e-9)),
            }))?;
        }
        return Ok(());
    }
    println!(
        "{:<24} {:>6} {:>12} {:>10} {:>12} {:>10} {:>10}",
        "program", "insns", "oxbpf us", "processed", "kernel us", "processed", "ours/kern"
    );
    for r in &rows {
        match &r.kernel {
            Ok((t, n)) => println!(
                "{:<24} {:>6} {:>12.1} {:>10} {:>12.1} {:>10} {:>9.2}x",
                r.program,
                r.insns,
                r.ours_us,
                r.ours_processed,
                t,
                n,
                r.ours_us / t.max(1e-9)
            ),
            Err(e) => println!(
                "{:<24} {:>6} {:>12.1} {:>10}   kernel: {e}",
                r.program, r.insns, r.ours_us, r.ours_processed
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_stats_parse() {
        let log = "func#0 @0\nverification time 52 usec\nstack depth 16\nprocessed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0\n";
        assert_eq!(parse_kernel_stats(log), Some((52.0, 12)));
        assert_eq!(parse_kernel_stats("nothing"), None);
    }
}
