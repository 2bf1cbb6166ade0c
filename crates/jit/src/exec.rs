//! Executable memory and running compiled code.
//!
//! Code is assembled into an ordinary `Vec<u8>`, copied into a fresh
//! anonymous mapping that is readable and writable but not executable, and
//! the mapping is then switched to read + execute (`dynasmrt::MutableBuffer`
//! → `ExecutableBuffer`, which `mprotect`s through `memmap2`). The mapping is
//! never writable and executable at the same time, and is never written
//! again after that switch.

use core::fmt;
use core::mem::MaybeUninit;

use dynasmrt::ExecutableBuffer;
use dynasmrt::mmap::MutableBuffer;
use oxbpf_abi::Trap;
use oxbpf_abi::limits::{CHECKED_MAX_FRAMES, STACK_PER_FRAME};
use oxbpf_runtime::{
    EngineError, Executable, HelperTable, Program, Region, RegionKind, RunState, SafetyMode,
    Trapped,
};
use std::sync::Arc;

use crate::codegen::{self, Compiled, JitOptions};
use crate::ctx::{JitCtx, SPILL_SLOTS};
use crate::frames::frames;

/// The signature of generated code's entry point.
type Entry = unsafe extern "sysv64" fn(*mut JitCtx) -> u64;

/// Machine code in W^X executable memory.
struct CodeMemory {
    buf: ExecutableBuffer,
}

impl CodeMemory {
    fn new(code: &[u8]) -> Result<CodeMemory, EngineError> {
        let resource = |e: std::io::Error| EngineError::Resource {
            engine: "jit",
            reason: format!("executable memory for {} bytes of code: {e}", code.len()),
        };
        let mut buf = MutableBuffer::new(code.len().max(1)).map_err(resource)?;
        buf.set_len(code.len());
        buf[..code.len()].copy_from_slice(code);
        let buf = buf.make_exec().map_err(resource)?;
        Ok(CodeMemory { buf })
    }

    fn entry(&self) -> Entry {
        let p = self.buf.as_ptr();
        // SAFETY: offset 0 is the prologue emitted by `codegen::compile`,
        // a function with the `Entry` signature; the buffer is executable
        // and lives as long as `self`.
        unsafe { core::mem::transmute::<*const u8, Entry>(p) }
    }
}

impl fmt::Debug for CodeMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CodeMemory({} bytes)", self.buf.len())
    }
}

/// A program compiled to machine code, runnable from many threads.
#[derive(Debug)]
pub struct JitExecutable {
    code: CodeMemory,
    mode: SafetyMode,
    helpers: Arc<HelperTable>,
    stack_len: usize,
    /// Whether runs zero the stack first ([`Program::zeroed_stack`]).
    zero_stack: bool,
    /// Whether runs register their stack as a region
    /// ([`Program::needs_regions`]).
    regions: bool,
    code_len: usize,
    /// What inlined array lookups point into: the maps (kept alive so the
    /// value addresses in the code stay valid) and the per-CPU base tables
    /// the code reads.
    _inlined: Inlined,
}

/// Memory the generated code addresses directly (see
/// [`JitExecutable::_inlined`]).
#[derive(Debug, Default)]
pub(crate) struct Inlined {
    /// Held, never read: keeps the arrays' values alive.
    pub(crate) _maps: Option<Arc<oxbpf_runtime::maps::LinkedMaps>>,
    /// Held, never read here: the code reads them.
    pub(crate) _cpu_tables: Vec<Box<[u64]>>,
}

// The stack of the largest mode, in 8-byte units.
const MAX_STACK_WORDS: usize = CHECKED_MAX_FRAMES * STACK_PER_FRAME / 8;

/// A run's eBPF stack, 16-byte aligned for [`zero_stack`]'s stores.
#[repr(C, align(16))]
struct Stack([u64; MAX_STACK_WORDS]);

impl JitExecutable {
    /// Compiles `program` with the best options for this processor.
    pub fn new(program: &Program) -> Result<JitExecutable, EngineError> {
        JitExecutable::with_options(program, JitOptions::host())
    }

    /// Compiles `program` with the given code generation options.
    pub fn with_options(
        program: &Program,
        options: JitOptions,
    ) -> Result<JitExecutable, EngineError> {
        let Compiled {
            code,
            stack_len,
            cpu_tables,
            ..
        } = codegen::compile(program, frames(program), options)?;
        Ok(JitExecutable {
            code: CodeMemory::new(&code)?,
            mode: program.mode(),
            helpers: program.helpers().clone(),
            stack_len,
            zero_stack: program.zeroed_stack(),
            regions: program.needs_regions(),
            code_len: code.len(),
            _inlined: Inlined {
                _maps: program.maps().cloned(),
                _cpu_tables: cpu_tables,
            },
        })
    }

    /// Size of the generated machine code in bytes.
    pub fn code_len(&self) -> usize {
        self.code_len
    }

    /// Host addresses of the machine code (for diagnostics, and for tests
    /// that check the mapping's protection).
    pub fn code_range(&self) -> core::ops::Range<usize> {
        let start = self.code.buf.as_ptr() as usize;
        start..start + self.code_len
    }
}

impl Executable for JitExecutable {
    fn run(&self, state: &mut RunState<'_>, args: [u64; 5]) -> Result<u64, Trapped> {
        // Tail calls end this program through a helper's Exit and run the
        // target from here (see oxbpf_runtime::tail_call).
        oxbpf_runtime::tail_call::drive(state, args, |s, a| self.run_once(s, a))
    }
}

/// Zeroes the first `len` bytes (a multiple of 64: whole 512-byte frames)
/// of the run's stack (16-byte aligned: [`Stack`]) with 16-byte SSE2
/// stores. Not `write_bytes`: for a
/// few hundred bytes libc's `memset` picks 512-bit stores on processors
/// with AVX-512, and on this Xeon a run that zeroed its frame that way took
/// 50 ns where the kernel's empty program takes 10.
#[inline]
fn zero_stack(stack: *mut u8, len: usize) {
    use core::arch::x86_64::{__m128i, _mm_setzero_si128};
    debug_assert!(len.is_multiple_of(64));
    // SAFETY: SSE2 is part of the x86-64 baseline.
    let zero = unsafe { _mm_setzero_si128() };
    let p = stack.cast::<__m128i>();
    let mut i = 0;
    // Four stores per step: `len` is whole 512-byte frames.
    while i < len / 16 {
        // SAFETY: the caller's buffer (a `Stack`, 16-byte aligned) holds
        // `len` bytes, a multiple of 64, so the four 16-byte stores at
        // `i..i + 4` (i < len / 16, a multiple of 4) are aligned and stay
        // inside it. Volatile, or the compiler turns the loop back into
        // `memset`.
        unsafe {
            p.add(i).write_volatile(zero);
            p.add(i + 1).write_volatile(zero);
            p.add(i + 2).write_volatile(zero);
            p.add(i + 3).write_volatile(zero);
        }
        i += 4;
    }
}

impl JitExecutable {
    /// One program of a tail-call chain.
    #[inline]
    fn run_once(&self, state: &mut RunState<'_>, args: [u64; 5]) -> Result<u64, Trapped> {
        // A fresh zeroed stack per run, as the interpreter gives; only the
        // frames this program can use are zeroed, and none when the
        // verifier found that no path reads stack it did not write (then
        // no run can tell).
        let mut stack = MaybeUninit::<Stack>::uninit();
        let stack_ptr = stack.as_mut_ptr().cast::<u8>();
        if self.zero_stack {
            zero_stack(stack_ptr, self.stack_len);
        }
        let stack_base = stack_ptr as u64;
        let stack_len = self.stack_len as u64;
        let regions_before = state.regions.len();
        if self.regions {
            state.regions.push(Region {
                start: stack_base,
                len: stack_len,
                writable: true,
                kind: RegionKind::Stack,
            });
        }
        state.mode = self.mode;
        let mut ctx = JitCtx {
            args,
            budget: state.budget,
            stack_base,
            frame_top: stack_base + stack_len,
            min_call_fp: stack_base + 2 * STACK_PER_FRAME as u64,
            cur_fp: stack_base + stack_len,
            saved_rsp: 0,
            trap_pc: 0,
            trap_code: 0,
            helper_fn: None,
            callx_id: 0,
            read_cache: [0, 0],
            write_cache: [0, 0],
            spill: [MaybeUninit::uninit(); SPILL_SLOTS],
            state: (state as *mut RunState<'_>).cast::<RunState<'static>>(),
            helpers: Arc::as_ptr(&self.helpers),
            cpu: state.cpu.into(),
        };
        let entry = self.code.entry();
        // SAFETY: the code was generated for this context layout and this
        // stack size; `ctx` and `stack` outlive the call; `state` is not
        // used on this side until the call returns, so the trampolines'
        // access through `ctx.state` is the only one. In checked mode every
        // access is checked against the regions (memory lent to `state` for
        // its lifetime, and `stack`); in verified mode the verifier proved
        // the accesses valid.
        let r0 = unsafe { entry(&mut ctx) };
        if self.regions {
            state.regions.truncate(regions_before);
        }
        if self.mode == SafetyMode::Checked {
            state.budget = ctx.budget;
        }
        if ctx.trap_code != 0 {
            return Err(Trapped {
                trap: Trap::from_code(ctx.trap_code as u8).unwrap_or(Trap::Unsupported),
                pc: ctx.trap_pc as usize,
            });
        }
        Ok(r0)
    }
}
