//! Wrapping raw bytecode so the kernel can run it with oxbpf's calling
//! convention (`r1`..`r5` from the caller, full 64-bit `r0` back).
//!
//! The kernel only runs programs of a program type, entered with a context
//! pointer in `r1` and returning a 32-bit value. bpf_conformance's libbpf
//! plugin shows how to run raw test programs anyway; oxbpf does the same
//! with its own code:
//!
//! - the program is loaded as XDP and run with `BPF_PROG_TEST_RUN`, the
//!   caller's memory being the packet (padded to the 14 bytes the kernel's
//!   `bpf_test_init` demands);
//! - the main function calls the user program as a bpf-to-bpf subprogram
//!   and stores the returned `r0`, all 64 bits, into the value of a
//!   one-entry array map (an `lddw` with `BPF_PSEUDO_MAP_VALUE`), then
//!   returns `XDP_PASS` so the caller can tell the epilogue ran;
//! - a prolog in front of the user program turns the XDP context into the
//!   caller's arguments: `r1` becomes the packet pointer (after the bounds
//!   check the verifier needs to allow accesses to the whole region) and
//!   `r2`..`r5` become constants.
//!
//! Because the arguments are constants, the verifier sees exactly the
//! values the program will get (the memory length in `r2` included) and
//! its verdict is the one for this run; [`Variant`] names one such set of
//! arguments.
//!
//! ```text
//! slot 0   call local +5            ; user program (slot 6 on)
//!      1   lddw r1, map_value(fd, 0)
//!      3   stxdw [r1+0], r0         ; 64-bit r0 to the result map
//!      4   mov r0, XDP_PASS
//!      5   exit
//!      6   ldxw r2, [r1+4]          ; data_end      (memory variant)
//!          ldxw r1, [r1+0]          ; data
//!          mov r0, r1
//!          add r0, LEN
//!          jle r0, r2, +2           ; packet holds LEN bytes
//!          mov r0, 0
//!          exit
//!          add r1, OFFSET           ; only if r1 points inside the region
//!          lddw r2..r5, ARGS        ; (scalar variant: lddw r1 too)
//!          user program ...
//! ```

use oxbpf_isa::{AluOp, CallTarget, Insn, JmpCond, LddwSrc, Operand, RawInsn, Reg, Size, Width};

use crate::prog::xdp_action;

/// Slots of the main function, before the user program's prolog.
const MAIN_SLOTS: usize = 6;

/// Largest memory region the prolog can promise the verifier: packet
/// ranges are limited to `MAX_PACKET_OFF` (0xffff) in the kernel's
/// `check_packet_access`.
pub const MAX_REGION: u64 = 0xffff;

/// How `r1` reaches the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum R1 {
    /// A plain number (no memory lent at that address).
    Scalar(u64),
    /// A pointer `offset` bytes into a lent memory region of `len` bytes,
    /// passed as the packet.
    Packet { offset: u32, len: u32 },
}

/// One set of entry arguments the program is verified and run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Variant {
    pub r1: R1,
    /// `r2`..`r5`.
    pub rest: [u64; 4],
}

fn lddw(dst: Reg, src: LddwSrc, imm: u64) -> [Insn; 2] {
    [Insn::Lddw { dst, src, imm }, Insn::LddwHi]
}

fn alu64(op: AluOp, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst,
        src,
    }
}

/// The main function: call the user program, store its `r0` in the result
/// map's value, return `XDP_PASS`.
fn main_function(result_map_fd: i32) -> Vec<Insn> {
    let mut v = vec![Insn::Call(CallTarget::Local((MAIN_SLOTS - 1) as i32))];
    // Low 32 bits: the map fd; high 32 bits: the offset into the value.
    v.extend(lddw(
        Reg::R1,
        LddwSrc::MapValue,
        result_map_fd as u32 as u64,
    ));
    v.push(Insn::Store {
        size: Size::DW,
        dst: Reg::R1,
        off: 0,
        src: Operand::Reg(Reg::R0),
    });
    v.push(alu64(
        AluOp::Mov,
        Reg::R0,
        Operand::Imm(xdp_action::PASS as i32),
    ));
    v.push(Insn::Exit);
    debug_assert_eq!(v.len(), MAIN_SLOTS);
    v
}

/// The prolog that sets `r1`..`r5` for `variant`, entered with `r1` = the
/// `struct xdp_md` context.
fn prolog(variant: &Variant) -> Vec<Insn> {
    let mut v = Vec::new();
    match variant.r1 {
        R1::Scalar(value) => v.extend(lddw(Reg::R1, LddwSrc::Imm, value)),
        R1::Packet { offset, len } => {
            // struct xdp_md: data at 0, data_end at 4 (32-bit fields the
            // verifier rewrites into packet pointers).
            v.push(Insn::Load {
                size: Size::W,
                signed: false,
                dst: Reg::R2,
                src: Reg::R1,
                off: 4,
            });
            v.push(Insn::Load {
                size: Size::W,
                signed: false,
                dst: Reg::R1,
                src: Reg::R1,
                off: 0,
            });
            v.push(alu64(AluOp::Mov, Reg::R0, Operand::Reg(Reg::R1)));
            v.push(alu64(AluOp::Add, Reg::R0, Operand::Imm(len as i32)));
            v.push(Insn::Jmp {
                width: Width::W64,
                cond: JmpCond::Le,
                dst: Reg::R0,
                src: Operand::Reg(Reg::R2),
                off: 2,
            });
            // Unreachable: the runner always passes a packet of at least
            // `len` bytes. The verifier needs the path to exist.
            v.push(alu64(AluOp::Mov, Reg::R0, Operand::Imm(0)));
            v.push(Insn::Exit);
            if offset != 0 {
                v.push(alu64(AluOp::Add, Reg::R1, Operand::Imm(offset as i32)));
            }
        }
    }
    for (reg, value) in [Reg::R2, Reg::R3, Reg::R4, Reg::R5]
        .into_iter()
        .zip(variant.rest)
    {
        v.extend(lddw(reg, LddwSrc::Imm, value));
    }
    v
}

/// The whole program loaded for `variant`: main function, prolog, then the
/// user's instructions unchanged (their jumps and calls are relative, so
/// moving them keeps them valid).
pub fn wrap(user: &[RawInsn], result_map_fd: i32, variant: &Variant) -> Vec<RawInsn> {
    let mut head = main_function(result_map_fd);
    head.extend(prolog(variant));
    let mut out = oxbpf_isa::encode(&head);
    out.extend_from_slice(user);
    out
}

/// Slot at which the user program starts in [`wrap`]'s output.
pub fn user_start(variant: &Variant) -> usize {
    MAIN_SLOTS + prolog(variant).len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxbpf_isa::{asm::assemble, decode, encode};

    fn user() -> Vec<RawInsn> {
        encode(&assemble("mov %r0, %r2\nexit\n").unwrap())
    }

    #[test]
    fn main_calls_the_prolog_and_the_user_program_follows_it() {
        let variant = Variant {
            r1: R1::Packet { offset: 0, len: 8 },
            rest: [8, 0, 0, 0],
        };
        let user = user();
        let out = wrap(&user, 7, &variant);
        let insns = decode(&out).expect("the wrapped program decodes");
        // The call lands on the first prolog slot.
        assert_eq!(insns[0].branch_target(0), Some(MAIN_SLOTS as i64));
        // 7 prolog slots for the packet, then 4 lddw of 2 slots.
        assert_eq!(user_start(&variant), MAIN_SLOTS + 7 + 8);
        assert_eq!(&out[user_start(&variant)..], &user[..]);
        // The result map is referenced by fd 7 as a map value at offset 0.
        assert_eq!(
            insns[1],
            Insn::Lddw {
                dst: Reg::R1,
                src: LddwSrc::MapValue,
                imm: 7
            }
        );
        // The bounds check promises exactly the region's length.
        assert!(insns.contains(&alu64(AluOp::Add, Reg::R0, Operand::Imm(8))));
        // r2 carries the length as a 64-bit constant.
        assert!(insns.contains(&Insn::Lddw {
            dst: Reg::R2,
            src: LddwSrc::Imm,
            imm: 8
        }));
    }

    #[test]
    fn scalar_r1_is_a_constant_and_offsets_move_the_pointer() {
        let scalar = Variant {
            r1: R1::Scalar(0x1_0000_0001),
            rest: [0; 4],
        };
        let insns = decode(&wrap(&user(), 3, &scalar)).unwrap();
        assert_eq!(
            insns[MAIN_SLOTS],
            Insn::Lddw {
                dst: Reg::R1,
                src: LddwSrc::Imm,
                imm: 0x1_0000_0001
            }
        );
        let inner = Variant {
            r1: R1::Packet { offset: 3, len: 16 },
            rest: [13, 0, 0, 0],
        };
        let insns = decode(&wrap(&user(), 3, &inner)).unwrap();
        assert!(insns.contains(&alu64(AluOp::Add, Reg::R1, Operand::Imm(3))));
    }
}
