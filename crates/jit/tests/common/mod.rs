//! The interpreter/JIT lockstep harness shared by the JIT's tests.
//!
//! One program, one input: the reference interpreter runs it, then the JIT
//! runs it on the *same* host buffers (restored to their initial bytes), so
//! that pointer values a program computes from its inputs are equal in both
//! runs. The harness compares `r0` or the trap (code and slot), the final
//! bytes of the writable input, and the remaining budget.

#![allow(dead_code)]

pub mod suite;

use std::sync::{Arc, Mutex, MutexGuard};

use oxbpf_interp::{Interpreter, TraceEvent};
use oxbpf_isa::{Insn, Reg};
use oxbpf_jit::{JitExecutable, JitOptions};
use oxbpf_runtime::{
    Engine, Executable, Program, RegionKind, RunState, SafetyMode, Trapped, helpers::conformance,
};

/// Where the read-only input starts, in bytes above the writable input:
/// farther than any offset generated programs add to an input address, so
/// an out-of-bounds access never lands in the other buffer by accident.
const RO_OFFSET: usize = 64 * 1024;
/// Size of the arena: both inputs, with room for the read-only one.
const ARENA_LEN: usize = RO_OFFSET + 64 * 1024;
/// Where the arena is mapped if that address is free. Programs may compute
/// with input addresses (they are plain values in r6/r7), so a fixed
/// address makes a run, and a pasted reproducer, behave the same every time.
const ARENA_ADDR: usize = 0x5f00_0000_0000;

/// The one arena of the process; `lockstep` holds it for a whole case.
static ARENA: Mutex<usize> = Mutex::new(0);

/// The arena's address, mapped on first use.
fn arena_base(slot: &mut usize) -> *mut u8 {
    if *slot == 0 {
        // SAFETY: an anonymous private mapping; MAP_FIXED_NOREPLACE never
        // replaces an existing mapping (it fails instead, and then any
        // address will do).
        let mut p = unsafe {
            libc::mmap(
                ARENA_ADDR as *mut libc::c_void,
                ARENA_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            // SAFETY: as above, at an address of the kernel's choice.
            p = unsafe {
                libc::mmap(
                    core::ptr::null_mut(),
                    ARENA_LEN,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(p, libc::MAP_FAILED, "mmap of the test arena");
        }
        *slot = p as usize;
    }
    *slot as *mut u8
}

/// Host memory for one case, in the process's arena (held locked): the
/// writable input at its start and the read-only input [`RO_OFFSET`] above
/// it. Page-aligned, so atomics on it are aligned host atomics, as in the
/// interpreter.
pub struct Memory {
    _lock: MutexGuard<'static, usize>,
    base: *mut u8,
    input_len: usize,
    ro_len: Option<usize>,
}

impl Memory {
    pub fn new(input: &[u8], ro: Option<&[u8]>) -> Memory {
        assert!(input.len() <= RO_OFFSET && ro.is_none_or(|r| r.len() <= ARENA_LEN - RO_OFFSET));
        let mut lock = ARENA.lock().unwrap_or_else(|e| e.into_inner());
        let base = arena_base(&mut lock);
        let mut m = Memory {
            _lock: lock,
            base,
            input_len: input.len(),
            ro_len: ro.map(<[u8]>::len),
        };
        m.reset(input, ro);
        m
    }

    /// Back to the initial bytes.
    pub fn reset(&mut self, input: &[u8], ro: Option<&[u8]>) {
        self.all().fill(0);
        let (i, r) = self.parts();
        i.copy_from_slice(input);
        if let (Some(r), Some(ro)) = (r, ro) {
            r.copy_from_slice(ro);
        }
    }

    fn all(&mut self) -> &mut [u8] {
        // SAFETY: the arena is ARENA_LEN mapped, writable bytes that only
        // the holder of the lock (this value) touches.
        unsafe { core::slice::from_raw_parts_mut(self.base, ARENA_LEN) }
    }

    /// The writable and the read-only input.
    fn parts(&mut self) -> (&mut [u8], Option<&mut [u8]>) {
        let (input_len, ro_len) = (self.input_len, self.ro_len);
        let (lo, hi) = self.all().split_at_mut(RO_OFFSET);
        (&mut lo[..input_len], ro_len.map(|len| &mut hi[..len]))
    }

    pub fn input(&mut self) -> Vec<u8> {
        self.parts().0.to_vec()
    }
}

/// How a run ended and what it left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub result: Result<u64, Trapped>,
    pub input: Vec<u8>,
    pub budget: u64,
}

/// The inputs of one lockstep case.
pub struct Input<'a> {
    /// Writable input bytes; `r1` = their address (0 if empty), `r2` = length.
    pub input: &'a [u8],
    /// Read-only bytes; `r3` = their address, when present.
    pub ro: Option<&'a [u8]>,
    pub budget: u64,
}

/// Runs `exe` on the memory: sets it up as regions of a fresh state.
fn run_on(
    exe: &dyn Executable,
    mem: &mut Memory,
    budget: u64,
    trace: Option<&mut dyn FnMut(&TraceEvent<'_>)>,
    program: &Program,
) -> Outcome {
    let (input, ro) = mem.parts();
    let len = input.len() as u64;
    let mut state = RunState::new();
    state.budget = budget;
    let addr = if len == 0 {
        0
    } else {
        state.add_memory(input, RegionKind::Input)
    };
    let ro_addr = ro.map_or(0, |b| state.add_readonly(b, RegionKind::ReadOnlyData));
    let args = [addr, len, ro_addr, 0, 0];
    let result = match trace {
        Some(t) => Interpreter.prepare(program).run_traced(&mut state, args, t),
        None => exe.run(&mut state, args),
    };
    let budget = state.budget;
    drop(state);
    Outcome {
        result,
        input: mem.input(),
        budget,
    }
}

/// A divergence, with everything needed to reproduce it.
#[derive(Debug)]
pub struct Divergence {
    pub interp: Outcome,
    pub jit: Outcome,
}

/// Runs `program` on the interpreter (traced through `trace`) and on the
/// JIT with the same input; returns the interpreter's outcome if both agree.
pub fn lockstep(
    program: &Program,
    inp: &Input<'_>,
    trace: &mut dyn FnMut(&TraceEvent<'_>),
) -> Result<Outcome, Box<Divergence>> {
    lockstep_with(program, inp, trace, JitOptions::host())
}

/// [`lockstep`] with the JIT's code generation options.
pub fn lockstep_with(
    program: &Program,
    inp: &Input<'_>,
    trace: &mut dyn FnMut(&TraceEvent<'_>),
    options: JitOptions,
) -> Result<Outcome, Box<Divergence>> {
    let jit: Box<dyn Executable> = Box::new(
        JitExecutable::with_options(program, options)
            .unwrap_or_else(|e| panic!("jit refused the program: {e}")),
    );
    let interp_exe = Interpreter
        .load(program)
        .expect("interpreter loads everything");
    let mut mem = Memory::new(inp.input, inp.ro);
    let a = run_on(
        interp_exe.as_ref(),
        &mut mem,
        inp.budget,
        Some(trace),
        program,
    );
    mem.reset(inp.input, inp.ro);
    let b = run_on(jit.as_ref(), &mut mem, inp.budget, None, program);
    if a == b {
        Ok(a)
    } else {
        Err(Box::new(Divergence { interp: a, jit: b }))
    }
}

/// A reproducer to paste into a test: the program as assembly text and the
/// inputs, as a call of [`check_asm`].
pub fn reproducer(insns: &[Insn], inp: &Input<'_>, verified: bool) -> String {
    format!(
        "common::{}(\n    r#\"\n{}\"#,\n    \"{}\",\n    {},\n    {},\n);",
        if verified {
            "check_asm_verified"
        } else {
            "check_asm"
        },
        oxbpf_isa::disasm::disassemble(insns),
        hex(inp.input),
        match inp.ro {
            Some(ro) => format!("Some(\"{}\")", hex(ro)),
            None => "None".into(),
        },
        inp.budget
    )
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// The entry registers of generated programs and reproducers.
pub const ENTRY: [Reg; 3] = [Reg::R1, Reg::R2, Reg::R3];

/// Checks one program given as assembly in lockstep (the form
/// [`reproducer`] prints); panics with both outcomes on a divergence.
pub fn check_asm(src: &str, input_hex: &str, ro_hex: Option<&str>, budget: u64) -> Outcome {
    check_asm_in(src, input_hex, ro_hex, budget, SafetyMode::Checked)
}

/// [`check_asm`] for a program run in verified mode (no checks: only for
/// programs that stay in bounds).
pub fn check_asm_verified(
    src: &str,
    input_hex: &str,
    ro_hex: Option<&str>,
    budget: u64,
) -> Outcome {
    check_asm_in(src, input_hex, ro_hex, budget, SafetyMode::Verified)
}

fn check_asm_in(
    src: &str,
    input_hex: &str,
    ro_hex: Option<&str>,
    budget: u64,
    mode: SafetyMode,
) -> Outcome {
    let insns = oxbpf_isa::asm::assemble(src).expect("reproducer assembles");
    let table = Arc::new(conformance::table());
    let mut program = Program::checked(insns.clone(), table.clone(), &ENTRY)
        .expect("reproducer passes the load check");
    if mode == SafetyMode::Verified {
        program = Program::new_unchecked(insns, table, mode);
    }
    let input = unhex(input_hex);
    let ro = ro_hex.map(unhex);
    let inp = Input {
        input: &input,
        ro: ro.as_deref(),
        budget,
    };
    match lockstep(&program, &inp, &mut |_| {}) {
        Ok(o) => o,
        Err(d) => panic!("divergence:\ninterp: {:?}\njit:    {:?}", d.interp, d.jit),
    }
}
