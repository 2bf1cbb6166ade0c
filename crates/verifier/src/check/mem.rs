//! Loads, stores and atomics through every pointer kind
//! (`check_mem_access`): context fields, stack slots and spills, packet
//! ranges, map values, helper memory.

use super::*;

impl Checker<'_> {
    // ---------------------------------------------------------------
    // Memory

    pub(super) fn mem(
        &mut self,
        pc: usize,
        st: &mut State,
        base: Reg,
        off: i16,
        size: usize,
        access: Access,
    ) -> R<RegState> {
        let v = self.read(pc, st, base)?;
        let p = match v {
            RegState::Ptr(p) => p,
            RegState::Stale { .. } => return Err(self.stale(pc, st, base)),
            RegState::Scalar(s) => {
                let what = if s.as_const() == Some(0) {
                    "a null pointer".to_string()
                } else {
                    "a number, not a pointer".to_string()
                };
                return Err(self.error(
                    ErrorKind::NullDeref,
                    pc,
                    Some(st),
                    &[base],
                    format!("dereference of r{}, which is {what}", base.num()),
                    None,
                ));
            }
            _ => unreachable!("read returns initialised registers"),
        };
        if p.maybe_null {
            return Err(self.error(
                ErrorKind::NullDeref,
                pc,
                Some(st),
                &[base],
                format!("r{} may be null", base.num()),
                Some("compare it with 0 before using it".into()),
            ));
        }
        let off = i64::from(off);
        let size_i = size as i64;
        // Pointers stored into memory outside the stack leak addresses.
        if let Access::Store {
            value: RegState::Ptr(_),
            ..
        } = access
            && self.strict
            && !matches!(p.kind, PtrKind::Stack { .. })
        {
            return Err(self.error(
                ErrorKind::PointerLeak,
                pc,
                Some(st),
                &[base],
                "a pointer is stored outside the stack",
                None,
            ));
        }
        let unknown = |size: usize| {
            RegState::Scalar(if size >= 8 {
                Scalar::UNKNOWN
            } else {
                Scalar::unsigned_upto((1u64 << (size * 8)) - 1)
            })
        };
        match p.kind {
            PtrKind::Ctx => self.ctx_access(pc, st, base, p, off, size, access),
            PtrKind::Stack { frame } => {
                self.stack_access(pc, st, base, frame, p, off, size, access)
            }
            PtrKind::Packet | PtrKind::PacketMeta => {
                if matches!(access, Access::Atomic) {
                    return Err(self.error(
                        ErrorKind::PacketOutOfBounds,
                        pc,
                        Some(st),
                        &[base],
                        "atomic operations on packet memory are not allowed",
                        None,
                    ));
                }
                let start = p.off + off;
                if start < 0 || p.var.smin < 0 || start + size_i > p.range {
                    return Err(self.error(
                        ErrorKind::PacketOutOfBounds,
                        pc,
                        Some(st),
                        &[base],
                        "packet access out of bounds",
                        Some(format!(
                            "this access needs bytes {start}..{} from the pointer's base, but {} are proven before data_end",
                            start + size_i,
                            p.range.max(0)
                        )),
                    ));
                }
                Ok(unknown(size))
            }
            PtrKind::PacketEnd => Err(self.error(
                ErrorKind::PacketOutOfBounds,
                pc,
                Some(st),
                &[base],
                "data_end points past the packet and cannot be dereferenced",
                None,
            )),
            PtrKind::MapValue { map } => {
                let info = &self.input.maps[map as usize];
                if access.writes() && info.readonly {
                    return Err(self.error(
                        ErrorKind::ReadonlyWrite,
                        pc,
                        Some(st),
                        &[base],
                        format!("write into read-only map {}", info.name),
                        None,
                    ));
                }
                let vs = i64::from(info.value_size);
                let lo = p.off + off + p.var.smin;
                let hi = p.off + off + p.var.umax.min(1 << 40) as i64 + size_i;
                if lo < 0 || hi > vs || p.var.smin < 0 && !p.fixed() {
                    return Err(self.error(
                        ErrorKind::MapValueOutOfBounds,
                        pc,
                        Some(st),
                        &[base],
                        "map value access out of bounds",
                        Some(format!(
                            "this access may touch bytes {lo}..{hi} of a {vs}-byte value"
                        )),
                    ));
                }
                // `check_mem_access` → `bpf_map_direct_read`: a load at a
                // constant offset of a frozen read-only map reads the value
                // itself (little-endian, the object's byte order).
                if let (Access::Load, Some(bytes), Some(var)) =
                    (access, info.rodata.as_deref(), p.var.as_const())
                    && matches!(size, 1 | 2 | 4 | 8)
                {
                    let at = p.off + off + var as i64;
                    if let Some(b) = usize::try_from(at)
                        .ok()
                        .and_then(|at| bytes.get(at..at.checked_add(size)?))
                    {
                        let mut le = [0u8; 8];
                        le[..size].copy_from_slice(b);
                        return Ok(RegState::Scalar(Scalar::constant(u64::from_le_bytes(le))));
                    }
                }
                Ok(unknown(size))
            }
            PtrKind::Mem { size: total } => {
                let lo = p.off + off + p.var.smin;
                let hi = p.off + off + p.var.umax.min(1 << 40) as i64 + size_i;
                if lo < 0 || hi > i64::from(total) {
                    return Err(self.error(
                        ErrorKind::MapValueOutOfBounds,
                        pc,
                        Some(st),
                        &[base],
                        "access outside helper-provided memory",
                        Some(format!("bytes {lo}..{hi} of {total}")),
                    ));
                }
                Ok(unknown(size))
            }
            PtrKind::MapPtr { .. } | PtrKind::Func { .. } => Err(self.error(
                ErrorKind::NullDeref,
                pc,
                Some(st),
                &[base],
                format!("r{} cannot be dereferenced", base.num()),
                None,
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn ctx_access(
        &mut self,
        pc: usize,
        st: &State,
        base: Reg,
        p: Ptr,
        off: i64,
        size: usize,
        access: Access,
    ) -> R<RegState> {
        let fail = |this: &Self, msg: String| {
            Err(this.error(ErrorKind::CtxAccess, pc, Some(st), &[base], msg, None))
        };
        if p.off != 0 || !p.fixed() {
            return fail(
                self,
                "dereference of a modified context pointer; use the offset in the instruction"
                    .into(),
            );
        }
        if let Access::Atomic = access {
            return fail(
                self,
                "atomic operations on the context are not allowed".into(),
            );
        }
        let Some(layout) = layout(self.input.program_type) else {
            // Types without a modelled layout: read-only, aligned, in the
            // first 512 bytes.
            if access.writes() || off < 0 || off + size as i64 > 512 || off % size as i64 != 0 {
                return fail(
                    self,
                    format!(
                        "context access of {size} bytes at offset {off} is not allowed for {} programs",
                        self.input.program_type
                    ),
                );
            }
            return Ok(RegState::UNKNOWN);
        };
        match layout.access(off, size as u8, access.writes()) {
            Err(e) => fail(self, e.to_string()),
            // `xdp_is_valid_access`: egress_ifindex exists only for
            // programs attached to a devmap.
            Ok(a)
                if self.input.program_type == ProgramType::Xdp
                    && a.field.name == "egress_ifindex" =>
            {
                fail(
                    self,
                    "xdp_md.egress_ifindex is readable only by programs attached to a devmap"
                        .into(),
                )
            }
            // `xdp_is_valid_access` takes whole 4-byte fields only.
            Ok(a)
                if self.input.program_type == ProgramType::Xdp
                    && usize::from(a.field.size) != size =>
            {
                fail(
                    self,
                    format!(
                        "xdp_md.{} must be accessed whole ({} bytes), not {size}",
                        a.field.name, a.field.size
                    ),
                )
            }
            Ok(a) => Ok(match a.field.kind {
                FieldKind::Scalar => RegState::Scalar(if size >= 8 {
                    Scalar::UNKNOWN
                } else {
                    Scalar::unsigned_upto((1u64 << (size * 8)) - 1)
                }),
                FieldKind::PacketStart => RegState::Ptr(Ptr::new(PtrKind::Packet)),
                FieldKind::PacketEnd => RegState::Ptr(Ptr::new(PtrKind::PacketEnd)),
                FieldKind::PacketMeta => RegState::Ptr(Ptr::new(PtrKind::PacketMeta)),
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn stack_access(
        &mut self,
        pc: usize,
        st: &mut State,
        base: Reg,
        frame: u8,
        p: Ptr,
        off: i64,
        size: usize,
        access: Access,
    ) -> R<RegState> {
        let size_i = size as i64;
        let start = p.off + off;
        let limit = STACK_PER_FRAME as i64;
        if p.fixed() {
            if start < -limit || start + size_i > 0 {
                return Err(self.error(
                    ErrorKind::StackOutOfBounds,
                    pc,
                    Some(st),
                    &[base],
                    "stack access out of bounds",
                    Some(format!(
                        "this access needs bytes {start}..{} from r10; the frame is -512..0",
                        start + size_i
                    )),
                ));
            }
            if start % size_i != 0 {
                return Err(self.error(
                    ErrorKind::StackOutOfBounds,
                    pc,
                    Some(st),
                    &[base],
                    format!("misaligned stack access: {size} bytes at offset {start}"),
                    None,
                ));
            }
        } else {
            let lo = start + p.var.smin;
            let hi = start + p.var.smax.min(1 << 40) + size_i;
            if lo < -limit || hi > 0 {
                return Err(self.error(
                    ErrorKind::StackOutOfBounds,
                    pc,
                    Some(st),
                    &[base],
                    "variable stack access out of bounds",
                    Some(format!("this access may touch bytes {lo}..{hi} from r10")),
                ));
            }
        }
        // What the access looks at of the slots' old contents (an 8-byte
        // store at a fixed offset looks at nothing; a write at a variable
        // offset only makes bytes unknown).
        let observes = match access {
            Access::Store { .. } => p.fixed() && size != 8,
            _ => true,
        };
        if observes {
            let (lo, hi) = if p.fixed() {
                (start, start + size_i)
            } else {
                (start + p.var.smin, start + p.var.smax.min(1 << 40) + size_i)
            };
            self.mark_read(usize::from(frame), precision::slot_range(lo, hi));
        }
        let strict = self.strict;
        let Some(f) = st.frames.get_mut(frame as usize) else {
            return Err(self.error(
                ErrorKind::StackOutOfBounds,
                pc,
                Some(st),
                &[base],
                "the pointer refers to the stack of a function that returned",
                None,
            ));
        };
        if !p.fixed() {
            let lo = start + p.var.smin;
            let hi = start + p.var.smax.min(1 << 40) + size_i;
            if access.writes() {
                for o in lo..hi {
                    set_stack_byte(f, o, ByteState::Misc);
                }
                return Ok(RegState::UNKNOWN);
            }
            let uninit = (lo..hi).any(|o| stack_byte(f, o) == ByteState::Uninit);
            if uninit {
                self.reads_uninit_stack.get_or_insert(pc);
            }
            if strict && uninit {
                return Err(self.error(
                    ErrorKind::UninitStack,
                    pc,
                    Some(st),
                    &[base],
                    "the read may touch uninitialised stack",
                    None,
                ));
            }
            return Ok(RegState::Scalar(Scalar::UNKNOWN.truncate(size)));
        }
        let slot = ((start + limit) / 8) as usize;
        // A spilled pointer is read and overwritten whole only
        // (`check_stack_read_fixed_off`: "invalid size of register fill";
        // unprivileged, "attempt to corrupt spilled pointer").
        let spilled_ptr = matches!(f.slot(slot), Slot::Spill(r) if r.is_ptr() || matches!(r, RegState::Stale { .. }));
        if spilled_ptr && size != 8 {
            let write = access.writes();
            if !write || strict {
                return Err(self.error(
                    if write { ErrorKind::PointerLeak } else { ErrorKind::StackOutOfBounds },
                    pc,
                    Some(st),
                    &[base],
                    format!(
                        "{}-byte {} of a spilled pointer at offset {start}; pointers are spilled and filled whole",
                        size,
                        if write { "overwrite" } else { "read" }
                    ),
                    None,
                ));
            }
        }
        match access {
            Access::Store { value, .. } => {
                if size == 8 {
                    *f.slot_mut(slot) = Slot::Spill(value);
                } else {
                    if value.is_ptr() {
                        return Err(self.error(
                            ErrorKind::StackOutOfBounds,
                            pc,
                            Some(st),
                            &[base],
                            format!("a pointer is spilled with a {size}-byte store; spills must be 8 bytes"),
                            None,
                        ));
                    }
                    let b = match value {
                        RegState::Scalar(s) if s.truncate(size).as_const() == Some(0) => {
                            ByteState::Zero
                        }
                        _ => ByteState::Misc,
                    };
                    for o in start..start + size_i {
                        set_stack_byte(f, o, b);
                    }
                    // Remember the number itself, so that reading these
                    // bytes back keeps its range.
                    // Only at the start of a slot, as the kernel's
                    // `save_register_state` for narrow spills.
                    if let RegState::Scalar(v) = value
                        && (start + limit) % 8 == 0
                        && let Slot::Bytes(bytes) = f.slot(slot)
                    {
                        *f.slot_mut(slot) = Slot::Narrow {
                            pos: ((start + limit) % 8) as u8,
                            size: size as u8,
                            value: v.truncate(size),
                            bytes,
                        };
                    }
                }
                Ok(RegState::UNKNOWN)
            }
            Access::Atomic => {
                for o in start..start + size_i {
                    let uninit = stack_byte(f, o) == ByteState::Uninit;
                    if uninit {
                        self.reads_uninit_stack.get_or_insert(pc);
                    }
                    if uninit && strict {
                        return Err(self.error(
                            ErrorKind::UninitStack,
                            pc,
                            Some(st),
                            &[base],
                            "atomic operation on uninitialised stack",
                            None,
                        ));
                    }
                }
                for o in start..start + size_i {
                    set_stack_byte(f, o, ByteState::Misc);
                }
                Ok(RegState::UNKNOWN)
            }
            Access::Load => {
                if let Slot::Narrow {
                    pos,
                    size: n,
                    value,
                    ..
                } = f.slot(slot)
                    && i64::from(pos) == (start + limit) % 8
                    && usize::from(n) == size
                {
                    return Ok(RegState::Scalar(value));
                }
                if let Slot::Spill(r) = f.slot(slot) {
                    if size == 8 {
                        return Ok(match r {
                            RegState::Uninit | RegState::Scratched { .. } => RegState::UNKNOWN,
                            other => other,
                        });
                    }
                    if let RegState::Scalar(s) = r {
                        let shift = (start + limit) % 8 * 8;
                        let v = scalar::alu(
                            Width::W64,
                            AluOp::Rsh,
                            &s,
                            &Scalar::constant(shift as u64),
                        );
                        return Ok(RegState::Scalar(v.truncate(size)));
                    }
                    return Ok(RegState::Scalar(Scalar::UNKNOWN.truncate(size)));
                }
                let mut all_zero = true;
                for o in start..start + size_i {
                    match stack_byte(f, o) {
                        ByteState::Uninit => {
                            all_zero = false;
                            self.reads_uninit_stack.get_or_insert(pc);
                            if strict {
                                return Err(self.error(
                                    ErrorKind::UninitStack,
                                    pc,
                                    Some(st),
                                    &[base],
                                    format!("read of uninitialised stack at offset {o} from r10"),
                                    None,
                                ));
                            }
                        }
                        ByteState::Misc => all_zero = false,
                        ByteState::Zero => {}
                    }
                }
                Ok(RegState::Scalar(if all_zero {
                    Scalar::constant(0)
                } else {
                    Scalar::UNKNOWN.truncate(size)
                }))
            }
        }
    }
}

/// The byte at `off` from r10 (negative).
pub(super) fn stack_byte(f: &Frame, off: i64) -> ByteState {
    let i = (off + STACK_PER_FRAME as i64) as usize;
    match &f.slot(i / 8) {
        Slot::Bytes(b) | Slot::Narrow { bytes: b, .. } => b[i % 8],
        Slot::Spill(RegState::Uninit | RegState::Scratched { .. }) => ByteState::Uninit,
        Slot::Spill(RegState::Scalar(s)) if s.as_const() == Some(0) => ByteState::Zero,
        Slot::Spill(_) => ByteState::Misc,
    }
}

/// Sets one stack byte, turning a spilled register into bytes.
pub(super) fn set_stack_byte(f: &mut Frame, off: i64, b: ByteState) {
    let i = (off + STACK_PER_FRAME as i64) as usize;
    if i / 8 >= SLOTS {
        return;
    }
    let slot = f.slot_mut(i / 8);
    if let Slot::Narrow { bytes, .. } = *slot {
        *slot = Slot::Bytes(bytes);
    }
    if let Slot::Spill(r) = *slot {
        let fill = match r {
            RegState::Uninit | RegState::Scratched { .. } => ByteState::Uninit,
            RegState::Scalar(s) if s.as_const() == Some(0) => ByteState::Zero,
            _ => ByteState::Misc,
        };
        *slot = Slot::Bytes([fill; 8]);
    }
    if let Slot::Bytes(bytes) = slot {
        bytes[i % 8] = b;
    }
}

/// The `size` bytes at `off` from r10, when they hold a known number.
pub(super) fn stack_const(f: &Frame, off: i64, size: usize) -> Option<u64> {
    let limit = STACK_PER_FRAME as i64;
    if off < -limit || off + size as i64 > 0 {
        return None;
    }
    let i = (off + limit) as usize;
    let pos = i % 8;
    // As `get_constant_map_key`: zeros, or a spill of exactly this size.
    match f.slot(i / 8) {
        Slot::Narrow {
            pos: p,
            size: n,
            value,
            ..
        } if usize::from(p) == pos && usize::from(n) == size && value.as_const().is_some() => {
            value.as_const()
        }
        _ => (off..off + size as i64)
            .all(|o| stack_byte(f, o) == ByteState::Zero)
            .then_some(0),
    }
}
