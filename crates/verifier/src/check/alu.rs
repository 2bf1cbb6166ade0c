//! ALU instructions: scalar transfer functions and pointer arithmetic
//! (`adjust_reg_min_max_vals`, `adjust_ptr_min_max_vals`).

use super::*;

impl Checker<'_> {
    // ---------------------------------------------------------------
    // ALU

    pub(super) fn alu(
        &mut self,
        pc: usize,
        st: &mut State,
        width: Width,
        op: AluOp,
        dst: Reg,
        src: Operand,
    ) -> R<()> {
        if dst == Reg::R10 {
            return self.write(pc, st, dst, RegState::UNKNOWN);
        }
        let b = match src {
            Operand::Imm(i) => RegState::Scalar(Scalar::constant(match width {
                Width::W64 => imm64(i),
                Width::W32 => u64::from(i as u32),
            })),
            Operand::Reg(r) => self.read(pc, st, r)?,
        };
        let src_reg = match src {
            Operand::Reg(r) => Some(r),
            Operand::Imm(_) => None,
        };
        let is_mov = matches!(
            op,
            AluOp::Mov | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32
        );
        if is_mov {
            if let RegState::Stale { .. } = b {
                if op == AluOp::Mov && width == Width::W64 {
                    return self.write(pc, st, dst, b);
                }
                return Err(self.stale(pc, st, src_reg.unwrap_or(dst)));
            }
            let v = match (b, op, width) {
                (RegState::Ptr(_), AluOp::Mov, Width::W64) => b,
                (RegState::Ptr(_), _, _) => {
                    if self.strict {
                        return Err(self.error(
                            ErrorKind::PointerLeak,
                            pc,
                            Some(st),
                            &[src_reg.unwrap_or(dst)],
                            "partial copy of a pointer",
                            None,
                        ));
                    }
                    RegState::UNKNOWN
                }
                (RegState::Scalar(s), AluOp::Mov, Width::W64) => {
                    // Link the copies so a later branch on one refines both.
                    if s.as_const().is_none()
                        && let Some(r) = src_reg
                    {
                        let mut s = s;
                        if s.id == 0 {
                            s.id = self.fresh_id();
                            st.cur_mut().regs[r.index()] = RegState::Scalar(s);
                        }
                        RegState::Scalar(s)
                    } else {
                        RegState::Scalar(s)
                    }
                }
                (RegState::Scalar(s), _, _) => {
                    RegState::Scalar(scalar::alu(width, op, &Scalar::constant(0), &s))
                }
                _ => unreachable!("read returns initialised registers"),
            };
            return self.write(pc, st, dst, v);
        }
        let a = self.read(pc, st, dst)?;
        if let RegState::Stale { .. } = a {
            return Err(self.stale(pc, st, dst));
        }
        if let RegState::Stale { .. } = b {
            return Err(self.stale(pc, st, src_reg.unwrap_or(dst)));
        }
        if matches!(op, AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod) && src_reg.is_some() {
            let nonzero = match (b, width) {
                (RegState::Scalar(s), Width::W64) => s.nonzero(),
                (RegState::Scalar(s), Width::W32) => s.low32().nonzero(),
                _ => false,
            };
            if !nonzero {
                self.facts[pc].divisor_nonzero = false;
            } else if let Some(r) = src_reg {
                // Engines drop the zero check on this fact: every path
                // pruned here must have a non-zero divisor too.
                self.demand_regs(st, 1 << r.num());
            }
        }
        // The number added to a pointer decides its offset, which later
        // accesses check.
        match (a, b, src_reg) {
            (RegState::Ptr(_), RegState::Scalar(_), Some(r)) => self.demand_regs(st, 1 << r.num()),
            (RegState::Scalar(_), RegState::Ptr(_), _) => self.demand_regs(st, 1 << dst.num()),
            _ => {}
        }
        let result = match (a, b) {
            (RegState::Scalar(x), RegState::Scalar(y)) => {
                RegState::Scalar(scalar::alu(width, op, &x, &y))
            }
            (RegState::Ptr(p), RegState::Scalar(s)) => {
                self.ptr_arith(pc, st, width, op, p, s, false, dst)?
            }
            (RegState::Scalar(s), RegState::Ptr(p)) => {
                self.ptr_arith(pc, st, width, op, p, s, true, src_reg.unwrap_or(dst))?
            }
            (RegState::Ptr(p), RegState::Ptr(q)) => {
                // Privileged programs may subtract pointers (`data_end -
                // data`); the difference is an unknown number.
                let _ = (p, q);
                if op == AluOp::Sub && !self.strict {
                    RegState::Scalar(match width {
                        Width::W64 => Scalar::UNKNOWN,
                        Width::W32 => Scalar::unsigned_upto(u64::from(u32::MAX)),
                    })
                } else {
                    // Unprivileged, even the difference would reveal
                    // addresses.
                    let kind = if op == AluOp::Sub {
                        ErrorKind::PointerLeak
                    } else {
                        ErrorKind::PointerArithmetic
                    };
                    return Err(self.error(
                        kind,
                        pc,
                        Some(st),
                        &[dst, src_reg.unwrap_or(dst)],
                        format!("{} of two pointers is not allowed", op_name(op)),
                        None,
                    ));
                }
            }
            _ => unreachable!("read returns initialised registers"),
        };
        self.write(pc, st, dst, result)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn ptr_arith(
        &mut self,
        pc: usize,
        st: &State,
        width: Width,
        op: AluOp,
        p: Ptr,
        s: Scalar,
        scalar_is_dst: bool,
        reg: Reg,
    ) -> R<RegState> {
        let fail = |this: &Self, msg: String| {
            Err(this.error(
                ErrorKind::PointerArithmetic,
                pc,
                Some(st),
                &[reg],
                msg,
                None,
            ))
        };
        if op == AluOp::Neg {
            if self.strict {
                return Err(self.error(
                    ErrorKind::PointerLeak,
                    pc,
                    Some(st),
                    &[reg],
                    "negating a pointer would reveal its address",
                    None,
                ));
            }
            return Ok(RegState::UNKNOWN);
        }
        if width == Width::W32 {
            // As the kernel: a 32-bit subtraction involving a pointer gives
            // a meaningless number to privileged programs
            // (`adjust_ptr_min_max_vals`); clang emits it for
            // `(u32)(data_end - data)`.
            if op == AluOp::Sub && !self.strict {
                return Ok(RegState::Scalar(Scalar::unsigned_upto(u64::from(u32::MAX))));
            }
            return fail(self, "32-bit arithmetic on a pointer is not allowed".into());
        }
        if p.maybe_null {
            return fail(
                self,
                "arithmetic on a pointer that may be null; check it against 0 first".into(),
            );
        }
        if matches!(
            p.kind,
            PtrKind::PacketEnd | PtrKind::MapPtr { .. } | PtrKind::Func { .. }
        ) {
            return fail(
                self,
                "arithmetic on this kind of pointer is not allowed".into(),
            );
        }
        let sub = match op {
            AluOp::Add => false,
            AluOp::Sub if !scalar_is_dst => true,
            AluOp::Sub => return fail(self, "subtracting a pointer from a number".into()),
            _ => return fail(self, format!("{} on a pointer is not allowed", op_name(op))),
        };
        // `adjust_ptr_min_max_vals`: "subtraction from stack pointer
        // prohibited", even of a constant (add a negative one instead).
        if sub && matches!(p.kind, PtrKind::Stack { .. }) {
            return fail(
                self,
                "subtraction from the stack pointer is not allowed; add a negative offset".into(),
            );
        }
        let mut q = p;
        if let Some(c) = s.as_const() {
            let c = c as i64;
            let off = if sub {
                p.off.checked_sub(c)
            } else {
                p.off.checked_add(c)
            };
            match off {
                Some(o) if o.abs() < MAX_VAR_OFF => q.off = o,
                _ => {
                    return fail(
                        self,
                        format!("offset {c} takes the pointer out of any object"),
                    );
                }
            }
            return Ok(RegState::Ptr(q));
        }
        // As `check_reg_sane_offset`: the minimum must be bounded; a large
        // maximum is caught by the bounds check of the access.
        if s.smin <= -MAX_VAR_OFF || s.smin >= MAX_VAR_OFF {
            return fail(
                self,
                format!("adding an unbounded number ({s}) to a pointer; bound it first"),
            );
        }
        let mut v = s;
        v.id = 0;
        q.var = scalar::alu(
            Width::W64,
            if sub { AluOp::Sub } else { AluOp::Add },
            &p.var,
            &v,
        );
        if q.var.smin <= -MAX_VAR_OFF || q.var.smin >= MAX_VAR_OFF {
            return fail(self, "the pointer's variable offset grows unbounded".into());
        }
        if q.kind.is_packet() {
            // A new variable offset: no range is proven for it yet.
            q.id = self.fresh_id();
            q.range = 0;
        }
        Ok(RegState::Ptr(q))
    }
}

pub(super) fn op_name(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "addition",
        AluOp::Sub => "subtraction",
        AluOp::Mul => "multiplication",
        AluOp::Div | AluOp::SDiv => "division",
        AluOp::Mod | AluOp::SMod => "modulo",
        AluOp::Or => "bitwise or",
        AluOp::And => "bitwise and",
        AluOp::Xor => "bitwise xor",
        AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => "shift",
        AluOp::Neg => "negation",
        _ => "move",
    }
}
