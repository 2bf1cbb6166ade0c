//! `oxbpf run FILE.o ...`: run an XDP, tc or socket filter program of an
//! ELF object on a packet.
//!
//! Reached from `run` when FILE starts with the ELF magic. The object is
//! loaded by the `oxbpf` facade (maps created, global data filled,
//! programs linked); the chosen program runs on `--data` as the packet.
//!
//! # Map state JSON (`--maps-in`, `--maps-out`)
//!
//! One object, map name → list of entries, keys and values as lowercase
//! hex of their bytes in memory order (host endianness, as a program sees
//! them). Per-CPU maps give one value per CPU, as an array:
//!
//! ```json
//! {
//!   "proto_count": [ { "key": "06000000", "value": "0200000000000000" } ],
//!   "counters":    [ { "key": "00000000", "value": ["0100000000000000", "0000000000000000"] } ]
//! }
//! ```
//!
//! Maps without keys have entries with only a `value`: a `queue` or
//! `stack` lists its values in pop order (`--maps-in` pushes them in the
//! order given), a `ringbuf` its submitted, unconsumed records in order
//! (`--maps-in` outputs them as records). `lpm_trie` keys are the prefix
//! length (4 bytes, host order) and the data; LRU hashes are dumped like
//! hashes.
//!
//! `--maps-out` writes every map (global data under `.data`, `.rodata`,
//! `.bss`; arrays with all their elements). `--maps-in` sets the listed
//! entries before the run (`BPF_ANY`) and leaves the others; a per-CPU
//! value given as one string is stored on every CPU.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, anyhow};
use oxbpf::{EngineKind, Loader, ProgramKind, RunOptions, XdpAction};
use oxbpf_maps::update::BPF_ANY;
use serde_json::{Map as JsonMap, Value, json};

use crate::cmd::run::RunArgs;
use crate::cmd::{hex, unhex};
use crate::error::{CliError, Result};

/// Whether `path` is an ELF file (starts with `\x7fELF`).
pub fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// Runs `run` on an object file.
pub fn run(args: &RunArgs) -> Result<()> {
    if args.engine == "kernel" {
        return crate::cmd::run_kernel::run(args);
    }
    let engine = match args.engine.as_str() {
        "interp" => EngineKind::Interp,
        "interp-fast" => EngineKind::InterpFast,
        "jit" => EngineKind::Jit,
        other => {
            return Err(CliError::malformed(anyhow!(
                "engine '{other}' cannot run objects (use interp, interp-fast or jit)"
            )));
        }
    };
    let mut loader = Loader::new();
    if args.require_signature {
        // The loader checks the signature again over the very bytes it
        // parses, so a file swapped after run.rs's check is still refused.
        loader = loader.require_signature(super::sign::trusted_keys(&args.trusted_keys)?);
    }
    let obj = loader
        .load_file(&args.file)
        .map_err(|e| CliError::failed(anyhow::Error::new(e).context("cannot load the object")))?;
    let names = obj.program_names();
    let name = crate::cmd::pick_program(&args.file, &names, args.prog.as_deref())?;
    let name_of_prog = name.clone();
    let prog = obj
        .program(&name)
        .map_err(|e| CliError::malformed(anyhow::Error::new(e)))?;
    if let Some(pcap_in) = &args.pcap {
        if let Some(path) = &args.maps_in {
            load_maps(&obj, path)?;
        }
        run_pcap(&prog, engine, pcap_in, args.out.as_deref())?;
        if let Some(path) = &args.maps_out {
            write_state(&obj, path)?;
        }
        return Ok(());
    }
    let data_path = args
        .data
        .as_ref()
        .ok_or_else(|| CliError::malformed(anyhow!("--data PACKET.bin is required for objects")))?;
    let packet =
        std::fs::read(data_path).with_context(|| format!("cannot read {}", data_path.display()))?;
    if let Some(path) = &args.maps_in {
        load_maps(&obj, path)?;
    }
    let opts = RunOptions::default();
    // An unusable packet is malformed input (exit 2); a trap or a refused
    // program is a failure (exit 1).
    let failed = |e: oxbpf::Error| match e {
        oxbpf::Error::Packet { .. } => CliError::malformed(anyhow::Error::new(e)),
        e => CliError::failed(anyhow::Error::new(e)),
    };
    let mut timing = None;
    let kind = prog.kind();
    let skb = matches!(kind, ProgramKind::SchedCls | ProgramKind::SocketFilter);
    let (ret, packet, log) = if args.trace {
        if skb {
            return Err(CliError::malformed(anyhow!(
                "--trace supports xdp programs only"
            )));
        }
        let out = prog
            .run_xdp_traced(&packet, &opts, &mut print_trace_event)
            .map_err(failed)?;
        (out.ret, out.packet, out.log)
    } else {
        let runner = prog.load(engine).map_err(failed)?;
        let once = || -> std::result::Result<(u32, Vec<u8>, Vec<String>), oxbpf::Error> {
            if skb {
                let o = runner.run_skb(&packet, &opts)?;
                Ok((o.ret, o.packet, o.log))
            } else {
                let o = runner.run_xdp_with(&packet, &opts)?;
                Ok((o.ret, o.packet, o.log))
            }
        };
        let out = once().map_err(failed)?;
        if let Some(n) = args.repeat {
            // XDP repeats run in one reused frame (XdpSession), so the time
            // is the program's and the hook's, not the allocation of a
            // fresh frame per run.
            let start;
            if skb {
                start = Instant::now();
                for _ in 0..n {
                    once().map_err(failed)?;
                }
            } else {
                let mut session = runner.xdp_session(opts).map_err(failed)?;
                start = Instant::now();
                for _ in 0..n {
                    session.run(&packet).map_err(failed)?;
                }
            }
            timing = Some((start.elapsed().as_nanos() / u128::from(n), n));
        }
        out
    };
    let name = match kind {
        ProgramKind::Xdp => XdpAction::from_ret(ret).map(XdpAction::name),
        ProgramKind::SchedCls => oxbpf::tc_action_name(ret),
        _ => None,
    };
    if let Some(p) = &args.data_out {
        std::fs::write(p, &packet).with_context(|| format!("cannot write {}", p.display()))?;
    }
    if args.json {
        let mut v = json!({
            "engine": engine.name(),
            "program": name_of_prog,
            "return": ret,
            "action": name,
            "log": log,
        });
        if args.data_out.is_none() {
            v["packet"] = Value::String(hex(&packet));
        }
        if let Some((mean, n)) = timing {
            v["runs"] = json!(n);
            v["ns_per_run"] = json!(mean as u64);
        }
        super::print_json(&v)?;
    } else {
        for line in &log {
            println!("trace_printk: {line}");
        }
        match name {
            Some(a) => println!("return: {ret} ({a})"),
            None => println!("return: {ret}"),
        }
        if args.data_out.is_none() {
            println!("packet: {}", hex(&packet));
        }
        if let Some((mean, n)) = timing {
            println!("time: {mean} ns/run over {n} runs");
        }
    }
    if let Some(path) = &args.maps_out {
        write_state(&obj, path)?;
    }
    Ok(())
}

pub(crate) fn write_state(obj: &oxbpf::Object, path: &Path) -> Result<()> {
    let state = dump_maps(obj)?;
    let text = serde_json::to_string_pretty(&state).map_err(|e| anyhow!(e))?;
    std::fs::write(path, text + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Runs an XDP program over a capture: counts per verdict on stdout, the
/// XDP_TX packets (as they leave) to `out`. A packet the program cannot
/// take (shorter than 14 bytes) counts as `refused`. The capture is read
/// without copying and the program runs in one reused frame
/// ([`oxbpf::XdpSession`]): no allocation per packet except for packets
/// written to `out`. The last line gives the replay rate.
fn run_pcap(
    prog: &oxbpf::ObjProgram<'_>,
    engine: EngineKind,
    input: &Path,
    out: Option<&Path>,
) -> Result<()> {
    use oxbpf_xdp::pcap;
    let bytes = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    let cap = pcap::parse(&bytes).map_err(|e| {
        CliError::malformed(anyhow::Error::new(e).context(input.display().to_string()))
    })?;
    let runner = prog
        .load(engine)
        .map_err(|e| CliError::failed(anyhow::Error::new(e)))?;
    let mut session = runner
        .xdp_session(RunOptions::default())
        .map_err(|e| CliError::failed(anyhow::Error::new(e)))?;
    // Verdicts 0..=4, then "other" return values by number, then refused.
    let mut verdicts = [0u64; 5];
    let mut others: std::collections::BTreeMap<u32, u64> = Default::default();
    let mut refused = 0u64;
    let mut sent = out.map(|_| cap.header.to_vec());
    let start = std::time::Instant::now();
    for r in &cap.records {
        let ret = match session.run(r.data) {
            Ok(ret) => ret,
            Err(oxbpf::Error::Packet { .. }) => {
                refused += 1;
                continue;
            }
            Err(e) => return Err(CliError::failed(anyhow::Error::new(e))),
        };
        match verdicts.get_mut(ret as usize) {
            Some(n) => *n += 1,
            None => *others.entry(ret).or_default() += 1,
        }
        if let Some(buf) = sent.as_mut()
            && XdpAction::from_ret(ret) == Some(XdpAction::Tx)
        {
            let rec = pcap::Record {
                data: session.packet(),
                orig_len: 0,
                ..*r
            };
            pcap::write_record(&cap, buf, &rec);
        }
    }
    let elapsed = start.elapsed();
    // Sorted by name, as before: verdict names and numbers, then refused.
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    for (i, n) in verdicts.iter().enumerate() {
        if *n > 0 {
            let name = XdpAction::from_ret(i as u32)
                .map_or_else(|| i.to_string(), |a| a.name().to_string());
            counts.insert(name, *n);
        }
    }
    for (k, v) in others {
        counts.insert(k.to_string(), v);
    }
    if refused > 0 {
        counts.insert("refused".into(), refused);
    }
    println!("packets: {}", cap.records.len());
    for (k, v) in &counts {
        println!("{k}: {v}");
    }
    let n = cap.records.len().max(1) as f64;
    println!(
        "replay: {:.0} pkt/s ({:.0} ns/packet on {})",
        n / elapsed.as_secs_f64().max(1e-9),
        elapsed.as_nanos() as f64 / n,
        engine.name()
    );
    if let (Some(path), Some(buf)) = (out, sent) {
        std::fs::write(path, buf).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn dump_maps(obj: &oxbpf::Object) -> Result<Value> {
    let mut out = JsonMap::new();
    for (name, map) in obj.maps() {
        if let Some(v) = crate::cmd::maps_calls::dump(obj, name, map)? {
            out.insert(name.to_string(), v);
            continue;
        }
        let entries = map
            .entries()
            .map_err(|e| CliError::failed(anyhow!("map {name}: {e}")))?;
        let percpu = map.spec().kind.is_percpu();
        let ncpus = map.ncpus() as usize;
        let list: Vec<Value> = entries
            .iter()
            .map(|(k, v)| {
                let value = if percpu {
                    let step = v.len() / ncpus.max(1);
                    let vs = map.spec().value_size as usize;
                    Value::Array(
                        v.chunks(step)
                            .map(|c| Value::String(hex(&c[..vs.min(c.len())])))
                            .collect(),
                    )
                } else {
                    Value::String(hex(v))
                };
                if map.spec().key_size == 0 {
                    // Keyless maps (queue, stack, ringbuf): values or
                    // records in pop/consume order.
                    json!({ "value": value })
                } else {
                    json!({ "key": hex(k), "value": value })
                }
            })
            .collect();
        out.insert(name.to_string(), Value::Array(list));
    }
    Ok(Value::Object(out))
}

/// The value bytes of one entry of a map state file: hex for ordinary maps;
/// for per-CPU maps one hex string per CPU (or one for every CPU), each in
/// a slot of `value_size` rounded up to 8 bytes, `ncpus` slots.
pub(crate) fn state_value(
    v: &Value,
    percpu: bool,
    value_size: u32,
    ncpus: u32,
) -> anyhow::Result<Vec<u8>> {
    let vs = value_size as usize;
    let slot = vs.div_ceil(8) * 8;
    let fill = |all: &mut [u8], one: &[u8]| {
        let n = one.len().min(vs);
        all[..n].copy_from_slice(&one[..n]);
    };
    Ok(match v {
        Value::String(s) if percpu => {
            let one = unhex(s)?;
            let mut all = vec![0u8; slot * ncpus as usize];
            for c in all.chunks_mut(slot) {
                fill(c, &one);
            }
            all
        }
        Value::String(s) => unhex(s)?,
        Value::Array(list) if percpu => {
            let mut all = vec![0u8; slot * ncpus as usize];
            for (c, v) in all.chunks_mut(slot).zip(list) {
                fill(
                    c,
                    &unhex(v.as_str().ok_or_else(|| anyhow!("bad per-CPU value {v}"))?)?,
                );
            }
            all
        }
        _ => return Err(anyhow!("entry without a value")),
    })
}

pub(crate) fn load_maps(obj: &oxbpf::Object, path: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let state: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    let maps = state
        .as_object()
        .ok_or_else(|| anyhow!("{}: expected an object of maps", path.display()))?;
    for (name, entries) in maps {
        let map = obj
            .map(name)
            .map_err(|e| CliError::malformed(anyhow::Error::new(e)))?;
        let entries = entries
            .as_array()
            .ok_or_else(|| anyhow!("{}: map {name}: expected a list", path.display()))?;
        if crate::cmd::maps_calls::load(obj, name, map, entries)? {
            continue;
        }
        let spec = map.spec();
        for e in entries {
            let key = if spec.key_size == 0 && e.get("key").is_none() {
                Vec::new()
            } else {
                unhex(
                    e["key"]
                        .as_str()
                        .ok_or_else(|| anyhow!("map {name}: entry without key"))?,
                )?
            };
            let value = state_value(
                &e["value"],
                spec.kind.is_percpu(),
                spec.value_size,
                map.ncpus(),
            )
            .map_err(|err| anyhow!("map {name}: {err}"))?;
            let done = match map.as_any().downcast_ref::<oxbpf_maps::RingBuf>() {
                // A ring buffer takes records, in order, as a producer.
                Some(rb) => rb.output(&value, 0),
                // Queues and stacks push (BPF_MAP_UPDATE_ELEM semantics).
                None => map.update(&key, &value, BPF_ANY),
            };
            done.map_err(|e| CliError::malformed(anyhow!("{}: map {name}: {e}", path.display())))?;
        }
    }
    Ok(())
}

/// One `--trace` line: slot, call depth indent, the instruction as executed
/// (after context rewriting and map relocation), and the registers it changed.
fn print_trace_event(e: &oxbpf_interp::TraceEvent<'_>) {
    let text = oxbpf_isa::disasm::format_insn(e.insn, e.pc);
    let changes: Vec<String> = e
        .changed_regs()
        .map(|(reg, v)| format!("{reg:?} = {v:#x}"))
        .collect();
    let indent = "  ".repeat(e.depth);
    let line = format!("{:>5}: {indent}{text:<36} {}", e.pc, changes.join(", "));
    println!("{}", line.trim_end());
}
