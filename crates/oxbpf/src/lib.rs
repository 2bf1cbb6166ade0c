//! oxbpf's facade: load an ELF object compiled by clang, get its programs
//! and maps by name, and run programs on the interpreter or the JIT.
//!
//! ```no_run
//! use oxbpf::{EngineKind, Loader};
//!
//! let obj = Loader::new().load_file("parse.o")?;
//! let prog = obj.program("parse")?.load(EngineKind::Interp)?;
//! let out = prog.run_xdp(&[0u8; 64])?;
//! println!("{} {:?}", out.ret, out.action());
//! let counts = obj.array::<u64>("proto_count")?;
//! println!("tcp: {}", counts.get(6)?);
//! # Ok::<(), oxbpf::Error>(())
//! ```
//!
//! Design:
//!
//! - Loading creates every map of the object ([`oxbpf_maps`]) — global data
//!   sections become single-value arrays, `.rodata` frozen and read-only to
//!   programs — and links each program: `lddw` map references become host
//!   addresses (a map handle for helpers, a value address for direct
//!   access), context accesses are rewritten to the runtime context
//!   ([`oxbpf_runtime::context`]), helpers come from the kernel table.
//! - [`Loader::load`] runs the verifier (`oxbpf-verifier`) on every
//!   program and links accepted ones in verified mode: no run-time checks.
//!   Programs loaded with `verify(false)` or from an [`ObjectImage`] run in
//!   checked mode: every memory access is checked against the run's
//!   regions (stack, context, packet, global data, and every map value a
//!   lookup returned).
//! - Each run holds a [`RunGuard`] so map values handed to the program stay
//!   valid until it returns, whatever the control plane does meanwhile.
//! - Object programs return `r0` truncated to `u32` on every engine, as the
//!   kernel's program runners do.
//! - [`Loader::require_signature`] makes loading depend on a detached
//!   ed25519 signature ([`oxbpf_sign`]) checked over the file's bytes before
//!   they are parsed, so an unsigned or altered object never reaches the
//!   ELF parser.

use std::collections::HashMap as StdHashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use oxbpf_abi::context::skb_slot;
use oxbpf_maps::{MapHandle, MapOptions};
use oxbpf_runtime::maps::LinkedMaps;
use oxbpf_runtime::packet::XdpBuff;
use oxbpf_runtime::skb::SkBuff;
use oxbpf_runtime::tail_call::TailTargets;
use oxbpf_runtime::{Engine, Executable, Program, Region, RunState};

mod error;
mod link;
mod object;
mod session;
mod typed;
pub mod userspace;

pub use error::Error;
pub use oxbpf_runtime::tail_call::Redirect;

mod calls;

pub use link::{MapImage, MapReloc, ObjectImage, ProgramImage, ProgramKind};
/// The pin a batch of runs holds ([`XdpSession::run_loaded_in`]).
pub use oxbpf_maps::RunGuard;
pub use session::XdpSession;
pub use typed::{Array, HashMap, Pod};

pub use oxbpf_sign::{PublicKey, SignError, Signature, TrustedKeys};

/// The engine a program runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum EngineKind {
    /// The reference interpreter.
    #[default]
    Interp,
    /// The pre-decoded interpreter (checked against the reference one).
    InterpFast,
    /// The x86-64 JIT.
    Jit,
}

impl EngineKind {
    fn engine(self) -> &'static dyn Engine {
        match self {
            EngineKind::Interp => &oxbpf_interp::Interpreter,
            EngineKind::InterpFast => &oxbpf_interp::FastInterpreter,
            EngineKind::Jit => &oxbpf_jit::Jit,
        }
    }

    /// `interp`, `interp-fast` or `jit`.
    pub fn name(self) -> &'static str {
        self.engine().name()
    }
}

/// Builder for loading objects.
#[derive(Clone, Debug, Default)]
pub struct Loader {
    ncpus: Option<u32>,
    globals: Vec<(String, Vec<u8>)>,
    trusted: Option<TrustedKeys>,
    /// Skip the verifier ([`Loader::verify`]).
    no_verify: bool,
}

impl Loader {
    /// A loader with default options (per-CPU maps sized to the host).
    pub fn new() -> Loader {
        Loader::default()
    }

    /// Per-CPU maps keep `n` copies; runs pick one with
    /// [`RunOptions::cpu`].
    pub fn ncpus(mut self, n: u32) -> Loader {
        self.ncpus = Some(n);
        self
    }

    /// Sets global variable `name` (in `.rodata`, `.data` or `.bss`) to
    /// `bytes` before programs are linked, as libbpf's skeletons set
    /// `const volatile` configuration.
    pub fn set_global(mut self, name: impl Into<String>, bytes: &[u8]) -> Loader {
        self.globals.push((name.into(), bytes.to_vec()));
        self
    }

    /// Loads only objects signed by one of `keys` (see [`oxbpf_sign`]):
    /// [`Loader::load_file`] then checks the detached signature `FILE.sig`
    /// before parsing a byte of the object, and refuses an unsigned or
    /// altered object, or one signed by another key, with
    /// [`Error::Signature`]. [`Loader::load`] and [`Loader::load_image`],
    /// which have no signature to check, are refused under this policy; use
    /// [`Loader::load_signed`] for objects in memory.
    ///
    /// ```no_run
    /// use oxbpf::{Loader, TrustedKeys};
    ///
    /// let keys = TrustedKeys::read(&["release.pub"])?;
    /// let obj = Loader::new().require_signature(keys).load_file("prog.o")?;
    /// # let _ = obj;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn require_signature(mut self, keys: TrustedKeys) -> Loader {
        self.trusted = Some(keys);
        self
    }

    /// Whether [`Loader::load`] runs the verifier (privileged profile) on
    /// every program of the object first and refuses the object with
    /// [`Error::Verify`] if one is rejected. On by default; accepted
    /// programs then run in verified mode (no run-time checks). With
    /// `verify(false)` programs run in checked mode.
    pub fn verify(mut self, on: bool) -> Loader {
        self.no_verify = !on;
        self
    }

    /// Reads and loads an ELF object (checking `path.sig` first when
    /// [`Loader::require_signature`] is set).
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<Object, Error> {
        let path = path.as_ref();
        if let Some(trusted) = &self.trusted {
            let bytes = trusted.read_verified(path)?;
            return self.load_unchecked(&bytes);
        }
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.load(&bytes)
    }

    /// Loads an ELF object from memory after checking its detached
    /// `signature` against the trusted keys; without
    /// [`Loader::require_signature`] the signature is refused as unchecked
    /// ([`oxbpf_sign::SignError::NoTrustedKeys`]) rather than ignored.
    pub fn load_signed(&self, elf: &[u8], signature: &Signature) -> Result<Object, Error> {
        let trusted = self.trusted.as_ref().ok_or(SignError::NoTrustedKeys)?;
        trusted.verify(elf, signature)?;
        self.load_unchecked(elf)
    }

    /// Loads an ELF object from memory.
    pub fn load(&self, elf: &[u8]) -> Result<Object, Error> {
        if self.trusted.is_some() {
            return Err(Error::SignatureUnavailable {
                what: "object bytes",
            });
        }
        self.load_unchecked(elf)
    }

    fn load_unchecked(&self, elf: &[u8]) -> Result<Object, Error> {
        let verdicts = if self.no_verify {
            None
        } else {
            Some(verify_elf(elf, &self.globals)?)
        };
        let parsed = object::parse(elf, &self.globals)?;
        let obj = self.link_image(parsed.image, verdicts.as_deref())?;
        calls::fill_initial_slots(&obj, &parsed.slots)?;
        Ok(obj)
    }

    /// Loads an already parsed object.
    pub fn load_image(&self, image: ObjectImage) -> Result<Object, Error> {
        if self.trusted.is_some() {
            return Err(Error::SignatureUnavailable {
                what: "a parsed object image",
            });
        }
        self.link_image(image, None)
    }

    /// Creates the maps and links the programs, in verified mode when the
    /// verifier accepted them (`verdicts`: what it found of each program).
    fn link_image(
        &self,
        image: ObjectImage,
        verdicts: Option<&[Verdict]>,
    ) -> Result<Object, Error> {
        let opts = match self.ncpus {
            Some(n) => MapOptions::with_ncpus(n),
            None => MapOptions::default(),
        };
        let maps = Arc::new(link::create_maps(&image.maps, &opts)?);
        let helpers = link::kernel_helpers();
        let mut programs = Vec::new();
        for p in &image.programs {
            // The table goes with the program, so engines can resolve its
            // map handles when they load it (the JIT inlines array lookups).
            let verified = verdicts.map(|v| {
                // A program the verifier did not see (none: every program
                // of the object is verified) keeps the zeroed stack.
                v.iter()
                    .find(|d| d.program == p.name)
                    .is_none_or(|d| d.reads_uninit_stack)
            });
            let program = link::link_program(p, &maps, &helpers, verified)?.with_maps(maps.clone());
            programs.push(ProgramInfo {
                functions: p.functions.clone(),
                name: p.name.clone(),
                section: p.section.clone(),
                kind: ProgramKind::from_section(&p.section),
                program,
            });
        }
        let regions = Arc::new(link::direct_regions(&maps));
        Ok(Object {
            maps,
            regions,
            programs,
            targets: Default::default(),
        })
    }
}

#[derive(Debug)]
struct ProgramInfo {
    functions: Vec<(String, usize)>,
    name: String,
    section: String,
    kind: ProgramKind,
    program: Program,
}

/// A loaded object: its maps (created, global data filled) and its linked
/// programs.
#[derive(Debug)]
pub struct Object {
    maps: Arc<LinkedMaps>,
    regions: Arc<Vec<Region>>,
    programs: Vec<ProgramInfo>,
    /// Tail-call targets per engine (by [`EngineKind`] order), built on
    /// the first load of a program of an object with a `prog_array`.
    targets: [OnceLock<Option<Arc<TailTargets>>>; 3],
}

impl Object {
    /// Names of the programs, in object order.
    pub fn program_names(&self) -> Vec<&str> {
        self.programs.iter().map(|p| p.name.as_str()).collect()
    }

    /// Names of the maps (global data maps are named after their section,
    /// as libbpf names them).
    pub fn map_names(&self) -> Vec<&str> {
        self.maps.iter().map(|m| m.name.as_str()).collect()
    }

    /// The program called `name`.
    pub fn program(&self, name: &str) -> Result<ObjProgram<'_>, Error> {
        let info = self
            .programs
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::NotFound {
                what: "program",
                name: name.to_string(),
            })?;
        Ok(ObjProgram { obj: self, info })
    }

    /// The map called `name`.
    pub fn map(&self, name: &str) -> Result<&MapHandle, Error> {
        self.maps
            .iter()
            .find(|m| m.name == name)
            .map(|m| &m.map)
            .ok_or_else(|| Error::NotFound {
                what: "map",
                name: name.to_string(),
            })
    }

    /// Every map with its name.
    pub fn maps(&self) -> impl Iterator<Item = (&str, &MapHandle)> {
        self.maps.iter().map(|m| (m.name.as_str(), &m.map))
    }

    /// A typed view of hash map `name` (sizes checked once).
    pub fn hash_map<K: Pod, V: Pod>(&self, name: &str) -> Result<HashMap<K, V>, Error> {
        HashMap::new(name, self.map(name)?.clone())
    }

    /// A typed view of array map `name` (sizes checked once).
    pub fn array<V: Pod>(&self, name: &str) -> Result<Array<V>, Error> {
        Array::new(name, self.map(name)?.clone())
    }
}

/// A program of an [`Object`].
#[derive(Clone, Copy, Debug)]
pub struct ObjProgram<'o> {
    obj: &'o Object,
    info: &'o ProgramInfo,
}

impl<'o> ObjProgram<'o> {
    /// The function name.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// The ELF section.
    pub fn section(&self) -> &str {
        &self.info.section
    }

    /// The program type.
    pub fn kind(&self) -> ProgramKind {
        self.info.kind
    }

    /// Function boundaries: name and first slot of each function, entry
    /// first.
    pub fn functions(&self) -> &'o [(String, usize)] {
        &self.info.functions
    }

    /// The linked program.
    pub fn program(&self) -> &Program {
        &self.info.program
    }

    /// Runs an XDP program on the reference interpreter, calling `trace`
    /// after every instruction with the registers it changed (see
    /// [`oxbpf_interp::InterpProgram::run_traced`]).
    pub fn run_xdp_traced(
        &self,
        packet: &[u8],
        opts: &RunOptions,
        trace: &mut dyn FnMut(&oxbpf_interp::TraceEvent<'_>),
    ) -> Result<XdpOutput, Error> {
        let mut buf = XdpBuff::new(packet)?;
        buf.set_rx(opts.ifindex.unwrap_or(1), opts.rx_queue);
        let interp = oxbpf_interp::Interpreter.prepare(self.program());
        let targets = self.obj.tail_targets(EngineKind::Interp)?;
        let (ret, log, redirect) = {
            let mut state = new_state(&self.obj.maps, &self.obj.regions, opts);
            state.calls.targets = targets;
            let ctx = buf.attach(&mut state);
            let guard = RunGuard::pin();
            let r = interp.run_traced(&mut state, [ctx, 0, 0, 0, 0], trace);
            drop(guard);
            (r?, state.log, state.calls.redirect)
        };
        Ok(XdpOutput {
            ret: ret as u32,
            packet: buf.data().to_vec(),
            log,
            redirect,
        })
    }

    /// Prepares the program on `engine`.
    pub fn load(&self, engine: EngineKind) -> Result<Runner, Error> {
        let exec = engine.engine().load(&self.info.program)?;
        let targets = self.obj.tail_targets(engine)?;
        Ok(Runner {
            targets,
            name: self.info.name.clone(),
            exec,
            engine,
            kind: self.info.kind,
            maps: self.obj.maps.clone(),
            regions: self.obj.regions.clone(),
            needs_regions: self.info.program.needs_regions(),
        })
    }
}

/// Options of one run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// The CPU the run executes as (per-CPU maps,
    /// `bpf_get_smp_processor_id`).
    pub cpu: u32,
    /// `ingress_ifindex` of the XDP context (default 1).
    pub ifindex: Option<u32>,
    /// `rx_queue_index` of the XDP context.
    pub rx_queue: u32,
}

/// The XDP actions (`enum xdp_action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XdpAction {
    Aborted = 0,
    Drop = 1,
    Pass = 2,
    Tx = 3,
    Redirect = 4,
}

impl XdpAction {
    /// The action for a return value.
    pub fn from_ret(ret: u32) -> Option<XdpAction> {
        Some(match ret {
            0 => XdpAction::Aborted,
            1 => XdpAction::Drop,
            2 => XdpAction::Pass,
            3 => XdpAction::Tx,
            4 => XdpAction::Redirect,
            _ => return None,
        })
    }

    /// `XDP_PASS` and friends.
    pub fn name(self) -> &'static str {
        match self {
            XdpAction::Aborted => "XDP_ABORTED",
            XdpAction::Drop => "XDP_DROP",
            XdpAction::Pass => "XDP_PASS",
            XdpAction::Tx => "XDP_TX",
            XdpAction::Redirect => "XDP_REDIRECT",
        }
    }
}

/// The result of an XDP run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XdpOutput {
    /// `r0` as `u32`.
    pub ret: u32,
    /// The packet from `data` to `data_end` after the run.
    pub packet: Vec<u8>,
    /// Lines from `bpf_trace_printk`.
    pub log: Vec<String>,
    /// Where `bpf_redirect` / `bpf_redirect_map` last sent the packet, for
    /// the caller to forward it when `ret` is `XDP_REDIRECT`.
    pub redirect: Option<Redirect>,
}

impl XdpOutput {
    /// The verdict, if `ret` is one.
    pub fn action(&self) -> Option<XdpAction> {
        XdpAction::from_ret(self.ret)
    }
}

/// The result of a `sched_cls` or `socket_filter` run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkbOutput {
    /// `r0` as `u32` (a `TC_ACT_*` code, or the bytes a socket filter
    /// keeps).
    pub ret: u32,
    /// The packet after the run.
    pub packet: Vec<u8>,
    /// `skb->mark` after the run.
    pub mark: u32,
    /// `skb->priority` after the run.
    pub priority: u32,
    /// `skb->tc_classid` after the run.
    pub tc_classid: u32,
    /// `skb->cb[0..5]` after the run.
    pub cb: [u32; 5],
    /// Lines from `bpf_trace_printk`.
    pub log: Vec<String>,
    /// Where `bpf_redirect` sent the packet (`TC_ACT_REDIRECT`).
    pub redirect: Option<Redirect>,
}

/// The name of a tc action code (`TC_ACT_*`).
pub fn tc_action_name(ret: u32) -> Option<&'static str> {
    Some(match ret as i32 {
        -1 => "TC_ACT_UNSPEC",
        0 => "TC_ACT_OK",
        1 => "TC_ACT_RECLASSIFY",
        2 => "TC_ACT_SHOT",
        3 => "TC_ACT_PIPE",
        4 => "TC_ACT_STOLEN",
        5 => "TC_ACT_QUEUED",
        6 => "TC_ACT_REPEAT",
        7 => "TC_ACT_REDIRECT",
        8 => "TC_ACT_TRAP",
        _ => return None,
    })
}

/// A program loaded on an engine, runnable many times (from several
/// threads at once).
#[derive(Debug)]
pub struct Runner {
    targets: Option<Arc<TailTargets>>,
    name: String,
    exec: Box<dyn Executable>,
    engine: EngineKind,
    kind: ProgramKind,
    maps: Arc<LinkedMaps>,
    regions: Arc<Vec<Region>>,
    /// [`Program::needs_regions`] of the program.
    needs_regions: bool,
}

impl Runner {
    /// The engine.
    pub fn engine(&self) -> EngineKind {
        self.engine
    }

    /// The executable, for callers that drive runs themselves.
    pub fn executable(&self) -> &dyn Executable {
        &*self.exec
    }

    /// Runs an XDP program on `packet` (at least 14 bytes).
    pub fn run_xdp(&self, packet: &[u8]) -> Result<XdpOutput, Error> {
        self.run_xdp_with(packet, &RunOptions::default())
    }

    /// Runs an XDP program on `packet` with options.
    pub fn run_xdp_with(&self, packet: &[u8], opts: &RunOptions) -> Result<XdpOutput, Error> {
        if self.kind != ProgramKind::Xdp {
            return Err(Error::WrongRun {
                program: self.name.clone(),
                kind: self.kind,
                run: "an xdp run",
            });
        }
        let mut buf = XdpBuff::new(packet)?;
        buf.set_rx(opts.ifindex.unwrap_or(1), opts.rx_queue);
        let (ret, log, redirect) = {
            let mut state = self.state(opts);
            let ctx = buf.attach(&mut state);
            let guard = RunGuard::pin();
            let r = self.exec.run(&mut state, [ctx, 0, 0, 0, 0]);
            drop(guard);
            (r?, state.log, state.calls.redirect)
        };
        Ok(XdpOutput {
            ret: ret as u32,
            packet: buf.data().to_vec(),
            log,
            redirect,
        })
    }

    /// Runs a `sched_cls` (tc) or `socket_filter` program on `packet`, with
    /// the `__sk_buff` fields the kernel's test runner sets (see
    /// [`oxbpf_runtime::skb`]); tc programs may write the packet. As in
    /// `bpf_prog_test_run_skb`, a socket filter sees the skb from the
    /// network header (`len` without the 14 Ethernet bytes) and the output
    /// packet comes back with a zeroed Ethernet header.
    pub fn run_skb(&self, packet: &[u8], opts: &RunOptions) -> Result<SkbOutput, Error> {
        let writable = match self.kind {
            ProgramKind::SchedCls => true,
            ProgramKind::SocketFilter => false,
            kind => {
                return Err(Error::WrongRun {
                    program: self.name.clone(),
                    kind,
                    run: "an __sk_buff run",
                });
            }
        };
        let mut skb = SkBuff::new(packet)?;
        if self.kind == ProgramKind::SocketFilter {
            skb.pull_l2();
        }
        let (ret, log, redirect) = {
            let mut state = self.state(opts);
            let ctx = skb.attach(&mut state, writable);
            let guard = RunGuard::pin();
            let r = self.exec.run(&mut state, [ctx, 0, 0, 0, 0]);
            drop(guard);
            (r?, state.log, state.calls.redirect)
        };
        let mut out = skb.data().to_vec();
        if self.kind == ProgramKind::SocketFilter {
            // The kernel's test runner pushes a zeroed link-layer header
            // back for program types that run from the network header.
            out[..14].fill(0);
        }
        Ok(SkbOutput {
            ret: ret as u32,
            packet: out,
            mark: skb.field(skb_slot::MARK),
            priority: skb.field(skb_slot::PRIORITY),
            tc_classid: skb.field(skb_slot::TC_CLASSID),
            cb: core::array::from_fn(|i| skb.field(skb_slot::CB0 + i)),
            log,
            redirect,
        })
    }

    /// A fresh run state: the object's maps, global data regions, the CPU.
    pub fn state<'a>(&self, opts: &RunOptions) -> RunState<'a> {
        let mut state = new_state(&self.maps, &self.regions, opts);
        state.calls.targets = self.targets.clone();
        state
    }
}

fn new_state<'a>(maps: &Arc<LinkedMaps>, regions: &[Region], opts: &RunOptions) -> RunState<'a> {
    let mut state = RunState::new();
    state.cpu = opts.cpu;
    state.maps = Some(maps.clone());
    for r in regions {
        state.regions.push(*r);
    }
    state
}

/// Map lookups by name, for callers holding names (the CLI's JSON state).
pub fn maps_by_name(obj: &Object) -> StdHashMap<String, MapHandle> {
    obj.maps()
        .map(|(n, m)| (n.to_string(), m.clone()))
        .collect()
}

/// Runs the verifier on every program of an ELF object, with `globals`
/// applied to the initial data first: the verifier reads `.rodata` as
/// constants, so it must see exactly the bytes the maps will hold.
/// What the verifier found of one accepted program that the link needs.
struct Verdict {
    program: String,
    /// [`oxbpf_verifier::VerifiedProgram::reads_uninit_stack`] is some.
    reads_uninit_stack: bool,
}

fn verify_elf(elf: &[u8], globals: &[(String, Vec<u8>)]) -> Result<Vec<Verdict>, Error> {
    let mut obj = oxbpf_object::Object::parse(elf).map_err(|e| Error::Object {
        reason: e.to_string(),
    })?;
    for (name, bytes) in globals {
        // Unknown names and wrong sizes are refused by `object::parse`.
        let found = obj.maps.iter_mut().find_map(|m| {
            let var = m.globals.iter().find(|g| &g.name == name)?;
            let (start, end) = (var.offset as usize, (var.offset + var.size) as usize);
            Some((m, start, end))
        });
        if let Some((m, start, end)) = found
            && bytes.len() == end - start
        {
            if !matches!(m.init, oxbpf_object::MapInit::Data(_)) {
                m.init = oxbpf_object::MapInit::Data(Vec::new());
            }
            if let oxbpf_object::MapInit::Data(d) = &mut m.init {
                if d.len() < end {
                    d.resize(end, 0);
                }
                d[start..end].copy_from_slice(bytes);
            }
        }
    }
    let mut verdicts = Vec::with_capacity(obj.programs.len());
    for p in &obj.programs {
        let v =
            oxbpf_verifier::verify_object_program(p, &obj.maps, oxbpf_verifier::Options::default())
                .map_err(|source| Error::Verify {
                    program: p.name.clone(),
                    source,
                })?;
        verdicts.push(Verdict {
            program: p.name.clone(),
            reads_uninit_stack: v.reads_uninit_stack.is_some(),
        });
    }
    Ok(verdicts)
}
