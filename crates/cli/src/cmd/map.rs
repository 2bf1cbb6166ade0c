//! `oxbpf map dump STATE.json --object FILE.o`: pretty-prints a map state
//! file (as `oxbpf run --maps-out` writes it) with the BTF types of the
//! object's maps: integers in decimal, structs with field names, enums by
//! name, global data by variable.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use oxbpf_object::btf::{Btf, BtfKind};
use serde_json::Value;

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
    /// Print a JSON map state with the object's BTF types.
    Dump {
        /// Map state (the --maps-out format of `oxbpf run`).
        state: PathBuf,
        /// The object the state belongs to.
        #[arg(long, value_name = "FILE.o")]
        object: PathBuf,
    },
}

/// Runs `map`.
pub fn run(args: &MapArgs) -> Result<()> {
    let MapCommand::Dump { state, object } = &args.command;
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> anyhow::Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return Err(anyhow!("hex string '{s}' has an odd number of digits"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| anyhow!("bad hex '{s}'")))
        .collect()
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
