//! `oxbpf map dump STATE.json --object FILE.o`: pretty-prints a map state
//! file (as `oxbpf run --maps-out` writes it) with the BTF types of the
//! object's maps: integers in decimal, structs with field names, enums by
//! name, global data by variable.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use oxbpf_object::btf::{Btf, BtfKind};
use serde_json::Value;

use crate::cmd::{hex, unhex};
use crate::error::{CliError, Result};

/// Arguments of `map`.
#[derive(Debug, Args)]
pub struct MapArgs {
    #[command(subcommand)]
    pub command: MapCommand,
}

/// `map` verbs.
#[derive(Debug, Subcommand)]
pub enum MapCommand {
    /// Print a map: a pinned kernel map (a path on bpffs, e.g.
    /// /sys/fs/bpf/oxbpf/eth0/maps/NAME), typed with its BTF from the
    /// kernel; or a JSON map state (`oxbpf run --maps-out`) typed with
    /// the object's BTF (--object).
    Dump {
        /// Pinned map, or map state file.
        target: PathBuf,
        /// The object a state file belongs to.
        #[arg(long, value_name = "FILE.o")]
        object: Option<PathBuf>,
        /// JSON (pinned maps): the --maps-out format.
        #[arg(long)]
        json: bool,
    },
    /// Look a key up in a pinned map.
    Lookup {
        /// Pinned map path.
        map: PathBuf,
        #[command(flatten)]
        key: KeyArg,
        #[arg(long)]
        json: bool,
    },
    /// Set a key in a pinned map.
    Update {
        /// Pinned map path.
        map: PathBuf,
        #[command(flatten)]
        key: KeyArg,
        /// The value as hex bytes in memory order (per-CPU maps: one value
        /// for every CPU).
        #[arg(long, value_name = "HEX", conflicts_with = "value_int")]
        value: Option<String>,
        /// The value as an unsigned integer (little-endian, value-size bytes).
        #[arg(long, value_name = "N")]
        value_int: Option<u64>,
        /// any (default), noexist (create only) or exist (replace only).
        #[arg(long, default_value = "any")]
        flag: String,
    },
    /// Delete a key from a pinned map.
    Delete {
        /// Pinned map path.
        map: PathBuf,
        #[command(flatten)]
        key: KeyArg,
    },
}

/// A key given as hex bytes or as an integer.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct KeyArg {
    /// The key as hex bytes in memory order, e.g. 0a000001.
    #[arg(long, value_name = "HEX")]
    key: Option<String>,
    /// The key as an unsigned integer (little-endian, key-size bytes).
    #[arg(long, value_name = "N")]
    key_int: Option<u64>,
}

fn int_bytes(n: u64, size: u32, what: &str) -> Result<Vec<u8>> {
    let size = size as usize;
    if size < 8 && n >> (8 * size) != 0 {
        return Err(CliError::malformed(anyhow!(
            "{what} {n} does not fit in {size} bytes"
        )));
    }
    let mut v = n.to_le_bytes().to_vec();
    v.resize(size, 0);
    Ok(v)
}

fn key_bytes(k: &KeyArg, size: u32) -> Result<Vec<u8>> {
    let bytes = match (&k.key, k.key_int) {
        (Some(h), _) => unhex(h).map_err(CliError::malformed)?,
        (None, Some(n)) => int_bytes(n, size, "key")?,
        (None, None) => {
            return Err(CliError::malformed(anyhow!(
                "give --key HEX or --key-int N"
            )));
        }
    };
    if bytes.len() != size as usize {
        return Err(CliError::malformed(anyhow!(
            "the key has {} bytes, the map's keys have {size}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

fn open_pinned(path: &std::path::Path) -> Result<oxbpf_kernel::KernelMap> {
    oxbpf_kernel::KernelMap::from_pin(path)
        .map_err(|e| CliError::failed(anyhow!("{}: {e}", path.display())))
}

/// The kernel's BTF of a map, with its key and value type ids.
fn kernel_btf(map: &oxbpf_kernel::KernelMap) -> Option<(Btf, u32, u32)> {
    let info = map.info().ok()?;
    if info.btf_id == 0 {
        return None;
    }
    let raw = oxbpf_kernel::sys::btf_bytes_by_id(info.btf_id).ok()?;
    let btf = Btf::parse(&raw).ok()?;
    Some((btf, info.btf_key_type_id, info.btf_value_type_id))
}

fn is_pinned(path: &std::path::Path) -> bool {
    path.starts_with(oxbpf_kernel::pin::BPFFS)
        || std::fs::read(path).map_or(true, |b| serde_json::from_slice::<Value>(&b).is_err())
}

fn show(btf: Option<&(Btf, u32, u32)>, key: bool, bytes: &[u8]) -> String {
    match btf {
        Some((b, k, v)) => {
            let id = if key { *k } else { *v };
            if id == 0 {
                hex(bytes)
            } else {
                format_value(b, id, bytes, 0)
            }
        }
        None => hex(bytes),
    }
}

fn pinned_value(
    map: &oxbpf_kernel::KernelMap,
    btf: Option<&(Btf, u32, u32)>,
    v: &[u8],
) -> (String, Value) {
    let spec = map.spec();
    if spec.kind.is_percpu() {
        let slot = (spec.value_size as usize).div_ceil(8) * 8;
        let vs = spec.value_size as usize;
        let parts: Vec<&[u8]> = v
            .chunks(slot.max(1))
            .map(|c| &c[..vs.min(c.len())])
            .collect();
        (
            format!(
                "[{}]",
                parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| format!("cpu{i}: {}", show(btf, false, p)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Value::Array(parts.iter().map(|p| Value::String(hex(p))).collect()),
        )
    } else {
        (show(btf, false, v), Value::String(hex(v)))
    }
}

fn run_pinned(args: &MapArgs) -> Result<()> {
    match &args.command {
        MapCommand::Dump { target, json, .. } => {
            let map = open_pinned(target)?;
            let btf = kernel_btf(&map);
            let entries = map
                .entries()
                .map_err(|e| CliError::failed(anyhow!("{}: {e}", target.display())))?;
            let spec = map.spec();
            if *json {
                let name = target
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let list: Vec<Value> = entries
                    .iter()
                    .map(|(k, v)| serde_json::json!({"key": hex(k), "value": pinned_value(&map, None, v).1}))
                    .collect();
                return crate::cmd::print_json(&serde_json::json!({ name: list }));
            }
            let tname = |key: bool| match &btf {
                Some((b, k, v)) => b.type_name(if key { *k } else { *v }),
                None => "?".into(),
            };
            println!(
                "{} ({}, key {}, value {}, {} of {} entries):",
                target.display(),
                spec.kind.name(),
                tname(true),
                tname(false),
                entries.len(),
                spec.max_entries
            );
            for (k, v) in &entries {
                println!(
                    "  {} => {}",
                    show(btf.as_ref(), true, k),
                    pinned_value(&map, btf.as_ref(), v).0
                );
            }
            Ok(())
        }
        MapCommand::Lookup {
            map: path,
            key,
            json,
        } => {
            let map = open_pinned(path)?;
            let k = key_bytes(key, map.spec().key_size)?;
            let btf = kernel_btf(&map);
            let v = if map.spec().kind.is_percpu() {
                map.lookup_percpu(&k).map(|o| o.map(|vs| vs.concat()))
            } else {
                map.lookup(&k)
            }
            .map_err(|e| CliError::failed(anyhow!("{}: {e}", path.display())))?;
            match v {
                Some(v) if *json => crate::cmd::print_json(
                    &serde_json::json!({"key": hex(&k), "value": pinned_value(&map, None, &v).1}),
                ),
                Some(v) => {
                    println!(
                        "{} => {}",
                        show(btf.as_ref(), true, &k),
                        pinned_value(&map, btf.as_ref(), &v).0
                    );
                    Ok(())
                }
                None => Err(CliError::failed(anyhow!(
                    "{}: no entry for key {}",
                    path.display(),
                    hex(&k)
                ))),
            }
        }
        MapCommand::Update {
            map: path,
            key,
            value,
            value_int,
            flag,
        } => {
            let map = open_pinned(path)?;
            let spec = map.spec().clone();
            let k = key_bytes(key, spec.key_size)?;
            let one = match (value, value_int) {
                (Some(h), _) => unhex(h).map_err(CliError::malformed)?,
                (None, Some(n)) => int_bytes(*n, spec.value_size, "value")?,
                (None, None) => {
                    return Err(CliError::malformed(anyhow!(
                        "give --value HEX or --value-int N"
                    )));
                }
            };
            if one.len() != spec.value_size as usize {
                return Err(CliError::malformed(anyhow!(
                    "the value has {} bytes, the map's values have {}",
                    one.len(),
                    spec.value_size
                )));
            }
            let v = if spec.kind.is_percpu() {
                let slot = (spec.value_size as usize).div_ceil(8) * 8;
                let n = map.value_buffer_size() / slot.max(1);
                let mut all = vec![0u8; slot * n];
                for c in all.chunks_mut(slot) {
                    c[..one.len()].copy_from_slice(&one);
                }
                all
            } else {
                one
            };
            let f = match flag.as_str() {
                "any" => 0,
                "noexist" => 1,
                "exist" => 2,
                other => {
                    return Err(CliError::malformed(anyhow!(
                        "--flag {other:?}: any, noexist or exist"
                    )));
                }
            };
            map.update(&k, &v, f)
                .map_err(|e| CliError::failed(anyhow!("{}: {e}", path.display())))?;
            Ok(())
        }
        MapCommand::Delete { map: path, key } => {
            let map = open_pinned(path)?;
            let k = key_bytes(key, map.spec().key_size)?;
            match map.delete(&k) {
                Ok(true) => Ok(()),
                Ok(false) => Err(CliError::failed(anyhow!(
                    "{}: no entry for key {}",
                    path.display(),
                    hex(&k)
                ))),
                Err(e) => Err(CliError::failed(anyhow!("{}: {e}", path.display()))),
            }
        }
    }
}

/// Runs `map`.
pub fn run(args: &MapArgs) -> Result<()> {
    let (state, object) = match &args.command {
        MapCommand::Dump {
            target,
            object: Some(object),
            ..
        } if !target.starts_with(oxbpf_kernel::pin::BPFFS) => (target, object),
        MapCommand::Dump {
            target,
            object: None,
            ..
        } if !is_pinned(target) => {
            return Err(CliError::malformed(anyhow!(
                "{} is a map state file: give the object it belongs to with --object FILE.o",
                target.display()
            )));
        }
        _ => return run_pinned(args),
    };
    let elf = std::fs::read(object).with_context(|| format!("cannot read {}", object.display()))?;
    let obj = oxbpf_object::Object::parse(&elf).map_err(|e| {
        CliError::malformed(anyhow::Error::new(e).context("cannot parse the object"))
    })?;
    let text = std::fs::read_to_string(state)
        .with_context(|| format!("cannot read {}", state.display()))?;
    let json: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", state.display()))?;
    let maps = json
        .as_object()
        .ok_or_else(|| anyhow!("{}: expected an object of maps", state.display()))?;
    for (name, entries) in maps {
        let spec = obj
            .map(name)
            .ok_or_else(|| CliError::malformed(anyhow!("no map named {name} in the object")))?;
        let btf = obj.btf.as_ref();
        let tname = |t: Option<u32>| match (btf, t) {
            (Some(b), Some(id)) => b.type_name(id),
            _ => "?".into(),
        };
        println!(
            "{name} ({}, key {}, value {}):",
            spec.kind.name(),
            tname(spec.key_type),
            tname(spec.value_type)
        );
        for (i, e) in entries.as_array().into_iter().flatten().enumerate() {
            let key = unhex(e["key"].as_str().unwrap_or(""))?;
            let show = |bytes: &[u8], t: Option<u32>| match (btf, t) {
                (Some(b), Some(id)) => format_value(b, id, bytes, 0),
                _ => hex(bytes),
            };
            let value = match &e["value"] {
                Value::String(s) => show(&unhex(s)?, spec.value_type),
                Value::Array(list) => {
                    let mut parts = Vec::new();
                    for (cpu, v) in list.iter().enumerate() {
                        let v = unhex(v.as_str().unwrap_or(""))?;
                        parts.push(format!("cpu{cpu}: {}", show(&v, spec.value_type)));
                    }
                    format!("[{}]", parts.join(", "))
                }
                _ => "?".into(),
            };
            // Keyless maps (queue, stack, ringbuf): values or records
            // numbered in pop/consume order.
            if spec.key_size == 0 {
                println!("  #{i}: {value}");
            // Global data maps have one key, 0: show the variables only.
            } else if spec.key_type.is_none()
                && spec.kind.name() == "array"
                && spec.max_entries == 1
            {
                println!("  {value}");
            } else {
                println!("  {} => {value}", show(&key, spec.key_type));
            }
        }
    }
    Ok(())
}

fn uint(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(b)
}

/// Formats `bytes` as BTF type `id` (little-endian, as on x86-64).
fn format_value(btf: &Btf, id: u32, bytes: &[u8], depth: usize) -> String {
    let Some(t) = btf.type_by_id(id) else {
        return hex(bytes);
    };
    if depth > 16 {
        return hex(bytes);
    }
    match &t.kind {
        BtfKind::Int { size, encoding, .. } => {
            let b = &bytes[..(*size as usize).min(bytes.len())];
            let v = uint(b);
            if encoding.bool {
                (v != 0).to_string()
            } else if encoding.signed {
                let shift = 64 - 8 * b.len().clamp(1, 8) as u32;
                (((v << shift) as i64) >> shift).to_string()
            } else {
                v.to_string()
            }
        }
        BtfKind::Ptr { .. } => format!("{:#x}", uint(bytes)),
        BtfKind::Enum { size, values, .. } => {
            let v = uint(&bytes[..(*size as usize).min(bytes.len())]) as i64;
            values
                .iter()
                .find(|e| e.value == v)
                .map_or_else(|| v.to_string(), |e| e.name.clone())
        }
        BtfKind::Array { elem, len, .. } => {
            let step = btf.resolve_size(*elem).unwrap_or(0) as usize;
            if step == 0 {
                return hex(bytes);
            }
            // char arrays read as C strings (clang marks `char` by name,
            // rarely with BTF_INT_CHAR).
            let is_char = btf
                .skip_mods_and_typedefs(*elem)
                .ok()
                .and_then(|e| btf.type_by_id(e))
                .is_some_and(|e| match &e.kind {
                    BtfKind::Int {
                        size: 1, encoding, ..
                    } => encoding.char || e.name == "char",
                    _ => false,
                });
            if is_char {
                let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
                return format!("{:?}", String::from_utf8_lossy(&bytes[..end]));
            }
            let items: Vec<String> = (0..*len as usize)
                .filter_map(|i| bytes.get(i * step..(i + 1) * step))
                .map(|b| format_value(btf, *elem, b, depth + 1))
                .collect();
            format!("[{}]", items.join(", "))
        }
        BtfKind::Struct { members, .. } | BtfKind::Union { members, .. } => {
            let fields: Vec<String> = members
                .iter()
                .map(|m| {
                    let start = (m.bit_offset / 8) as usize;
                    let size = btf.resolve_size(m.type_id).unwrap_or(0) as usize;
                    let b = bytes
                        .get(start..(start + size).min(bytes.len()))
                        .unwrap_or(&[]);
                    let v = if m.bitfield_size > 0 {
                        let raw = uint(b) >> (m.bit_offset % 8);
                        (raw & ((1u64 << m.bitfield_size) - 1)).to_string()
                    } else {
                        format_value(btf, m.type_id, b, depth + 1)
                    };
                    format!("{}: {v}", m.name)
                })
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
        BtfKind::Datasec { vars, .. } => {
            let fields: Vec<String> = vars
                .iter()
                .map(|v| {
                    let (name, ty) = match btf.type_by_id(v.type_id) {
                        Some(t) => match t.kind {
                            BtfKind::Var { type_id, .. } => (t.name.clone(), type_id),
                            _ => (t.name.clone(), v.type_id),
                        },
                        None => ("?".into(), v.type_id),
                    };
                    let start = v.offset as usize;
                    let b = bytes
                        .get(start..(start + v.size as usize).min(bytes.len()))
                        .unwrap_or(&[]);
                    format!("{name} = {}", format_value(btf, ty, b, depth + 1))
                })
                .collect();
            fields.join(", ")
        }
        BtfKind::Typedef { target }
        | BtfKind::Volatile { target }
        | BtfKind::Const { target }
        | BtfKind::Restrict { target }
        | BtfKind::TypeTag { target } => format_value(btf, *target, bytes, depth + 1),
        BtfKind::Var { type_id, .. } => format_value(btf, *type_id, bytes, depth + 1),
        BtfKind::Float { size: 4 } => f32::from_bits(uint(bytes) as u32).to_string(),
        BtfKind::Float { size: 8 } => f64::from_bits(uint(bytes)).to_string(),
        _ => hex(bytes),
    }
}
