//! Runs one engine on one benchmark program a fixed number of times, for
//! instruction counting under callgrind (stable where wall time on a
//! shared machine is not):
//!
//! ```text
//! cargo build --release -p oxbpf-jit --example bench_count
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/bench_count jit checksum 1000
//! ```
//!
//! Subtract the count of the same engine on `empty` with the same N (and of
//! N = 0, the setup) to get instructions per run. Engines: interp,
//! interp-fast, interp-fast-checked, jit, jit-checked, rbpf-interp,
//! rbpf-jit. `bench_count disasm PROGRAM` prints the verified-mode JIT
//! code instead; `bench_count time PROGRAM N ENGINE...` prints wall-clock
//! ns per run (raw, empty program, net), engines interleaved, best of 15
//! batches (ROUNDS in the environment changes it).

use std::path::Path;
use std::sync::Arc;

use oxbpf_interp::{FastInterpreter, Interpreter};
use oxbpf_isa::{Insn, Reg};
use oxbpf_jit::Jit;
use oxbpf_runtime::{Engine, HelperTable, Program, RunState, SafetyMode};

fn load_program(name: &str) -> Vec<Insn> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bench-programs")
        .join(format!("{name}.s"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    oxbpf_isa::asm::assemble(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: bench_count ENGINE PROGRAM N | disasm PROGRAM | time PROGRAM N ENGINE...";
    let (engine, name) = match (args.get(1), args.get(2)) {
        (Some(e), Some(p)) => (e.as_str(), p.as_str()),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let insns = load_program(name);
    if engine == "disasm" {
        let table = Arc::new(HelperTable::new("none"));
        let verified = Program::new_unchecked(insns.clone(), table, SafetyMode::Verified);
        let listing = oxbpf_jit::disassemble_jit(&verified).expect("compiles");
        for line in &listing.prologue {
            println!("        {:6x}  {}", line.offset, line.text);
        }
        for insn in &listing.insns {
            println!("{:4}: {}", insn.slot, insn.text);
            for line in &insn.x86 {
                println!("        {:6x}  {}", line.offset, line.text);
            }
        }
        for line in &listing.out_of_line {
            println!("        {:6x}  {}", line.offset, line.text);
        }
        return;
    }
    let n: u64 = match args.get(3).and_then(|s| s.parse().ok()) {
        Some(n) => n,
        None => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    if engine == "time" {
        // Wall time, engines interleaved, the minimum of 15 batches of n
        // runs each: the least disturbed batch on a shared machine.
        let engines = &args[4..];
        let empty = load_program("empty");
        let mut best = vec![(f64::MAX, f64::MAX); engines.len()];
        let rounds: usize = std::env::var("ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(15);
        for _ in 0..rounds {
            for (i, e) in engines.iter().enumerate() {
                for (which, prog) in [(0, &insns), (1, &empty)] {
                    let mut r = runner(e, prog);
                    r(1);
                    let t = std::time::Instant::now();
                    std::hint::black_box(r(n));
                    let ns = t.elapsed().as_nanos() as f64 / n as f64;
                    let slot = if which == 0 {
                        &mut best[i].0
                    } else {
                        &mut best[i].1
                    };
                    *slot = slot.min(ns);
                }
            }
        }
        for (e, (raw, base)) in engines.iter().zip(best) {
            println!(
                "{name:<11} {e:<20} raw {raw:>10.1} base {base:>6.1} net {:>10.1}",
                raw - base
            );
        }
        return;
    }
    let mut r = runner(engine, &insns);
    println!("{}", r(n));
}

/// A closure that runs `engine` on `insns` `n` times and sums the results.
fn runner(engine: &str, insns: &[Insn]) -> Box<dyn FnMut(u64) -> u64> {
    let table = Arc::new(HelperTable::new("none"));
    let verified = Program::new_unchecked(insns.to_vec(), table.clone(), SafetyMode::Verified);
    let checked = Program::checked(insns.to_vec(), table, &[Reg::R1]).expect("load check");
    let ours = |e: &dyn Engine, p: &Program| -> Box<dyn FnMut(u64) -> u64> {
        let exe = e.load(p).expect("loads");
        let mut state = RunState::new();
        Box::new(move |n| {
            let mut acc = 0u64;
            for _ in 0..n {
                state.budget = u64::MAX;
                acc = acc.wrapping_add(exe.run(&mut state, [0; 5]).unwrap_or(u64::MAX));
            }
            acc
        })
    };
    let bytes: &'static [u8] = Box::leak(oxbpf_isa::encode_bytes(insns).into_boxed_slice());
    match engine {
        "interp" => ours(&Interpreter, &verified),
        "interp-fast" => ours(&FastInterpreter, &verified),
        "interp-fast-checked" => ours(&FastInterpreter, &checked),
        "jit" => ours(&Jit, &verified),
        "jit-checked" => ours(&Jit, &checked),
        "rbpf-interp" => {
            let vm = rbpf::EbpfVmNoData::new(Some(bytes)).expect("rbpf loads");
            Box::new(move |n| {
                let mut acc = 0u64;
                for _ in 0..n {
                    acc = acc.wrapping_add(vm.execute_program().unwrap_or(u64::MAX));
                }
                acc
            })
        }
        "rbpf-jit" => {
            let mut vm = rbpf::EbpfVmNoData::new(Some(bytes)).expect("rbpf loads");
            vm.jit_compile().expect("rbpf compiles");
            Box::new(move |n| {
                let mut acc = 0u64;
                for _ in 0..n {
                    // SAFETY: rbpf compiled and verified the program; it
                    // only touches its own stack.
                    acc = acc.wrapping_add(unsafe { vm.execute_program_jit() }.unwrap_or(u64::MAX));
                }
                acc
            })
        }
        other => {
            eprintln!("unknown engine {other}");
            std::process::exit(2);
        }
    }
}
