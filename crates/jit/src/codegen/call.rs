//! Helper calls, `callx` and bpf-to-bpf calls (RFC 9669 §4.3.1).

use super::*;

impl Compiler<'_> {
    pub(super) fn call(&mut self, pc: usize, target: CallTarget) {
        match target {
            CallTarget::Helper(id) => {
                let helper = u32::try_from(id).ok().and_then(|id| self.helpers.get(id));
                match helper {
                    Some(h)
                        if h.name == "map_lookup_elem"
                            && (self.inline_array_lookup(pc) || self.direct_lookup(pc)) => {}
                    Some(h) if h.name == "map_update_elem" && self.direct_update(pc) => {}
                    Some(h) => {
                        let f = h.func as usize as i64;
                        asm!(self.ops
                            ; mov r11, QWORD f
                            ; mov [r12 + OFF_HELPER_FN], r11
                        );
                        self.call_out(pc, ctx::call_helper as *const () as i64);
                    }
                    // Checked programs never get here (load refuses unknown
                    // helpers); trap like the interpreter would.
                    None => {
                        let stub = self.trap_stub(pc, Trap::UnknownHelper, 0);
                        asm!(self.ops ; jmp =>stub);
                    }
                }
            }
            CallTarget::Reg(r) => {
                let r = host(r);
                asm!(self.ops ; mov [r12 + OFF_CALLX_ID], Rq(r));
                self.call_out(pc, ctx::call_indirect as *const () as i64);
            }
            CallTarget::Local(_) => self.call_local(pc),
            // Kernel functions exist only in the kernel.
            CallTarget::Kfunc(_) => {
                let stub = self.trap_stub(pc, Trap::Unsupported, 0);
                asm!(self.ops ; jmp =>stub);
            }
        }
    }

    /// `bpf_map_lookup_elem` on an `array` or `percpu_array` map, inlined
    /// as the kernel's JIT inlines it (`array_map_gen_lookup`,
    /// `percpu_array_map_gen_lookup`): `r0 = index < max_entries ?
    /// base[cpu] + index * stride : NULL`, with no call. Only in verified
    /// mode, where the verifier proved `r2` points to a readable 4-byte key
    /// and `r1` holds a map handle, and only where that handle is certain:
    /// the call directly follows `lddw r1, handle` in the same basic block
    /// (how clang emits it) and the handle is a slot of the table the
    /// program was linked against. `r1`..`r5` are scratch after a call
    /// (RFC 9669 §4.3.1), so the code may use them. Returns whether it
    /// emitted the lookup.
    fn inline_array_lookup(&mut self, pc: usize) -> bool {
        let Some(layout) = self
            .resolved_map(pc)
            .and_then(|(_, slot)| slot.map.array_layout())
        else {
            return false;
        };
        let (Ok(stride), Ok(ncpus)) = (
            i32::try_from(layout.stride),
            i32::try_from(layout.bases.len()),
        ) else {
            return false;
        };
        let max = layout.max_entries as i32;
        let (null, done) = (self.ops.new_dynamic_label(), self.ops.new_dynamic_label());
        // The key is a u32 index at r2 (rsi); eax = index, zero-extended.
        asm!(self.ops
            ; mov eax, DWORD [rsi]
            ; mov ecx, DWORD max
            ; cmp eax, ecx
            ; jae =>null
            ; imul rax, rax, stride
        );
        if let [base] = layout.bases[..] {
            asm!(self.ops
                ; mov rdi, QWORD base as i64
                ; add rax, rdi
            );
        } else {
            // This run's CPU picks the copy; a CPU the map has no copy for
            // finds nothing, as `lookup_ptr` answers.
            let table: Box<[u64]> = layout.bases.into_boxed_slice();
            let addr = table.as_ptr() as i64;
            self.cpu_tables.push(table);
            asm!(self.ops
                ; mov ecx, DWORD [r12 + OFF_CPU]
                ; cmp ecx, ncpus
                ; jae =>null
                ; mov rdi, QWORD addr
                ; add rax, [rdi + rcx * 8]
            );
        }
        asm!(self.ops
            ; jmp =>done
            ; =>null
            ; xor eax, eax
            ; =>done
        );
        true
    }

    /// The map of a map helper call at `pc` whose handle is certain: the
    /// last write of `r1` before the call is an `lddw r1, handle` in the
    /// same basic block (clang loads the map right before the call, or a
    /// few argument moves before it), and the handle is a slot of the table
    /// the program was linked against. Only in verified mode, where the
    /// verifier proved `r1` a map handle and the key (and value) readable
    /// for the map's sizes. Returns the handle and slot.
    fn resolved_map(&self, pc: usize) -> Option<(u64, &oxbpf_runtime::maps::MapSlot)> {
        if self.checked {
            return None;
        }
        let blocks = self.program.blocks();
        let mut p = pc;
        // Back from the call, slot by slot, while no block starts in
        // between (a jump into the middle would bring another r1).
        while p > 0 && !blocks.is_leader(p) {
            let q = match self.insns[p - 1] {
                Insn::LddwHi if p >= 2 => p - 2,
                _ => p - 1,
            };
            match self.insns[q] {
                Insn::Lddw {
                    dst: Reg::R1,
                    src: LddwSrc::Imm,
                    imm,
                } => {
                    let slot = self.program.maps()?.get(imm)?;
                    return Some((imm, slot));
                }
                // Calls and legacy packet loads clobber r1..r5.
                Insn::Call(_) | Insn::LdPacket { .. } => return None,
                ref insn if written_reg(insn) == Some(Reg::R1) => return None,
                _ => p = q,
            }
        }
        None
    }

    /// `bpf_map_lookup_elem` on a map resolved at compile time
    /// ([`Compiler::resolved_map`]) that is not inlined: a direct call of
    /// [`ctx::map_lookup`] with the slot, the key and the context, skipping
    /// the helper dispatch (the kernel's JIT, likewise, calls a map type's
    /// own lookup function directly, `map_gen_lookup` /
    /// `ops->map_lookup_elem`). Maps of maps keep the helper, which hands
    /// out inner-map handles.
    fn direct_lookup(&mut self, pc: usize) -> bool {
        use oxbpf_abi::map_kind::MapKind;
        let Some((handle, slot)) = self.resolved_map(pc) else {
            return false;
        };
        if matches!(
            slot.map.spec().kind,
            MapKind::ArrayOfMaps | MapKind::HashOfMaps
        ) {
            return false;
        }
        let key_size = slot.map.spec().key_size as i32;
        // rdi = the slot (r1 already holds it), rsi = the key (r2), rdx =
        // the key size, rcx = the context.
        asm!(self.ops
            ; mov rdi, QWORD handle as i64
            ; mov edx, DWORD key_size
            ; mov rcx, r12
            ; mov rax, QWORD ctx::map_lookup as *const () as i64
            ; call rax
        );
        true
    }

    /// `bpf_map_update_elem` on a map resolved at compile time
    /// ([`Compiler::resolved_map`]) of a kind whose program updates only
    /// store data (hashes, LRU hashes, arrays): a direct call of
    /// [`ctx::map_update`] with the slot, `r2`..`r4` where they are and the
    /// context, skipping the helper dispatch, the handle check and the
    /// region checks the verifier already made. Key and value together
    /// must fit [`ctx::DIRECT_UPDATE_MAX`] (they are copied first, as the
    /// helper copies them).
    fn direct_update(&mut self, pc: usize) -> bool {
        use oxbpf_abi::map_kind::MapKind;
        let Some((handle, slot)) = self.resolved_map(pc) else {
            return false;
        };
        let spec = slot.map.spec();
        let stores_data = matches!(
            spec.kind,
            MapKind::Hash
                | MapKind::PercpuHash
                | MapKind::LruHash
                | MapKind::LruPercpuHash
                | MapKind::Array
                | MapKind::PercpuArray
        );
        if !stores_data || (spec.key_size + spec.value_size) as usize > ctx::DIRECT_UPDATE_MAX {
            return false;
        }
        // rdi = the slot (r1 holds the handle), rsi = the key (r2), rdx =
        // the value (r3), rcx = the flags (r4), r8 = the context.
        asm!(self.ops
            ; mov rdi, QWORD handle as i64
            ; mov r8, r12
            ; mov rax, QWORD ctx::map_update as *const () as i64
            ; call rax
        );
        true
    }

    /// Calls a trampoline with `r1`..`r5` in place and the context as the
    /// sixth argument; `r0` receives its value; a non-zero status (in rdx)
    /// ends the run.
    pub(super) fn call_out(&mut self, pc: usize, trampoline: i64) {
        if self.checked {
            asm!(self.ops ; mov [r12 + OFF_BUDGET], r9);
        }
        asm!(self.ops
            ; mov r9, r12
            ; mov rax, QWORD trampoline
            ; call rax
        );
        if self.checked {
            asm!(self.ops ; mov r9, [r12 + OFF_BUDGET]);
        }
        let label = self.ops.new_dynamic_label();
        self.cold.push(Cold::CallStatus { label, pc });
        asm!(self.ops
            ; test rdx, rdx
            ; jnz =>label
        );
    }

    /// A bpf-to-bpf call: a fresh 512-byte frame below the current one,
    /// `r6`..`r10` preserved for the caller (RFC 9669 §4.3.1).
    pub(super) fn call_local(&mut self, pc: usize) {
        let target = self.target(pc, &self.insns[pc]);
        if self.fp_written {
            return self.call_local_by_depth(pc, target);
        }
        if self.checked {
            // Room for one more frame below the current one: the same
            // condition as the interpreter's `depth + 1 < frames`.
            let stub = self.trap_stub(pc, Trap::CallDepth, 0);
            asm!(self.ops
                ; cmp rbp, [r12 + OFF_MIN_CALL_FP]
                ; jb =>stub
            );
        }
        // Save only the callee-saved registers the callee's own code can
        // write (its own local calls save theirs). An odd number of pushes
        // plus the return address keeps rsp 16-byte aligned in the callee;
        // with an even number, r10 is pushed too and popped back instead
        // of being moved up again.
        let written = self.callee_writes(pc);
        let saved: Vec<u8> = [RBX, R13, R14, R15]
            .into_iter()
            .enumerate()
            .filter(|(i, _)| written & (1 << i) != 0)
            .map(|(_, r)| r)
            .collect();
        let push_fp = saved.len().is_multiple_of(2);
        for &r in &saved {
            asm!(self.ops ; push Rq(r));
        }
        if push_fp {
            asm!(self.ops ; push rbp);
        }
        asm!(self.ops
            ; sub rbp, STACK_PER_FRAME as i32
            ; call =>target
        );
        if push_fp {
            asm!(self.ops ; pop rbp);
        } else {
            asm!(self.ops ; add rbp, STACK_PER_FRAME as i32);
        }
        for &r in saved.iter().rev() {
            asm!(self.ops ; pop Rq(r));
        }
    }

    /// Which of r6..r9 (bits 0..3) the function that the local call at
    /// `pc` enters may write: every instruction reachable from its entry
    /// without entering further local calls (they preserve r6..r9
    /// themselves, RFC 9669 §4.3.1). A tail call (helper 12, as in the
    /// kernel's `bpf_tail_call`) runs other code: all four.
    fn callee_writes(&mut self, pc: usize) -> u8 {
        let Some(entry) = self.insns[pc]
            .branch_target(pc)
            .and_then(|t| usize::try_from(t).ok())
        else {
            return 0xf;
        };
        if let Some(&w) = self.callee_writes.get(&entry) {
            return w;
        }
        let w = self.function_writes(entry);
        self.callee_writes.insert(entry, w);
        w
    }

    /// [`Compiler::callee_writes`] for the function entered at `entry`.
    fn function_writes(&self, entry: usize) -> u8 {
        const TAIL_CALL: i32 = 12;
        let insns = self.insns;
        let mut seen = vec![false; insns.len()];
        let mut todo = vec![entry];
        let mut written = 0u8;
        while let Some(p) = todo.pop() {
            if p >= insns.len() || seen[p] {
                continue;
            }
            seen[p] = true;
            let insn = &insns[p];
            if let Insn::Call(CallTarget::Helper(TAIL_CALL)) = insn {
                return 0xf;
            }
            let dst = written_reg(insn);
            if let Some(i) = dst.map(|r| r.index()).filter(|i| (6..=9).contains(i)) {
                written |= 1 << (i - 6);
            }
            if let (Insn::Ja { .. } | Insn::Jmp { .. }, Some(t)) = (insn, insn.branch_target(p))
                && let Ok(t) = usize::try_from(t)
            {
                todo.push(t);
            }
            if insn.falls_through() {
                todo.push(p + insn.slots());
            }
        }
        written
    }

    /// A local call in a program that writes r10: the callee's r10 is the
    /// top of the frame at the new depth (`ctx.cur_fp`), whatever the
    /// caller's r10 holds; the caller's r10 is restored on return.
    fn call_local_by_depth(&mut self, pc: usize, target: DynamicLabel) {
        asm!(self.ops ; mov r11, [r12 + OFF_CUR_FP]);
        if self.checked {
            let stub = self.trap_stub(pc, Trap::CallDepth, 0);
            asm!(self.ops
                ; cmp r11, [r12 + OFF_MIN_CALL_FP]
                ; jb =>stub
            );
        }
        asm!(self.ops
            ; sub r11, STACK_PER_FRAME as i32
            ; mov [r12 + OFF_CUR_FP], r11
            ; push rbx
            ; push r13
            ; push r14
            ; push r15
            ; push rbp
            ; mov rbp, r11
            ; call =>target
            ; pop rbp
            ; pop r15
            ; pop r14
            ; pop r13
            ; pop rbx
            ; add QWORD [r12 + OFF_CUR_FP], STACK_PER_FRAME as i32
        );
    }
}

/// The register an instruction writes besides `r0` (which calls, legacy
/// packet loads and `cmpxchg` write) and besides what calls clobber: the
/// destination of ALU, byte-swap and load instructions, the source of a
/// fetching atomic or an exchange.
fn written_reg(insn: &Insn) -> Option<Reg> {
    match *insn {
        Insn::Alu { dst, .. }
        | Insn::End { dst, .. }
        | Insn::Load { dst, .. }
        | Insn::Lddw { dst, .. } => Some(dst),
        Insn::Atomic { op, fetch, src, .. } if fetch || matches!(op, AtomicOp::Xchg) => Some(src),
        _ => None,
    }
}
