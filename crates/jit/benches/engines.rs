//! Engine comparison over the compute programs in `bench-programs/`.
//!
//! For every program: time per run on our interpreters, our JIT, rbpf's
//! interpreter and JIT, and the Linux kernel's JIT (`BPF_PROG_TEST_RUN`
//! with `repeat`, through a minimal raw `bpf(2)` call), as criterion groups
//! `execute/<program>`; plus JIT compile time (`jit/compile`).
//!
//! After criterion, a summary table measured in the same run: raw ns per
//! run, net ns per run (minus the engine's time for `empty.s`, the harness
//! baseline), and net ratios to the kernel's JIT and to rbpf's JIT. "n/a"
//! marks an engine that cannot run a program (with the reason below the
//! table).
//!
//! ```text
//! cargo bench -p oxbpf-jit --bench engines
//! cargo bench -p oxbpf-jit --bench engines -- --summary-only   # table only
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use oxbpf_interp::{FastInterpreter, Interpreter};
use oxbpf_isa::{Insn, Reg};
use oxbpf_jit::Jit;
use oxbpf_runtime::{Engine, Executable, HelperTable, Program, RunState, SafetyMode};

const PROGRAMS: &[&str] = &[
    "empty",
    "arith_loop",
    "div_loop",
    "checksum",
    "bitcount",
    "branchy",
    "calls",
];

/// A runnable engine instance for one program: runs once, returns r0.
trait Runner {
    fn run(&mut self) -> u64;
    /// Runs `n` times; returns the time the engine itself reports, if it
    /// measures (the kernel), else `None` to use wall-clock time.
    fn run_many(&mut self, n: u64) -> Option<Duration> {
        for _ in 0..n {
            std::hint::black_box(self.run());
        }
        None
    }
}

struct Ours {
    exe: Box<dyn Executable>,
    state: RunState<'static>,
}

impl Runner for Ours {
    fn run(&mut self) -> u64 {
        self.state.budget = u64::MAX;
        self.exe.run(&mut self.state, [0; 5]).unwrap_or(u64::MAX)
    }
}

struct RbpfInterp(rbpf::EbpfVmNoData<'static>);

impl Runner for RbpfInterp {
    fn run(&mut self) -> u64 {
        self.0.execute_program().unwrap_or(u64::MAX)
    }
}

struct RbpfJit(rbpf::EbpfVmNoData<'static>);

impl Runner for RbpfJit {
    fn run(&mut self) -> u64 {
        // SAFETY: the program was JIT-compiled by `jit_compile` and only
        // touches its own stack (rbpf's verifier accepted it).
        unsafe { self.0.execute_program_jit() }.unwrap_or(u64::MAX)
    }
}

/// The kernel's JIT through `BPF_PROG_TEST_RUN`.
struct KernelRunner {
    prog: kernel::Prog,
}

impl Runner for KernelRunner {
    fn run(&mut self) -> u64 {
        self.prog
            .test_run(1)
            .map(|(r, _)| r as u64)
            .unwrap_or(u64::MAX)
    }

    fn run_many(&mut self, n: u64) -> Option<Duration> {
        let mut left = n;
        let mut total = Duration::ZERO;
        while left > 0 {
            let chunk = left.min(u32::MAX as u64) as u32;
            let (_, per_run_ns) = self.prog.test_run(chunk).expect("test run");
            total += Duration::from_nanos(per_run_ns as u64 * chunk as u64);
            left -= chunk as u64;
        }
        Some(total)
    }
}

fn load_program(name: &str) -> Vec<Insn> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bench-programs")
        .join(format!("{name}.s"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    oxbpf_isa::asm::assemble(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The engines, by name, in table order.
const ENGINES: &[&str] = &[
    "interp",
    "interp-fast",
    "jit",
    "jit-checked",
    "rbpf-interp",
    "rbpf-jit",
    "kernel-jit",
];

/// Builds engine `engine` for `insns`, or says why it cannot run them.
fn runner(engine: &str, insns: &[Insn]) -> Result<Box<dyn Runner>, String> {
    let table = Arc::new(HelperTable::new("none"));
    // Every program passes the checked-mode load check; the kernel's
    // verifier accepts them too, so "verified" is what the kernel runs.
    let checked =
        Program::checked(insns.to_vec(), table.clone(), &[Reg::R1]).map_err(|e| e.to_string())?;
    let verified = Program::new_unchecked(insns.to_vec(), table, SafetyMode::Verified);
    let ours = |e: &dyn Engine, p: &Program| -> Result<Box<dyn Runner>, String> {
        Ok(Box::new(Ours {
            exe: e.load(p).map_err(|e| e.to_string())?,
            state: RunState::new(),
        }))
    };
    let bytes: &'static [u8] = Box::leak(oxbpf_isa::encode_bytes(insns).into_boxed_slice());
    match engine {
        "interp" => ours(&Interpreter, &verified),
        "interp-fast" => ours(&FastInterpreter, &verified),
        "jit" => ours(&Jit, &verified),
        "jit-checked" => ours(&Jit, &checked),
        "rbpf-interp" => {
            let vm = rbpf::EbpfVmNoData::new(Some(bytes)).map_err(|e| e.to_string())?;
            Ok(Box::new(RbpfInterp(vm)))
        }
        "rbpf-jit" => {
            let mut vm = rbpf::EbpfVmNoData::new(Some(bytes)).map_err(|e| e.to_string())?;
            vm.jit_compile().map_err(|e| e.to_string())?;
            Ok(Box::new(RbpfJit(vm)))
        }
        "kernel-jit" => {
            let prog = kernel::Prog::load_xdp(bytes).map_err(|e| format!("kernel: {e}"))?;
            Ok(Box::new(KernelRunner { prog }))
        }
        _ => Err(format!("unknown engine {engine}")),
    }
}

/// CPU time of this thread: unlike wall-clock time, it does not count
/// while other processes have the CPU (the benchmark machine is shared).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Nanoseconds per run: the median of 5 samples of about 100 ms (this
/// thread's CPU time; the kernel reports its own time).
fn measure(r: &mut dyn Runner) -> f64 {
    let mut timed = |n: u64| {
        let t = thread_cpu_time();
        r.run_many(n).unwrap_or_else(|| thread_cpu_time() - t)
    };
    // Calibrate the batch so that one sample takes ~100 ms.
    let mut n = 1u64;
    loop {
        let d = timed(n);
        if d >= Duration::from_millis(20) || n >= 1 << 30 {
            n = (n as f64 * 100e6 / d.as_nanos().max(1) as f64).max(1.0) as u64;
            break;
        }
        n *= 4;
    }
    let mut samples: Vec<f64> = (0..5)
        .map(|_| timed(n).as_nanos() as f64 / n as f64)
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[2]
}

fn criterion_groups(c: &mut Criterion) {
    for name in PROGRAMS {
        let insns = load_program(name);
        let mut group = c.benchmark_group(format!("execute/{name}"));
        for engine in ENGINES {
            let Ok(mut r) = runner(engine, &insns) else {
                continue;
            };
            group.bench_function(BenchmarkId::from_parameter(engine), |b| {
                b.iter_custom(|iters| {
                    let t = Instant::now();
                    r.run_many(iters).unwrap_or_else(|| t.elapsed())
                })
            });
        }
        group.finish();
    }
    // Compile time over all programs together (one large program: each
    // program's body as a function called from a main).
    let big = compile_corpus();
    let table = Arc::new(HelperTable::new("none"));
    let program = Program::new_unchecked(big.clone(), table, SafetyMode::Verified);
    let mut group = c.benchmark_group("jit");
    group.bench_function(BenchmarkId::new("compile", big.len()), |b| {
        b.iter(|| Jit.compile(&program).expect("compiles"))
    });
    group.finish();
}

/// A program of about 10,000 instructions made of the benchmark programs'
/// bodies back to back (each ends in `exit`; only the first runs).
fn compile_corpus() -> Vec<Insn> {
    let mut out = Vec::new();
    while out.len() < 10_000 {
        for name in PROGRAMS {
            out.extend(load_program(name));
        }
    }
    out
}

/// One table row: program, engine, and (ns per run, r0) or why n/a.
type Row = (String, String, Result<(f64, u64), String>);

fn summary() {
    println!();
    println!(
        "engine comparison (ns per run, this thread's CPU time; kernel-jit: the kernel's \
         BPF_PROG_TEST_RUN duration; net = raw - the engine's empty-program time)"
    );
    let mut rows: Vec<Row> = Vec::new();
    let mut baseline: std::collections::HashMap<String, f64> = Default::default();
    for name in PROGRAMS {
        let insns = load_program(name);
        for engine in ENGINES {
            let result = runner(engine, &insns).map(|mut r| {
                let r0 = r.run();
                (measure(r.as_mut()), r0)
            });
            if *name == "empty"
                && let Ok((ns, _)) = &result
            {
                baseline.insert(engine.to_string(), *ns);
            }
            rows.push((name.to_string(), engine.to_string(), result));
        }
    }
    let net = |prog: &str, engine: &str| -> Option<f64> {
        rows.iter()
            .find(|(p, e, _)| p == prog && e == engine)
            .and_then(|(_, _, r)| r.as_ref().ok())
            .map(|(ns, _)| ns - baseline.get(engine).copied().unwrap_or(0.0))
    };
    println!(
        "{:<11} {:<12} {:>12} {:>12} {:>14} {:>14} {:>12}",
        "program", "engine", "raw", "net", "net/kernel-jit", "net/rbpf-jit", "r0 (low 32)"
    );
    let mut reasons = Vec::new();
    for (prog, engine, r) in &rows {
        match r {
            Ok((ns, r0)) => {
                let n = ns - baseline.get(engine.as_str()).copied().unwrap_or(0.0);
                let ratio = |other: &str| match net(prog, other) {
                    Some(o) if prog != "empty" && o > 0.0 => format!("{:.2}x", n / o),
                    _ => "-".into(),
                };
                println!(
                    "{prog:<11} {engine:<12} {ns:>12.1} {n:>12.1} {:>14} {:>14} {:>12x}",
                    ratio("kernel-jit"),
                    ratio("rbpf-jit"),
                    *r0 as u32
                );
            }
            Err(why) => {
                println!("{prog:<11} {engine:<12} {:>12} {:>12}", "n/a", "n/a");
                reasons.push(format!("{prog}/{engine}: {why}"));
            }
        }
    }
    for r in reasons {
        println!("  n/a {r}");
    }
    // Compile time per 1,000 instructions.
    let big = compile_corpus();
    let table = Arc::new(HelperTable::new("none"));
    let program = Program::new_unchecked(big.clone(), table, SafetyMode::Verified);
    let mut n = 0u32;
    let t = thread_cpu_time();
    while thread_cpu_time() - t < Duration::from_millis(500) {
        std::hint::black_box(Jit.compile(&program).expect("compiles"));
        n += 1;
    }
    let per = (thread_cpu_time() - t).as_secs_f64() * 1e6 / n as f64;
    println!(
        "jit compile: {} instructions in {per:.1} us = {:.1} us per 1,000 instructions",
        big.len(),
        per * 1000.0 / big.len() as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--summary-only") {
        let mut c = Criterion::default()
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .sample_size(20)
            .configure_from_args();
        criterion_groups(&mut c);
        c.final_summary();
    }
    summary();
}

/// A minimal raw `bpf(2)` interface: load an XDP program, test-run it.
mod kernel {
    use std::io;

    const BPF_PROG_LOAD: libc::c_long = 5;
    const BPF_PROG_TEST_RUN: libc::c_long = 10;
    const BPF_PROG_TYPE_XDP: u32 = 6;

    /// `union bpf_attr` for `BPF_PROG_LOAD` (prefix).
    #[repr(C)]
    #[derive(Default)]
    struct LoadAttr {
        prog_type: u32,
        insn_cnt: u32,
        insns: u64,
        license: u64,
        log_level: u32,
        log_size: u32,
        log_buf: u64,
        kern_version: u32,
        prog_flags: u32,
        prog_name: [u8; 16],
        prog_ifindex: u32,
        expected_attach_type: u32,
    }

    /// `union bpf_attr` for `BPF_PROG_TEST_RUN`.
    #[repr(C)]
    #[derive(Default)]
    struct TestRunAttr {
        prog_fd: u32,
        retval: u32,
        data_size_in: u32,
        data_size_out: u32,
        data_in: u64,
        data_out: u64,
        repeat: u32,
        duration: u32,
        ctx_size_in: u32,
        ctx_size_out: u32,
        ctx_in: u64,
        ctx_out: u64,
        flags: u32,
        cpu: u32,
        batch_size: u32,
        _pad: u32,
    }

    fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<i64> {
        // SAFETY: `attr` is a valid, initialised bpf_attr prefix of the
        // size passed; the kernel reads and writes only that many bytes.
        let r = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd,
                attr as *mut T as *mut libc::c_void,
                std::mem::size_of::<T>(),
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }

    /// A loaded program (closed on drop).
    pub struct Prog {
        fd: i32,
        packet: Vec<u8>,
    }

    impl Prog {
        /// Loads `bytes` (raw instructions) as an XDP program.
        pub fn load_xdp(bytes: &[u8]) -> Result<Prog, String> {
            // Without a log first: the verifier's log of a loop-heavy
            // program outgrows any buffer; ask for it only on failure.
            Self::load(bytes, 0).or_else(|_| Self::load(bytes, 1))
        }

        fn load(bytes: &[u8], log_level: u32) -> Result<Prog, String> {
            let license = c"GPL";
            let mut log = vec![0u8; if log_level > 0 { 1 << 24 } else { 0 }];
            let mut attr = LoadAttr {
                prog_type: BPF_PROG_TYPE_XDP,
                insn_cnt: (bytes.len() / 8) as u32,
                insns: bytes.as_ptr() as u64,
                license: license.as_ptr() as u64,
                log_level,
                log_size: log.len() as u32,
                log_buf: if log.is_empty() {
                    0
                } else {
                    log.as_mut_ptr() as u64
                },
                ..Default::default()
            };
            match bpf(BPF_PROG_LOAD, &mut attr) {
                Ok(fd) => Ok(Prog {
                    fd: fd as i32,
                    packet: vec![0u8; 64],
                }),
                Err(e) => {
                    let text = String::from_utf8_lossy(&log);
                    let text = text.trim_end_matches('\0');
                    let last: Vec<&str> = text.lines().rev().take(3).collect();
                    Err(format!("BPF_PROG_LOAD: {e}: {}", last.join(" / ")))
                }
            }
        }

        /// Runs the program `repeat` times on a 64-byte packet; returns r0
        /// (32 bits) and the kernel's average nanoseconds per run.
        pub fn test_run(&mut self, repeat: u32) -> io::Result<(u32, u32)> {
            let mut attr = TestRunAttr {
                prog_fd: self.fd as u32,
                data_size_in: self.packet.len() as u32,
                data_in: self.packet.as_ptr() as u64,
                repeat,
                ..Default::default()
            };
            bpf(BPF_PROG_TEST_RUN, &mut attr)?;
            Ok((attr.retval, attr.duration))
        }
    }

    impl Drop for Prog {
        fn drop(&mut self) {
            // SAFETY: `fd` is a descriptor this value owns.
            unsafe { libc::close(self.fd) };
        }
    }
}
