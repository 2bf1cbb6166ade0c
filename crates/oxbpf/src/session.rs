//! Running one XDP program on many packets from one thread, without a
//! per-packet allocation: what pcap replay, userspace XDP workers and
//! benchmarks use.

use oxbpf_maps::RunGuard;
use oxbpf_runtime::packet::XdpBuff;
use oxbpf_runtime::tail_call::Redirect;
use oxbpf_runtime::{Regions, RunState};

use crate::{Error, ProgramKind, RunOptions, Runner};

/// A reusable XDP run context for one thread: the frame, the run options
/// and the output buffer stay allocated between packets.
///
/// ```no_run
/// # fn main() -> Result<(), oxbpf::Error> {
/// let obj = oxbpf::Loader::new().load_file("xdp.o")?;
/// let runner = obj.program("xdp_prog")?.load(oxbpf::EngineKind::Jit)?;
/// let mut session = runner.xdp_session(oxbpf::RunOptions::default())?;
/// for packet in [[0u8; 64], [1u8; 64]] {
///     let ret = session.run(&packet)?;
///     println!("{ret} {:?}", session.packet());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct XdpSession<'r> {
    runner: &'r Runner,
    opts: RunOptions,
    buf: XdpBuff,
    log: Vec<String>,
    /// The region list of the last run, kept for its capacity (helpers
    /// add regions during a run: map values, stacks).
    regions: Regions,
    /// Where the last run redirected the packet (`XDP_REDIRECT`).
    redirect: Option<Redirect>,
}

impl Runner {
    /// A session running this XDP program packet after packet on the
    /// calling thread (as CPU `opts.cpu`, receive queue `opts.rx_queue`).
    pub fn xdp_session(&self, opts: RunOptions) -> Result<XdpSession<'_>, Error> {
        if self.kind != ProgramKind::Xdp {
            return Err(Error::WrongRun {
                program: self.name.clone(),
                kind: self.kind,
                run: "an xdp run",
            });
        }
        let mut buf = XdpBuff::new(&[0u8; 14]).map_err(|source| Error::Packet { source })?;
        buf.set_rx(opts.ifindex.unwrap_or(1), opts.rx_queue);
        Ok(XdpSession {
            runner: self,
            opts,
            buf,
            log: Vec::new(),
            regions: Regions::new(),
            redirect: None,
        })
    }
}

impl XdpSession<'_> {
    /// Runs the program on `packet`; returns `r0` as `u32` (the XDP
    /// action). The packet as the program left it is then
    /// [`XdpSession::packet`].
    pub fn run(&mut self, packet: &[u8]) -> Result<u32, Error> {
        self.buf
            .reload(packet)
            .map_err(|source| Error::Packet { source })?;
        let mut state = RunState::new();
        state.cpu = self.opts.cpu;
        state.maps = Some(self.runner.maps.clone());
        state.calls.targets = self.runner.targets.clone();
        let mut regions = std::mem::take(&mut self.regions);
        regions.truncate(0);
        for r in self.runner.regions.iter() {
            regions.push(*r);
        }
        state.regions = regions;
        let ctx = self.buf.attach(&mut state);
        let guard = RunGuard::pin();
        let r = self.runner.exec.run(&mut state, [ctx, 0, 0, 0, 0]);
        drop(guard);
        if !state.log.is_empty() {
            self.log.append(&mut state.log);
        }
        self.regions = std::mem::take(&mut state.regions);
        self.redirect = state.calls.redirect;
        Ok(r? as u32)
    }

    /// Where the last run asked the packet to go, when it returned
    /// `XDP_REDIRECT` after `bpf_redirect` or `bpf_redirect_map`.
    pub fn redirect(&self) -> Option<Redirect> {
        self.redirect
    }

    /// The packet after the last run, from `data` to `data_end`.
    pub fn packet(&self) -> &[u8] {
        self.buf.data()
    }

    /// Takes the `bpf_trace_printk` lines printed so far.
    pub fn take_log(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }
}
