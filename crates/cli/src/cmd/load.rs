//! `oxbpf load FILE.o --pin DIR`: load an object into the kernel without
//! attaching it; its programs and maps are pinned under DIR
//! (`DIR/progs/NAME`, `DIR/maps/NAME`) and outlive the command.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Args;
use oxbpf_kernel::{KernelObject, LoadOptions};
use serde_json::json;

use crate::error::{CliError, Result};

/// Arguments of `load`.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  oxbpf load flow_hash.o --pin /sys/fs/bpf/flows
  oxbpf map dump /sys/fs/bpf/flows/maps/flows
  rm -r /sys/fs/bpf/flows            # unpins (the objects go with it)")]
pub struct LoadArgs {
    /// The object file.
    pub file: PathBuf,
    /// Directory on a bpf filesystem to pin into (created; bpffs is
    /// mounted at /sys/fs/bpf if needed).
    #[arg(long, value_name = "DIR")]
    pub pin: PathBuf,
    /// Load only these programs (repeatable; default: all).
    #[arg(long, value_name = "NAME")]
    pub prog: Vec<String>,
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &LoadArgs) -> Result<()> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let obj = oxbpf_object::Object::parse(&bytes).map_err(|e| {
        CliError::malformed(anyhow::Error::new(e).context(args.file.display().to_string()))
    })?;
    if args.pin.join("maps").exists() || args.pin.join("progs").exists() {
        return Err(CliError::failed(anyhow!(
            "{} already holds pins; remove it first (rm -r)",
            args.pin.display()
        )));
    }
    let kobj = KernelObject::load_with(
        &obj,
        &LoadOptions {
            programs: (!args.prog.is_empty()).then(|| args.prog.clone()),
            ..LoadOptions::default()
        },
    )
    .map_err(|e| {
        CliError::failed(anyhow::Error::new(e).context("the kernel refused the object"))
    })?;
    let mut pinned = Vec::new();
    for p in kobj.programs() {
        let path = args.pin.join("progs").join(p.name());
        p.pin(&path)
            .map_err(|e| CliError::failed(anyhow!("pin {}: {e}", path.display())))?;
        pinned.push(path);
    }
    for (name, m) in kobj.maps() {
        let path = args.pin.join("maps").join(name);
        m.pin(&path)
            .map_err(|e| CliError::failed(anyhow!("pin {}: {e}", path.display())))?;
        pinned.push(path);
    }
    if args.json {
        crate::cmd::print_json(&json!({
            "object": args.file.display().to_string(),
            "pinned": pinned.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        }))?;
    } else {
        for p in &pinned {
            println!("pinned {}", p.display());
        }
    }
    Ok(())
}
