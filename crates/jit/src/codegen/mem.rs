//! Loads, stores and atomics (RFC 9669 §5), with checked mode's access
//! checks.

use super::*;

impl Compiler<'_> {
    /// The operand for an access of `size` at `base + off`, checked first
    /// in checked mode. `keep_rax` asks for an operand that does not use
    /// rax (atomics loop on it).
    pub(super) fn address(
        &mut self,
        pc: usize,
        base: Reg,
        off: i16,
        size: Size,
        write: bool,
        keep_rax: bool,
    ) -> Mem {
        let b = host(base);
        let off = off as i32;
        let bytes = size.bytes() as i32;
        // r10 always points to the top of the current frame, inside the
        // stack, with a whole frame below it: such an access needs no check.
        if base == Reg::R10
            && !self.fp_written
            && off >= -(STACK_PER_FRAME as i32)
            && off + bytes <= 0
        {
            return Mem {
                base: RBP,
                disp: off,
            };
        }
        if !self.checked {
            if keep_rax && b == RAX {
                asm!(self.ops ; lea r10, [rax + off]);
                return Mem { base: R10, disp: 0 };
            }
            return Mem { base: b, disp: off };
        }
        let cold = self.ops.new_dynamic_label();
        let back = self.ops.new_dynamic_label();
        let limit = (self.stack_len as i32) - bytes;
        // In the stack iff (addr - stack_base) <= stack_len - size,
        // unsigned; an address below the stack wraps to a huge value.
        asm!(self.ops
            ; lea r10, [Rq(b) + off]
            ; mov r11, r10
            ; sub r11, [r12 + OFF_STACK_BASE]
            ; cmp r11, limit
            ; ja =>cold
            ; =>back
        );
        self.cold.push(Cold::MemCheck {
            label: cold,
            back,
            pc,
            size,
            write,
        });
        Mem { base: R10, disp: 0 }
    }

    pub(super) fn load(&mut self, pc: usize, size: Size, signed: bool, d: u8, src: Reg, off: i16) {
        let m = self.address(pc, src, off, size, false, false);
        let (b, o) = (m.base, m.disp);
        // A displacement that fits 8 bits takes the disp8 form (3 bytes
        // less per access, denser loops).
        macro_rules! ld {
            ($op:ident $dr:ident $sz:ident) => {
                match i8::try_from(o) {
                    Ok(o8) => asm!(self.ops ; $op $dr(d), $sz [BYTE Rq(b) + o8]),
                    Err(_) => asm!(self.ops ; $op $dr(d), $sz [Rq(b) + o]),
                }
            };
        }
        match (size, signed) {
            (Size::B, false) => ld!(movzx Rd BYTE),
            (Size::H, false) => ld!(movzx Rd WORD),
            (Size::W, false) => ld!(mov Rd DWORD),
            (Size::DW, _) => ld!(mov Rq QWORD),
            (Size::B, true) => ld!(movsx Rq BYTE),
            (Size::H, true) => ld!(movsx Rq WORD),
            (Size::W, true) => ld!(movsxd Rq DWORD),
        }
    }

    pub(super) fn store(&mut self, pc: usize, size: Size, dst: Reg, off: i16, src: Operand) {
        let m = self.address(pc, dst, off, size, true, false);
        let (b, o) = (m.base, m.disp);
        match src {
            Operand::Reg(s) => {
                let s = host(s);
                macro_rules! st {
                    ($sz:ident $sr:ident) => {
                        match i8::try_from(o) {
                            Ok(o8) => asm!(self.ops ; mov $sz [BYTE Rq(b) + o8], $sr(s)),
                            Err(_) => asm!(self.ops ; mov $sz [Rq(b) + o], $sr(s)),
                        }
                    };
                }
                match size {
                    Size::B => st!(BYTE Rb),
                    Size::H => st!(WORD Rw),
                    Size::W => st!(DWORD Rd),
                    Size::DW => st!(QWORD Rq),
                }
            }
            // `stdw` sign-extends its immediate, like x86's imm32 form.
            Operand::Imm(i) => match size {
                Size::B => asm!(self.ops ; mov BYTE [Rq(b) + o], i as i8),
                Size::H => asm!(self.ops ; mov WORD [Rq(b) + o], i as i16),
                Size::W => asm!(self.ops ; mov DWORD [Rq(b) + o], i),
                Size::DW => asm!(self.ops ; mov QWORD [Rq(b) + o], i),
            },
        }
    }

    /// Atomic read-modify-write (RFC 9669 §5.3), lock-prefixed.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn atomic(
        &mut self,
        pc: usize,
        size: Size,
        op: AtomicOp,
        fetch: bool,
        dst: Reg,
        s: u8,
        off: i16,
    ) {
        if matches!(size, Size::B | Size::H) {
            // Not encodable (RFC 9669 §5.3: atomics are 32 or 64 bits);
            // only a hand-built program holds one. The interpreter traps
            // before checking the address, and so does this.
            let stub = self.trap_stub(pc, Trap::Unsupported, 0);
            asm!(self.ops ; jmp =>stub);
            return;
        }
        let m = self.address(pc, dst, off, size, true, true);
        let (b, o) = (m.base, m.disp);
        let w64 = size == Size::DW;
        match (op, fetch, w64) {
            (AtomicOp::Add, false, true) => asm!(self.ops ; lock add QWORD [Rq(b) + o], Rq(s)),
            (AtomicOp::Add, false, false) => asm!(self.ops ; lock add DWORD [Rq(b) + o], Rd(s)),
            (AtomicOp::Or, false, true) => asm!(self.ops ; lock or QWORD [Rq(b) + o], Rq(s)),
            (AtomicOp::Or, false, false) => asm!(self.ops ; lock or DWORD [Rq(b) + o], Rd(s)),
            (AtomicOp::And, false, true) => asm!(self.ops ; lock and QWORD [Rq(b) + o], Rq(s)),
            (AtomicOp::And, false, false) => asm!(self.ops ; lock and DWORD [Rq(b) + o], Rd(s)),
            (AtomicOp::Xor, false, true) => asm!(self.ops ; lock xor QWORD [Rq(b) + o], Rq(s)),
            (AtomicOp::Xor, false, false) => asm!(self.ops ; lock xor DWORD [Rq(b) + o], Rd(s)),
            // xadd leaves the old value in the source register; a 32-bit
            // register write zero-extends it.
            (AtomicOp::Add, true, true) => asm!(self.ops ; lock xadd QWORD [Rq(b) + o], Rq(s)),
            (AtomicOp::Add, true, false) => asm!(self.ops ; lock xadd DWORD [Rq(b) + o], Rd(s)),
            (AtomicOp::Or | AtomicOp::And | AtomicOp::Xor, true, _) => {
                self.fetch_op_loop(op, w64, b, o, s)
            }
            // xchg with memory is always locked.
            (AtomicOp::Xchg, _, true) => asm!(self.ops ; xchg QWORD [Rq(b) + o], Rq(s)),
            (AtomicOp::Xchg, _, false) => asm!(self.ops ; xchg DWORD [Rq(b) + o], Rd(s)),
            // cmpxchg compares with rax (eBPF r0) and leaves the old value
            // there either way, except that a successful 32-bit compare
            // does not write eax: zero-extend explicitly.
            (AtomicOp::CmpXchg, _, true) => asm!(self.ops ; lock cmpxchg QWORD [Rq(b) + o], Rq(s)),
            (AtomicOp::CmpXchg, _, false) => {
                asm!(self.ops ; lock cmpxchg DWORD [Rq(b) + o], Rd(s) ; mov eax, eax)
            }
        }
    }

    /// Fetching or/and/xor have no x86 instruction: a cmpxchg loop, with
    /// rax (eBPF r0) saved around it unless it is the source.
    pub(super) fn fetch_op_loop(&mut self, op: AtomicOp, w64: bool, b: u8, o: i32, s: u8) {
        let retry = self.ops.new_dynamic_label();
        asm!(self.ops ; mov [r12 + spill(SPILL_TMP)], rax);
        if w64 {
            asm!(self.ops ; mov rax, QWORD [Rq(b) + o] ; =>retry ; mov r11, rax);
        } else {
            asm!(self.ops ; mov eax, DWORD [Rq(b) + o] ; =>retry ; mov r11d, eax);
        }
        // The operand is the source's value before the loop (r0's lives in
        // the spill slot).
        match (op, w64, s == RAX) {
            (AtomicOp::Or, true, false) => asm!(self.ops ; or r11, Rq(s)),
            (AtomicOp::Or, false, false) => asm!(self.ops ; or r11d, Rd(s)),
            (AtomicOp::And, true, false) => asm!(self.ops ; and r11, Rq(s)),
            (AtomicOp::And, false, false) => asm!(self.ops ; and r11d, Rd(s)),
            (AtomicOp::Xor, true, false) => asm!(self.ops ; xor r11, Rq(s)),
            (AtomicOp::Xor, false, false) => asm!(self.ops ; xor r11d, Rd(s)),
            (AtomicOp::Or, true, true) => asm!(self.ops ; or r11, [r12 + spill(SPILL_TMP)]),
            (AtomicOp::Or, false, true) => asm!(self.ops ; or r11d, [r12 + spill(SPILL_TMP)]),
            (AtomicOp::And, true, true) => asm!(self.ops ; and r11, [r12 + spill(SPILL_TMP)]),
            (AtomicOp::And, false, true) => asm!(self.ops ; and r11d, [r12 + spill(SPILL_TMP)]),
            (AtomicOp::Xor, true, true) => asm!(self.ops ; xor r11, [r12 + spill(SPILL_TMP)]),
            (AtomicOp::Xor, false, true) => asm!(self.ops ; xor r11d, [r12 + spill(SPILL_TMP)]),
            _ => unreachable_atomic(op),
        }
        if w64 {
            asm!(self.ops ; lock cmpxchg QWORD [Rq(b) + o], r11 ; jne =>retry);
        } else {
            asm!(self.ops ; lock cmpxchg DWORD [Rq(b) + o], r11d ; jne =>retry);
        }
        // rax holds the old value (zero-extended for 32 bits: it was loaded
        // by a 32-bit mov or a failed 32-bit cmpxchg).
        if s != RAX {
            asm!(self.ops
                ; mov Rq(s), rax
                ; mov rax, [r12 + spill(SPILL_TMP)]
            );
        }
    }

    pub(super) fn check_sub(&mut self, size: Size, write: bool) -> DynamicLabel {
        let slot = &mut self.check_subs[size_index(size)][write as usize];
        *slot.get_or_insert_with(|| self.ops.new_dynamic_label())
    }

    /// The shared slow paths of checked accesses, one per (size, write)
    /// used. Entered by `call` with the address in r10 and the slot in
    /// r11; return if the access is allowed, else jump to the trap exit.
    /// First the cached region (the last one a slow check allowed), then
    /// `ctx::check_access`, which asks the run's regions.
    pub(super) fn emit_check_subs(&mut self) {
        let trap_common = self.trap_common;
        for (si, size) in [Size::B, Size::H, Size::W, Size::DW]
            .into_iter()
            .enumerate()
        {
            for write in [false, true] {
                let Some(label) = self.check_subs[si][write as usize] else {
                    continue;
                };
                let cache = if write {
                    OFF_WRITE_CACHE
                } else {
                    OFF_READ_CACHE
                };
                let bytes = size.bytes() as i32;
                let miss = self.ops.new_dynamic_label();
                let fail = self.ops.new_dynamic_label();
                let arg = (size.bytes() as i32) | ((write as i32) << 8);
                let check = ctx::check_access as *const () as i64;
                // Hit iff addr - start does not borrow, adding the size
                // does not carry, and the end is within the length.
                asm!(self.ops
                    ; =>label
                    ; mov [r12 + spill(SPILL_PC)], r11
                    ; mov r11, r10
                    ; sub r11, [r12 + cache]
                    ; jb =>miss
                    ; add r11, bytes
                    ; jc =>miss
                    ; cmp r11, [r12 + cache + 8]
                    ; ja =>miss
                    ; ret
                    ; =>miss
                    ; mov [r12 + spill(1)], rax
                    ; mov [r12 + spill(2)], rcx
                    ; mov [r12 + spill(3)], rdx
                    ; mov [r12 + spill(4)], rsi
                    ; mov [r12 + spill(5)], rdi
                    ; mov [r12 + spill(6)], r8
                    ; mov [r12 + spill(7)], r9
                    ; mov [r12 + spill(8)], r10
                    ; mov rdi, r12
                    ; mov rsi, r10
                    ; mov edx, arg
                    // Entered by `call` from a body at rsp = 0 mod 16.
                    ; sub rsp, 8
                    ; mov rax, QWORD check
                    ; call rax
                    ; add rsp, 8
                    ; test rax, rax
                    ; jnz =>fail
                    ; mov rax, [r12 + spill(1)]
                    ; mov rcx, [r12 + spill(2)]
                    ; mov rdx, [r12 + spill(3)]
                    ; mov rsi, [r12 + spill(4)]
                    ; mov rdi, [r12 + spill(5)]
                    ; mov r8, [r12 + spill(6)]
                    ; mov r9, [r12 + spill(7)]
                    ; mov r10, [r12 + spill(8)]
                    ; ret
                    ; =>fail
                    ; mov r11, rax
                    ; mov r10, [r12 + spill(SPILL_PC)]
                    ; mov r9, [r12 + spill(7)]
                    ; jmp =>trap_common
                );
            }
        }
    }
}
