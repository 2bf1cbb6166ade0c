//! XDP in userspace: run an XDP program on the packets of a live
//! interface, outside the kernel.
//!
//! - [`xsk`]: AF_XDP sockets (UMEM and rings), the primary path. The
//!   kernel hands selected packets to userspace before building an skb.
//! - [`steer`]: the small kernel program that selects those packets
//!   (through an `xskmap`) and passes the rest to the kernel's stack.
//! - [`afpacket`]: the AF_PACKET fallback where AF_XDP is unavailable
//!   (the kernel keeps receiving every packet).
//! - [`tap`]: re-injection of `XDP_PASS` packets into the kernel's stack.
//! - [`worker`]: the per-queue loop that runs the program on each packet
//!   (through a [`worker::PacketHandler`], so any engine fits) and applies
//!   its verdict, with per-verdict counters.
//!
//! This crate does packet I/O only; it never runs eBPF itself. The facade
//! and the CLI plug an oxbpf engine in as the handler.

pub mod afpacket;
pub mod error;
pub mod pcap;
pub mod steer;
pub mod tap;
pub mod traffic;
pub mod worker;
pub mod xsk;

pub use error::{Result, XdpError};
pub use worker::{CounterSnapshot, Counters, PacketHandler, Verdict};
