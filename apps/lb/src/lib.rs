//! oxbpf-lb: a Katran-class layer-4 load balancer on oxbpf.
//!
//! - [`maglev`]: consistent-hashing rings (weighted, deterministic, with a
//!   stable mode and slot diffs).
//! - [`flow`]: the flow hash the datapath computes, in Rust, so the
//!   control plane and tests know which backend a flow gets.
//! - [`control`]: the configuration (VIPs, backends,
//!   encapsulation, next hop) and the control plane that writes it into the
//!   datapath's maps on any engine (oxbpf map handles) or in the kernel.
//!
//! - [`daemon`]: the `oxbpf lb` daemon: configuration file, control API,
//!   health checks, metrics, adoption of a pinned datapath.
//!
//! The datapath itself is C in `apps/lb/bpf/balancer.bpf.c`; [`abi`] mirrors
//! its map layouts.

pub mod abi;
pub mod control;
pub mod daemon;
pub mod flow;
pub mod maglev;

pub use control::{Balancer, ControlError, Encap, GlobalConfig, MapTarget, Vip, VipOptions};
