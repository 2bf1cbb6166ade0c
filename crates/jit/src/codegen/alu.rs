//! ALU, byte-swap and jump instructions (RFC 9669 §4).

use super::*;

impl Compiler<'_> {
    pub(super) fn mov_imm64(&mut self, d: u8, imm: u64) {
        if imm == 0 {
            asm!(self.ops ; xor Rd(d), Rd(d));
        } else if imm <= u32::MAX as u64 {
            asm!(self.ops ; mov Rd(d), imm as i32);
        } else if imm as i64 >= i32::MIN as i64 && imm as i64 <= i32::MAX as i64 {
            asm!(self.ops ; mov Rq(d), imm as i32);
        } else {
            asm!(self.ops ; mov Rq(d), QWORD imm as i64);
        }
    }

    /// Compiles `mov d, a` (64-bit) followed by `add d, imm` and/or
    /// `add d, b` as one `lea d, [a + b + imm]`, and returns how many slots
    /// it took (0 when the pattern does not start at `pc`). Address
    /// arithmetic such as `r3 = r10; r3 += -256; r3 += r1` is what clang
    /// emits for stack and array addressing; one `lea` computes the same
    /// value modulo 2^64 (RFC 9669 §4.1: ALU64 `add` wraps, its
    /// immediate sign-extended like the displacement). The absorbed
    /// instructions must not be block leaders, so nothing jumps between
    /// them and checked mode's block charge is unchanged.
    pub(super) fn fuse_lea(&mut self, pc: usize) -> usize {
        let Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src: Operand::Reg(a),
        } = self.insns[pc]
        else {
            return 0;
        };
        if a == dst {
            return 0;
        }
        let blocks = self.program.blocks();
        let mut imm: Option<i32> = None;
        let mut index: Option<Reg> = None;
        let mut n = 1;
        while n < 3 {
            let p = pc + n;
            if p >= self.insns.len() || blocks.is_leader(p) {
                break;
            }
            match self.insns[p] {
                Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Add,
                    dst: d2,
                    src,
                } if d2 == dst => match src {
                    Operand::Imm(k) if imm.is_none() => imm = Some(k),
                    // `add d, d` reads the register being built.
                    Operand::Reg(b) if index.is_none() && b != dst => index = Some(b),
                    _ => break,
                },
                _ => break,
            }
            n += 1;
        }
        if n == 1 {
            return 0;
        }
        let (d, a) = (host(dst), host(a));
        let k = imm.unwrap_or(0);
        match (index.map(host), i8::try_from(k)) {
            (None, Ok(k8)) => asm!(self.ops ; lea Rq(d), [BYTE Rq(a) + k8]),
            (None, Err(_)) => asm!(self.ops ; lea Rq(d), [Rq(a) + k]),
            (Some(b), Ok(0)) if a != RBP && a != R13 => {
                asm!(self.ops ; lea Rq(d), [Rq(a) + Rq(b)])
            }
            (Some(b), Ok(k8)) => asm!(self.ops ; lea Rq(d), [BYTE Rq(a) + Rq(b) + k8]),
            (Some(b), Err(_)) => asm!(self.ops ; lea Rq(d), [Rq(a) + Rq(b) + k]),
        }
        n
    }

    pub(super) fn alu(&mut self, width: Width, op: AluOp, d: u8, src: Operand) {
        let w64 = width == Width::W64;
        match op {
            AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod => {
                return self.divmod(w64, op, d, src);
            }
            AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => return self.shift(w64, op, d, src),
            AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => {
                return self.movsx(w64, op, d, src);
            }
            AluOp::Neg => {
                if w64 {
                    asm!(self.ops ; neg Rq(d));
                } else {
                    asm!(self.ops ; neg Rd(d));
                }
                return;
            }
            _ => {}
        }
        match src {
            Operand::Reg(s) => {
                let s = host(s);
                match (op, w64) {
                    (AluOp::Add, true) => asm!(self.ops ; add Rq(d), Rq(s)),
                    (AluOp::Add, false) => asm!(self.ops ; add Rd(d), Rd(s)),
                    (AluOp::Sub, true) => asm!(self.ops ; sub Rq(d), Rq(s)),
                    (AluOp::Sub, false) => asm!(self.ops ; sub Rd(d), Rd(s)),
                    (AluOp::Mul, true) => asm!(self.ops ; imul Rq(d), Rq(s)),
                    (AluOp::Mul, false) => asm!(self.ops ; imul Rd(d), Rd(s)),
                    (AluOp::Or, true) => asm!(self.ops ; or Rq(d), Rq(s)),
                    (AluOp::Or, false) => asm!(self.ops ; or Rd(d), Rd(s)),
                    (AluOp::And, true) => asm!(self.ops ; and Rq(d), Rq(s)),
                    (AluOp::And, false) => asm!(self.ops ; and Rd(d), Rd(s)),
                    (AluOp::Xor, true) => asm!(self.ops ; xor Rq(d), Rq(s)),
                    (AluOp::Xor, false) => asm!(self.ops ; xor Rd(d), Rd(s)),
                    (AluOp::Mov, true) => {
                        if d != s {
                            asm!(self.ops ; mov Rq(d), Rq(s));
                        }
                    }
                    // Also when d == s: writing a 32-bit register clears
                    // the upper half (RFC 9669 §4.1: mov32 zero-extends).
                    (AluOp::Mov, false) => asm!(self.ops ; mov Rd(d), Rd(s)),
                    _ => unreachable_op(op),
                }
            }
            // RFC 9669 §4.1: for ALU64 the immediate is sign-extended to 64
            // bits, which is what x86's imm32 forms of 64-bit operations do.
            // An immediate that fits 8 bits takes the short sign-extended
            // imm8 encoding (same value, 3 bytes less).
            Operand::Imm(i) => match (op, w64, i8::try_from(i)) {
                (AluOp::Add, true, Ok(b)) => asm!(self.ops ; add Rq(d), BYTE b),
                (AluOp::Add, false, Ok(b)) => asm!(self.ops ; add Rd(d), BYTE b),
                (AluOp::Sub, true, Ok(b)) => asm!(self.ops ; sub Rq(d), BYTE b),
                (AluOp::Sub, false, Ok(b)) => asm!(self.ops ; sub Rd(d), BYTE b),
                (AluOp::Mul, true, Ok(b)) => asm!(self.ops ; imul Rq(d), Rq(d), BYTE b),
                (AluOp::Mul, false, Ok(b)) => asm!(self.ops ; imul Rd(d), Rd(d), BYTE b),
                (AluOp::Or, true, Ok(b)) => asm!(self.ops ; or Rq(d), BYTE b),
                (AluOp::Or, false, Ok(b)) => asm!(self.ops ; or Rd(d), BYTE b),
                (AluOp::And, true, Ok(b)) => asm!(self.ops ; and Rq(d), BYTE b),
                (AluOp::And, false, Ok(b)) => asm!(self.ops ; and Rd(d), BYTE b),
                (AluOp::Xor, true, Ok(b)) => asm!(self.ops ; xor Rq(d), BYTE b),
                (AluOp::Xor, false, Ok(b)) => asm!(self.ops ; xor Rd(d), BYTE b),
                (AluOp::Add, true, _) => asm!(self.ops ; add Rq(d), i),
                (AluOp::Add, false, _) => asm!(self.ops ; add Rd(d), i),
                (AluOp::Sub, true, _) => asm!(self.ops ; sub Rq(d), i),
                (AluOp::Sub, false, _) => asm!(self.ops ; sub Rd(d), i),
                (AluOp::Mul, true, _) => asm!(self.ops ; imul Rq(d), Rq(d), i),
                (AluOp::Mul, false, _) => asm!(self.ops ; imul Rd(d), Rd(d), i),
                (AluOp::Or, true, _) => asm!(self.ops ; or Rq(d), i),
                (AluOp::Or, false, _) => asm!(self.ops ; or Rd(d), i),
                (AluOp::And, true, _) => asm!(self.ops ; and Rq(d), i),
                (AluOp::And, false, _) => asm!(self.ops ; and Rd(d), i),
                (AluOp::Xor, true, _) => asm!(self.ops ; xor Rq(d), i),
                (AluOp::Xor, false, _) => asm!(self.ops ; xor Rd(d), i),
                (AluOp::Mov, true, _) => self.mov_imm64(d, i as i64 as u64),
                (AluOp::Mov, false, _) => self.mov_imm64(d, i as u32 as u64),
                _ => unreachable_op(op),
            },
        }
    }

    pub(super) fn movsx(&mut self, w64: bool, op: AluOp, d: u8, src: Operand) {
        let s = match src {
            Operand::Reg(s) => host(s),
            // The decoder only produces the register form; fold an
            // immediate anyway.
            Operand::Imm(i) => {
                let v = match op {
                    AluOp::MovSx8 => i as i8 as i64,
                    AluOp::MovSx16 => i as i16 as i64,
                    _ => i as i64,
                };
                let v = if w64 { v as u64 } else { v as u32 as u64 };
                return self.mov_imm64(d, v);
            }
        };
        match (op, w64) {
            (AluOp::MovSx8, true) => asm!(self.ops ; movsx Rq(d), Rb(s)),
            (AluOp::MovSx8, false) => asm!(self.ops ; movsx Rd(d), Rb(s)),
            (AluOp::MovSx16, true) => asm!(self.ops ; movsx Rq(d), Rw(s)),
            (AluOp::MovSx16, false) => asm!(self.ops ; movsx Rd(d), Rw(s)),
            (AluOp::MovSx32, true) => asm!(self.ops ; movsxd Rq(d), Rd(s)),
            // Sign-extending 32 bits into a 32-bit result is a mov32.
            _ => asm!(self.ops ; mov Rd(d), Rd(s)),
        }
    }

    /// Shifts. x86 masks a shift count to 6 bits (64-bit operand) or 5 bits
    /// (32-bit operand), exactly RFC 9669 §4.1's masking; a count in a
    /// register must be in `cl`, which holds eBPF `r4`.
    pub(super) fn shift(&mut self, w64: bool, op: AluOp, d: u8, src: Operand) {
        match src {
            Operand::Imm(i) => {
                let n = (i as u32 & if w64 { 63 } else { 31 }) as i8;
                if n == 0 {
                    if !w64 {
                        asm!(self.ops ; mov Rd(d), Rd(d));
                    }
                    return;
                }
                match (op, w64) {
                    (AluOp::Lsh, true) => asm!(self.ops ; shl Rq(d), n),
                    (AluOp::Lsh, false) => asm!(self.ops ; shl Rd(d), n),
                    (AluOp::Rsh, true) => asm!(self.ops ; shr Rq(d), n),
                    (AluOp::Rsh, false) => asm!(self.ops ; shr Rd(d), n),
                    (AluOp::Arsh, true) => asm!(self.ops ; sar Rq(d), n),
                    (AluOp::Arsh, false) => asm!(self.ops ; sar Rd(d), n),
                    _ => unreachable_op(op),
                }
            }
            Operand::Reg(s) if self.options.bmi2 => {
                // BMI2's shlx/shrx/sarx take the count from any register
                // and mask it the same way; the 32-bit forms zero-extend.
                let s = host(s);
                match (op, w64) {
                    (AluOp::Lsh, true) => asm!(self.ops ; shlx Rq(d), Rq(d), Rq(s)),
                    (AluOp::Lsh, false) => asm!(self.ops ; shlx Rd(d), Rd(d), Rd(s)),
                    (AluOp::Rsh, true) => asm!(self.ops ; shrx Rq(d), Rq(d), Rq(s)),
                    (AluOp::Rsh, false) => asm!(self.ops ; shrx Rd(d), Rd(d), Rd(s)),
                    (AluOp::Arsh, true) => asm!(self.ops ; sarx Rq(d), Rq(d), Rq(s)),
                    (AluOp::Arsh, false) => asm!(self.ops ; sarx Rd(d), Rd(d), Rd(s)),
                    _ => unreachable_op(op),
                }
            }
            Operand::Reg(s) => {
                let s = host(s);
                // Shift `t` by cl, with rcx saved in r11 when it is not the
                // count already; a destination in rcx is shifted in r11.
                let t = if s == RCX {
                    d
                } else {
                    asm!(self.ops
                        ; mov r11, rcx
                        ; mov rcx, Rq(s)
                    );
                    if d == RCX { 11 } else { d }
                };
                match (op, w64) {
                    (AluOp::Lsh, true) => asm!(self.ops ; shl Rq(t), cl),
                    (AluOp::Lsh, false) => asm!(self.ops ; shl Rd(t), cl),
                    (AluOp::Rsh, true) => asm!(self.ops ; shr Rq(t), cl),
                    (AluOp::Rsh, false) => asm!(self.ops ; shr Rd(t), cl),
                    (AluOp::Arsh, true) => asm!(self.ops ; sar Rq(t), cl),
                    (AluOp::Arsh, false) => asm!(self.ops ; sar Rd(t), cl),
                    _ => unreachable_op(op),
                }
                if !w64 {
                    // A count of 0 leaves the destination untouched on
                    // some processors; the eBPF result is zero-extended.
                    asm!(self.ops ; mov Rd(t), Rd(t));
                }
                if s != RCX {
                    asm!(self.ops ; mov rcx, r11);
                }
            }
        }
    }

    /// Division and modulo with RFC 9669 §4.1's rules: division by zero
    /// gives 0, modulo by zero leaves the destination (zero-extended for
    /// 32 bits); signed `MIN / -1` is `MIN` and `MIN % -1` is 0 (x86's
    /// `idiv` would fault on both, so -1 is handled without it).
    pub(super) fn divmod(&mut self, w64: bool, op: AluOp, d: u8, src: Operand) {
        let signed = matches!(op, AluOp::SDiv | AluOp::SMod);
        let is_div = matches!(op, AluOp::Div | AluOp::SDiv);
        let divisor = match src {
            Operand::Imm(0) => return self.div_by_zero(w64, is_div, d),
            Operand::Imm(-1) if signed => return self.div_by_minus_one(w64, is_div, d),
            Operand::Imm(i) => {
                // Sign-extended for 64 bits (both signed and unsigned, as
                // the kernel's `(u64)(s64)imm`), the low 32 bits for 32.
                if w64 {
                    asm!(self.ops ; mov r11, i);
                } else {
                    asm!(self.ops ; mov r11d, i);
                }
                self.div_core(w64, signed, is_div, d, 11);
                return;
            }
            Operand::Reg(s) => host(s),
        };
        // `div` uses rdx:rax; a divisor there is copied out first.
        let dv = if divisor == RAX || divisor == RDX {
            asm!(self.ops ; mov r11, Rq(divisor));
            11
        } else {
            divisor
        };
        let zero = self.ops.new_dynamic_label();
        let end = self.ops.new_dynamic_label();
        if w64 {
            asm!(self.ops ; test Rq(dv), Rq(dv) ; jz =>zero);
        } else {
            asm!(self.ops ; test Rd(dv), Rd(dv) ; jz =>zero);
        }
        if signed {
            let normal = self.ops.new_dynamic_label();
            if w64 {
                asm!(self.ops ; cmp Rq(dv), -1 ; jne =>normal);
            } else {
                asm!(self.ops ; cmp Rd(dv), -1 ; jne =>normal);
            }
            self.div_by_minus_one(w64, is_div, d);
            asm!(self.ops ; jmp =>end ; =>normal);
        }
        self.div_core(w64, signed, is_div, d, dv);
        asm!(self.ops ; jmp =>end ; =>zero);
        self.div_by_zero(w64, is_div, d);
        asm!(self.ops ; =>end);
    }

    pub(super) fn div_by_zero(&mut self, w64: bool, is_div: bool, d: u8) {
        if is_div {
            asm!(self.ops ; xor Rd(d), Rd(d));
        } else if !w64 {
            asm!(self.ops ; mov Rd(d), Rd(d));
        }
    }

    /// `x / -1 = -x` (wrapping: `MIN` stays `MIN`) and `x % -1 = 0`.
    pub(super) fn div_by_minus_one(&mut self, w64: bool, is_div: bool, d: u8) {
        match (is_div, w64) {
            (true, true) => asm!(self.ops ; neg Rq(d)),
            (true, false) => asm!(self.ops ; neg Rd(d)),
            (false, _) => asm!(self.ops ; xor Rd(d), Rd(d)),
        }
    }

    /// `d = d / dv` or `d % dv` with a divisor register that is neither
    /// rax nor rdx, known nonzero (and not -1 when signed). rax and rdx are
    /// saved around the division unless `d` is one of them.
    pub(super) fn div_core(&mut self, w64: bool, signed: bool, is_div: bool, d: u8, dv: u8) {
        // rdx goes to a free scratch register where there is one: r11
        // unless it holds the divisor, else r9 unless it holds checked
        // mode's budget; only then to memory.
        let save_rdx = if dv != 11 {
            Some(11)
        } else if !self.checked {
            Some(9)
        } else {
            None
        };
        if d != RAX {
            asm!(self.ops ; mov r10, rax);
        }
        if d != RDX {
            match save_rdx {
                Some(r) => asm!(self.ops ; mov Rq(r), rdx),
                None => asm!(self.ops ; mov [r12 + spill(SPILL_TMP)], rdx),
            }
        }
        match (w64, signed) {
            (true, false) => asm!(self.ops ; mov rax, Rq(d) ; xor edx, edx ; div Rq(dv)),
            (true, true) => asm!(self.ops ; mov rax, Rq(d) ; cqo ; idiv Rq(dv)),
            (false, false) => asm!(self.ops ; mov eax, Rd(d) ; xor edx, edx ; div Rd(dv)),
            (false, true) => asm!(self.ops ; mov eax, Rd(d) ; cdq ; idiv Rd(dv)),
        }
        // A 32-bit div writes eax and edx, which zero-extends both.
        let result = if is_div { RAX } else { RDX };
        if d != result {
            asm!(self.ops ; mov Rq(d), Rq(result));
        }
        if d != RDX {
            match save_rdx {
                Some(r) => asm!(self.ops ; mov rdx, Rq(r)),
                None => asm!(self.ops ; mov rdx, [r12 + spill(SPILL_TMP)]),
            }
        }
        if d != RAX {
            asm!(self.ops ; mov rax, r10);
        }
    }

    /// Byte swaps (RFC 9669 §4.2); the host is little-endian, so `le` only
    /// truncates.
    pub(super) fn end(&mut self, kind: Endian, bits: u8, d: u8) {
        match (kind, bits) {
            (Endian::ToLe, 16) => asm!(self.ops ; movzx Rd(d), Rw(d)),
            (Endian::ToLe, 32) => asm!(self.ops ; mov Rd(d), Rd(d)),
            (Endian::ToLe, _) => {}
            (_, 16) => asm!(self.ops ; ror Rw(d), 8 ; movzx Rd(d), Rw(d)),
            (_, 32) => asm!(self.ops ; bswap Rd(d)),
            (_, _) => asm!(self.ops ; bswap Rq(d)),
        }
    }

    pub(super) fn jmp(
        &mut self,
        width: Width,
        cond: JmpCond,
        d: u8,
        src: Operand,
        t: DynamicLabel,
        short: bool,
    ) {
        let w64 = width == Width::W64;
        match src {
            Operand::Reg(s) => {
                let s = host(s);
                match (cond == JmpCond::Set, w64) {
                    (true, true) => asm!(self.ops ; test Rq(d), Rq(s)),
                    (true, false) => asm!(self.ops ; test Rd(d), Rd(s)),
                    (false, true) => asm!(self.ops ; cmp Rq(d), Rq(s)),
                    (false, false) => asm!(self.ops ; cmp Rd(d), Rd(s)),
                }
            }
            // For JMP the immediate is sign-extended to 64 bits, as in the
            // imm32 forms of 64-bit cmp/test. Comparing with 0 sets the
            // same flags as testing the register with itself.
            Operand::Imm(i) => {
                if cond == JmpCond::Set && (0..=255).contains(&i) {
                    // Only ZF matters, and a mask within the low byte
                    // sees only the low byte of the register.
                    asm!(self.ops ; test Rb(d), BYTE i as u8 as i8);
                } else if cond == JmpCond::Set {
                    if w64 {
                        asm!(self.ops ; test Rq(d), i);
                    } else {
                        asm!(self.ops ; test Rd(d), i);
                    }
                } else if i == 0 {
                    if w64 {
                        asm!(self.ops ; test Rq(d), Rq(d));
                    } else {
                        asm!(self.ops ; test Rd(d), Rd(d));
                    }
                } else if w64 {
                    asm!(self.ops ; cmp Rq(d), i);
                } else {
                    asm!(self.ops ; cmp Rd(d), i);
                }
            }
        }
        match (cond, short) {
            (JmpCond::Eq, false) => asm!(self.ops ; je =>t),
            (JmpCond::Ne, false) => asm!(self.ops ; jne =>t),
            (JmpCond::Set, false) => asm!(self.ops ; jnz =>t),
            (JmpCond::Gt, false) => asm!(self.ops ; ja =>t),
            (JmpCond::Ge, false) => asm!(self.ops ; jae =>t),
            (JmpCond::Lt, false) => asm!(self.ops ; jb =>t),
            (JmpCond::Le, false) => asm!(self.ops ; jbe =>t),
            (JmpCond::Sgt, false) => asm!(self.ops ; jg =>t),
            (JmpCond::Sge, false) => asm!(self.ops ; jge =>t),
            (JmpCond::Slt, false) => asm!(self.ops ; jl =>t),
            (JmpCond::Sle, false) => asm!(self.ops ; jle =>t),
            (JmpCond::Eq, true) => asm!(self.ops ; je BYTE =>t),
            (JmpCond::Ne, true) => asm!(self.ops ; jne BYTE =>t),
            (JmpCond::Set, true) => asm!(self.ops ; jnz BYTE =>t),
            (JmpCond::Gt, true) => asm!(self.ops ; ja BYTE =>t),
            (JmpCond::Ge, true) => asm!(self.ops ; jae BYTE =>t),
            (JmpCond::Lt, true) => asm!(self.ops ; jb BYTE =>t),
            (JmpCond::Le, true) => asm!(self.ops ; jbe BYTE =>t),
            (JmpCond::Sgt, true) => asm!(self.ops ; jg BYTE =>t),
            (JmpCond::Sge, true) => asm!(self.ops ; jge BYTE =>t),
            (JmpCond::Slt, true) => asm!(self.ops ; jl BYTE =>t),
            (JmpCond::Sle, true) => asm!(self.ops ; jle BYTE =>t),
        }
    }
}
