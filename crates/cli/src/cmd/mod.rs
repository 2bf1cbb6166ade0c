//! One module per command.

pub mod asm;
pub mod bench;
pub mod bench_verify;
pub mod conformance;
pub mod disasm;
pub mod keygen;
pub mod lb;
pub mod load;
pub mod map;
pub mod maps_calls;
pub mod run;
pub mod run_kernel;
pub mod run_object;
pub mod sign;
pub mod trafgen;
pub mod verify;
pub mod xdp;
pub mod xdp_bench;
pub mod xdp_kernel;
pub mod xdp_user;

use serde::Serialize;

use crate::error::Result;

/// Lowercase hex of `bytes`, the byte encoding of the JSON map states and
/// of keys and values on the command line.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex string (`hex`'s inverse); the error names the
/// string.
pub fn unhex(s: &str) -> anyhow::Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return Err(anyhow::anyhow!(
            "hex string '{s}' has an odd number of digits"
        ));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| anyhow::anyhow!("bad hex '{s}'"))
        })
        .collect()
}

/// The program to run from an object's `names`: `--prog NAME` when given
/// (it must exist), else the only one; several and no `--prog` is a usage
/// error listing them (exit 2).
pub fn pick_program(
    file: &std::path::Path,
    names: &[&str],
    prog: Option<&str>,
) -> crate::error::Result<String> {
    match (prog, names) {
        (Some(p), _) if names.contains(&p) => Ok(p.to_string()),
        (Some(p), _) => Err(crate::error::CliError::malformed(anyhow::anyhow!(
            "no program named {p} in {} (it has: {})",
            file.display(),
            names.join(", ")
        ))),
        (None, [one]) => Ok(one.to_string()),
        (None, _) => Err(crate::error::CliError::malformed(anyhow::anyhow!(
            "{} has {} programs, choose one with --prog: {}",
            file.display(),
            names.len(),
            names.join(", ")
        ))),
    }
}

/// Prints `value` as one line of JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string(value).map_err(anyhow::Error::new)?;
    println!("{text}");
    Ok(())
}
