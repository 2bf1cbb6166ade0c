//! Calls and exits: helper prototypes and allowlists (`check_helper_call`),
//! bpf-to-bpf frames, callbacks, return values.

use super::*;

impl Checker<'_> {
    // ---------------------------------------------------------------
    // Calls

    pub(super) fn exit(&mut self, pc: usize, st: &mut State) -> R<Flow> {
        if st.frames.len() > 1 {
            let depth = st.frames.len() - 1;
            let ret = st.cur().ret.expect("a called frame has a return address");
            if ret == CALLBACK_RET {
                // Callbacks return 0 (continue) or 1 (stop).
                let r0 = self.read(pc, st, Reg::R0)?;
                self.demand_regs(st, 1);
                if !matches!(r0, RegState::Scalar(s) if s.umax <= 1) {
                    return Err(self.error(
                        ErrorKind::HelperArgument,
                        pc,
                        Some(st),
                        &[Reg::R0],
                        "a bpf_loop callback must return 0 or 1",
                        None,
                    ));
                }
                self.check_callback_leaks(pc, st)?;
                return Ok(Flow::End);
            }
            // As the kernel's `prepare_func_exit`, r0 is handed back as
            // it is (a void function leaves it unset; the caller may not
            // read it then), except a pointer into the frame that ends.
            let r0 = st.cur().regs[0];
            if let RegState::Ptr(Ptr {
                kind: PtrKind::Stack { frame },
                ..
            }) = r0
                && usize::from(frame) == depth
            {
                return Err(self.error(
                    ErrorKind::StackOutOfBounds,
                    pc,
                    Some(st),
                    &[Reg::R0],
                    "a function returns a pointer to its own stack, which ends here",
                    None,
                ));
            }
            st.frames.pop();
            let f = st.cur_mut();
            f.regs[0] = r0;
            for r in 1..=5 {
                f.regs[r] = RegState::Scratched { at: ret - 1 };
            }
            return Ok(Flow::Next(ret));
        }
        // As the kernel, leaks are checked before the return value.
        self.check_leaks(pc, st, refs::LeakAt::Exit)?;
        let r0 = self.read(pc, st, Reg::R0)?;
        if self.strict {
            // The XDP return value warning depends on it.
            self.demand_regs(st, 1);
        }
        match r0 {
            RegState::Ptr(_) | RegState::Stale { .. } if self.strict => {
                return Err(self.error(
                    ErrorKind::PointerLeak,
                    pc,
                    Some(st),
                    &[Reg::R0],
                    "the program returns a pointer",
                    None,
                ));
            }
            RegState::Scalar(s)
                if self.strict && self.input.program_type == ProgramType::Xdp && s.umax > 4 =>
            {
                let w = format!(
                    "insn {pc}: the XDP return value may be {s}, outside the actions 0..=4"
                );
                if !self.warnings.contains(&w) {
                    self.warnings.push(w);
                }
            }
            _ => {}
        }
        Ok(Flow::End)
    }

    pub(super) fn call_helper(&mut self, pc: usize, st: &mut State, id: i32) -> R<Flow> {
        let t = self.input.program_type;
        self.lock_allows_helper(pc, st, id)?;
        let Some(spec) = helpers::spec(id) else {
            return Err(self.error(
                ErrorKind::HelperNotAllowed,
                pc,
                Some(st),
                &[],
                format!("unknown helper {id}"),
                None,
            ));
        };
        if !helpers::allowed(spec.allow, t) {
            return Err(self.error(
                ErrorKind::HelperNotAllowed,
                pc,
                Some(st),
                &[],
                format!("helper {} ({id}) is not allowed in {t} programs", spec.name),
                None,
            ));
        }
        let mut map: Option<u32> = None;
        let mut callback: Option<usize> = None;
        let mut ret_size: u32 = 0;
        let mut release: Option<u32> = None;
        for (i, arg) in spec.args.iter().enumerate() {
            let r = Reg::new(i as u8 + 1).expect("at most 5 arguments");
            let v = self.read(pc, st, r)?;
            if let RegState::Stale { .. } = v {
                return Err(self.stale(pc, st, r));
            }
            // Every argument but a plain value is checked by its value.
            if *arg != Arg::Anything {
                self.demand_regs(st, 1 << r.num());
            }
            let bad = |this: &Self, what: &str| {
                Err(this.error(
                    ErrorKind::HelperArgument,
                    pc,
                    Some(st),
                    &[r],
                    format!("argument {} of {} must be {what}", i + 1, spec.name),
                    None,
                ))
            };
            match arg {
                Arg::Anything => {
                    if v.is_ptr() && self.strict {
                        return Err(self.error(
                            ErrorKind::PointerLeak,
                            pc,
                            Some(st),
                            &[r],
                            format!("r{} leaks a pointer into helper {}", i + 1, spec.name),
                            None,
                        ));
                    }
                }
                Arg::MapPtr => match v {
                    RegState::Ptr(Ptr {
                        kind: PtrKind::MapPtr { map: m },
                        off: 0,
                        maybe_null: false,
                        ..
                    }) => {
                        self.check_map_compat(pc, st, spec.id, m)?;
                        map = Some(m);
                    }
                    _ => return bad(self, "a map (lddw of a map)"),
                },
                Arg::MapKey | Arg::MapValue | Arg::MapValueOut => {
                    let Some(m) = map else {
                        return bad(self, "preceded by a map");
                    };
                    let info = &self.input.maps[m as usize];
                    let size = if *arg == Arg::MapKey {
                        info.key_size
                    } else {
                        info.value_size
                    };
                    self.helper_mem(
                        pc,
                        st,
                        r,
                        &v,
                        u64::from(size),
                        u64::from(size),
                        *arg == Arg::MapValueOut,
                        spec.name,
                    )?;
                }
                Arg::ReadMem | Arg::WriteMem => {
                    let next = spec.args.get(i + 1);
                    let sr = Reg::new(i as u8 + 2).expect("size follows");
                    let size = match (next, self.read(pc, st, sr)?) {
                        (
                            Some(Arg::SizeOrZero | Arg::Size | Arg::ConstSize),
                            RegState::Scalar(s),
                        ) => s,
                        _ => return bad(self, "followed by a size"),
                    };
                    if size.umax > 1 << 29 || size.smin < 0 {
                        return Err(self.error(
                            ErrorKind::HelperArgument,
                            pc,
                            Some(st),
                            &[sr],
                            format!("the size in r{} for {} is not bounded", i + 2, spec.name),
                            None,
                        ));
                    }
                    let min = if next == Some(&Arg::SizeOrZero) {
                        0
                    } else {
                        size.umin.max(1)
                    };
                    self.helper_mem(
                        pc,
                        st,
                        r,
                        &v,
                        min,
                        size.umax,
                        *arg == Arg::WriteMem,
                        spec.name,
                    )?;
                }
                Arg::SizeOrZero | Arg::Size | Arg::ConstSize => {
                    let RegState::Scalar(s) = v else {
                        return bad(self, "a number");
                    };
                    if *arg == Arg::Size && s.umax == 0 {
                        return bad(self, "a non-zero size");
                    }
                    if *arg == Arg::ConstSize {
                        match s.as_const() {
                            Some(c) if c > 0 && c < 1 << 29 => ret_size = c as u32,
                            _ => return bad(self, "a constant size"),
                        }
                    }
                }
                Arg::Ctx => match v {
                    RegState::Ptr(p) if p.kind == PtrKind::Ctx && p.off == 0 && p.fixed() => {}
                    _ => return bad(self, "the context pointer, unmodified"),
                },
                Arg::Func => match v {
                    RegState::Ptr(Ptr {
                        kind: PtrKind::Func { entry },
                        ..
                    }) => callback = Some(entry),
                    _ => return bad(self, "a function address"),
                },
                Arg::MapValuePtr => match v {
                    RegState::Ptr(p)
                        if matches!(p.kind, PtrKind::MapValue { .. }) && !p.maybe_null => {}
                    _ => return bad(self, "a pointer into a map value (checked against null)"),
                },
                Arg::RingbufMem => match v {
                    RegState::Ptr(p)
                        if matches!(p.kind, PtrKind::Mem { .. })
                            && !p.maybe_null
                            && p.off == 0
                            && p.fixed() =>
                    {
                        self.check_release(pc, st, r, &p)?;
                        release = Some(p.ref_obj);
                    }
                    _ => return bad(self, "a ring buffer record (checked against null)"),
                },
            }
        }
        // trace_printk formats r3-r5 into the trace: unprivileged, a
        // pointer there leaks its address (the kernel does not give
        // trace_printk to unprivileged programs at all).
        if self.strict && spec.id == oxbpf_abi::helper::kernel::TRACE_PRINTK {
            for r in [Reg::R3, Reg::R4, Reg::R5] {
                if st.cur().regs[r.index()].is_ptr() {
                    return Err(self.error(
                        ErrorKind::PointerLeak,
                        pc,
                        Some(st),
                        &[r],
                        format!("r{} leaks a pointer into trace_printk's output", r.num()),
                        None,
                    ));
                }
            }
        }
        match u32::try_from(id).ok() {
            Some(oxbpf_abi::helper::kernel::TAIL_CALL) => {
                self.check_leaks(pc, st, refs::LeakAt::TailCall)?;
            }
            Some(helpers::extra_ids::SPIN_LOCK) => self.spin_lock(pc, st, true)?,
            Some(helpers::extra_ids::SPIN_UNLOCK) => self.spin_lock(pc, st, false)?,
            _ => {}
        }
        if let Some(r) = release {
            self.release(st, r);
        }
        // The callback of bpf_loop runs as a function of its own with the
        // index in r1 and the context argument in r2; its effects are
        // explored as a separate path.
        let mut other = None;
        if let Some(entry) = callback {
            if st.frames.len() >= KERNEL_MAX_FRAMES {
                return Err(self.error(
                    ErrorKind::CallDepth,
                    pc,
                    Some(st),
                    &[],
                    format!("calls nest deeper than {KERNEL_MAX_FRAMES} frames"),
                    None,
                ));
            }
            let mut cb = st.clone();
            // What the callback reserves from here on is its own to release.
            cb.refs.callback_floor = Some(self.next_id);
            let depth = cb.frames.len() as u8;
            let mut f = Frame::new(depth, entry, Some(CALLBACK_RET));
            f.regs[1] = RegState::Scalar(Scalar::unsigned_upto(u64::from(u32::MAX)));
            f.regs[2] = st.cur().regs[3];
            cb.frames.push(f);
            other = Some((entry, Box::new(cb)));
            // The callback may have written through its context pointer.
            self.clobber_pointee(st, st.cur().regs[3]);
        }
        if spec.moves_packet {
            st.for_each_reg(|r| {
                if let RegState::Ptr(p) = r
                    && p.kind.is_packet()
                {
                    *r = RegState::Stale { at: pc };
                }
            });
        }
        let r0 = match spec.ret {
            Ret::Integer => RegState::UNKNOWN,
            Ret::U32 => RegState::Scalar(Scalar::unsigned_upto(u64::from(u32::MAX))),
            Ret::MapValueOrNull => {
                let m = map.expect("lookup has a map argument");
                let info = &self.input.maps[m as usize];
                let kind = match (info.kind, info.inner) {
                    (MapKind::ArrayOfMaps | MapKind::HashOfMaps, Some(inner)) => {
                        PtrKind::MapPtr { map: inner }
                    }
                    _ => PtrKind::MapValue { map: m },
                };
                let mut p = Ptr::new(kind);
                // An array lookup with a constant key below max_entries
                // cannot fail; the kernel knows it too.
                let always = matches!(info.kind, MapKind::Array | MapKind::PercpuArray)
                    && info.key_size == 4
                    && const_key(st, st.cur().regs[2])
                        .is_some_and(|k| k < u64::from(info.max_entries));
                // The key's slot decided it: pruned states need the same.
                if matches!(info.kind, MapKind::Array | MapKind::PercpuArray)
                    && let Some((frame, off)) = key_slots(st.cur().regs[2])
                {
                    self.demand_stack(frame, off, off + 4);
                }
                if !always {
                    p.maybe_null = true;
                    p.id = self.fresh_id();
                } else if self.uses_locks {
                    // Which lookup a value came from names its lock.
                    p.id = self.fresh_id();
                }
                RegState::Ptr(p)
            }
            Ret::RingbufMemOrNull => {
                let p = Ptr::new(PtrKind::Mem { size: ret_size });
                RegState::Ptr(self.acquire(pc, st, p))
            }
        };
        let f = st.cur_mut();
        f.regs[0] = r0;
        for r in 1..=5 {
            f.regs[r] = RegState::Scratched { at: pc };
        }
        Ok(match other {
            Some(o) => Flow::Fork {
                next: pc + 1,
                other: o,
            },
            None => Flow::Next(pc + 1),
        })
    }

    /// After a callback that may write through `p`, a stack area it points
    /// into holds unknown values.
    pub(super) fn clobber_pointee(&self, st: &mut State, p: RegState) {
        if let RegState::Ptr(Ptr {
            kind: PtrKind::Stack { frame },
            ..
        }) = p
            && let Some(f) = st.frames.get_mut(frame as usize)
        {
            for s in f.slots_mut() {
                let keep_uninit =
                    matches!(s, Slot::Bytes(b) if b.iter().all(|x| *x == ByteState::Uninit));
                if !keep_uninit {
                    *s = Slot::Bytes([ByteState::Misc; 8]);
                }
            }
        }
    }

    /// Map kinds a helper accepts (`check_map_func_compatibility`).
    pub(super) fn check_map_compat(&self, pc: usize, st: &State, helper: u32, m: u32) -> R<()> {
        use helpers::extra_ids as x;
        use oxbpf_abi::helper::kernel as ids;
        let kind = self.input.maps[m as usize].kind;
        let ok = match kind {
            MapKind::ProgArray => helper == ids::TAIL_CALL,
            MapKind::Ringbuf => matches!(
                helper,
                x::RINGBUF_OUTPUT | x::RINGBUF_RESERVE | x::RINGBUF_QUERY
            ),
            MapKind::PerfEventArray => helper == x::PERF_EVENT_OUTPUT,
            MapKind::Devmap | MapKind::DevmapHash | MapKind::Cpumap | MapKind::Xskmap => {
                matches!(helper, ids::REDIRECT_MAP | ids::MAP_LOOKUP_ELEM)
            }
            MapKind::Queue | MapKind::Stack => matches!(
                helper,
                x::MAP_PUSH_ELEM | x::MAP_POP_ELEM | x::MAP_PEEK_ELEM
            ),
            _ => !matches!(
                helper,
                ids::TAIL_CALL
                    | x::RINGBUF_OUTPUT
                    | x::RINGBUF_RESERVE
                    | x::RINGBUF_QUERY
                    | x::PERF_EVENT_OUTPUT
                    | ids::REDIRECT_MAP
                    | x::MAP_PUSH_ELEM
                    | x::MAP_POP_ELEM
                    | x::MAP_PEEK_ELEM
            ),
        };
        if ok {
            Ok(())
        } else {
            let name = helpers::spec(helper as i32).map(|s| s.name).unwrap_or("?");
            Err(self.error(
                ErrorKind::HelperArgument,
                pc,
                Some(st),
                &[Reg::R1],
                format!("helper {name} cannot be used with a {} map", kind.name()),
                None,
            ))
        }
    }

    /// A memory argument of `min..=max` bytes at `v`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn helper_mem(
        &mut self,
        pc: usize,
        st: &mut State,
        r: Reg,
        v: &RegState,
        min: u64,
        max: u64,
        write: bool,
        helper: &str,
    ) -> R<()> {
        let _ = min;
        let bad = |this: &Self, st: &State, what: String| {
            Err(this.error(
                ErrorKind::HelperArgument,
                pc,
                Some(st),
                &[r],
                format!("r{} passed to {helper}: {what}", r.num()),
                None,
            ))
        };
        let p = match v {
            RegState::Ptr(p) => *p,
            RegState::Scalar(s) if s.as_const() == Some(0) && max == 0 => return Ok(()),
            _ => return bad(self, st, "not a pointer to memory".into()),
        };
        if p.maybe_null {
            return bad(self, st, "the pointer may be null".into());
        }
        if max == 0 {
            return Ok(());
        }
        let max = max as i64;
        let (lo, hi) = (p.off + p.var.smin, p.off + p.var.umax.min(1 << 40) as i64);
        match p.kind {
            PtrKind::Stack { frame } => {
                // Stack offsets are signed: bound them with the signed range.
                let hi = p.off + p.var.smax.min(1 << 40);
                if lo < -(STACK_PER_FRAME as i64) || hi + max > 0 {
                    return bad(
                        self,
                        st,
                        format!(
                            "needs {max} bytes of stack at offset {lo}..{}, outside the 512-byte frame",
                            hi + max
                        ),
                    );
                }
                if !write {
                    self.mark_read(usize::from(frame), precision::slot_range(lo, hi + max));
                }
                let Some(f) = st.frames.get_mut(frame as usize) else {
                    return bad(self, st, "points into a finished frame".into());
                };
                if write {
                    for off in lo..hi + max {
                        set_stack_byte(f, off, ByteState::Misc);
                    }
                } else if self.strict {
                    for off in lo..hi + max {
                        if stack_byte(f, off) == ByteState::Uninit {
                            return Err(self.error(
                                ErrorKind::UninitStack,
                                pc,
                                Some(st),
                                &[r],
                                format!(
                                    "{helper} reads stack byte {off} from r10, which is not initialised"
                                ),
                                None,
                            ));
                        }
                    }
                } else if self.reads_uninit_stack.is_none()
                    && (lo..hi + max).any(|off| stack_byte(f, off) == ByteState::Uninit)
                {
                    self.reads_uninit_stack = Some(pc);
                }
                Ok(())
            }
            PtrKind::Packet | PtrKind::PacketMeta => {
                if p.off < 0 || p.var.smin < 0 || p.off + max > p.range {
                    return bad(
                        self,
                        st,
                        format!(
                            "needs packet bytes {}..{}, but {} are proven",
                            p.off,
                            p.off + max,
                            p.range.max(0)
                        ),
                    );
                }
                Ok(())
            }
            PtrKind::MapValue { map } => {
                let info = &self.input.maps[map as usize];
                if write && info.readonly {
                    return Err(self.error(
                        ErrorKind::ReadonlyWrite,
                        pc,
                        Some(st),
                        &[r],
                        format!("{helper} would write into read-only map {}", info.name),
                        None,
                    ));
                }
                let size = i64::from(info.value_size);
                if lo < 0 || hi + max > size {
                    return bad(
                        self,
                        st,
                        format!(
                            "needs value bytes {lo}..{}, but the value has {size}",
                            hi + max
                        ),
                    );
                }
                Ok(())
            }
            PtrKind::Mem { size } => {
                if lo < 0 || hi + max > i64::from(size) {
                    return bad(
                        self,
                        st,
                        format!("needs bytes {lo}..{} of {size}", hi + max),
                    );
                }
                Ok(())
            }
            _ => bad(self, st, "not a pointer to memory".into()),
        }
    }
}

/// The frame and the offset from r10 of a key at a fixed stack pointer.
fn key_slots(key: RegState) -> Option<(usize, i64)> {
    let RegState::Ptr(Ptr {
        kind: PtrKind::Stack { frame },
        off,
        var,
        ..
    }) = key
    else {
        return None;
    };
    if var.as_const() != Some(0) {
        return None;
    }
    Some((usize::from(frame), off))
}

/// The 4-byte key a stack pointer points at, when it is a known constant.
fn const_key(st: &State, key: RegState) -> Option<u64> {
    let (frame, off) = key_slots(key)?;
    let f = st.frames.get(frame)?;
    stack_const(f, off, 4)
}
