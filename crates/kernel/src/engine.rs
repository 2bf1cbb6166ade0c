//! The kernel as an oxbpf [`Engine`]: raw bytecode verified by the
//! kernel's verifier, compiled by its JIT and run with
//! `BPF_PROG_TEST_RUN`.

use std::sync::Mutex;

use oxbpf_abi::Trap;
use oxbpf_abi::map_kind::MapKind;
use oxbpf_isa::{CallTarget, Insn, RawInsn};
use oxbpf_runtime::{Engine, EngineError, Executable, Program, RunState, SafetyMode, Trapped};

use crate::error::{KernelError, Result};
use crate::map::{KernelMap, MapSpec};
use crate::prog::{KernelProgram, MIN_TEST_PACKET, ProgramSpec, xdp_action};
use crate::wrap::{self, MAX_REGION, R1, Variant};

/// Name of the helper table whose ids are the kernel's own
/// (`oxbpf_abi::helper` kernel ids). Programs built with any other table
/// (the conformance suite's, say) call helpers the kernel numbers
/// differently, so the kernel engine refuses them.
pub const KERNEL_HELPER_TABLE: &str = "kernel";

/// Memory length the program is verified with at [`Engine::load`], before
/// the real arguments are known (see [`KernelEngine`]).
pub const DEFAULT_PROBE_LEN: u32 = 1514;

const ENGINE: &str = "kernel";

/// The Linux kernel as an engine (`--engine kernel`).
///
/// A program is loaded once per distinct set of entry arguments: the
/// wrapper ([`crate::wrap`]) passes `r2`..`r5` and the memory length as
/// constants so the verifier judges exactly the run that follows. Because
/// [`Engine::load`] does not know the arguments yet, it verifies the
/// program for a lent memory region of `probe_len` bytes (r2 = that
/// length), which reports the kernel's rejections (with the verifier log)
/// at load time; each [`Executable::run`] then loads, once and cached, the
/// variant for its own arguments.
///
/// Differences from oxbpf's own engines, by design of the kernel:
/// there is no instruction budget (the verifier proves termination
/// instead), so `state.budget` is ignored; programs that would trap in
/// checked mode are rejected at load instead; only `r1` can be a pointer
/// (to one lent region, passed as the packet), `r2`..`r5` are numbers.
#[derive(Clone, Debug)]
pub struct KernelEngine {
    probe_len: u32,
}

impl Default for KernelEngine {
    fn default() -> Self {
        KernelEngine::new()
    }
}

impl KernelEngine {
    /// The engine with the default probe length.
    pub fn new() -> KernelEngine {
        KernelEngine {
            probe_len: DEFAULT_PROBE_LEN,
        }
    }

    /// The engine verifying at load time for `len` bytes of memory (at
    /// most 0xffff).
    pub fn with_probe_len(len: u32) -> KernelEngine {
        KernelEngine {
            probe_len: len.min(MAX_REGION as u32),
        }
    }

    /// Whether this process can do what the engine does: creates a
    /// one-entry array map and loads a two-instruction XDP program (maps
    /// alone can be open to unprivileged users, XDP needs `CAP_BPF` and
    /// `CAP_NET_ADMIN`). The error says why not (no privileges, no
    /// syscall).
    pub fn available() -> Result<()> {
        KernelMap::create(&MapSpec::new("oxbpf_probe", MapKind::Array, 4, 8, 1))?;
        let pass = oxbpf_isa::encode(&[
            Insn::Alu {
                width: oxbpf_isa::Width::W64,
                op: oxbpf_isa::AluOp::Mov,
                dst: oxbpf_isa::Reg::R0,
                src: oxbpf_isa::Operand::Imm(xdp_action::PASS as i32),
            },
            Insn::Exit,
        ]);
        KernelProgram::load(&ProgramSpec::xdp("oxbpf_probe", &pass)).map(drop)
    }

    /// [`Engine::load`] returning the concrete executable, for callers that
    /// want [`KernelExecutable::test_run_repeat`].
    pub fn load_kernel(&self, program: &Program) -> Result<KernelExecutable, EngineError> {
        check_helpers(program)?;
        let insns = oxbpf_isa::encode(program.insns());
        let result = KernelMap::create(&MapSpec::new("oxbpf_r0", MapKind::Array, 4, 8, 1))
            .map_err(resource)?;
        let exe = KernelExecutable {
            insns,
            result,
            mode: program.mode(),
            variants: Mutex::new(Vec::new()),
        };
        let probe = Variant {
            r1: R1::Packet {
                offset: 0,
                len: self.probe_len,
            },
            rest: [self.probe_len as u64, 0, 0, 0],
        };
        let prog = exe.load_variant(&probe).map_err(|e| match e {
            KernelError::Verifier { .. } => EngineError::Rejected {
                engine: ENGINE,
                reason: e.to_string(),
            },
            other => resource(other),
        })?;
        exe.lock().push((probe, prog));
        Ok(exe)
    }
}

fn resource(e: KernelError) -> EngineError {
    EngineError::Resource {
        engine: ENGINE,
        reason: e.to_string(),
    }
}

/// Refuses helper calls unless the program's helper ids are the kernel's.
fn check_helpers(program: &Program) -> Result<(), EngineError> {
    if program.helpers().name() == KERNEL_HELPER_TABLE {
        return Ok(());
    }
    match program
        .insns()
        .iter()
        .position(|i| matches!(i, Insn::Call(CallTarget::Helper(_))))
    {
        Some(index) => Err(EngineError::Unsupported {
            engine: ENGINE,
            index,
            what: "a helper call outside the kernel's helper table (the kernel numbers its helpers differently)",
        }),
        None => Ok(()),
    }
}

impl Engine for KernelEngine {
    fn name(&self) -> &'static str {
        ENGINE
    }

    fn load(&self, program: &Program) -> Result<Box<dyn Executable>, EngineError> {
        Ok(Box::new(self.load_kernel(program)?))
    }
}

/// One kernel run of a wrapped program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelRun {
    /// The program's full 64-bit `r0`.
    pub r0: u64,
    /// Mean nanoseconds per run, as `BPF_PROG_TEST_RUN` measured it. It
    /// includes the wrapper (a call, a map store, the prolog); subtract an
    /// empty program's time for the program alone.
    pub ns_per_run: u32,
}

/// A program loaded by [`KernelEngine`].
#[derive(Debug)]
pub struct KernelExecutable {
    insns: Vec<RawInsn>,
    result: KernelMap,
    mode: SafetyMode,
    /// Loaded variants by entry arguments. The lock also serialises runs,
    /// which share the result map.
    variants: Mutex<Vec<(Variant, KernelProgram)>>,
}

impl KernelExecutable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Variant, KernelProgram)>> {
        // A panic while holding the lock leaves only a cache of loaded
        // programs behind, which stays valid.
        self.variants.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn load_variant(&self, variant: &Variant) -> Result<KernelProgram> {
        let insns = wrap::wrap(&self.insns, self.result.raw_fd(), variant);
        KernelProgram::load(&ProgramSpec::xdp("oxbpf_raw", &insns))
    }

    /// The verifier's log for the run with these arguments, at log level 2
    /// (every instruction's state): what `oxbpf run --engine kernel
    /// --verbose` shows.
    pub fn verifier_log(&self, state: &RunState<'_>, args: [u64; 5]) -> Result<String> {
        let (variant, _) = entry(state, args)?;
        let insns = wrap::wrap(&self.insns, self.result.raw_fd(), &variant);
        let prog = KernelProgram::load(&ProgramSpec {
            log_level: 2,
            ..ProgramSpec::xdp("oxbpf_raw", &insns)
        })?;
        Ok(prog.log().to_string())
    }

    /// Runs once and says why if the kernel could not.
    pub fn run_kernel(&self, state: &mut RunState<'_>, args: [u64; 5]) -> Result<KernelRun> {
        self.test_run_repeat(state, args, 1)
    }

    /// Runs `repeat` times in the kernel (`BPF_PROG_TEST_RUN` with
    /// `repeat`) and returns the last run's `r0` and the kernel's mean time
    /// per run. Memory lent to `state` is the packet of every run (changes
    /// accumulate, as in repeated runs on oxbpf's engines); it is copied
    /// back after the last.
    pub fn test_run_repeat(
        &self,
        state: &mut RunState<'_>,
        args: [u64; 5],
        repeat: u32,
    ) -> Result<KernelRun> {
        state.mode = self.mode;
        let (variant, region) = entry(state, args)?;
        let packet = match region {
            Some(Lent { start, len, .. }) => {
                let mut bytes = state
                    .read_bytes(start, len)
                    .map_err(|trap| KernelError::Invalid {
                        what: "lent memory",
                        reason: trap.to_string(),
                    })?
                    .to_vec();
                bytes.resize(bytes.len().max(MIN_TEST_PACKET), 0);
                bytes
            }
            None => vec![0u8; MIN_TEST_PACKET],
        };

        let mut variants = self.lock();
        let index = match variants.iter().position(|(v, _)| *v == variant) {
            Some(i) => i,
            None => {
                let prog = self.load_variant(&variant)?;
                variants.push((variant, prog));
                variants.len() - 1
            }
        };
        let prog = &variants[index].1;

        let key = 0u32.to_ne_bytes();
        // A stale r0 from an earlier run must not pass for this one's.
        self.result.update(&key, &[0u8; 8], 0)?;
        let out = prog.test_run(&mut crate::prog::TestRun {
            repeat,
            ..crate::prog::TestRun::with_data(&packet)
        })?;
        if out.retval != xdp_action::PASS {
            return Err(KernelError::Unexpected {
                what: "return value of the wrapper (XDP_PASS once r0 is stored)",
                expected: xdp_action::PASS as u64,
                found: out.retval as u64,
            });
        }
        let r0 = self
            .result
            .lookup(&key)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map(u64::from_ne_bytes)
            .ok_or(KernelError::Invalid {
                what: "result map",
                reason: "slot 0 holds no 8-byte value".into(),
            })?;
        drop(variants);

        if let Some(Lent {
            start,
            len,
            writable: true,
        }) = region
        {
            if out.data.len() < len as usize {
                return Err(KernelError::Unexpected {
                    what: "bytes of packet data after the run",
                    expected: len,
                    found: out.data.len() as u64,
                });
            }
            let dst = state
                .write_bytes(start, len)
                .map_err(|trap| KernelError::Invalid {
                    what: "lent memory",
                    reason: trap.to_string(),
                })?;
            dst.copy_from_slice(&out.data[..len as usize]);
        }
        Ok(KernelRun {
            r0,
            ns_per_run: out.duration_ns,
        })
    }
}

/// The lent memory region `r1` points into.
#[derive(Clone, Copy, Debug)]
struct Lent {
    start: u64,
    len: u64,
    writable: bool,
}

/// The variant for `args` and, if `r1` points into lent memory, that
/// region.
fn entry(state: &RunState<'_>, args: [u64; 5]) -> Result<(Variant, Option<Lent>)> {
    let rest = [args[1], args[2], args[3], args[4]];
    let addr = args[0];
    let region = state
        .regions
        .as_slice()
        .iter()
        .rev()
        .find(|r| addr != 0 && r.len > 0 && r.contains(addr, 1));
    let Some(region) = region else {
        return Ok((
            Variant {
                r1: R1::Scalar(addr),
                rest,
            },
            None,
        ));
    };
    if region.len > MAX_REGION {
        return Err(KernelError::Invalid {
            what: "lent memory",
            reason: format!(
                "{} bytes; the kernel engine passes memory as a packet of at most {MAX_REGION} bytes",
                region.len
            ),
        });
    }
    Ok((
        Variant {
            r1: R1::Packet {
                offset: (addr - region.start) as u32,
                len: region.len as u32,
            },
            rest,
        },
        Some(Lent {
            start: region.start,
            len: region.len,
            writable: region.writable,
        }),
    ))
}

impl Executable for KernelExecutable {
    /// Runs once. The kernel has no traps: a run it cannot perform (the
    /// variant for these arguments is rejected, the syscall fails) ends
    /// with [`Trap::Unsupported`] at slot 0; [`Self::run_kernel`] gives
    /// the reason.
    fn run(&self, state: &mut RunState<'_>, args: [u64; 5]) -> Result<u64, Trapped> {
        self.run_kernel(state, args)
            .map(|run| run.r0)
            .map_err(|_| Trapped {
                trap: Trap::Unsupported,
                pc: 0,
            })
    }
}
