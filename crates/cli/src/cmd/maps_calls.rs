//! The map state JSON of `prog_array`s and maps of maps, which hold
//! programs and maps rather than bytes (see `run_object` for the format of
//! the others). Slots are named by program or map name:
//!
//! ```json
//! {
//!   "jump_table": [ { "key": "06000000", "program": "handle_tcp" } ],
//!   "tenants": [
//!     { "key": "00000000", "map": "tenant0" },
//!     { "key": "01000000", "map": "tenant1",
//!       "entries": [ { "key": "02000000", "value": "0300000000000000" } ] }
//!   ]
//! }
//! ```
//!
//! `--maps-out` lists the entries of inner maps that are not maps of the
//! object (those appear under their own name). On `--maps-in`, a `map` that
//! names a map of the object installs it; any other name creates a new
//! inner map from the template and fills it with `entries`.

use anyhow::anyhow;
use oxbpf::Object;
use oxbpf_maps::update::BPF_ANY;
use oxbpf_maps::{MapHandle, MapKind, MapOfMaps};
use serde_json::{Value, json};

use crate::cmd::{hex, unhex};
use crate::error::{CliError, Result};

fn entries_json(map: &MapHandle) -> Result<Value> {
    let entries = map
        .entries()
        .map_err(|e| CliError::failed(anyhow!("map {}: {e}", map.spec().name)))?;
    Ok(Value::Array(
        entries
            .iter()
            .map(|(k, v)| json!({ "key": hex(k), "value": hex(v) }))
            .collect(),
    ))
}

/// The JSON of map `name` if it is a prog_array or a map of maps.
pub fn dump(obj: &Object, name: &str, map: &MapHandle) -> Result<Option<Value>> {
    match map.spec().kind {
        MapKind::ProgArray => {
            let mut list = Vec::new();
            for key in map
                .keys()
                .map_err(|e| CliError::failed(anyhow!("map {name}: {e}")))?
            {
                let index = u32::from_ne_bytes(key[..4].try_into().unwrap_or([0; 4]));
                let program = obj.tail_call(name, index).map_err(CliError::failed)?;
                list.push(json!({ "key": hex(&key), "program": program }));
            }
            Ok(Some(Value::Array(list)))
        }
        MapKind::ArrayOfMaps | MapKind::HashOfMaps => {
            let Some(outer) = map.as_any().downcast_ref::<MapOfMaps>() else {
                return Ok(None);
            };
            let mut list = Vec::new();
            for (key, inner) in outer.inners() {
                let inner_name = inner.spec().name.clone();
                let own = obj.maps().any(|(_, m)| std::sync::Arc::ptr_eq(m, &inner));
                let mut e = json!({ "key": hex(&key), "map": inner_name });
                if !own {
                    e["entries"] = entries_json(&inner)?;
                }
                list.push(e);
            }
            Ok(Some(Value::Array(list)))
        }
        _ => Ok(None),
    }
}

/// Applies `entries` to map `name` if it is a prog_array or a map of maps;
/// returns whether it was one.
pub fn load(obj: &Object, name: &str, map: &MapHandle, entries: &[Value]) -> Result<bool> {
    let kind = map.spec().kind;
    if !matches!(
        kind,
        MapKind::ProgArray | MapKind::ArrayOfMaps | MapKind::HashOfMaps
    ) {
        return Ok(false);
    }
    let bad = |what: &str| CliError::malformed(anyhow!("map {name}: {what}"));
    for e in entries {
        let key = unhex(e["key"].as_str().ok_or_else(|| bad("entry without key"))?)
            .map_err(CliError::malformed)?;
        if kind == MapKind::ProgArray {
            let index = u32::from_ne_bytes(
                key.as_slice()
                    .try_into()
                    .map_err(|_| bad("a prog_array key is 4 bytes"))?,
            );
            match &e["program"] {
                Value::String(p) => obj.set_tail_call(name, index, p),
                Value::Null => obj.clear_tail_call(name, index),
                _ => return Err(bad("program must be a name or null")),
            }
            .map_err(CliError::malformed)?;
            continue;
        }
        let inner_name = e["map"]
            .as_str()
            .ok_or_else(|| bad("entry without an inner map name"))?;
        let inner = match obj.map(inner_name) {
            Ok(m) => m.clone(),
            Err(_) => obj
                .create_inner_map(name, inner_name)
                .map_err(CliError::malformed)?,
        };
        if let Some(list) = e["entries"].as_array() {
            for ie in list {
                let k = unhex(
                    ie["key"]
                        .as_str()
                        .ok_or_else(|| bad("inner entry without key"))?,
                )
                .map_err(CliError::malformed)?;
                let v = unhex(
                    ie["value"]
                        .as_str()
                        .ok_or_else(|| bad("inner entry without value"))?,
                )
                .map_err(CliError::malformed)?;
                inner
                    .update(&k, &v, BPF_ANY)
                    .map_err(|err| bad(&format!("inner map {inner_name}: {err}")))?;
            }
        }
        obj.set_inner_map(name, &key, inner)
            .map_err(CliError::malformed)?;
    }
    Ok(true)
}
