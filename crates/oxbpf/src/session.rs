//! Running one XDP program on many packets from one thread, without a
//! per-packet allocation: what pcap replay, userspace XDP workers and
//! benchmarks use.

use oxbpf_maps::RunGuard;
use oxbpf_runtime::RunState;
use oxbpf_runtime::packet::XdpBuff;
use oxbpf_runtime::tail_call::Redirect;

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
    /// The run state, kept between runs (recycled after each: no memory of
    /// a past run stays reachable) so a run builds none and clones no
    /// handle.
    state: Option<Box<RunState<'static>>>,
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
            state: None,
            redirect: None,
        })
    }
}

impl XdpSession<'_> {
    /// Runs the program on `packet`; returns `r0` as `u32` (the XDP
    /// action). The packet as the program left it is then
    /// [`XdpSession::packet`]. The same as [`XdpSession::load`] then
    /// [`XdpSession::run_loaded`].
    pub fn run(&mut self, packet: &[u8]) -> Result<u32, Error> {
        self.load(packet)?;
        self.run_loaded()
    }

    /// Puts `packet` in the session's frame for the next
    /// [`XdpSession::run_loaded`], as a fresh frame would hold it (what the
    /// kernel's `bpf_prog_test_run_xdp` does before it starts its timer).
    pub fn load(&mut self, packet: &[u8]) -> Result<(), Error> {
        self.buf
            .reload(packet)
            .map_err(|source| Error::Packet { source })
    }

    /// Runs the program on the frame as it is: the packet
    /// [`XdpSession::load`] put there, or what the last run left of it (as
    /// the kernel's test runner repeats a run on one buffer). Returns `r0`
    /// as `u32`.
    pub fn run_loaded(&mut self) -> Result<u32, Error> {
        let guard = RunGuard::pin();
        self.run_loaded_in(&guard)
    }

    /// [`XdpSession::run_loaded`] under the caller's pin: a caller running
    /// a batch of packets pins once for the batch, as the kernel takes the
    /// RCU read lock once per NAPI poll (and once around its test runner's
    /// timer), instead of once per packet. `guard` keeps every map value
    /// the run is handed alive until it drops; hold it no longer than a
    /// batch (see [`RunGuard`]).
    pub fn run_loaded_in(&mut self, guard: &RunGuard) -> Result<u32, Error> {
        let mut state: Box<RunState<'_>> = match self.state.take() {
            Some(s) => s,
            None => {
                let mut s = Box::new(RunState::new());
                s.cpu = self.opts.cpu;
                s.maps = Some(self.runner.maps.clone());
                s.calls.targets = self.runner.targets.clone();
                s
            }
        };
        let ctx = if self.runner.needs_regions {
            for r in self.runner.regions.iter() {
                state.regions.push(*r);
            }
            self.buf.attach(&mut state)
        } else {
            self.buf.attach_without_regions(&mut state)
        };
        // The borrow of `guard` is what proves the pin: a RunGuard is tied
        // to its thread, and it lives at least as long as this call.
        let _: &RunGuard = guard;
        // SAFETY: `guard` pins this thread for the whole run (above); the
        // flag is cleared by `recycle` before the state is used again.
        unsafe { state.set_pinned(true) };
        let r = self.runner.exec.run(&mut state, [ctx, 0, 0, 0, 0]);
        if !state.log.is_empty() {
            self.log.append(&mut state.log);
        }
        self.redirect = state.calls.redirect;
        self.state = Some(state.recycle());
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
