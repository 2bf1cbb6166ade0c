//! The context block generated code works against, and the Rust functions
//! (trampolines) it calls.
//!
//! Generated code keeps a pointer to one [`JitCtx`] in host register `r12`
//! for the whole run and reaches every field at a fixed displacement (the
//! `OFF_*` constants). The trampolines use the System V calling convention
//! because it passes the first five integer arguments in exactly the host
//! registers that hold eBPF `r1`..`r5` (`rdi`, `rsi`, `rdx`, `rcx`, `r8`),
//! the reason the kernel's x86-64 JIT maps registers the same way
//! (`arch/x86/net/bpf_jit_comp.c`, `reg2hex`).

use core::mem::offset_of;

use oxbpf_abi::Trap;
use oxbpf_runtime::{HelperExit, HelperFn, HelperTable, RunState};

/// Number of 8-byte spill slots in the context.
pub(crate) const SPILL_SLOTS: usize = 12;

/// Per-run state shared between the Rust side and generated code.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct JitCtx {
    /// `r1`..`r5` at entry.
    pub args: [u64; 5],
    /// Remaining instruction budget (checked mode); generated code keeps it
    /// in `r9` and stores it here before calling out and at the end.
    pub budget: u64,
    /// Lowest address of the eBPF stack.
    pub stack_base: u64,
    /// `r10` of the main frame: one past the highest stack address.
    pub frame_top: u64,
    /// A local call needs `r10 >= min_call_fp`, i.e. room for one more
    /// 512-byte frame below the current one (checked mode).
    pub min_call_fp: u64,
    /// The top of the current call depth's frame, for programs that write
    /// `r10` (otherwise `r10` itself is that).
    pub cur_fp: u64,
    /// Host `rsp` just before the call into the program's entry, restored
    /// to unwind every frame on a trap or a helper's `Exit`.
    pub saved_rsp: u64,
    /// Slot of the trapping instruction.
    pub trap_pc: u64,
    /// [`Trap::code`] of the trap, or 0 if the run did not trap.
    pub trap_code: u64,
    /// The helper the pending `call` names; written by generated code.
    pub helper_fn: Option<HelperFn>,
    /// The register value of the pending `callx`; written by generated code.
    pub callx_id: u64,
    /// The last region a checked read succeeded in: start, length. A length
    /// of 0 means none; cleared whenever a helper ran (helpers may move or
    /// drop regions).
    pub read_cache: [u64; 2],
    /// Like `read_cache`, for writes (the region is writable).
    pub write_cache: [u64; 2],
    /// Scratch memory for generated code.
    /// Written before read by generated code only, so never initialised
    /// on the Rust side (a run saves the stores).
    pub spill: [core::mem::MaybeUninit<u64>; SPILL_SLOTS],
    /// The run's state, lent for the duration of the run.
    pub state: *mut RunState<'static>,
    /// The program's helper table (for `callx`).
    pub helpers: *const HelperTable,
    /// The CPU the run executes as ([`RunState::cpu`]): inlined lookups in
    /// per-CPU arrays pick this CPU's copy.
    pub cpu: u64,
}

/// Displacements of [`JitCtx`] fields, as generated code addresses them.
pub(crate) const OFF_ARGS: i32 = offset_of!(JitCtx, args) as i32;
pub(crate) const OFF_BUDGET: i32 = offset_of!(JitCtx, budget) as i32;
pub(crate) const OFF_STACK_BASE: i32 = offset_of!(JitCtx, stack_base) as i32;
pub(crate) const OFF_FRAME_TOP: i32 = offset_of!(JitCtx, frame_top) as i32;
pub(crate) const OFF_MIN_CALL_FP: i32 = offset_of!(JitCtx, min_call_fp) as i32;
pub(crate) const OFF_CUR_FP: i32 = offset_of!(JitCtx, cur_fp) as i32;
pub(crate) const OFF_SAVED_RSP: i32 = offset_of!(JitCtx, saved_rsp) as i32;
pub(crate) const OFF_TRAP_PC: i32 = offset_of!(JitCtx, trap_pc) as i32;
pub(crate) const OFF_TRAP_CODE: i32 = offset_of!(JitCtx, trap_code) as i32;
pub(crate) const OFF_HELPER_FN: i32 = offset_of!(JitCtx, helper_fn) as i32;
pub(crate) const OFF_CALLX_ID: i32 = offset_of!(JitCtx, callx_id) as i32;
pub(crate) const OFF_READ_CACHE: i32 = offset_of!(JitCtx, read_cache) as i32;
pub(crate) const OFF_WRITE_CACHE: i32 = offset_of!(JitCtx, write_cache) as i32;
pub(crate) const OFF_SPILL: i32 = offset_of!(JitCtx, spill) as i32;
pub(crate) const OFF_CPU: i32 = offset_of!(JitCtx, cpu) as i32;

/// Displacement of spill slot `i`.
pub(crate) const fn spill(i: usize) -> i32 {
    OFF_SPILL + 8 * i as i32
}

/// What a call trampoline returns, in `rax:rdx` (System V returns a
/// two-eightbyte integer struct in that pair).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallResult {
    /// New `r0`, the exit value, or the trap code, depending on `status`.
    pub value: u64,
    /// One of the `STATUS_*` constants.
    pub status: u64,
}

/// The helper returned normally: `value` is the new `r0`.
pub(crate) const STATUS_OK: u64 = 0;
/// The helper ended the program: `value` is the final `r0`.
pub(crate) const STATUS_EXIT: u64 = 1;
/// The call trapped: `value` is the trap code.
pub(crate) const STATUS_TRAP: u64 = 2;

impl CallResult {
    fn from_helper(result: Result<u64, HelperExit>) -> CallResult {
        match result {
            Ok(value) => CallResult {
                value,
                status: STATUS_OK,
            },
            Err(HelperExit::Exit(value)) => CallResult {
                value,
                status: STATUS_EXIT,
            },
            Err(HelperExit::Trap(trap)) => CallResult::trap(trap),
        }
    }

    fn trap(trap: Trap) -> CallResult {
        CallResult {
            value: trap.code() as u64,
            status: STATUS_TRAP,
        }
    }
}

/// Runs `f` with the run's state, then forgets the region caches: a helper
/// may have added, moved or dropped regions.
///
/// # Safety
/// `ctx` must be the context of a run in progress (set up by
/// `exec::run`), whose `state` pointer is valid and not otherwise borrowed
/// while generated code runs.
unsafe fn with_state(
    ctx: *mut JitCtx,
    f: impl FnOnce(&mut RunState<'static>, &HelperTable, &JitCtx) -> CallResult,
) -> CallResult {
    // SAFETY: the caller guarantees `ctx` points to the live context of the
    // current run; generated code does not touch it during this call.
    let ctx = unsafe { &mut *ctx };
    ctx.read_cache = [0, 0];
    ctx.write_cache = [0, 0];
    // SAFETY: `state` and `helpers` were set from references that outlive
    // the run (`exec::run` holds them), and the Rust side does not use them
    // while generated code runs, so this is the only access.
    let (state, helpers) = unsafe { (&mut *ctx.state, &*ctx.helpers) };
    // Budget as generated code last stored it, so a helper sees the
    // current value.
    state.budget = ctx.budget;
    f(state, helpers, ctx)
}

/// Called by generated code for `call N` (a static helper id): invokes the
/// helper stored in `ctx.helper_fn` with `r1`..`r5`.
///
/// # Safety
/// Only generated code calls it, with the context of the current run.
pub(crate) unsafe extern "sysv64" fn call_helper(
    r1: u64,
    r2: u64,
    r3: u64,
    r4: u64,
    r5: u64,
    ctx: *mut JitCtx,
) -> CallResult {
    // SAFETY: generated code passes the live context (r12).
    unsafe {
        with_state(ctx, |state, _, ctx| {
            // Generated code stored the helper right before this call.
            match ctx.helper_fn {
                Some(f) => CallResult::from_helper(f(state, [r1, r2, r3, r4, r5])),
                None => CallResult::trap(Trap::UnknownHelper),
            }
        })
    }
}

/// Called by generated code for a `bpf_map_lookup_elem` whose map the JIT
/// resolved when it compiled the call (verified mode: see
/// `Compiler::direct_lookup`): the lookup without the helper's dispatch,
/// handle check and result conversion. Returns `r0`: the value's address
/// or 0. A lookup never traps or exits.
///
/// # Safety
/// Only generated code calls it, with the context of the current run,
/// `slot` a slot of the table the executable keeps alive, and `key`
/// readable for the map's key size (the verifier proved it).
pub(crate) unsafe extern "sysv64" fn map_lookup(
    slot: *const oxbpf_runtime::maps::MapSlot,
    key: *const u8,
    key_size: u64,
    ctx: *const JitCtx,
) -> u64 {
    // SAFETY: generated code passes the live context (r12) and a slot of
    // the table `JitExecutable` holds; the state is not otherwise borrowed
    // while generated code runs.
    let (map, state) = unsafe { (&*(*slot).map, &*(*ctx).state) };
    // SAFETY: the verifier proved `key` readable for the map's key size,
    // which the code passes (`key_size`, read from the map's spec when the
    // call was compiled).
    let key = unsafe { core::slice::from_raw_parts(key, key_size as usize) };
    state.lookup_value(map, key)
}

/// Most bytes of key and value together that [`map_update`] copies (on
/// its stack); updates of maps with larger ones go through the helper.
pub(crate) const DIRECT_UPDATE_MAX: usize = 256;

/// Called by generated code for a `bpf_map_update_elem` whose map the JIT
/// resolved when it compiled the call (verified mode: see
/// `Compiler::direct_update`): the update without the helper's dispatch,
/// handle check and region checks. Key and value are copied before the
/// map sees them, as the helper (and the kernel) copies them: either may
/// lie in a value of this very map, which the update may overwrite while
/// reading it. Returns `r0`: 0 or a negative errno. An update never traps
/// or exits.
///
/// # Safety
/// Only generated code calls it, with the context of the current run,
/// `slot` a slot of the table the executable keeps alive, `key` and
/// `value` readable for the map's key and value sizes (the verifier proved
/// it), which together are at most [`DIRECT_UPDATE_MAX`] bytes.
pub(crate) unsafe extern "sysv64" fn map_update(
    slot: *const oxbpf_runtime::maps::MapSlot,
    key: *const u8,
    value: *const u8,
    flags: u64,
    ctx: *const JitCtx,
) -> u64 {
    // SAFETY: as in `map_lookup`.
    let (map, state) = unsafe { (&*(*slot).map, &*(*ctx).state) };
    let spec = map.spec();
    let (ks, vs) = (spec.key_size as usize, spec.value_size as usize);
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); DIRECT_UPDATE_MAX];
    let base = buf.as_mut_ptr().cast::<u8>();
    // SAFETY: the caller guarantees `key` and `value` readable for `ks`
    // and `vs` bytes and `ks + vs <= DIRECT_UPDATE_MAX`; the buffer is
    // ours, so the copies do not overlap their sources, and after them its
    // first `ks + vs` bytes are initialised.
    let (k, v) = unsafe {
        core::ptr::copy_nonoverlapping(key, base, ks);
        core::ptr::copy_nonoverlapping(value, base.add(ks), vs);
        core::slice::from_raw_parts(base, ks + vs).split_at(ks)
    };
    match map.prog_update(k, v, flags, state.cpu) {
        Ok(()) => 0,
        Err(e) => (-i64::from(e.errno())) as u64,
    }
}

/// Called by generated code for `callx reg`: the register's value (stored
/// in `ctx.callx_id`) names a helper of the program's table, as in
/// bpf_conformance's `callx.data` (uBPF semantics); anything else traps
/// with [`Trap::BadCallTarget`].
///
/// # Safety
/// Only generated code calls it, with the context of the current run.
pub(crate) unsafe extern "sysv64" fn call_indirect(
    r1: u64,
    r2: u64,
    r3: u64,
    r4: u64,
    r5: u64,
    ctx: *mut JitCtx,
) -> CallResult {
    // SAFETY: generated code passes the live context (r12).
    unsafe {
        with_state(ctx, |state, helpers, ctx| {
            // Generated code stored the register right before this call.
            let id = ctx.callx_id;
            let helper = u32::try_from(id).ok().and_then(|id| helpers.get(id));
            match helper {
                Some(h) => CallResult::from_helper((h.func)(state, [r1, r2, r3, r4, r5])),
                None => CallResult::trap(Trap::BadCallTarget),
            }
        })
    }
}

/// The slow path of a checked memory access that is not in the stack nor
/// in the cached region: asks the run's regions. Returns 0 if allowed (and
/// caches the region that allowed it), else the trap code.
///
/// `size_write` is the access size in bytes, plus 0x100 for a write.
///
/// # Safety
/// Only generated code calls it, with the context of the current run.
pub(crate) unsafe extern "sysv64" fn check_access(
    ctx: *mut JitCtx,
    addr: u64,
    size_write: u64,
) -> u64 {
    // SAFETY: generated code passes the live context (r12); nothing else
    // accesses it during this call.
    let ctx = unsafe { &mut *ctx };
    // SAFETY: as in `with_state`; only shared access is needed here.
    let state = unsafe { &*ctx.state };
    let len = size_write & 0xff;
    let write = size_write & 0x100 != 0;
    match state.regions.check(addr, len, write) {
        Ok(()) => {
            // Cache the region that allowed it, so that the next access to
            // it is decided in generated code. The region is one that
            // `check` also accepts (contains the access, writable if
            // needed), so the cache never allows what `check` refuses.
            let hit = state
                .regions
                .as_slice()
                .iter()
                .rev()
                .find(|r| r.contains(addr, len) && (!write || r.writable));
            if let Some(r) = hit {
                let cache = if write {
                    &mut ctx.write_cache
                } else {
                    &mut ctx.read_cache
                };
                *cache = [r.start, r.len];
            }
            0
        }
        Err(trap) => trap.code() as u64,
    }
}
