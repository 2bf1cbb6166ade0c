//! One module per command.

pub mod asm;
pub mod bench;
pub mod bench_verify;
pub mod conformance;
pub mod disasm;
pub mod keygen;
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

/// Prints `value` as one line of JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string(value).map_err(anyhow::Error::new)?;
    println!("{text}");
    Ok(())
}
