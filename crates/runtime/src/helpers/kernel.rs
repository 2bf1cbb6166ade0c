//! The kernel-compatible helper table: the kernel's ids
//! ([`oxbpf_abi::helper::kernel`]) and semantics, for programs loaded from
//! ELF objects.
//!
//! Every pointer argument goes through [`RunState::read_bytes`] /
//! [`RunState::write_bytes`] (checked against the run's regions in checked
//! mode) and every map handle through the run's [`LinkedMaps`]; a bad
//! argument traps with [`Trap::HelperFault`]. A value pointer returned by
//! `map_lookup_elem` in checked mode becomes a region for the rest of the
//! run.
//!
//! [`LinkedMaps`]: crate::maps::LinkedMaps

use std::cell::Cell;
use std::fmt::Write as _;

use oxbpf_abi::Trap;
use oxbpf_abi::helper::kernel::{self as ids, PROTOTYPES};
use oxbpf_maps::{Map, MapHandle, RunGuard};

use crate::helper::{Helper, HelperExit, HelperFn, HelperTable};
use crate::memory::{Region, RegionKind};
use crate::packet::{XdpBuff, with_xdp};
use crate::program::SafetyMode;
use crate::state::RunState;

/// The kernel environment's helper table.
pub fn table() -> HelperTable {
    let mut t = HelperTable::new("kernel");
    let funcs: [(u32, HelperFn); 12] = [
        (ids::MAP_LOOKUP_ELEM, map_lookup_elem),
        (ids::MAP_UPDATE_ELEM, map_update_elem),
        (ids::MAP_DELETE_ELEM, map_delete_elem),
        (ids::KTIME_GET_NS, ktime_get_ns),
        (ids::KTIME_GET_BOOT_NS, ktime_get_boot_ns),
        (ids::TRACE_PRINTK, trace_printk),
        (ids::GET_PRANDOM_U32, get_prandom_u32),
        (ids::GET_SMP_PROCESSOR_ID, get_smp_processor_id),
        (ids::CSUM_DIFF, csum_diff),
        (ids::XDP_ADJUST_HEAD, xdp_adjust_head),
        (ids::XDP_ADJUST_META, xdp_adjust_meta),
        (ids::XDP_ADJUST_TAIL, xdp_adjust_tail),
    ];
    for (id, func) in funcs {
        // The prototypes in oxbpf-abi are the single source of names and
        // argument counts; every id above has one.
        if let Some(p) = PROTOTYPES.iter().find(|p| p.id == id) {
            t.register(Helper {
                id,
                name: p.name,
                arg_count: p.args.len() as u8,
                func,
            });
        }
    }
    super::kernel_calls::register(&mut t);
    super::kernel_maps::register(&mut t);
    t
}

#[cold]
pub(crate) fn fault(_: Trap) -> HelperExit {
    HelperExit::Trap(Trap::HelperFault)
}

/// A negative errno as the helper's 64-bit return value.
pub(crate) fn neg(errno: i32) -> u64 {
    (-i64::from(errno)) as u64
}

/// The map behind the handle in `r1`, as a shared handle (for helpers
/// that keep it past the state borrow; the hot map helpers borrow it with
/// [`map_ref`] instead).
pub(crate) fn map_of(state: &RunState<'_>, handle: u64) -> Result<MapHandle, HelperExit> {
    handle_ref(state, handle).cloned()
}

/// The map behind the handle in `r1`, borrowed from the run's state: no
/// reference count is touched, so a map helper costs no atomic operation
/// to find its map (the kernel passes the `struct bpf_map *` itself).
#[inline]
pub(crate) fn map_ref<'s>(state: &'s RunState<'_>, handle: u64) -> Result<&'s dyn Map, HelperExit> {
    handle_ref(state, handle).map(|m| &**m)
}

/// The shared handle of the map `handle` names: an inner map a lookup in
/// a map of maps returned during this run, or a slot of the run's table
/// (checked against the table in checked mode).
#[inline]
fn handle_ref<'s>(state: &'s RunState<'_>, handle: u64) -> Result<&'s MapHandle, HelperExit> {
    if let Some(inner) = state.calls.inner_map(handle) {
        return Ok(inner);
    }
    let maps = state
        .maps
        .as_ref()
        .ok_or(HelperExit::Trap(Trap::HelperFault))?;
    if state.mode == SafetyMode::Checked {
        return maps
            .get(handle)
            .map(|s| &s.map)
            .ok_or(HelperExit::Trap(Trap::HelperFault));
    }
    // SAFETY: in verified mode the verifier proved `handle` is a map
    // pointer from a linked `lddw`, i.e. the address of a boxed slot of the
    // attached table, which `maps` (borrowed for 's) keeps alive.
    Ok(&unsafe { &*(handle as *const crate::maps::MapSlot) }.map)
}

/// `void *bpf_map_lookup_elem(map, key)`.
#[inline]
pub(crate) fn map_lookup_elem(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    let ptr = {
        let map = map_ref(state, a[0])?;
        // The key is read in place (no copy): map lookups only read it.
        let key = state
            .read_bytes(a[1], map.spec().key_size.into())
            .map_err(fault)?;
        // The caller holds a RunGuard on this thread for the whole run (see
        // RunState::maps), which keeps the value alive after the helper
        // returns. When it said so (set_pinned), the lookup runs under that
        // pin; otherwise under a nested one.
        let found = if state.pinned() {
            // SAFETY: set_pinned's contract: this thread holds a live
            // RunGuard for the whole run, which covers this lookup and the
            // program's later use of the value.
            map.lookup_ptr(key, state.cpu, unsafe { RunGuard::assume_pinned() })
        } else {
            map.lookup_ptr(key, state.cpu, &RunGuard::pin())
        };
        match found {
            Some(ptr) => ptr,
            None => return Ok(0),
        }
    };
    if state.mode == SafetyMode::Checked {
        let region = Region {
            start: ptr.addr(),
            len: ptr.len() as u64,
            writable: ptr.writable(),
            kind: RegionKind::MapValue,
        };
        if !state.regions.as_slice().contains(&region) {
            state.regions.push(region);
        }
    }
    Ok(ptr.addr())
}

/// `long bpf_map_update_elem(map, key, value, flags)`.
fn map_update_elem(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    // Key and value are copied before the map sees them, as the kernel
    // copies them out of the program's memory: either may lie in a value
    // of this very map (or one another run writes), which the update may
    // overwrite while reading it. The copy goes to the state's scratch
    // buffer, allocated once.
    let mut scratch = std::mem::take(&mut state.scratch);
    scratch.clear();
    let r = (|| {
        let map = map_ref(state, a[0])?;
        let spec = map.spec();
        let ks = spec.key_size as usize;
        scratch.extend_from_slice(state.read_bytes(a[1], ks as u64).map_err(fault)?);
        scratch.extend_from_slice(
            state
                .read_bytes(a[2], spec.value_size.into())
                .map_err(fault)?,
        );
        let (k, v) = scratch.split_at(ks);
        Ok(match map.prog_update(k, v, a[3], state.cpu) {
            Ok(()) => 0,
            Err(e) => neg(e.errno()),
        })
    })();
    state.scratch = scratch;
    r
}

/// `long bpf_map_delete_elem(map, key)`.
fn map_delete_elem(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    let map = map_ref(state, a[0])?;
    let key = state
        .read_bytes(a[1], map.spec().key_size.into())
        .map_err(fault)?;
    Ok(match map.prog_delete(key) {
        Ok(()) => 0,
        Err(e) => neg(e.errno()),
    })
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime writes only
    // it and cannot fail for these clock ids on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// `u64 bpf_ktime_get_ns(void)`: `CLOCK_MONOTONIC`.
fn ktime_get_ns(_: &mut RunState<'_>, _: [u64; 5]) -> Result<u64, HelperExit> {
    Ok(clock_ns(libc::CLOCK_MONOTONIC))
}

/// `u64 bpf_ktime_get_boot_ns(void)`: `CLOCK_BOOTTIME`.
fn ktime_get_boot_ns(_: &mut RunState<'_>, _: [u64; 5]) -> Result<u64, HelperExit> {
    Ok(clock_ns(libc::CLOCK_BOOTTIME))
}

thread_local! {
    static PRNG: Cell<u64> = Cell::new(clock_ns(libc::CLOCK_MONOTONIC) | 1);
}

/// `u32 bpf_get_prandom_u32(void)`: a per-thread xorshift64* generator,
/// like the kernel's per-CPU state (not cryptographic).
fn get_prandom_u32(_: &mut RunState<'_>, _: [u64; 5]) -> Result<u64, HelperExit> {
    Ok(PRNG.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32
    }))
}

/// `u32 bpf_get_smp_processor_id(void)`: the run's CPU.
fn get_smp_processor_id(state: &mut RunState<'_>, _: [u64; 5]) -> Result<u64, HelperExit> {
    Ok(state.cpu.into())
}

/// `s64 bpf_csum_diff(from, from_size, to, to_size, seed)`: the one's
/// complement sum of `to` minus `from`, plus `seed`, unfolded to 32 bits as
/// x86-64's `csum_partial` leaves it. Sizes must be multiples of 4 and
/// together at most 512 bytes (`-EINVAL` otherwise), as the kernel checks.
fn csum_diff(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    let (from_size, to_size) = (a[1], a[3]);
    if (from_size | to_size) % 4 != 0 || from_size.saturating_add(to_size) > 512 {
        return Ok(neg(22));
    }
    let mut sum: u64 = a[4] & 0xffff_ffff;
    for w in state
        .read_bytes(a[0], from_size)
        .map_err(fault)?
        .chunks_exact(4)
    {
        sum += u64::from(!u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    for w in state
        .read_bytes(a[2], to_size)
        .map_err(fault)?
        .chunks_exact(4)
    {
        sum += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    while sum >> 32 != 0 {
        sum = (sum & 0xffff_ffff) + (sum >> 32);
    }
    Ok(sum)
}

fn adjust(
    state: &mut RunState<'_>,
    a: [u64; 5],
    f: fn(&mut XdpBuff, i64) -> i64,
) -> Result<u64, HelperExit> {
    // The delta is an `int`.
    let delta = i64::from(a[1] as i32);
    with_xdp(state, a[0], |b| f(b, delta))
        .map(|r| r as u64)
        .ok_or(HelperExit::Trap(Trap::HelperFault))
}

/// `long bpf_xdp_adjust_head(xdp_md, delta)`.
fn xdp_adjust_head(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    adjust(state, a, XdpBuff::adjust_head)
}

/// `long bpf_xdp_adjust_meta(xdp_md, delta)`.
fn xdp_adjust_meta(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    adjust(state, a, XdpBuff::adjust_meta)
}

/// `long bpf_xdp_adjust_tail(xdp_md, delta)`.
fn xdp_adjust_tail(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    adjust(state, a, XdpBuff::adjust_tail)
}

/// `long bpf_trace_printk(fmt, fmt_size, a1, a2, a3)`: formats like the
/// kernel's `bstr_printf` subset (`%d %i %u %x %X %c %p %s %%`, with `l`/`ll`
/// length modifiers) into [`RunState::log`]; returns the line's length.
/// Up to three arguments, as the kernel allows.
fn trace_printk(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    let fmt = state.read_bytes(a[0], a[1]).map_err(fault)?.to_vec();
    // The format must be NUL-terminated within fmt_size (-EINVAL).
    let Some(nul) = fmt.iter().position(|&b| b == 0) else {
        return Ok(neg(22));
    };
    let fmt = &fmt[..nul];
    let mut out = String::new();
    let mut args = [a[2], a[3], a[4]].into_iter();
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        i += 1;
        if c != b'%' {
            out.push(char::from(c));
            continue;
        }
        let mut long = 0;
        while fmt.get(i) == Some(&b'l') {
            long += 1;
            i += 1;
        }
        let Some(&conv) = fmt.get(i) else {
            return Ok(neg(22));
        };
        i += 1;
        if conv == b'%' {
            out.push('%');
            continue;
        }
        let Some(v) = args.next() else {
            return Ok(neg(22));
        };
        let v32 = long == 0;
        let _ = match conv {
            b'd' | b'i' if v32 => write!(out, "{}", v as i32),
            b'd' | b'i' => write!(out, "{}", v as i64),
            b'u' if v32 => write!(out, "{}", v as u32),
            b'u' => write!(out, "{v}"),
            b'x' if v32 => write!(out, "{:x}", v as u32),
            b'x' => write!(out, "{v:x}"),
            b'X' if v32 => write!(out, "{:X}", v as u32),
            b'X' => write!(out, "{v:X}"),
            b'c' => write!(out, "{}", char::from(v as u8)),
            b'p' => write!(out, "0x{v:x}"),
            b's' => {
                let mut s = Vec::new();
                for k in 0..256u64 {
                    let b = state.read_bytes(v.wrapping_add(k), 1).map_err(fault)?[0];
                    if b == 0 {
                        break;
                    }
                    s.push(b);
                }
                write!(out, "{}", String::from_utf8_lossy(&s))
            }
            _ => return Ok(neg(22)),
        };
    }
    let len = out.len() as u64;
    state.log.push(out.trim_end_matches('\n').to_string());
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csum_diff_of_a_changed_word() {
        let mut from = 0x0a00_0001u32.to_be_bytes();
        let mut to = 0x0a00_0002u32.to_be_bytes();
        let mut state = RunState::new();
        let f = state.add_memory(&mut from, RegionKind::Input);
        let t = state.add_memory(&mut to, RegionKind::Input);
        let r = csum_diff(&mut state, [f, 4, t, 4, 0]).unwrap();
        // Folded to 16 bits: +1 in the low big-endian 16-bit word (bytes
        // 2-3), which in memory order of an x86 u16 view is 0x0100.
        let mut s = r;
        while s >> 16 != 0 {
            s = (s & 0xffff) + (s >> 16);
        }
        assert_eq!(s, 0x0100);
        assert_eq!(csum_diff(&mut state, [f, 3, t, 4, 0]), Ok(neg(22)));
        assert_eq!(
            csum_diff(&mut state, [f + 100, 4, t, 4, 0]),
            Err(HelperExit::Trap(Trap::HelperFault))
        );
    }

    #[test]
    fn trace_printk_formats_into_the_log() {
        let mut fmt = *b"n=%d u=%u x=%llx\n\0";
        let mut state = RunState::new();
        let f = state.add_memory(&mut fmt, RegionKind::Input);
        let r = trace_printk(&mut state, [f, 18, (-5i64) as u64, 7, 0xabc]).unwrap();
        assert_eq!(state.log, vec!["n=-5 u=7 x=abc".to_string()]);
        assert_eq!(r, 15);
    }

    #[test]
    fn map_handles_are_checked() {
        let mut state = RunState::new();
        assert_eq!(
            map_lookup_elem(&mut state, [8, 0, 0, 0, 0]),
            Err(HelperExit::Trap(Trap::HelperFault))
        );
    }
}
