//! The interpreter/JIT lockstep harness shared by the JIT's tests.
//!
//! One program, one input: the reference interpreter runs it, then the JIT
//! runs it on the *same* host buffers (restored to their initial bytes), so
//! that pointer values a program computes from its inputs are equal in both
//! runs. The harness compares `r0` or the trap (code and slot), the final
//! bytes of the writable input, and the remaining budget.

#![allow(dead_code)]

pub mod generator;
pub mod suite;

use std::sync::Arc;

use oxbpf_interp::{Interpreter, TraceEvent};
use oxbpf_isa::{Insn, Reg};
use oxbpf_jit::{JitExecutable, JitOptions};
use oxbpf_runtime::{
    Engine, Executable, Program, RegionKind, RunState, SafetyMode, Trapped, helpers::conformance,
};

/// Host memory for one test input, 8-byte aligned (atomics on it are
/// aligned host atomics, as in the interpreter).
pub struct Buffer {
    words: Vec<u64>,
    len: usize,
}

impl Buffer {
    pub fn new(bytes: &[u8]) -> Buffer {
        let mut b = Buffer {
            words: vec![0; bytes.len().div_ceil(8).max(1)],
            len: bytes.len(),
        };
        b.fill(bytes);
        b
    }

    pub fn fill(&mut self, bytes: &[u8]) {
        assert_eq!(bytes.len(), self.len);
        self.words.iter_mut().for_each(|w| *w = 0);
        self.bytes_mut().copy_from_slice(bytes);
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `words` holds at least `len` initialised bytes.
        unsafe { core::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, uniquely borrowed.
        unsafe { core::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), self.len) }
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

/// Runs `exe` on the buffers: sets them up as regions of a fresh state.
fn run_on(
    exe: &dyn Executable,
    input: &mut Buffer,
    ro: Option<&Buffer>,
    budget: u64,
    trace: Option<&mut dyn FnMut(&TraceEvent<'_>)>,
    program: &Program,
) -> Outcome {
    let len = input.len as u64;
    let mut state = RunState::new();
    state.budget = budget;
    let addr = if len == 0 {
        0
    } else {
        state.add_memory(input.bytes_mut(), RegionKind::Input)
    };
    let ro_addr = ro.map_or(0, |b| {
        state.add_readonly(b.bytes(), RegionKind::ReadOnlyData)
    });
    let args = [addr, len, ro_addr, 0, 0];
    let result = match trace {
        Some(t) => Interpreter.prepare(program).run_traced(&mut state, args, t),
        None => exe.run(&mut state, args),
    };
    let budget = state.budget;
    drop(state);
    Outcome {
        result,
        input: input.bytes().to_vec(),
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
    let mut input = Buffer::new(inp.input);
    let ro = inp.ro.map(Buffer::new);
    let a = run_on(
        interp_exe.as_ref(),
        &mut input,
        ro.as_ref(),
        inp.budget,
        Some(trace),
        program,
    );
    input.fill(inp.input);
    let b = run_on(
        jit.as_ref(),
        &mut input,
        ro.as_ref(),
        inp.budget,
        None,
        program,
    );
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
