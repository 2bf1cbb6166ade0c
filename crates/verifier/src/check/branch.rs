//! Conditional jumps: both successors refined (`check_cond_jmp_op`),
//! null checks, packet ranges learned from `data_end`.

use super::*;

impl Checker<'_> {
    // ---------------------------------------------------------------
    // Branches

    #[allow(clippy::too_many_arguments)]
    pub(super) fn branch(
        &mut self,
        pc: usize,
        st: &mut State,
        width: Width,
        cond: JmpCond,
        dst: Reg,
        src: Operand,
        target: usize,
    ) -> R<Flow> {
        let a = self.read(pc, st, dst)?;
        let (b, src_reg) = match src {
            Operand::Imm(i) => (
                RegState::Scalar(Scalar::constant(match width {
                    Width::W64 => imm64(i),
                    Width::W32 => u64::from(i as u32),
                })),
                None,
            ),
            Operand::Reg(r) => (self.read(pc, st, r)?, Some(r)),
        };
        if let RegState::Stale { .. } = a {
            return Err(self.stale(pc, st, dst));
        }
        if let (RegState::Stale { .. }, Some(r)) = (b, src_reg) {
            return Err(self.stale(pc, st, r));
        }
        // Each side: None when impossible, else the refinement to apply.
        let mut taken = st.clone();
        let mut fall = std::mem::replace(
            st,
            State {
                frames: Vec::new(),
                refs: Default::default(),
                path: None,
            },
        );
        let (t_ok, f_ok) = match (a, b) {
            (RegState::Scalar(x), RegState::Scalar(y)) => {
                let t = scalar::refine(width, cond, true, &x, &y);
                let f = scalar::refine(width, cond, false, &x, &y);
                if let Some((x2, y2)) = t {
                    set_scalar(&mut taken, dst, x2);
                    if let Some(r) = src_reg {
                        set_scalar(&mut taken, r, y2);
                    }
                }
                if let Some((x2, y2)) = f {
                    set_scalar(&mut fall, dst, x2);
                    if let Some(r) = src_reg {
                        set_scalar(&mut fall, r, y2);
                    }
                }
                (t.is_some(), f.is_some())
            }
            (RegState::Ptr(p), RegState::Scalar(s)) | (RegState::Scalar(s), RegState::Ptr(p))
                if s.as_const() == Some(0)
                    && width == Width::W64
                    && matches!(cond, JmpCond::Eq | JmpCond::Ne) =>
            {
                let eq_side_is_taken = cond == JmpCond::Eq;
                if p.maybe_null {
                    let (null_st, ok_st) = if eq_side_is_taken {
                        (&mut taken, &mut fall)
                    } else {
                        (&mut fall, &mut taken)
                    };
                    mark_null(null_st, p.id, true);
                    self.keep_lock_id(ok_st, &p);
                    mark_null(ok_st, p.id, false);
                    (true, true)
                } else if matches!(p.kind, PtrKind::MapValue { .. } | PtrKind::Mem { .. }) {
                    // A checked map value or helper memory pointer is never
                    // null (`reg_not_null`).
                    (!eq_side_is_taken, eq_side_is_taken)
                } else {
                    // The kernel does not decide these (`reg_not_null`),
                    // so both sides are explored.
                    (true, true)
                }
            }
            (RegState::Ptr(p), RegState::Ptr(q)) => {
                let learned =
                    width == Width::W64 && self.packet_compare(&mut taken, &mut fall, cond, p, q);
                if !learned && self.strict {
                    return Err(self.error(
                        ErrorKind::PointerLeak,
                        pc,
                        Some(&fall),
                        &[dst, src_reg.unwrap_or(dst)],
                        "comparing these pointers is not allowed unprivileged",
                        None,
                    ));
                }
                (true, true)
            }
            _ => {
                if self.strict {
                    return Err(self.error(
                        ErrorKind::PointerLeak,
                        pc,
                        Some(&fall),
                        &[dst],
                        "comparing a pointer with a number is not allowed unprivileged",
                        None,
                    ));
                }
                (true, true)
            }
        };
        match (t_ok, f_ok) {
            (true, true) => {
                taken.push_path(pc, true);
                fall.push_path(pc, false);
                *st = fall;
                Ok(Flow::Fork {
                    next: pc + 1,
                    other: (target, Box::new(taken)),
                })
            }
            (true, false) => {
                *st = taken;
                Ok(Flow::Next(target))
            }
            (false, true) => {
                *st = fall;
                Ok(Flow::Next(pc + 1))
            }
            (false, false) => {
                *st = fall;
                Ok(Flow::End)
            }
        }
    }

    /// Learns packet ranges from comparing a packet pointer with the end
    /// of its area (`try_match_pkt_pointers`): `data + X <= data_end`
    /// proves X bytes for every pointer with the same variable offset, and
    /// `meta + X <= data` likewise for metadata. Returns whether the
    /// comparison is one of these shapes.
    pub(super) fn packet_compare(
        &self,
        taken: &mut State,
        fall: &mut State,
        cond: JmpCond,
        a: Ptr,
        b: Ptr,
    ) -> bool {
        let is_end = |p: &Ptr, e: &Ptr| match p.kind {
            PtrKind::Packet => e.kind == PtrKind::PacketEnd,
            PtrKind::PacketMeta => {
                e.kind == PtrKind::Packet && e.off == 0 && e.fixed() && e.id == 0
            }
            _ => false,
        };
        let (p, cond) = if is_end(&a, &b) {
            (a, cond)
        } else if is_end(&b, &a) {
            (b, scalar::swap(cond))
        } else {
            return a.kind.is_packet() && b.kind.is_packet();
        };
        // Which side knows `p <= end` (X bytes) or `p < end` (X + 1
        // bytes, as the kernel also concludes).
        let side = match cond {
            JmpCond::Gt => Some((false, 0)),
            JmpCond::Ge => Some((false, 1)),
            JmpCond::Lt => Some((true, 1)),
            JmpCond::Le => Some((true, 0)),
            _ => None,
        };
        if let Some((on_taken, extra)) = side
            && p.off >= 0
            && p.var.umax <= MAX_PACKET_OFF as u64
            && p.var.umax as i64 + p.off <= MAX_PACKET_OFF
        {
            let st = if on_taken { taken } else { fall };
            let (kind, id, range) = (p.kind, p.id, p.off + extra);
            st.for_each_reg(|r| {
                if let RegState::Ptr(q) = r
                    && q.kind == kind
                    && q.id == id
                {
                    q.range = q.range.max(range);
                }
            });
        }
        true
    }
}

/// Sets a scalar register after a branch, and every register linked to it
/// by a `mov` (same non-zero id).
pub(super) fn set_scalar(st: &mut State, r: Reg, s: Scalar) {
    let id = s.id;
    st.cur_mut().regs[r.index()] = RegState::Scalar(s);
    if id != 0 {
        st.for_each_reg(|x| {
            if let RegState::Scalar(y) = x
                && y.id == id
            {
                *y = s;
            }
        });
    }
}

/// After a null check: every copy of the maybe-null pointer `id` becomes
/// the number 0 (`null`) or a valid pointer.
pub(super) fn mark_null(st: &mut State, id: u32, null: bool) {
    if null {
        // A null ring buffer record reserved nothing.
        super::refs::drop_ref(st, id);
    }
    st.for_each_reg(|r| {
        if let RegState::Ptr(p) = r
            && p.maybe_null
            && p.id == id
        {
            if null {
                *r = RegState::Scalar(Scalar::constant(0));
            } else {
                p.maybe_null = false;
                p.id = 0;
            }
        }
    });
}
