//! `oxbpf conformance DIR`: run a directory of bpf_conformance data files.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use clap::builder::PossibleValuesParser;
use oxbpf_conformance::{Outcome, RunOptions, Summary, implies_expect_fail, run_dir};
use serde::Serialize;

use crate::engines;
use crate::error::{CliError, Result};

/// Arguments of `conformance`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  oxbpf conformance ../shared/conformance/bpf_conformance/tests
  oxbpf conformance ../shared/conformance/bpf_conformance/negative
  oxbpf conformance DIR --engine interp --filter lddw

Runs every *.data file of DIR, in name order, each with the suite's
contract (r1 = private copy of -- mem, r2 = its length, helpers 0-5), and
compares r0 with -- result. A file with -- error must be refused.

With --expect-fail (implied when DIR's last component is `negative`) a file
passes when it fails as intended: refused by the data parser, assembler,
decoder or loader, trapped, or returned something other than -- result.

Each failing or skipped file gets one line on stderr with the reason
(`FAIL add.data: r0 = 0x2, expected 0x3`, `SKIP ...`). The last line on
stdout is `N passed, M failed`, plus `, K skipped` when K > 0. Exit status
0 if and only if M = 0; 2 when DIR cannot be read.

--json prints instead one object: {\"engine\": \"interp\", \"dir\": DIR,
\"expect_fail\": false, \"files\": [{\"name\": \"add.data\", \"outcome\":
\"pass\" | \"fail\" | \"skip\", \"observed\": \"returned r0 = 0x3\",
\"reason\": ... (fail and skip only)}], \"passed\": N, \"failed\": M,
\"skipped\": K}.")]
pub struct ConformanceArgs {
    /// Directory of *.data files.
    pub dir: PathBuf,
    /// Engine to run on.
    #[arg(long, default_value = "interp", value_parser = PossibleValuesParser::new(engines::names()))]
    pub engine: String,
    /// Every file must fail (implied for a directory named `negative`).
    #[arg(long)]
    pub expect_fail: bool,
    /// Only files whose name contains SUBSTR.
    #[arg(long, value_name = "SUBSTR")]
    pub filter: Option<String>,
    /// Print one JSON object instead of the summary line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct JsonFile {
    name: String,
    outcome: &'static str,
    observed: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize)]
struct JsonReport {
    engine: &'static str,
    dir: String,
    expect_fail: bool,
    files: Vec<JsonFile>,
    passed: usize,
    failed: usize,
    skipped: usize,
}

/// Runs `conformance`.
pub fn run(args: &ConformanceArgs) -> Result<()> {
    let engine = engines::engine(&args.engine)
        .ok_or_else(|| CliError::malformed(anyhow!("unknown engine '{}'", args.engine)))?;
    let options = RunOptions {
        expect_fail: args.expect_fail || implies_expect_fail(&args.dir),
        ..RunOptions::default()
    };
    let reports = run_dir(&*engine, &args.dir, &options, args.filter.as_deref())
        .map_err(|e| CliError::malformed(anyhow::Error::new(e)))?;
    if reports.is_empty() {
        // Only a filter can empty the list (run_dir refuses a directory
        // without data files); running nothing must not look like success.
        return Err(CliError::malformed(anyhow!(
            "no file name in {} contains '{}'",
            args.dir.display(),
            args.filter.as_deref().unwrap_or_default()
        )));
    }
    let summary = Summary::of(&reports);
    let mut files = Vec::new();
    for r in &reports {
        let (outcome, reason) = match &r.outcome {
            Outcome::Pass => ("pass", None),
            Outcome::Fail { reason } => {
                eprintln!("FAIL {}: {reason}", r.name);
                ("fail", Some(reason.clone()))
            }
            Outcome::Skip { reason } => {
                eprintln!("SKIP {}: {reason}", r.name);
                ("skip", Some(reason.clone()))
            }
        };
        files.push(JsonFile {
            name: r.name.clone(),
            outcome,
            observed: r.observed.to_string(),
            reason,
        });
    }
    if args.json {
        super::print_json(&JsonReport {
            engine: engine.name(),
            dir: args.dir.display().to_string(),
            expect_fail: options.expect_fail,
            files,
            passed: summary.passed,
            failed: summary.failed,
            skipped: summary.skipped,
        })?;
    } else {
        println!("{summary}");
    }
    if summary.failed > 0 {
        return Err(CliError::failed(anyhow!(
            "{} of {} files failed",
            summary.failed,
            reports.len()
        )));
    }
    Ok(())
}
