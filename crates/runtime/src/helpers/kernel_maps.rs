//! Kernel helpers of the queue, stack and ring buffer maps, registered into
//! the kernel table ([`super::kernel::table`]):
//! `map_push_elem` (87), `map_pop_elem` (88), `map_peek_elem` (89),
//! `ringbuf_output` (130), `ringbuf_reserve` (131), `ringbuf_submit` (132),
//! `ringbuf_discard` (133), `ringbuf_query` (134), with the semantics of
//! `kernel/bpf/helpers.c` and `kernel/bpf/ringbuf.c`.
//!
//! As for the core helpers, every pointer goes through the run's regions in
//! checked mode and every map handle through the run's linked maps. A
//! record from `ringbuf_reserve` becomes, in checked mode, a writable
//! region of exactly the reserved size; `ringbuf_submit`/`ringbuf_discard`
//! accept only the data pointer of a reservation still outstanding in one
//! of the run's ring buffers (anything else traps with `HelperFault`, where
//! the kernel's verifier would have refused the program) and shrink that
//! region to nothing, so the program cannot write the record after handing
//! it to the consumer.

use oxbpf_abi::Trap;
use oxbpf_abi::helper::kernel::{self as ids, PROTOTYPES};
use oxbpf_maps::RingBuf;

use super::kernel::{fault, map_of, neg};
use crate::helper::{Helper, HelperExit, HelperFn, HelperTable};
use crate::memory::{Region, RegionKind};
use crate::program::SafetyMode;
use crate::state::RunState;

/// Adds this module's helpers to `t`.
pub fn register(t: &mut HelperTable) {
    let funcs: [(u32, HelperFn); 8] = [
        (ids::MAP_PUSH_ELEM, map_push_elem),
        (ids::MAP_POP_ELEM, map_pop_elem),
        (ids::MAP_PEEK_ELEM, map_peek_elem),
        (ids::RINGBUF_OUTPUT, ringbuf_output),
        (ids::RINGBUF_RESERVE, ringbuf_reserve),
        (ids::RINGBUF_SUBMIT, ringbuf_submit),
        (ids::RINGBUF_DISCARD, ringbuf_discard),
        (ids::RINGBUF_QUERY, ringbuf_query),
    ];
    for (id, func) in funcs {
        if let Some(p) = PROTOTYPES.iter().find(|p| p.id == id) {
            t.register(Helper {
                id,
                name: p.name,
                arg_count: p.args.len() as u8,
                func,
            });
        }
    }
}

/// `long bpf_map_push_elem(map, value, flags)`.
fn map_push_elem(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    let map = map_of(state, a[0])?;
    let value = state
        .read_bytes(a[1], map.spec().value_size.into())
        .map_err(fault)?
        .to_vec();
    Ok(match map.push(&value, a[2]) {
        Ok(()) => 0,
        Err(e) => neg(e.errno()),
    })
}

fn pop_or_peek(state: &mut RunState<'_>, a: [u64; 5], pop: bool) -> Result<u64, HelperExit> {
    let map = map_of(state, a[0])?;
    let mut value = vec![0; map.spec().value_size as usize];
    let r = if pop {
        map.pop(&mut value)
    } else {
        map.peek(&mut value)
    };
    match r {
        Ok(()) => {
            state
                .write_bytes(a[1], value.len() as u64)
                .map_err(fault)?
                .copy_from_slice(&value);
            Ok(0)
        }
        Err(e) => Ok(neg(e.errno())),
    }
}

/// `long bpf_map_pop_elem(map, value)`.
fn map_pop_elem(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    pop_or_peek(state, a, true)
}

/// `long bpf_map_peek_elem(map, value)`.
fn map_peek_elem(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    pop_or_peek(state, a, false)
}

/// Runs `f` on the ring buffer behind the handle in `r1`; a handle of
/// another map type is a helper fault (the verifier's job in the kernel).
fn with_ring<R>(
    state: &RunState<'_>,
    handle: u64,
    f: impl FnOnce(&RingBuf) -> R,
) -> Result<R, HelperExit> {
    let map = map_of(state, handle)?;
    let ring = map
        .as_any()
        .downcast_ref::<RingBuf>()
        .ok_or(HelperExit::Trap(Trap::HelperFault))?;
    Ok(f(ring))
}

/// `long bpf_ringbuf_output(ringbuf, data, size, flags)`.
fn ringbuf_output(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    let data = state.read_bytes(a[1], a[2]).map_err(fault)?.to_vec();
    with_ring(state, a[0], |rb| match rb.output(&data, a[3]) {
        Ok(()) => 0,
        Err(e) => neg(e.errno()),
    })
}

/// `void *bpf_ringbuf_reserve(ringbuf, size, flags)`: NULL for non-zero
/// flags, as the kernel answers.
fn ringbuf_reserve(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    if a[2] != 0 {
        with_ring(state, a[0], |_| ())?;
        return Ok(0);
    }
    let Some(ptr) = with_ring(state, a[0], |rb| rb.reserve(a[1]))? else {
        return Ok(0);
    };
    if state.mode == SafetyMode::Checked {
        state.regions.push(Region {
            start: ptr.addr(),
            len: ptr.len() as u64,
            writable: true,
            kind: RegionKind::MapValue,
        });
    }
    Ok(ptr.addr())
}

fn commit(state: &mut RunState<'_>, a: [u64; 5], discard: bool) -> Result<u64, HelperExit> {
    let addr = a[0];
    let maps = state
        .maps
        .as_ref()
        .ok_or(HelperExit::Trap(Trap::HelperFault))?;
    let ring = maps
        .iter()
        .filter_map(|slot| slot.map.as_any().downcast_ref::<RingBuf>())
        .find(|rb| rb.owns(addr))
        .ok_or(HelperExit::Trap(Trap::HelperFault))?;
    ring.commit(addr, discard)
        .map_err(|_| HelperExit::Trap(Trap::HelperFault))?;
    if state.mode == SafetyMode::Checked {
        // The record belongs to the consumer now: empty its region.
        for r in state.regions.as_mut_slice() {
            if r.start == addr && r.kind == RegionKind::MapValue && r.writable {
                r.len = 0;
                r.writable = false;
            }
        }
    }
    Ok(0)
}

/// `void bpf_ringbuf_submit(data, flags)`; the wakeup flags have no
/// effect (see `oxbpf_maps::ringbuf`).
fn ringbuf_submit(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    commit(state, a, false)
}

/// `void bpf_ringbuf_discard(data, flags)`.
fn ringbuf_discard(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    commit(state, a, true)
}

/// `u64 bpf_ringbuf_query(ringbuf, flags)`.
fn ringbuf_query(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    with_ring(state, a[0], |rb| rb.query(a[1]))
}
