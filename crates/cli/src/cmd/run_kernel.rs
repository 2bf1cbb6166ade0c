//! `oxbpf run FILE.o --engine kernel`: the object is loaded into the Linux
//! kernel and the program run with `BPF_PROG_TEST_RUN`, with the same
//! flags and output lines as the other engines. `--repeat N` reports the
//! kernel's own mean duration per run.

use anyhow::{Context, anyhow};
use oxbpf::XdpAction;
use oxbpf_kernel::{KernelMap, KernelObject, LoadOptions, TestRun};
use serde_json::{Value, json};

use crate::cmd::hex;
use crate::cmd::run::RunArgs;
use crate::error::{CliError, Result};

/// `enum bpf_prog_type` values oxbpf names actions for.
const PROG_TYPE_SCHED_CLS: u32 = 3;
const PROG_TYPE_XDP: u32 = 6;

/// Runs `run` on the kernel.
pub fn run(args: &RunArgs) -> Result<()> {
    if args.trace {
        return Err(CliError::malformed(anyhow!(
            "--trace needs an oxbpf engine (interp, interp-fast or jit): the kernel does not trace"
        )));
    }
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let obj = oxbpf_object::Object::parse(&bytes)
        .map_err(|e| CliError::failed(anyhow::Error::new(e).context("cannot load the object")))?;
    let names: Vec<&str> = obj.programs.iter().map(|p| p.name.as_str()).collect();
    let name = crate::cmd::pick_program(&args.file, &names, args.prog.as_deref())?;
    let kobj = KernelObject::load_with(
        &obj,
        &LoadOptions {
            // Every program: tail calls reach the others through the
            // object's prog arrays, filled from its initialisers.
            programs: None,
            ..LoadOptions::default()
        },
    )
    .map_err(|e| {
        CliError::failed(anyhow::Error::new(e).context("the kernel refused the object"))
    })?;
    let prog = kobj
        .program(&name)
        .ok_or_else(|| CliError::failed(anyhow!("program {name} was not loaded")))?;
    if let Some(path) = &args.maps_in {
        let maps: Vec<(&str, &KernelMap)> = kobj.maps().collect();
        crate::cmd::xdp_kernel::fill_maps(&maps, path)?;
    }
    let kind = prog.prog_type();
    if let Some(pcap_in) = &args.pcap {
        return run_pcap(prog, kind, pcap_in, args.out.as_deref(), &kobj, args);
    }
    let data_path = args
        .data
        .as_ref()
        .ok_or_else(|| CliError::malformed(anyhow!("--data PACKET.bin is required for objects")))?;
    let packet =
        std::fs::read(data_path).with_context(|| format!("cannot read {}", data_path.display()))?;
    if packet.len() < 14 {
        return Err(CliError::malformed(anyhow!(
            "packet of {} bytes is shorter than an ethernet header (14 bytes)",
            packet.len()
        )));
    }
    let mut run = TestRun::with_data(&packet);
    run.extra_out = 512;
    let out = prog
        .test_run(&mut run)
        .map_err(|e| CliError::failed(anyhow::Error::new(e).context("BPF_PROG_TEST_RUN")))?;
    let timing = match args.repeat {
        Some(n) => {
            let mut r = TestRun::with_data(&packet);
            r.extra_out = 512;
            r.repeat = u32::try_from(n).unwrap_or(u32::MAX);
            let t = prog.test_run(&mut r).map_err(|e| {
                CliError::failed(anyhow::Error::new(e).context("BPF_PROG_TEST_RUN"))
            })?;
            Some((t.duration_ns, r.repeat))
        }
        None => None,
    };
    let ret = out.retval;
    let action = match kind {
        PROG_TYPE_XDP => XdpAction::from_ret(ret).map(XdpAction::name),
        PROG_TYPE_SCHED_CLS => oxbpf::tc_action_name(ret),
        _ => None,
    };
    if let Some(p) = &args.data_out {
        std::fs::write(p, &out.data).with_context(|| format!("cannot write {}", p.display()))?;
    }
    if args.json {
        let mut v = json!({
            "engine": "kernel",
            "program": name,
            "return": ret,
            "action": action,
            "log": Vec::<String>::new(),
        });
        if args.data_out.is_none() {
            v["packet"] = Value::String(hex(&out.data));
        }
        if let Some((mean, n)) = timing {
            v["runs"] = json!(n);
            v["ns_per_run"] = json!(mean);
        }
        crate::cmd::print_json(&v)?;
    } else {
        match action {
            Some(a) => println!("return: {ret} ({a})"),
            None => println!("return: {ret}"),
        }
        if args.data_out.is_none() {
            println!("packet: {}", hex(&out.data));
        }
        if let Some((mean, n)) = timing {
            println!("time: {mean} ns/run over {n} runs");
        }
    }
    write_maps(&kobj, args)
}

fn write_maps(kobj: &KernelObject, args: &RunArgs) -> Result<()> {
    if let Some(path) = &args.maps_out {
        let state = crate::cmd::xdp_kernel::dump_maps(kobj.maps())?;
        let text = serde_json::to_string_pretty(&state).map_err(|e| anyhow!(e))?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// `--pcap` on the kernel: one test run per record.
fn run_pcap(
    prog: &oxbpf_kernel::KernelProgram,
    kind: u32,
    input: &std::path::Path,
    out: Option<&std::path::Path>,
    kobj: &KernelObject,
    args: &RunArgs,
) -> Result<()> {
    use oxbpf_xdp::pcap;
    if kind != PROG_TYPE_XDP {
        return Err(CliError::malformed(anyhow!(
            "--pcap runs XDP programs only"
        )));
    }
    let bytes = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    let cap = pcap::parse(&bytes).map_err(|e| {
        CliError::malformed(anyhow::Error::new(e).context(input.display().to_string()))
    })?;
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    let mut sent = out.map(|_| cap.header.to_vec());
    let start = std::time::Instant::now();
    for r in &cap.records {
        if r.data.len() < 14 {
            *counts.entry("refused".into()).or_default() += 1;
            continue;
        }
        let mut run = TestRun::with_data(r.data);
        run.extra_out = 512;
        let o = prog
            .test_run(&mut run)
            .map_err(|e| CliError::failed(anyhow::Error::new(e).context("BPF_PROG_TEST_RUN")))?;
        let name = XdpAction::from_ret(o.retval)
            .map_or_else(|| o.retval.to_string(), |a| a.name().to_string());
        *counts.entry(name).or_default() += 1;
        if let Some(buf) = sent.as_mut()
            && XdpAction::from_ret(o.retval) == Some(XdpAction::Tx)
        {
            let rec = pcap::Record {
                data: &o.data,
                orig_len: 0,
                ..*r
            };
            pcap::write_record(&cap, buf, &rec);
        }
    }
    let elapsed = start.elapsed();
    println!("packets: {}", cap.records.len());
    for (k, v) in &counts {
        println!("{k}: {v}");
    }
    let n = cap.records.len().max(1) as f64;
    println!(
        "replay: {:.0} pkt/s ({:.0} ns/packet on kernel, one BPF_PROG_TEST_RUN each)",
        n / elapsed.as_secs_f64().max(1e-9),
        elapsed.as_nanos() as f64 / n
    );
    if let (Some(path), Some(buf)) = (out, sent) {
        std::fs::write(path, buf).with_context(|| format!("cannot write {}", path.display()))?;
    }
    write_maps(kobj, args)
}
