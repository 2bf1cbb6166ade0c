//! `oxbpf xdp attach IFACE FILE.o --mode kernel` and `oxbpf xdp detach
//! IFACE`: the program runs in the kernel and outlives the command.
//!
//! Attaching loads the object into the kernel, attaches the program
//! through a `bpf_link`, and pins the link, the program and every map
//! under `/sys/fs/bpf/oxbpf/IFACE/` (`link`, `prog`, `maps/NAME`; bpffs is
//! mounted if needed). The pins keep it all alive after the command
//! exits. Detaching (optionally dumping the maps first) removes the pins:
//! the link goes with its last reference, which detaches the program.
//!
//! The pins live on the bpf filesystem of the caller's mount namespace;
//! to work on an interface of another network namespace, switch only the
//! network namespace (`nsenter --net=/var/run/netns/NS oxbpf ...`):
//! `ip netns exec` also gives the command a private mount namespace, and
//! pins made there vanish with it.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use oxbpf_kernel::pin::{BPFFS, ensure_bpffs, unpin};
use oxbpf_kernel::{KernelMap, KernelObject, LoadOptions, XdpLink, XdpMode};
use serde_json::{Map as JsonMap, Value, json};

use crate::cmd::{hex, unhex};
use crate::error::{CliError, Result};

/// Where oxbpf pins kernel-mode attachments.
pub fn pin_dir(iface: &str) -> PathBuf {
    Path::new(BPFFS).join("oxbpf").join(iface)
}

/// What `attach --mode kernel` needs.
#[derive(Debug)]
pub struct KernelTarget<'a> {
    pub iface: &'a str,
    pub file: &'a Path,
    pub prog: Option<&'a str>,
    pub xdp_mode: XdpMode,
    pub replace: bool,
    pub maps_in: Option<&'a Path>,
    pub json: bool,
}

/// Fills kernel maps from the JSON state format of `oxbpf run
/// --maps-out` (per-CPU values: one hex string per CPU, or one for all).
pub(crate) fn fill_maps(maps: &[(&str, &KernelMap)], path: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let state: Value = serde_json::from_str(&text)
        .map_err(|e| CliError::malformed(anyhow!("{}: not valid JSON: {e}", path.display())))?;
    let obj = state.as_object().ok_or_else(|| {
        CliError::malformed(anyhow!("{}: expected an object of maps", path.display()))
    })?;
    for (name, entries) in obj {
        let map = maps
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                CliError::malformed(anyhow!("{}: no map named {name}", path.display()))
            })?;
        let spec = map.spec();
        let percpu = spec.kind.is_percpu();
        let slot = (spec.value_size as usize).div_ceil(8) * 8;
        let ncpus = if percpu {
            map.value_buffer_size() / slot.max(1)
        } else {
            1
        };
        for e in entries
            .as_array()
            .ok_or_else(|| CliError::malformed(anyhow!("map {name}: expected a list")))?
        {
            let key = unhex(
                e["key"]
                    .as_str()
                    .ok_or_else(|| anyhow!("map {name}: entry without key"))?,
            )
            .map_err(CliError::malformed)?;
            let value = crate::cmd::run_object::state_value(
                &e["value"],
                percpu,
                spec.value_size,
                ncpus as u32,
            )
            .map_err(|err| CliError::malformed(anyhow!("map {name}: {err}")))?;
            map.update(&key, &value, 0)
                .map_err(|e| CliError::malformed(anyhow!("{}: map {name}: {e}", path.display())))?;
        }
    }
    Ok(())
}

/// The JSON state of kernel maps (same format as `oxbpf run --maps-out`).
pub fn dump_maps<'a>(maps: impl IntoIterator<Item = (&'a str, &'a KernelMap)>) -> Result<Value> {
    let mut out = JsonMap::new();
    for (name, map) in maps {
        let spec = map.spec();
        let percpu = spec.kind.is_percpu();
        let mut list = Vec::new();
        let entries = map
            .entries()
            .map_err(|e| CliError::failed(anyhow!("map {name}: {e}")))?;
        for (k, v) in entries {
            let value = if percpu {
                let slot = (spec.value_size as usize).div_ceil(8) * 8;
                Value::Array(
                    v.chunks(slot.max(1))
                        .map(|c| Value::String(hex(&c[..(spec.value_size as usize).min(c.len())])))
                        .collect(),
                )
            } else {
                Value::String(hex(&v))
            };
            list.push(json!({"key": hex(&k), "value": value}));
        }
        out.insert(name.to_string(), Value::Array(list));
    }
    Ok(Value::Object(out))
}

/// Loads, attaches and pins; returns once everything is pinned.
pub fn attach(t: &KernelTarget<'_>) -> Result<()> {
    let failed = |e: anyhow::Error| CliError::failed(e);
    ensure_bpffs().map_err(|e| failed(anyhow::Error::new(e).context("bpf filesystem")))?;
    let dir = pin_dir(t.iface);
    let link_pin = dir.join("link");
    if link_pin.exists() && !t.replace {
        return Err(CliError::failed(anyhow!(
            "{} already has an XDP program attached by oxbpf (pinned at {}); \
             use --replace, or `oxbpf xdp detach {}` first",
            t.iface,
            dir.display(),
            t.iface
        )));
    }
    let bytes =
        std::fs::read(t.file).with_context(|| format!("cannot read {}", t.file.display()))?;
    let obj = oxbpf_object::Object::parse(&bytes).map_err(|e| {
        CliError::malformed(anyhow::Error::new(e).context(t.file.display().to_string()))
    })?;
    let names: Vec<&str> = obj.programs.iter().map(|p| p.name.as_str()).collect();
    let name = crate::cmd::pick_program(t.file, &names, t.prog)?;
    let index =
        oxbpf_xdp::xsk::ifindex(t.iface).map_err(|e| CliError::failed(anyhow::Error::new(e)))?;
    let kobj = KernelObject::load_with(
        &obj,
        &LoadOptions {
            // Every program: tail calls reach the others through the
            // object's prog arrays, filled from its initialisers.
            programs: None,
            ..LoadOptions::default()
        },
    )
    .map_err(|e| failed(anyhow::Error::new(e).context("the kernel refused the object")))?;
    let prog = kobj.program(&name).ok_or_else(|| {
        CliError::malformed(anyhow!("no program named {name} in {}", t.file.display()))
    })?;
    if let Some(path) = t.maps_in {
        let maps: Vec<(&str, &KernelMap)> = kobj.maps().collect();
        fill_maps(&maps, path)?;
    }
    // Replacing: dropping the old pins detaches the old program (its link
    // has no other reference), then the new one attaches.
    if link_pin.exists() {
        remove_pins(&dir).map_err(failed)?;
    }
    let link = XdpLink::attach(prog, index, t.xdp_mode)
        .map_err(|e| failed(anyhow::Error::new(e).context(format!("attach to {}", t.iface))))?;
    let pin_all = || -> anyhow::Result<()> {
        link.pin(&link_pin)?;
        prog.pin(&dir.join("prog"))?;
        for (mname, m) in kobj.maps() {
            m.pin(&dir.join("maps").join(mname))?;
        }
        Ok(())
    };
    if let Err(e) = pin_all() {
        let _ = remove_pins(&dir);
        return Err(failed(e.context(format!("pin under {}", dir.display()))));
    }
    let prog_id = prog.info().map(|i| i.id).unwrap_or(0);
    let link_id = link.info().map(|i| i.id).unwrap_or(0);
    if t.json {
        crate::cmd::print_json(&json!({
            "event": "attached", "iface": t.iface, "mode": "kernel",
            "xdp_mode": format!("{:?}", t.xdp_mode).to_lowercase(),
            "program": name, "prog_id": prog_id, "link_id": link_id,
            "pinned": dir.display().to_string(),
        }))?;
    } else {
        println!(
            "attached {} mode=kernel prog={name} id={prog_id} link={link_id} pinned={}",
            t.iface,
            dir.display()
        );
    }
    Ok(())
}

/// Removes every pin under `dir` (maps, program, link: the link goes with
/// its last reference, which detaches the program) and the directory, if
/// it is there. `oxbpf lb` pins its kernel datapath the same way.
pub(crate) fn remove_pins(dir: &Path) -> anyhow::Result<()> {
    let maps = dir.join("maps");
    if let Ok(rd) = std::fs::read_dir(&maps) {
        for e in rd.flatten() {
            unpin(&e.path())?;
        }
        let _ = std::fs::remove_dir(&maps);
    }
    for f in ["prog", "link"] {
        unpin(&dir.join(f))?;
    }
    if dir.exists() {
        std::fs::remove_dir(dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    Ok(())
}

/// The maps pinned for `iface`, by name.
pub fn pinned_maps(iface: &str) -> Result<Vec<(String, KernelMap)>> {
    let dir = pin_dir(iface).join("maps");
    let mut out = Vec::new();
    let rd = std::fs::read_dir(&dir)
        .with_context(|| format!("no maps pinned for {iface} ({})", dir.display()))?;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let m = KernelMap::from_pin(&e.path())
            .map_err(|err| CliError::failed(anyhow!("{}: {err}", e.path().display())))?;
        out.push((name, m));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Detaches what `attach --mode kernel` pinned for `iface`, writing the
/// maps to `maps_out` first.
pub fn detach(iface: &str, maps_out: Option<&Path>, json: bool) -> Result<()> {
    let dir = pin_dir(iface);
    if !dir.join("link").exists() {
        return Err(CliError::failed(anyhow!(
            "nothing attached by oxbpf on {iface} (no {})",
            dir.join("link").display()
        )));
    }
    if let Some(path) = maps_out {
        let pinned = pinned_maps(iface)?;
        let state = dump_maps(pinned.iter().map(|(n, m)| (n.as_str(), m)))?;
        let text = serde_json::to_string_pretty(&state).map_err(|e| anyhow!(e))?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    remove_pins(&dir).map_err(CliError::failed)?;
    if json {
        crate::cmd::print_json(&json!({"event": "detached", "iface": iface, "mode": "kernel"}))?;
    } else {
        println!("detached {iface} (removed {})", dir.display());
    }
    Ok(())
}
