//! The bpf_conformance suite's helpers, numbered as its uBPF plugin numbers
//! them: 0 gather_bytes, 1 memfrob, 2 no_op, 3 sqrti, 4 strcmp, 5 unwind.
//!
//! Semantics follow uBPF's `ubpf_plugin/test_helpers.h`, the helpers the
//! suite was written against; pointer arguments are validated through
//! [`RunState::read_bytes`] / [`RunState::write_bytes`], so in checked mode a
//! bad pointer traps with [`Trap::HelperFault`] instead of touching memory.

use oxbpf_abi::Trap;
use oxbpf_abi::helper::conformance::{self as ids, PROTOTYPES};

use crate::helper::{Helper, HelperExit, HelperFn, HelperTable};
use crate::state::RunState;

/// The conformance environment's helper table.
pub fn table() -> HelperTable {
    let mut t = HelperTable::new("conformance");
    let funcs: [(u32, HelperFn); 6] = [
        (ids::GATHER_BYTES, gather_bytes),
        (ids::MEMFROB, memfrob),
        (ids::NO_OP, no_op),
        (ids::SQRTI, sqrti),
        (ids::STRCMP, strcmp),
        (ids::UNWIND, unwind),
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
    t
}

/// Packs the low byte of each argument: `r1` lands in bits 32-39, `r5` in
/// bits 0-7.
fn gather_bytes(_: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    Ok(a.iter().fold(0u64, |acc, &x| (acc << 8) | (x & 0xff)))
}

/// XORs each of the `r2` bytes at `r1` with 42, as glibc's `memfrob`; returns 0.
fn memfrob(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    let bytes = state.write_bytes(a[0], a[1]).map_err(fault)?;
    for b in bytes {
        *b ^= 42;
    }
    Ok(0)
}

fn no_op(_: &mut RunState<'_>, _: [u64; 5]) -> Result<u64, HelperExit> {
    Ok(0)
}

/// `(u64)sqrt((double)r1)`: the integer is first rounded to a double, as
/// the C++ `std::sqrt` overload for integers does, then truncated.
fn sqrti(_: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    Ok((a[0] as f64).sqrt() as u64)
}

/// C `strcmp` of the NUL-terminated strings at `r1` and `r2`: the difference
/// of the first differing bytes (as unsigned chars), 0 if equal. The C
/// `int` result is converted to the 64-bit return value by sign extension.
fn strcmp(state: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    let mut i = 0u64;
    loop {
        let c1 = byte_at(state, a[0], i)?;
        let c2 = byte_at(state, a[1], i)?;
        if c1 != c2 || c1 == 0 {
            return Ok((i32::from(c1) - i32::from(c2)) as i64 as u64);
        }
        i += 1;
    }
}

/// Returns `r1`; when that is 0 the program ends at once with `r0 = 0`
/// (uBPF's "unwind" extension, `ubpf_set_unwind_function_index`).
fn unwind(_: &mut RunState<'_>, a: [u64; 5]) -> Result<u64, HelperExit> {
    if a[0] == 0 {
        Err(HelperExit::Exit(0))
    } else {
        Ok(a[0])
    }
}

fn byte_at(state: &RunState<'_>, base: u64, i: u64) -> Result<u8, HelperExit> {
    let addr = base
        .checked_add(i)
        .ok_or(HelperExit::Trap(Trap::HelperFault))?;
    let b = state.read_bytes(addr, 1).map_err(fault)?;
    Ok(b[0])
}

#[cold]
fn fault(_: Trap) -> HelperExit {
    HelperExit::Trap(Trap::HelperFault)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::RegionKind;

    fn call(state: &mut RunState<'_>, id: u32, args: [u64; 5]) -> Result<u64, HelperExit> {
        let t = table();
        let h = t.get(id).expect("helper exists");
        (h.func)(state, args)
    }

    #[test]
    fn table_has_the_six_helpers_with_argument_counts() {
        let t = table();
        let got: Vec<(u32, &str, u8)> = t.iter().map(|h| (h.id, h.name, h.arg_count)).collect();
        assert_eq!(
            got,
            [
                (0, "gather_bytes", 5),
                (1, "memfrob", 2),
                (2, "no_op", 0),
                (3, "sqrti", 1),
                (4, "strcmp", 2),
                (5, "unwind", 1)
            ]
        );
    }

    #[test]
    fn gather_bytes_packs_low_bytes() {
        let mut s = RunState::new();
        // 0x01 << 32 | 0x02 << 24 | 0x03 << 16 | 0x04 << 8 | 0x05; the high
        // bytes of each argument are dropped.
        assert_eq!(
            call(&mut s, 0, [0xff01, 0x102, 0x3, 0x4, 0xaa05]),
            Ok(0x01_0203_0405)
        );
    }

    #[test]
    fn sqrti_truncates() {
        let mut s = RunState::new();
        assert_eq!(call(&mut s, 3, [16, 0, 0, 0, 0]), Ok(4));
        assert_eq!(call(&mut s, 3, [15, 0, 0, 0, 0]), Ok(3));
        // u64::MAX rounds to 2^64 as a double; its root is exactly 2^32.
        assert_eq!(call(&mut s, 3, [u64::MAX, 0, 0, 0, 0]), Ok(1 << 32));
    }

    #[test]
    fn memfrob_and_bad_pointer() {
        let mut mem = *b"abc\0";
        let mut s = RunState::new();
        let addr = s.add_memory(&mut mem, RegionKind::Input);
        assert_eq!(call(&mut s, 1, [addr, 3, 0, 0, 0]), Ok(0));
        // One byte past the region.
        assert_eq!(
            call(&mut s, 1, [addr, 5, 0, 0, 0]),
            Err(HelperExit::Trap(Trap::HelperFault))
        );
        drop(s);
        // 'a' ^ 42 = 0x61 ^ 0x2a = 0x4b, 'b' -> 0x48, 'c' -> 0x49.
        assert_eq!(mem, [0x4b, 0x48, 0x49, 0]);
    }

    #[test]
    fn strcmp_like_c() {
        // One region, so that reading past the unterminated string at the
        // end cannot land in a neighbouring region.
        let mut buf = *b"abd\0abc\0ab";
        let mut s = RunState::new();
        let base = s.add_memory(&mut buf, RegionKind::Input);
        let (pa, pb, pu) = (base, base + 4, base + 8);
        // 'd' - 'c' = 1; reversed -1 sign-extended.
        assert_eq!(call(&mut s, 4, [pa, pb, 0, 0, 0]), Ok(1));
        assert_eq!(call(&mut s, 4, [pb, pa, 0, 0, 0]), Ok(u64::MAX));
        assert_eq!(call(&mut s, 4, [pa, pa, 0, 0, 0]), Ok(0));
        // Running past the unterminated string's region faults.
        assert_eq!(
            call(&mut s, 4, [pu, pu, 0, 0, 0]),
            Err(HelperExit::Trap(Trap::HelperFault))
        );
    }

    #[test]
    fn unwind_ends_on_zero() {
        let mut s = RunState::new();
        assert_eq!(call(&mut s, 5, [7, 0, 0, 0, 0]), Ok(7));
        assert_eq!(call(&mut s, 5, [0, 0, 0, 0, 0]), Err(HelperExit::Exit(0)));
        assert_eq!(call(&mut s, 2, [1, 2, 3, 4, 5]), Ok(0));
    }
}
