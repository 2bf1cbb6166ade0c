//! `oxbpf xdp gen IFACE`: send a packet mix out of an interface as fast as
//! possible (or at a rate), for benchmarks and tests in namespaces.

use std::net::Ipv4Addr;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;
use oxbpf_xdp::tap::Tap;
use oxbpf_xdp::traffic::{GenConfig, MixEntry, build_all, send};
use serde_json::json;

use crate::error::{CliError, Result};

/// Options of `oxbpf xdp gen`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  oxbpf xdp gen veth0 --dst-ip 10.0.0.2 --dst-mac 02:00:00:00:00:02 --duration 5
  oxbpf xdp gen veth0 --dst-ip 10.0.0.2 --dst-mac 02:00:00:00:00:02 \\
      --mix udp:64*3,tcp:128,icmp --flows 1000 --rate 100000 --json

Send only to addresses inside network namespaces you created.")]
pub struct GenArgs {
    /// The interface to send from.
    pub iface: String,
    /// Destination IPv4 address.
    #[arg(long)]
    pub dst_ip: Ipv4Addr,
    /// Destination MAC address (the receiver's interface).
    #[arg(long)]
    pub dst_mac: String,
    /// Source IPv4 address (default: 10.0.0.1).
    #[arg(long, default_value = "10.0.0.1")]
    pub src_ip: Ipv4Addr,
    /// Destination port for UDP and TCP.
    #[arg(long, default_value_t = 9000)]
    pub dst_port: u16,
    /// Packet mix: comma-separated PROTO[:SIZE][*WEIGHT] (udp, tcp SYN,
    /// icmp echo; SIZE is the Ethernet frame size).
    #[arg(long, default_value = "udp:64")]
    pub mix: String,
    /// Distinct flows (source ports / ICMP ids).
    #[arg(long, default_value_t = 64)]
    pub flows: u16,
    /// Seconds to send (default 5 unless --count is given).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Packets to send.
    #[arg(long)]
    pub count: Option<u64>,
    /// Packets per second at most (default: as fast as possible).
    #[arg(long)]
    pub rate: Option<u64>,
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = s
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).ok())
        .collect::<Option<_>>()?;
    v.try_into().ok()
}

pub fn run(args: &GenArgs) -> Result<()> {
    let dst_mac = parse_mac(&args.dst_mac).ok_or_else(|| {
        CliError::malformed(anyhow!(
            "--dst-mac {:?} is not a MAC address like 02:00:00:00:00:02",
            args.dst_mac
        ))
    })?;
    let mix = args
        .mix
        .split(',')
        .map(MixEntry::parse)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| CliError::malformed(anyhow::Error::new(e)))?;
    let src_mac =
        Tap::mac_of(&args.iface).map_err(|e| CliError::malformed(anyhow::Error::new(e)))?;
    let cfg = GenConfig {
        src_mac,
        dst_mac,
        src_ip: args.src_ip,
        dst_ip: args.dst_ip,
        dst_port: args.dst_port,
        flows: args.flows.max(1),
        mix,
    };
    let packets = build_all(&cfg);
    let duration = match (args.duration, args.count) {
        (Some(d), _) => Some(Duration::from_secs_f64(d)),
        (None, Some(_)) => None,
        (None, None) => Some(Duration::from_secs(5)),
    };
    let stop = AtomicBool::new(false);
    let s = send(
        &args.iface,
        &packets,
        duration,
        args.count,
        args.rate,
        &stop,
    )
    .map_err(|e| CliError::failed(anyhow::Error::new(e)))?;
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    if args.json {
        crate::cmd::print_json(&json!({
            "iface": args.iface,
            "packets": s.packets,
            "bytes": s.bytes,
            "errors": s.errors,
            "seconds": secs,
            "pps": s.packets as f64 / secs,
        }))?;
    } else {
        println!(
            "sent {} packets ({} bytes) in {:.2}s: {:.0} pkt/s, {} send errors",
            s.packets,
            s.bytes,
            secs,
            s.packets as f64 / secs,
            s.errors
        );
    }
    Ok(())
}
