//! Kernel helpers for control flow between programs and for packets leaving
//! them: `tail_call`, `redirect`, `redirect_map`, map-in-map lookups; and
//! `l3/l4_csum_replace`, `probe_read_kernel/user`, `get_current_pid_tgid`,
//! `jiffies64`, `spin_lock/unlock`. Registered into the kernel table by
//! [`register`].
//!
//! As in [`super::kernel`], pointer arguments go through the run's regions
//! in checked mode and a bad pointer, size or handle traps with
//! [`Trap::HelperFault`]; conditions the kernel reports with an errno
//! return it negated.
//!
//! Kernel behaviour not reproduced:
//! - a tail call from a bpf-to-bpf subprogram ends the whole program and
//!   runs the target in its place (the kernel returns the target's `r0` to
//!   the subprogram's caller);
//! - `bpf_redirect_map` with `BPF_F_BROADCAST` returns `XDP_ABORTED`
//!   (no multicast);
//! - `jiffies64` counts at an assumed `CONFIG_HZ=250` from
//!   `CLOCK_MONOTONIC_COARSE`;
//! - `probe_read_kernel/user` read only memory the run may read (its
//!   regions): any other address is a fault, `-EFAULT` with a zeroed
//!   destination.

use core::sync::atomic::{AtomicU32, Ordering};

use oxbpf_abi::Trap;
use oxbpf_abi::context::skb_slot;
use oxbpf_abi::helper::kernel as ids;
use oxbpf_abi::map_kind::MapKind;
use oxbpf_maps::{FdArray, MapOfMaps};

use super::kernel::{fault, map_lookup_elem, map_of, map_ref, neg};
use crate::helper::{Helper, HelperExit, HelperFn, HelperTable};
use crate::memory::RegionKind;
use crate::program::SafetyMode;
use crate::state::RunState;
use crate::tail_call::Redirect;

const EINVAL: i32 = 22;
const EFAULT: i32 = 14;
const ENOENT: i32 = 2;
const E2BIG: i32 = 7;

/// `enum xdp_action` values the redirect helpers return.
const XDP_ABORTED: u64 = 0;
const XDP_REDIRECT: u64 = 4;
/// `TC_ACT_SHOT` and `TC_ACT_REDIRECT`.
const TC_ACT_SHOT: u64 = 2;
const TC_ACT_REDIRECT: u64 = 7;
/// `BPF_F_INGRESS` of `bpf_redirect` (tc).
const BPF_F_INGRESS: u64 = 1;
/// `BPF_F_BROADCAST` and `BPF_F_EXCLUDE_INGRESS` of `bpf_redirect_map`.
const BPF_F_BROADCAST: u64 = 1 << 3;
const BPF_F_EXCLUDE_INGRESS: u64 = 1 << 4;
/// The low bits of `bpf_redirect_map`'s flags: the action returned when the
/// slot is empty (`BPF_F_ACTION_MASK`: `XDP_ABORTED | XDP_DROP | XDP_PASS |
/// XDP_TX`).
const BPF_F_ACTION_MASK: u64 = 3;

/// Flags of `bpf_l3/l4_csum_replace` (`include/uapi/linux/bpf.h`).
const BPF_F_HDR_FIELD_MASK: u64 = 0xf;
const BPF_F_PSEUDO_HDR: u64 = 1 << 4;
const BPF_F_MARK_MANGLED_0: u64 = 1 << 5;
const BPF_F_MARK_ENFORCE: u64 = 1 << 6;
const BPF_F_IPV6: u64 = 1 << 7;

/// Assumed kernel tick rate for `jiffies64`.
const HZ: u64 = 250;

/// Adds this module's helpers to `t` (the kernel table); its
/// `map_lookup_elem` replaces the plain one to serve maps of maps.
pub fn register(t: &mut HelperTable) {
    let funcs: [(u32, &'static str, u8, HelperFn); 13] = [
        (ids::MAP_LOOKUP_ELEM, "map_lookup_elem", 2, lookup_elem),
        (ids::L3_CSUM_REPLACE, "l3_csum_replace", 5, l3_csum_replace),
        (ids::L4_CSUM_REPLACE, "l4_csum_replace", 5, l4_csum_replace),
        (ids::TAIL_CALL, "tail_call", 3, tail_call),
        (
            ids::GET_CURRENT_PID_TGID,
            "get_current_pid_tgid",
            0,
            get_current_pid_tgid,
        ),
        (ids::REDIRECT, "redirect", 2, redirect),
        (ids::REDIRECT_MAP, "redirect_map", 3, redirect_map),
        (ids::SPIN_LOCK, "spin_lock", 1, spin_lock),
        (ids::SPIN_UNLOCK, "spin_unlock", 1, spin_unlock),
        (ids::PROBE_READ_USER, "probe_read_user", 3, probe_read),
        (ids::PROBE_READ_KERNEL, "probe_read_kernel", 3, probe_read),
        (ids::JIFFIES64, "jiffies64", 0, jiffies64),
        (ids::LOOP, "loop", 4, loop_unresolved),
    ];
    for (id, name, arg_count, func) in funcs {
        t.register(Helper {
            id,
            name,
            arg_count,
            func,
        });
    }
}

/// `void *bpf_map_lookup_elem(map, key)`, where a map of maps yields the
/// inner map's handle (kernel: `array_of_map_lookup_elem`).
fn lookup_elem(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    // Every other map type takes the plain lookup, decided by its kind
    // without cloning the handle.
    if !matches!(
        map_ref(state, a[0])?.spec().kind,
        MapKind::ArrayOfMaps | MapKind::HashOfMaps
    ) {
        return map_lookup_elem(state, a);
    }
    let map = map_of(state, a[0])?;
    let Some(outer) = map.as_any().downcast_ref::<MapOfMaps>() else {
        return map_lookup_elem(state, a);
    };
    let key = state
        .read_bytes(a[1], map.spec().key_size.into())
        .map_err(fault)?;
    Ok(match outer.inner(key) {
        Some(inner) => state.calls.inner_handle(inner),
        None => 0,
    })
}

/// `long bpf_tail_call(ctx, prog_array, index)`: see
/// [`crate::tail_call`]. Ends the program when the call happens; otherwise
/// returns a negative errno and execution continues.
fn tail_call(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    let map = map_of(state, a[1])?;
    let Some(array) = map.as_any().downcast_ref::<FdArray>() else {
        return Err(HelperExit::Trap(Trap::HelperFault));
    };
    if map.spec().kind != MapKind::ProgArray {
        return Err(HelperExit::Trap(Trap::HelperFault));
    }
    // The index is a u32 (the kernel compares the low 32 bits).
    let index = a[2] as u32;
    if index >= map.spec().max_entries {
        return Ok(neg(E2BIG));
    }
    if !state.calls.charge_tail_call() {
        return Ok(neg(E2BIG));
    }
    let target = array
        .slot(index)
        .and_then(|id| state.calls.targets.as_ref()?.get(id).cloned());
    let Some(target) = target else {
        return Ok(neg(ENOENT));
    };
    state.calls.set_pending(target, a[0]);
    Err(HelperExit::Exit(0))
}

/// `long bpf_loop(nr_loops, callback, ctx, flags)` left as a helper call:
/// its callback was not found statically, so it cannot run (see
/// [`crate::loop_inline`], which rewrites the others).
fn loop_unresolved(_: &mut RunState<'_>, _: [u64; 5]) -> Result<u64, HelperExit> {
    Err(HelperExit::Trap(Trap::Unsupported))
}

/// Whether the run is an XDP run (an XDP buffer is attached).
fn is_xdp(state: &RunState<'_>) -> bool {
    state.xdp_ptr().is_some()
}

/// `long bpf_redirect(ifindex, flags)`: XDP (`bpf_xdp_redirect`) returns
/// `XDP_REDIRECT`, or `XDP_ABORTED` for any flag; tc returns
/// `TC_ACT_REDIRECT`, or `TC_ACT_SHOT` for flags other than
/// `BPF_F_INGRESS`.
fn redirect(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    let (ifindex, flags) = (a[0] as u32, a[1]);
    if is_xdp(state) {
        if flags != 0 {
            return Ok(XDP_ABORTED);
        }
        state.calls.redirect = Some(Redirect::Ifindex(ifindex));
        return Ok(XDP_REDIRECT);
    }
    if flags & !BPF_F_INGRESS != 0 {
        return Ok(TC_ACT_SHOT);
    }
    state.calls.redirect = Some(Redirect::Ifindex(ifindex));
    Ok(TC_ACT_REDIRECT)
}

/// `long bpf_redirect_map(map, key, flags)` on a `devmap` or `xskmap`
/// (`__bpf_xdp_redirect_map`): `XDP_REDIRECT` with the slot recorded, or
/// the action in the flags' low bits when the slot is empty.
fn redirect_map(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    let map = map_of(state, a[0])?;
    let Some(array) = map.as_any().downcast_ref::<FdArray>() else {
        return Err(HelperExit::Trap(Trap::HelperFault));
    };
    let kind = map.spec().kind;
    if !matches!(kind, MapKind::Devmap | MapKind::Xskmap) {
        return Err(HelperExit::Trap(Trap::HelperFault));
    }
    let (key, flags) = (a[1] as u32, a[2]);
    if flags & !(BPF_F_ACTION_MASK | BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS) != 0
        || flags & BPF_F_BROADCAST != 0
    {
        return Ok(XDP_ABORTED);
    }
    let Some(id) = array.slot(key) else {
        return Ok(flags & BPF_F_ACTION_MASK);
    };
    state.calls.redirect = Some(if kind == MapKind::Devmap {
        Redirect::Ifindex(id)
    } else {
        Redirect::XskQueue(key)
    });
    Ok(XDP_REDIRECT)
}

// ----- checksums (include/net/checksum.h) -----

fn csum_add(a: u32, b: u32) -> u32 {
    let (s, carry) = a.overflowing_add(b);
    s + u32::from(carry)
}

fn csum_fold(c: u32) -> u16 {
    let mut s = (c & 0xffff) + (c >> 16);
    s = (s & 0xffff) + (s >> 16);
    !(s as u16)
}

/// `csum_replace4`: the checksum `sum` (as stored) after the 32-bit word
/// `from` became `to` (both as stored, in the register's low bits).
fn csum_replace(sum: u16, from: u32, to: u32) -> u16 {
    csum_fold(csum_add(csum_add(!u32::from(sum), !from), to))
}

/// `csum_replace_by_diff`: `diff` is a 32-bit partial sum (from
/// `bpf_csum_diff`).
fn csum_replace_by_diff(sum: u16, diff: u32) -> u16 {
    csum_fold(csum_add(diff, !u32::from(sum)))
}

/// The packet of the `__sk_buff` at `ctx` as (data, len).
fn skb_packet(state: &RunState<'_>, ctx: u64) -> Result<(u64, u64), HelperExit> {
    let slot = |i: usize| -> Result<u64, HelperExit> {
        let b = state.read_bytes(ctx + 8 * i as u64, 8).map_err(fault)?;
        Ok(u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
    };
    let data = slot(skb_slot::DATA)?;
    let end = slot(skb_slot::DATA_END)?;
    Ok((data, end.saturating_sub(data)))
}

fn csum_replace_common(
    state: &mut RunState<'_>,
    a: [u64; 5],
    allowed: u64,
    l4: bool,
) -> Result<u64, HelperExit> {
    let (ctx, offset, from, to, flags) = (a[0], a[1], a[2], a[3], a[4]);
    if flags & !allowed != 0 {
        return Ok(neg(EINVAL));
    }
    if offset > 0xffff || offset & 1 != 0 {
        return Ok(neg(EFAULT));
    }
    let (data, len) = skb_packet(state, ctx)?;
    if offset + 2 > len {
        return Ok(neg(EFAULT));
    }
    let field = state.write_bytes(data + offset, 2).map_err(fault)?;
    let sum = u16::from_ne_bytes([field[0], field[1]]);
    let mangled0 = l4 && flags & BPF_F_MARK_MANGLED_0 != 0;
    if mangled0 && flags & BPF_F_MARK_ENFORCE == 0 && sum == 0 {
        // A UDP checksum of 0 means "none": leave it.
        return Ok(0);
    }
    let new = match flags & BPF_F_HDR_FIELD_MASK {
        0 if from != 0 => return Ok(neg(EINVAL)),
        0 => csum_replace_by_diff(sum, to as u32),
        2 => csum_replace(sum, u32::from(from as u16), u32::from(to as u16)),
        4 => csum_replace(sum, from as u32, to as u32),
        _ => return Ok(neg(EINVAL)),
    };
    // CSUM_MANGLED_0: a computed 0 is sent as 0xffff.
    let new = if mangled0 && new == 0 { 0xffff } else { new };
    field.copy_from_slice(&new.to_ne_bytes());
    Ok(0)
}

/// `long bpf_l3_csum_replace(skb, offset, from, to, flags)`: updates the
/// checksum at `offset` for a field that changed from `from` to `to`
/// (`flags & 0xf` is its size, 2 or 4, or 0 when `to` is a checksum
/// difference).
fn l3_csum_replace(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    csum_replace_common(state, a, BPF_F_HDR_FIELD_MASK, false)
}

/// `long bpf_l4_csum_replace(skb, offset, from, to, flags)`: as
/// `l3_csum_replace` for a TCP/UDP checksum, with `BPF_F_MARK_MANGLED_0`
/// (UDP's "0 means none") and `BPF_F_PSEUDO_HDR` (which changes nothing for
/// a test skb, whose `ip_summed` is `CHECKSUM_NONE`).
fn l4_csum_replace(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    let allowed = BPF_F_HDR_FIELD_MASK
        | BPF_F_PSEUDO_HDR
        | BPF_F_MARK_MANGLED_0
        | BPF_F_MARK_ENFORCE
        | BPF_F_IPV6;
    csum_replace_common(state, a, allowed, true)
}

// ----- process, time -----

/// `u64 bpf_get_current_pid_tgid(void)`: `tgid << 32 | pid` of the host
/// thread running the program.
fn get_current_pid_tgid(_: &mut RunState<'_>, _: [u64; 5]) -> Result<u64, HelperExit> {
    // SAFETY: getpid and gettid take no arguments and cannot fail.
    let (tgid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
    Ok(((tgid as u64) << 32) | u64::from(tid as u32))
}

/// `u64 bpf_jiffies64(void)`.
fn jiffies64(_: &mut RunState<'_>, _: [u64; 5]) -> Result<u64, HelperExit> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id exists on
    // Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    Ok((ts.tv_sec as u64) * HZ + (ts.tv_nsec as u64) / (1_000_000_000 / HZ))
}

// ----- memory -----

/// `long bpf_probe_read_kernel(dst, size, src)` and `_user`: copies `size`
/// bytes from `src` if the run may read them; otherwise zeroes `dst` and
/// returns `-EFAULT`, as `copy_from_kernel_nofault` failing does.
fn probe_read(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    let (dst, size, src) = (a[0], a[1], a[2]);
    // The destination is the program's own memory: a bad one is a fault.
    state.write_bytes(dst, size).map_err(fault)?;
    if size == 0 {
        return Ok(0);
    }
    // The source is checked in every mode: it is the "unsafe" pointer.
    if state.regions.check(src, size, false).is_err() {
        state.write_bytes(dst, size).map_err(fault)?.fill(0);
        return Ok(neg(EFAULT));
    }
    let bytes = state.read_bytes(src, size).map_err(fault)?.to_vec();
    state
        .write_bytes(dst, size)
        .map_err(fault)?
        .copy_from_slice(&bytes);
    Ok(0)
}

/// The lock word of the `struct bpf_spin_lock` at `addr`.
fn lock_word<'s>(state: &'s mut RunState<'_>, addr: u64) -> Result<&'s AtomicU32, HelperExit> {
    if !addr.is_multiple_of(4) {
        return Err(HelperExit::Trap(Trap::HelperFault));
    }
    // The lock must live in a map value (the kernel's verifier requires a
    // `bpf_spin_lock` field of a map value), which outlives the run.
    if state.mode == SafetyMode::Checked
        && !state
            .regions
            .as_slice()
            .iter()
            .any(|r| r.kind == RegionKind::MapValue && r.contains(addr, 4))
    {
        return Err(HelperExit::Trap(Trap::HelperFault));
    }
    let bytes = state.write_bytes(addr, 4).map_err(fault)?;
    // SAFETY: `bytes` is 4 writable, 4-aligned bytes valid for the run
    // (checked against the regions in checked mode, proved by the verifier
    // otherwise); other threads reach the same word only atomically,
    // through these helpers.
    Ok(unsafe { AtomicU32::from_ptr(bytes.as_mut_ptr().cast()) })
}

/// `long bpf_spin_lock(lock)`: spins until the lock is free and takes it.
/// One lock at a time per run, as the verifier requires; in checked mode
/// taking a second one traps.
fn spin_lock(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    if state.calls.held_lock.is_some() {
        return Err(HelperExit::Trap(Trap::HelperFault));
    }
    let word = lock_word(state, a[0])?;
    let mut spins = 0u32;
    while word
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(64) {
            // The holder may be a preempted thread: let it run.
            std::thread::yield_now();
        } else {
            core::hint::spin_loop();
        }
    }
    state.calls.held_lock = Some(a[0]);
    Ok(0)
}

/// `long bpf_spin_unlock(lock)`: releases the lock this run holds; any
/// other lock traps.
fn spin_unlock(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    if state.calls.held_lock != Some(a[0]) && state.mode == SafetyMode::Checked {
        return Err(HelperExit::Trap(Trap::HelperFault));
    }
    let word = lock_word(state, a[0])?;
    word.store(0, Ordering::Release);
    state.calls.held_lock = None;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Internet checksum of `bytes` (RFC 1071), computed the textbook
    /// way, as stored (big-endian) bytes.
    fn inet_csum(bytes: &[u8]) -> [u8; 2] {
        let mut s: u32 = 0;
        for w in bytes.chunks(2) {
            s += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
        }
        while s >> 16 != 0 {
            s = (s & 0xffff) + (s >> 16);
        }
        (!(s as u16)).to_be_bytes()
    }

    fn ipv4_header(dst: [u8; 4]) -> Vec<u8> {
        let mut h = vec![
            0x45, 0, 0, 60, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1,
        ];
        h.extend_from_slice(&dst);
        let c = inet_csum(&h);
        h[10..12].copy_from_slice(&c);
        h
    }

    #[test]
    fn l3_csum_replace_matches_a_recomputed_checksum() {
        let old = ipv4_header([10, 0, 0, 2]);
        let want = ipv4_header([192, 168, 7, 9]);
        let mut pkt = vec![0u8; 14];
        pkt.extend_from_slice(&old);
        pkt[34 - 20 + 16..34].copy_from_slice(&[192, 168, 7, 9]);
        let mut skb = crate::skb::SkBuff::new(&pkt).unwrap();
        let mut state = RunState::new();
        let ctx = skb.attach(&mut state, true);
        let from = u32::from_ne_bytes([10, 0, 0, 2]);
        let to = u32::from_ne_bytes([192, 168, 7, 9]);
        let r = l3_csum_replace(
            &mut state,
            [ctx, 14 + 10, u64::from(from), u64::from(to), 4],
        );
        assert_eq!(r, Ok(0));
        drop(state);
        assert_eq!(&skb.data()[14..], &want[..]);
    }

    #[test]
    fn csum_replace_rejects_bad_offsets_and_sizes() {
        let mut skb = crate::skb::SkBuff::new(&[0u8; 40]).unwrap();
        let mut state = RunState::new();
        let ctx = skb.attach(&mut state, true);
        assert_eq!(
            l3_csum_replace(&mut state, [ctx, 3, 0, 0, 2]),
            Ok(neg(EFAULT))
        );
        assert_eq!(
            l3_csum_replace(&mut state, [ctx, 40, 0, 0, 2]),
            Ok(neg(EFAULT))
        );
        assert_eq!(
            l3_csum_replace(&mut state, [ctx, 2, 0, 0, 3]),
            Ok(neg(EINVAL))
        );
        assert_eq!(
            l3_csum_replace(&mut state, [ctx, 2, 1, 0, 0]),
            Ok(neg(EINVAL))
        );
        assert_eq!(
            l3_csum_replace(&mut state, [ctx, 2, 0, 0, BPF_F_PSEUDO_HDR | 2]),
            Ok(neg(EINVAL))
        );
        // UDP's "no checksum" stays 0 with BPF_F_MARK_MANGLED_0.
        assert_eq!(
            l4_csum_replace(&mut state, [ctx, 2, 0, 5, BPF_F_MARK_MANGLED_0 | 2]),
            Ok(0)
        );
        drop(state);
        assert_eq!(&skb.data()[2..4], &[0, 0]);
    }

    #[test]
    fn probe_read_copies_readable_memory_and_zeroes_on_fault() {
        let mut src = *b"abcdefgh";
        let mut dst = [0xffu8; 8];
        let mut state = RunState::new();
        let s = state.add_memory(&mut src, RegionKind::Input);
        let d = state.add_memory(&mut dst, RegionKind::Input);
        assert_eq!(probe_read(&mut state, [d, 4, s + 2, 0, 0]), Ok(0));
        assert_eq!(state.read_bytes(d, 8).unwrap(), b"cdef\xff\xff\xff\xff");
        assert_eq!(probe_read(&mut state, [d, 8, s + 4, 0, 0]), Ok(neg(EFAULT)));
        assert_eq!(state.read_bytes(d, 8).unwrap(), &[0; 8]);
        assert_eq!(
            probe_read(&mut state, [d + 4, 8, s, 0, 0]),
            Err(HelperExit::Trap(Trap::HelperFault))
        );
    }

    #[test]
    fn spin_lock_pairs_and_traps_on_misuse() {
        let mut word = [0u8; 8];
        let mut stack = [0u8; 8];
        let mut state = RunState::new();
        let w = state.add_memory(&mut word, RegionKind::MapValue);
        let s = state.add_memory(&mut stack, RegionKind::Stack);
        // Only a lock in a map value.
        assert_eq!(
            spin_lock(&mut state, [s, 0, 0, 0, 0]),
            Err(HelperExit::Trap(Trap::HelperFault))
        );
        assert_eq!(
            spin_unlock(&mut state, [w, 0, 0, 0, 0]),
            Err(HelperExit::Trap(Trap::HelperFault))
        );
        assert_eq!(spin_lock(&mut state, [w, 0, 0, 0, 0]), Ok(0));
        assert_eq!(state.read_bytes(w, 4).unwrap(), &1u32.to_ne_bytes());
        assert_eq!(
            spin_lock(&mut state, [w, 0, 0, 0, 0]),
            Err(HelperExit::Trap(Trap::HelperFault))
        );
        assert_eq!(spin_unlock(&mut state, [w, 0, 0, 0, 0]), Ok(0));
        assert_eq!(state.read_bytes(w, 4).unwrap(), &[0; 4]);
        assert_eq!(
            spin_lock(&mut state, [w + 2, 0, 0, 0, 0]),
            Err(HelperExit::Trap(Trap::HelperFault))
        );
    }

    fn linked(specs: &[oxbpf_maps::MapSpec]) -> std::sync::Arc<crate::maps::LinkedMaps> {
        let mut maps = crate::maps::LinkedMaps::new();
        for s in specs {
            let m = oxbpf_maps::create(s, &oxbpf_maps::MapOptions::default()).unwrap();
            maps.push("m", m);
        }
        std::sync::Arc::new(maps)
    }

    #[test]
    fn tail_call_and_redirect_map_check_the_map_type() {
        use oxbpf_maps::{MapKind, MapSpec};
        let maps = linked(&[
            MapSpec::new(MapKind::Array, 4, 4, 2),
            MapSpec::new(MapKind::ProgArray, 4, 4, 2),
            MapSpec::new(MapKind::Xskmap, 4, 4, 4),
        ]);
        let (array, progs, xsk) = (
            maps.handle(0).unwrap(),
            maps.handle(1).unwrap(),
            maps.handle(2).unwrap(),
        );
        let mut buf = crate::packet::XdpBuff::new(&[0u8; 60]).unwrap();
        let mut state = RunState::new();
        state.maps = Some(maps.clone());
        let ctx = buf.attach(&mut state);
        let fault = Err(HelperExit::Trap(Trap::HelperFault));
        assert_eq!(tail_call(&mut state, [ctx, array, 0, 0, 0]), fault);
        assert_eq!(tail_call(&mut state, [ctx, 12345, 0, 0, 0]), fault);
        // Out of range, then an empty slot: both fall through.
        assert_eq!(tail_call(&mut state, [ctx, progs, 2, 0, 0]), Ok(neg(E2BIG)));
        assert_eq!(
            tail_call(&mut state, [ctx, progs, 1, 0, 0]),
            Ok(neg(ENOENT))
        );
        assert_eq!(
            state.calls.tail_calls, 1,
            "only the in-range attempt counts"
        );
        assert_eq!(redirect_map(&mut state, [progs, 0, 0, 0, 0]), fault);
        assert_eq!(redirect_map(&mut state, [array, 0, 0, 0, 0]), fault);
        // An empty xskmap slot: the flags' action (XDP_DROP = 1).
        assert_eq!(redirect_map(&mut state, [xsk, 3, 1, 0, 0]), Ok(1));
        assert_eq!(state.calls.redirect, None);
        maps.at(2)
            .unwrap()
            .map
            .update(&3u32.to_ne_bytes(), &9u32.to_ne_bytes(), 0)
            .unwrap();
        assert_eq!(
            redirect_map(&mut state, [xsk, 3, 1, 0, 0]),
            Ok(XDP_REDIRECT)
        );
        assert_eq!(state.calls.redirect, Some(Redirect::XskQueue(3)));
        // Unknown flags and broadcast abort.
        assert_eq!(
            redirect_map(&mut state, [xsk, 3, 1 << 8, 0, 0]),
            Ok(XDP_ABORTED)
        );
        assert_eq!(
            redirect_map(&mut state, [xsk, 3, BPF_F_BROADCAST, 0, 0]),
            Ok(XDP_ABORTED)
        );
        assert_eq!(redirect(&mut state, [5, 1, 0, 0, 0]), Ok(XDP_ABORTED));
    }

    #[test]
    fn pid_tgid_is_this_thread() {
        let v = get_current_pid_tgid(&mut RunState::new(), [0; 5]).unwrap();
        assert_eq!((v >> 32) as u32, std::process::id());
    }
}
