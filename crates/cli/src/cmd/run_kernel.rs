//! `oxbpf run FILE.o --engine kernel`: run a program of an ELF object in
//! the Linux kernel through `BPF_PROG_TEST_RUN`.
//!
//! The object is loaded whole by `oxbpf_kernel::KernelObject` (maps
//! created with BTF, global data filled, every program loaded so tail calls
//! find their targets); the chosen program runs once on `--data`. Output
//! lines and the map state JSON are those of the other engines
//! (`run_object.rs`): `return: 2 (XDP_PASS)`, `packet: <hex>`, and with
//! `--repeat N` a second test run with `repeat = N` whose *kernel-measured*
//! mean duration is printed as `time: <ns> ns/run over N runs`.
//!
//! `--trace` is refused (the kernel does not trace instructions), as is
//! `--pcap` (replay a capture on interp, interp-fast or jit).

use std::path::Path;

use anyhow::{Context, anyhow};
use oxbpf_abi::program_type::ProgramType;
use oxbpf_kernel::{KernelMap, KernelObject, TestRun};
use serde_json::{Map as JsonMap, Value, json};

use crate::cmd::run::RunArgs;
use crate::error::{CliError, EXIT_MALFORMED, Result};

/// Room for programs that grow the packet (`bpf_xdp_adjust_tail`).
const EXTRA_OUT: usize = 256;

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> anyhow::Result<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return Err(anyhow!("hex string '{s}' has an odd number of digits"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| anyhow!("bad hex '{s}'")))
        .collect()
}

/// Runs `run --engine kernel` on an object file.
pub fn run(args: &RunArgs) -> Result<()> {
    if args.trace {
        return Err(CliError::malformed(anyhow!(
            "--trace needs an engine of oxbpf (interp): the kernel does not trace instructions"
        )));
    }
    if args.pcap.is_some() {
        return Err(CliError::malformed(anyhow!(
            "--pcap is not supported with --engine kernel (use interp, interp-fast or jit)"
        )));
    }
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let object = oxbpf_object::Object::parse(&bytes).map_err(|e| {
        CliError::malformed(anyhow::Error::new(e).context(format!("{}", args.file.display())))
    })?;
    let names: Vec<&str> = object.programs.iter().map(|p| p.name.as_str()).collect();
    let name = match (&args.prog, names.as_slice()) {
        (Some(p), _) => p.clone(),
        (None, [one]) => one.to_string(),
        (None, _) => {
            return Err(CliError {
                code: EXIT_MALFORMED,
                error: anyhow!(
                    "{} has {} programs, choose one with --prog: {}",
                    args.file.display(),
                    names.len(),
                    names.join(", ")
                ),
            });
        }
    };
    let spec = object
        .programs
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| CliError::malformed(anyhow!("no program named '{name}' in the object")))?;
    let kind = spec.program_type;
    let data_path = args
        .data
        .as_ref()
        .ok_or_else(|| CliError::malformed(anyhow!("--data PACKET.bin is required for objects")))?;
    let packet =
        std::fs::read(data_path).with_context(|| format!("cannot read {}", data_path.display()))?;
    let loaded = KernelObject::load(&object).map_err(|e| {
        CliError::failed(anyhow::Error::new(e).context("the kernel refused the object"))
    })?;
    let prog = loaded
        .program(&name)
        .ok_or_else(|| CliError::failed(anyhow!("program '{name}' was not loaded")))?;
    if let Some(path) = &args.maps_in {
        load_maps(&loaded, path)?;
    }
    let failed = |e: oxbpf_kernel::KernelError| {
        CliError::failed(anyhow::Error::new(e).context(format!("test run of '{name}'")))
    };
    let out = prog
        .test_run(&mut TestRun {
            extra_out: EXTRA_OUT,
            ..TestRun::with_data(&packet)
        })
        .map_err(failed)?;
    let mut timing = None;
    if let Some(n) = args.repeat {
        let repeat = u32::try_from(n).map_err(|_| {
            CliError::malformed(anyhow!(
                "--repeat {n}: the kernel takes at most {} runs",
                u32::MAX
            ))
        })?;
        let again = prog
            .test_run(&mut TestRun {
                repeat,
                extra_out: EXTRA_OUT,
                ..TestRun::with_data(&packet)
            })
            .map_err(failed)?;
        timing = Some((again.duration_ns, n));
    }
    let ret = out.retval;
    let action = match kind {
        ProgramType::Xdp => oxbpf::XdpAction::from_ret(ret).map(oxbpf::XdpAction::name),
        ProgramType::SchedCls => oxbpf::tc_action_name(ret),
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
        super::print_json(&v)?;
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
    if let Some(path) = &args.maps_out {
        let state = dump_maps(&loaded)?;
        let text = serde_json::to_string_pretty(&state).map_err(|e| anyhow!(e))?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// One map's entries as the map state JSON of `run_object.rs` lists them.
pub(crate) fn dump_map(name: &str, map: &KernelMap) -> Result<Value> {
    let percpu = map.spec().kind.is_percpu();
    let mut list = Vec::new();
    for key in map.keys() {
        let key = key.map_err(|e| CliError::failed(anyhow!("map {name}: {e}")))?;
        let value = if percpu {
            match map
                .lookup_percpu(&key)
                .map_err(|e| CliError::failed(anyhow!("map {name}: {e}")))?
            {
                Some(vs) => Value::Array(vs.iter().map(|v| Value::String(hex(v))).collect()),
                None => continue,
            }
        } else {
            match map
                .lookup(&key)
                .map_err(|e| CliError::failed(anyhow!("map {name}: {e}")))?
            {
                Some(v) => Value::String(hex(&v)),
                None => continue,
            }
        };
        list.push(json!({ "key": hex(&key), "value": value }));
    }
    Ok(Value::Array(list))
}

fn dump_maps(loaded: &KernelObject) -> Result<Value> {
    let mut out = JsonMap::new();
    for (name, map) in loaded.maps() {
        // Program and map-in-map arrays hold fds on the syscall side and
        // ids on lookup; they are not state a run changes.
        if matches!(
            map.spec().kind,
            oxbpf_abi::map_kind::MapKind::ProgArray
                | oxbpf_abi::map_kind::MapKind::ArrayOfMaps
                | oxbpf_abi::map_kind::MapKind::HashOfMaps
        ) {
            continue;
        }
        out.insert(name.to_string(), dump_map(name, map)?);
    }
    Ok(Value::Object(out))
}

/// The syscall-side value buffer of `map` for one JSON value: a string is
/// the value (stored on every CPU of a per-CPU map), a list gives one value
/// per CPU.
pub(crate) fn value_buffer(map: &KernelMap, name: &str, value: &Value) -> anyhow::Result<Vec<u8>> {
    let spec = map.spec();
    let vs = spec.value_size as usize;
    let slot = vs.div_ceil(8) * 8;
    let total = map.value_buffer_size();
    let put = |c: &mut [u8], one: &[u8]| -> anyhow::Result<()> {
        if one.len() != vs {
            return Err(anyhow!(
                "map {name}: value has {} bytes, the map's values have {vs}",
                one.len()
            ));
        }
        c[..vs].copy_from_slice(one);
        Ok(())
    };
    match value {
        Value::String(s) if spec.kind.is_percpu() => {
            let one = unhex(s)?;
            let mut all = vec![0u8; total];
            for c in all.chunks_mut(slot) {
                put(c, &one)?;
            }
            Ok(all)
        }
        Value::String(s) => {
            let one = unhex(s)?;
            let mut all = vec![0u8; total];
            put(&mut all, &one)?;
            Ok(all)
        }
        Value::Array(list) if spec.kind.is_percpu() => {
            let mut all = vec![0u8; total];
            for (c, v) in all.chunks_mut(slot).zip(list) {
                let one = unhex(v.as_str().ok_or_else(|| anyhow!("map {name}: bad value"))?)?;
                put(c, &one)?;
            }
            Ok(all)
        }
        _ => Err(anyhow!("map {name}: entry without a value")),
    }
}

fn load_maps(loaded: &KernelObject, path: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let state: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    let maps = state
        .as_object()
        .ok_or_else(|| anyhow!("{}: expected an object of maps", path.display()))?;
    for (name, entries) in maps {
        let map = loaded.map(name).ok_or_else(|| {
            CliError::malformed(anyhow!(
                "{}: the object has no map '{name}'",
                path.display()
            ))
        })?;
        let entries = entries
            .as_array()
            .ok_or_else(|| anyhow!("{}: map {name}: expected a list", path.display()))?;
        for e in entries {
            let key = unhex(
                e["key"]
                    .as_str()
                    .ok_or_else(|| anyhow!("map {name}: entry without key"))?,
            )?;
            let value = value_buffer(map, name, &e["value"])
                .map_err(|e| CliError::malformed(e.context(path.display().to_string())))?;
            map.update(&key, &value, 0)
                .map_err(|e| CliError::malformed(anyhow!("{}: map {name}: {e}", path.display())))?;
        }
    }
    Ok(())
}
