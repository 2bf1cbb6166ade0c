//! `oxbpf bench --verify FILE.o [MORE.o | DIR ...]`: how long oxbpf's
//! verifier takes on each program of one or many objects, against the
//! kernel verifier's own "verification time" for the same program (from
//! its log at `BPF_LOG_STATS`), with processed instructions and states on
//! both sides.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use oxbpf_kernel::{KernelObject, LoadOptions};
use oxbpf_verifier::{Options, verify_object_program};
use serde_json::json;

use crate::error::{CliError, Result};

/// `BPF_LOG_STATS`: the kernel prints statistics only.
const LOG_STATS: u32 = 4;

/// The kernel's figures for one program.
#[derive(Debug, Clone, Copy, PartialEq)]
struct KernelStats {
    /// "verification time N usec".
    us: f64,
    /// "processed N insns".
    processed: u64,
    /// "total_states N".
    states: Option<u64>,
}

/// Ours for one program.
#[derive(Debug, Clone, Copy)]
struct OurStats {
    us: f64,
    processed: u64,
    states: u64,
    pruned: u64,
}

/// One program's figures.
#[derive(Debug)]
struct Row {
    object: String,
    program: String,
    insns: usize,
    ours: std::result::Result<OurStats, String>,
    kernel: std::result::Result<KernelStats, String>,
}

impl Row {
    /// Our time over the kernel's, when both verified it.
    fn ratio(&self) -> Option<f64> {
        match (&self.ours, &self.kernel) {
            (Ok(o), Ok(k)) => Some(o.us / k.us.max(1e-9)),
            _ => None,
        }
    }
}

/// The median of `xs` (sorted in place).
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

/// The number after `key` on some line of `log`.
fn stat_after(log: &str, key: &str) -> Option<f64> {
    log.lines().find_map(|l| {
        let i = l.find(key)?;
        if i > 0 && !l[..i].ends_with(' ') {
            return None;
        }
        l[i + key.len()..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<f64>().ok())
    })
}

/// "verification time 52 usec", "processed 12 insns" and "total_states 3"
/// from a kernel log.
fn parse_kernel_stats(log: &str) -> Option<KernelStats> {
    Some(KernelStats {
        us: stat_after(log, "verification time ")?,
        processed: stat_after(log, "processed ")? as u64,
        states: stat_after(log, "total_states ").map(|n| n as u64),
    })
}

/// The objects named: files as given, directories as their `*.o` files
/// (sorted).
fn objects(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "o"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(CliError::malformed(anyhow::anyhow!(
                    "{}: no .o files in this directory",
                    p.display()
                )));
            }
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The kernel's figures: this program alone loaded with statistics a few
/// times (each load costs milliseconds), median of its own time.
fn kernel_side(
    obj: &oxbpf_object::Object,
    prog: &str,
    repeat: usize,
) -> std::result::Result<KernelStats, String> {
    let opts = LoadOptions {
        log_level: LOG_STATS,
        programs: Some(vec![prog.to_string()]),
        ..LoadOptions::default()
    };
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..repeat.clamp(1, 5) {
        let k = KernelObject::load_with(obj, &opts).map_err(|e| e.to_string())?;
        let p = k
            .program(prog)
            .ok_or_else(|| format!("{prog} not loaded"))?;
        let s = parse_kernel_stats(p.log())
            .ok_or_else(|| format!("no statistics in the kernel's log: {:?}", p.log()))?;
        times.push(s.us);
        last = Some(s);
    }
    let mut s = last.ok_or("no load")?;
    s.us = median(&mut times);
    Ok(s)
}

/// Our figures: `repeat` verifications, median time.
fn our_side(
    obj: &oxbpf_object::Object,
    prog: &oxbpf_object::Program,
    repeat: usize,
) -> std::result::Result<OurStats, String> {
    let mut times = Vec::with_capacity(repeat);
    let mut last = None;
    for _ in 0..repeat {
        let start = Instant::now();
        let v = verify_object_program(prog, &obj.maps, Options::default())
            .map_err(|e| format!("rejected ({})", e.kind().as_str()))?;
        times.push(start.elapsed().as_secs_f64() * 1e6);
        last = Some(v.stats);
    }
    let s = last.ok_or("no run")?;
    Ok(OurStats {
        us: median(&mut times),
        processed: s.processed,
        states: s.states,
        pruned: s.pruned,
    })
}

/// Runs the comparison on every program of every object, `repeat`
/// verifications on our side.
pub fn run(paths: &[PathBuf], repeat: u32, json: bool) -> Result<()> {
    let repeat = repeat.clamp(1, 1000) as usize;
    let mut rows = Vec::new();
    for file in objects(paths)? {
        rows.extend(object_rows(&file, repeat)?);
    }
    if json {
        for r in &rows {
            let (k, k_err) = match &r.kernel {
                Ok(k) => (Some(*k), None),
                Err(e) => (None, Some(e.clone())),
            };
            let (o, o_err) = match &r.ours {
                Ok(o) => (Some(*o), None),
                Err(e) => (None, Some(e.clone())),
            };
            crate::cmd::print_json(&json!({
                "object": r.object,
                "program": r.program,
                "insns": r.insns,
                "oxbpf_us": o.map(|o| o.us),
                "oxbpf_processed": o.map(|o| o.processed),
                "oxbpf_states": o.map(|o| o.states),
                "oxbpf_pruned": o.map(|o| o.pruned),
                "oxbpf_error": o_err,
                "kernel_us": k.map(|k| k.us),
                "kernel_processed": k.map(|k| k.processed),
                "kernel_states": k.and_then(|k| k.states),
                "kernel_error": k_err,
                "ratio": r.ratio(),
            }))?;
        }
        return Ok(());
    }
    println!(
        "{:<44} {:>6} {:>10} {:>9} {:>7} {:>10} {:>9} {:>7} {:>9}",
        "object/program",
        "insns",
        "oxbpf us",
        "processed",
        "states",
        "kernel us",
        "processed",
        "states",
        "ours/kern"
    );
    for r in &rows {
        let name = format!("{}/{}", r.object, r.program);
        let ours = match &r.ours {
            Ok(o) => format!("{:>10.1} {:>9} {:>7}", o.us, o.processed, o.states),
            Err(e) => format!("{:>28}", format!("oxbpf: {e}")),
        };
        let kernel = match &r.kernel {
            Ok(k) => format!(
                "{:>10.1} {:>9} {:>7}",
                k.us,
                k.processed,
                k.states
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "?".into())
            ),
            Err(e) => format!("kernel: {e}"),
        };
        let ratio = r.ratio().map(|x| format!("{x:>8.2}x")).unwrap_or_default();
        println!("{name:<44} {:>6} {ours} {kernel} {ratio}", r.insns);
    }
    let compared: Vec<f64> = rows.iter().filter_map(Row::ratio).collect();
    if rows.len() > 1 {
        let faster = compared.iter().filter(|x| **x < 1.0).count();
        println!(
            "{} programs, {} compared with the kernel; oxbpf faster on {faster}, slower on {}",
            rows.len(),
            compared.len(),
            compared.len() - faster
        );
    }
    Ok(())
}

/// The rows of one object.
fn object_rows(file: &Path, repeat: usize) -> Result<Vec<Row>> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let object = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let obj = match oxbpf_object::Object::parse(&bytes) {
        Ok(obj) => obj,
        // One object oxbpf cannot load does not stop the others.
        Err(e) => {
            return Ok(vec![Row {
                object,
                program: "-".into(),
                insns: 0,
                ours: Err(format!("not loadable: {e}")),
                kernel: Err("not compared".into()),
            }]);
        }
    };
    Ok(obj
        .programs
        .iter()
        .map(|prog| Row {
            object: object.clone(),
            program: prog.name.clone(),
            insns: prog.insns.len(),
            ours: our_side(&obj, prog, repeat),
            kernel: kernel_side(&obj, &prog.name, repeat),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_stats_parse() {
        let log = "func#0 @0\nverification time 52 usec\nstack depth 16\nprocessed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0\n";
        assert_eq!(
            parse_kernel_stats(log),
            Some(KernelStats {
                us: 52.0,
                processed: 12,
                states: Some(1)
            })
        );
        assert_eq!(parse_kernel_stats("nothing"), None);
    }

    #[test]
    fn directories_expand_to_their_objects() {
        let dir = std::env::temp_dir().join(format!("oxbpf-bench-verify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for n in ["b.o", "a.o", "notes.txt"] {
            std::fs::write(dir.join(n), b"").unwrap();
        }
        let got = objects(std::slice::from_ref(&dir)).ok().unwrap();
        assert_eq!(got, vec![dir.join("a.o"), dir.join("b.o")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
