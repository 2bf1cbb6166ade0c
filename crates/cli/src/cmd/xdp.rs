//! `oxbpf xdp attach|detach`: run an XDP program on a live interface.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand, ValueEnum};
use oxbpf_kernel::XdpMode;

use crate::cmd::xdp_kernel;
use crate::cmd::xdp_user::{self, UserspaceArgs};
use crate::error::{CliError, Result};

/// Attach an XDP program to a network interface, or detach it.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  oxbpf xdp attach eth0 fw.o --mode userspace              # until Ctrl-C
  oxbpf xdp attach eth0 fw.o --mode userspace --steer udp:9000 --queues 2
  oxbpf xdp attach eth0 fw.o --mode userspace --duration 10 --json

In userspace mode oxbpf loads a small steering program of its own on the
interface that hands the selected packets to AF_XDP sockets, one worker
thread per receive queue runs the program on oxbpf's engine, and the
verdicts are applied: XDP_TX sends back out of the interface, XDP_PASS
re-injects into the kernel's stack through a TAP device, XDP_DROP frees the
frame. Nothing stays attached after the command ends (even when killed).

In kernel mode (`--mode kernel`) the object is loaded into the kernel, the
program attached through a bpf_link, and the link, program and maps pinned
under /sys/fs/bpf/oxbpf/IFACE/; the command returns and the program keeps
running until `oxbpf xdp detach IFACE [--maps-out FILE]`. A second attach
to the same interface is refused unless --replace.
  oxbpf xdp attach eth0 fw.o --mode kernel --xdp-mode native
  oxbpf xdp detach eth0 --maps-out state.json")]
pub struct XdpArgs {
    #[command(subcommand)]
    pub command: XdpCommand,
}

/// Where the program runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// On oxbpf's engines, fed by AF_XDP (or AF_PACKET).
    Userspace,
    /// In the kernel (pinned under /sys/fs/bpf/oxbpf/IFACE).
    Kernel,
}

/// How the kernel runs XDP programs on the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum XdpModeArg {
    /// Native if the driver supports it, else generic.
    Auto,
    /// Generic (skb) mode: every interface.
    Generic,
    /// Native (driver) mode.
    Native,
}

impl From<XdpModeArg> for XdpMode {
    fn from(m: XdpModeArg) -> XdpMode {
        match m {
            XdpModeArg::Auto => XdpMode::Auto,
            XdpModeArg::Generic => XdpMode::Generic,
            XdpModeArg::Native => XdpMode::Native,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum XdpCommand {
    /// Attach FILE.o's XDP program to IFACE.
    Attach(AttachArgs),
    /// Detach what `attach --mode kernel` pinned for IFACE.
    Detach(DetachArgs),
    /// Send a packet mix out of IFACE (a traffic generator for benchmarks
    /// and tests in network namespaces).
    Gen(crate::cmd::trafgen::GenArgs),
    /// Packets per second FILE.o handles in userspace and in the kernel,
    /// under the same generator (needs root; builds its own namespaces).
    Bench(crate::cmd::xdp_bench::BenchArgs),
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The interface.
    pub iface: String,
    /// The object file.
    pub file: PathBuf,
    /// The program (needed when the object has several).
    #[arg(long)]
    pub prog: Option<String>,
    /// Where the program runs: `userspace` (default; runs until stopped) or
    /// `kernel` (pinned under /sys/fs/bpf/oxbpf/IFACE, returns at once).
    #[arg(long, value_enum, default_value = "userspace")]
    pub mode: Mode,
    /// How the kernel attaches XDP (the steering program in userspace mode).
    #[arg(long = "xdp-mode", value_enum, default_value = "auto")]
    pub xdp_mode: XdpModeArg,
    /// Initial map contents (the JSON of `oxbpf run --maps-out`).
    #[arg(long, value_name = "FILE")]
    pub maps_in: Option<PathBuf>,
    /// Write the maps here when stopping.
    #[arg(long, value_name = "FILE")]
    pub maps_out: Option<PathBuf>,
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    /// Kernel mode: replace what oxbpf attached to IFACE before, instead of
    /// refusing.
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub user: UserspaceArgs,
}

#[derive(Debug, Args)]
pub struct DetachArgs {
    /// The interface.
    pub iface: String,
    /// Write the maps' contents here before detaching (the JSON of
    /// `oxbpf run --maps-out`).
    #[arg(long, value_name = "FILE")]
    pub maps_out: Option<PathBuf>,
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &XdpArgs) -> Result<()> {
    match &args.command {
        XdpCommand::Attach(a) => match a.mode {
            Mode::Userspace => xdp_user::attach(
                &xdp_user::Target {
                    iface: &a.iface,
                    file: &a.file,
                    prog: a.prog.as_deref(),
                    xdp_mode: a.xdp_mode.into(),
                    maps_in: a.maps_in.as_deref(),
                    maps_out: a.maps_out.as_deref(),
                    json: a.json,
                },
                &a.user,
            ),
            Mode::Kernel => {
                if a.maps_out.is_some() {
                    return Err(CliError::malformed(anyhow!(
                        "--maps-out belongs to `oxbpf xdp detach` in kernel mode (the program \
                         keeps running after attach returns)"
                    )));
                }
                xdp_kernel::attach(&xdp_kernel::KernelTarget {
                    iface: &a.iface,
                    file: &a.file,
                    prog: a.prog.as_deref(),
                    xdp_mode: a.xdp_mode.into(),
                    replace: a.replace,
                    maps_in: a.maps_in.as_deref(),
                    json: a.json,
                })
            }
        },
        XdpCommand::Detach(d) => xdp_kernel::detach(&d.iface, d.maps_out.as_deref(), d.json),
        XdpCommand::Gen(g) => crate::cmd::trafgen::run(g),
        XdpCommand::Bench(b) => crate::cmd::xdp_bench::run(b),
    }
}
