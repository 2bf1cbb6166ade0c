//! One module per command.

pub mod asm;
pub mod bench;
pub mod conformance;
pub mod disasm;
pub mod map;
pub mod pcap;
pub mod run;
pub mod run_kernel;
pub mod run_object;

use serde::Serialize;

use crate::error::Result;

/// Prints `value` as one line of JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string(value).map_err(anyhow::Error::new)?;
    println!("{text}");
    Ok(())
}
