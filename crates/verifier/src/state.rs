//! Abstract machine state: registers, stack slots and call frames.

use std::rc::Rc;

use oxbpf_abi::limits::STACK_PER_FRAME;

use crate::scalar::Scalar;

/// What a pointer points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PtrKind {
    /// The program context (`PTR_TO_CTX`).
    Ctx,
    /// A frame's stack; `frame` is the call depth that owns it.
    Stack { frame: u8 },
    /// Packet data (`PTR_TO_PACKET`).
    Packet,
    /// One past the packet's last byte (`PTR_TO_PACKET_END`).
    PacketEnd,
    /// Packet metadata (`PTR_TO_PACKET_META`), which ends at `data`.
    PacketMeta,
    /// A value of map `map` (`PTR_TO_MAP_VALUE`).
    MapValue { map: u32 },
    /// The map object itself (`CONST_PTR_TO_MAP`).
    MapPtr { map: u32 },
    /// Memory of a known size handed out by a helper (ring buffer record,
    /// `PTR_TO_MEM`).
    Mem { size: u32 },
    /// Address of a program function (`PTR_TO_FUNC`), for callbacks.
    Func { entry: usize },
}

impl PtrKind {
    /// Whether this is one of the packet pointer kinds.
    pub fn is_packet(self) -> bool {
        matches!(
            self,
            PtrKind::Packet | PtrKind::PacketEnd | PtrKind::PacketMeta
        )
    }
}

/// A pointer: base, fixed offset, variable offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ptr {
    pub kind: PtrKind,
    /// Fixed byte offset from the base.
    pub off: i64,
    /// Variable part of the offset (the constant 0 when there is none).
    pub var: Scalar,
    /// Packet pointers: bytes proven readable from `base + var`, the same
    /// for every pointer sharing `id` (the kernel's `reg->range`).
    pub range: i64,
    /// Packet pointers: pointers with the same variable offset share an
    /// id. Maybe-null pointers: copies of one helper result share an id,
    /// so a null check refines them all.
    pub id: u32,
    /// Whether the pointer may be null (`*_OR_NULL`).
    pub maybe_null: bool,
    /// The reference this pointer carries (the kernel's `ref_obj_id`):
    /// the id of an entry of [`Refs::held`], shared by every copy of a
    /// ring buffer record; 0 for pointers that need no release.
    pub ref_obj: u32,
}

impl Ptr {
    /// A pointer to the start of `kind` with no offset.
    pub fn new(kind: PtrKind) -> Ptr {
        Ptr {
            kind,
            off: 0,
            var: Scalar::constant(0),
            range: 0,
            id: 0,
            maybe_null: false,
            ref_obj: 0,
        }
    }

    /// Whether the variable part is exactly zero.
    pub fn fixed(&self) -> bool {
        self.var.as_const() == Some(0)
    }
}

/// The state of one register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegState {
    /// Never written.
    Uninit,
    /// Clobbered by the call at `at`.
    Scratched { at: usize },
    /// A number.
    Scalar(Scalar),
    /// A pointer.
    Ptr(Ptr),
    /// A packet pointer invalidated by the helper call at `at`, which may
    /// have moved the packet.
    Stale { at: usize },
}

impl RegState {
    /// An unknown number.
    pub const UNKNOWN: RegState = RegState::Scalar(Scalar::UNKNOWN);

    /// Whether the register holds a value (scalar or pointer).
    pub fn is_init(&self) -> bool {
        matches!(self, RegState::Scalar(_) | RegState::Ptr(_))
    }

    /// Whether the register holds a pointer.
    pub fn is_ptr(&self) -> bool {
        matches!(self, RegState::Ptr(_))
    }

    /// The state in words, for diagnostics.
    pub fn describe(&self, maps: &[crate::MapInfo]) -> String {
        match self {
            RegState::Uninit => "not initialised".into(),
            RegState::Scratched { at } => {
                format!("clobbered by the call at insn {at} (r1-r5 do not survive calls)")
            }
            RegState::Stale { at } => format!(
                "a packet pointer made invalid by the helper call at insn {at}, which may move the packet"
            ),
            RegState::Scalar(s) => s.to_string(),
            RegState::Ptr(p) => describe_ptr(p, maps),
        }
    }
}

fn describe_ptr(p: &Ptr, maps: &[crate::MapInfo]) -> String {
    let map_name = |m: u32| {
        maps.get(m as usize)
            .map(|i| format!("map {} ({})", m, i.name))
            .unwrap_or_else(|| format!("map {m}"))
    };
    let base = match p.kind {
        PtrKind::Ctx => "a context pointer".to_string(),
        PtrKind::Stack { frame } => format!("a stack pointer (frame {frame})"),
        PtrKind::Packet if p.off != 0 => format!(
            "a packet pointer at offset {} with {} bytes proven from its base",
            p.off,
            p.range.max(0)
        ),
        PtrKind::Packet => format!("a packet pointer with {} bytes proven", p.range.max(0)),
        PtrKind::PacketEnd => "the packet end pointer (data_end)".to_string(),
        PtrKind::PacketMeta => format!(
            "a packet metadata pointer with {} bytes proven",
            p.range.max(0)
        ),
        PtrKind::MapValue { map } => {
            let size = maps
                .get(map as usize)
                .map(|i| format!(" of {} bytes", i.value_size))
                .unwrap_or_default();
            if p.maybe_null {
                format!("a pointer to a value{size} of {} or null", map_name(map))
            } else {
                format!("a pointer to a value{size} of {}", map_name(map))
            }
        }
        PtrKind::MapPtr { map } => format!("a pointer to {}", map_name(map)),
        PtrKind::Mem { size } => {
            if p.maybe_null {
                format!("a pointer to {size} bytes of helper memory or null")
            } else {
                format!("a pointer to {size} bytes of helper memory")
            }
        }
        PtrKind::Func { entry } => format!("the address of the function at insn {entry}"),
    };
    let mut s = base;
    if p.off != 0 && p.kind != PtrKind::Packet {
        s += &format!(" at offset {}", p.off);
    }
    if !p.fixed() {
        s += &format!(" plus a variable offset, {}", p.var);
    }
    if p.ref_obj != 0 {
        s += &format!(" (reference {})", p.ref_obj);
    }
    s
}

/// What one stack byte holds when it is not part of a whole spilled
/// register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteState {
    /// Never written.
    Uninit,
    /// Written with an unknown value.
    Misc,
    /// Written with zero.
    Zero,
}

/// An 8-byte stack slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// Individual bytes.
    Bytes([ByteState; 8]),
    /// A whole register stored with an aligned 8-byte store: its type and
    /// range survive the round trip (`STACK_SPILL`).
    Spill(RegState),
    /// A number stored with a narrower aligned store (`size` bytes at byte
    /// `pos` of the slot): reading the same bytes back gives it again, as
    /// the kernel's sub-register spills do. `bytes` says what every byte
    /// holds otherwise.
    Narrow {
        pos: u8,
        size: u8,
        value: Scalar,
        bytes: [ByteState; 8],
    },
}

impl Slot {
    /// A slot never written.
    pub const UNINIT: Slot = Slot::Bytes([ByteState::Uninit; 8]);
}

/// Number of 8-byte slots in a frame.
pub const SLOTS: usize = STACK_PER_FRAME / 8;

/// One call frame.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    pub regs: [RegState; 11],
    /// The stack written so far, from the top down: entry `j` covers
    /// `r10 - 8 * (j + 1) ..`; slots past the end were never written.
    /// Use [`Frame::slot`] and [`Frame::slot_mut`], which number slots
    /// from the bottom (`r10 - 512` is slot 0).
    stack: Vec<Slot>,
    /// Where to continue in the caller on `exit` (`None` for the
    /// program's own frame).
    pub ret: Option<usize>,
    /// First slot of the function this frame runs.
    pub entry: usize,
}

impl Frame {
    /// A fresh frame for the function at `entry`.
    pub fn new(depth: u8, entry: usize, ret: Option<usize>) -> Frame {
        let mut regs = [RegState::Uninit; 11];
        regs[10] = RegState::Ptr(Ptr::new(PtrKind::Stack { frame: depth }));
        Frame {
            regs,
            stack: Vec::new(),
            ret,
            entry,
        }
    }
}

impl Frame {
    /// Slot `i` (0 is `r10 - 512`, `SLOTS - 1` is `r10 - 8`).
    pub fn slot(&self, i: usize) -> Slot {
        self.stack
            .get(SLOTS - 1 - i)
            .copied()
            .unwrap_or(Slot::UNINIT)
    }

    /// Slot `i`, mutably (allocating it).
    pub fn slot_mut(&mut self, i: usize) -> &mut Slot {
        let j = SLOTS - 1 - i;
        if self.stack.len() <= j {
            self.stack.resize(j + 1, Slot::UNINIT);
        }
        &mut self.stack[j]
    }

    /// Number of 8-byte slots below r10 written so far (the frame's stack
    /// use, in slots).
    pub fn stack_len(&self) -> usize {
        self.stack.len()
    }

    /// Every written slot.
    pub fn slots_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        self.stack.iter_mut()
    }
}

/// A branch decision, linked to the decisions before it.
#[derive(Debug)]
pub struct PathNode {
    pub pc: usize,
    pub taken: bool,
    pub prev: Option<Rc<PathNode>>,
}

/// A reference a path holds: a ring buffer record reserved and not yet
/// submitted or discarded (the kernel's `struct bpf_reference_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Held {
    /// The id every copy of the pointer carries in [`Ptr::ref_obj`].
    pub id: u32,
    /// Slot of the acquiring call.
    pub pc: usize,
}

/// The spin lock a path holds (the kernel's `active_lock`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lock {
    /// The map whose value holds the `struct bpf_spin_lock`.
    pub map: u32,
    /// Offset of the lock in the value.
    pub off: i64,
    /// Id of the lookup the value came from (copies share it): a lock in
    /// another lookup's value is another lock, as for the kernel's
    /// `active_lock_id`.
    pub id: u32,
    /// Slot of the `spin_lock` call.
    pub pc: usize,
}

/// References and the lock a path holds. Like the kernel's (since 6.13
/// in `bpf_verifier_state`, not per frame) they belong to the path, not to
/// a frame: a subprogram may release what its caller acquired and the
/// reverse.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Refs {
    /// Held references, oldest first.
    pub held: Vec<Held>,
    /// The spin lock held, if any (at most one).
    pub lock: Option<Lock>,
    /// In a `bpf_loop` callback: ids up to this one were handed out before
    /// the callback started, so they belong to its caller.
    pub callback_floor: Option<u32>,
}

/// The whole abstract state at an instruction.
#[derive(Clone, Debug)]
pub struct State {
    pub frames: Vec<Frame>,
    /// References and lock held (frame-independent).
    pub refs: Refs,
    /// Branch decisions so far, newest first (for diagnostics only; not
    /// part of the state's meaning).
    pub path: Option<Rc<PathNode>>,
}

impl State {
    /// The innermost frame.
    pub fn cur(&self) -> &Frame {
        self.frames.last().expect("a state always has a frame")
    }

    /// The innermost frame, mutably.
    pub fn cur_mut(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("a state always has a frame")
    }

    /// Calls `f` on every register and spilled register of every frame.
    pub fn for_each_reg(&mut self, mut f: impl FnMut(&mut RegState)) {
        for fr in &mut self.frames {
            for r in fr.regs.iter_mut() {
                f(r);
            }
            for s in fr.stack.iter_mut() {
                if let Slot::Spill(r) = s {
                    f(r);
                }
            }
        }
    }

    /// Records a branch decision.
    pub fn push_path(&mut self, pc: usize, taken: bool) {
        self.path = Some(Rc::new(PathNode {
            pc,
            taken,
            prev: self.path.take(),
        }));
    }

    /// The branch decisions, oldest first, at most the last `n`.
    pub fn path_list(&self, n: usize) -> Vec<(usize, bool)> {
        let mut out = Vec::new();
        let mut cur = self.path.as_ref();
        while let Some(node) = cur {
            if out.len() == n {
                break;
            }
            out.push((node.pc, node.taken));
            cur = node.prev.as_ref();
        }
        out.reverse();
        out
    }
}

/// A consistent renaming of ids from an old state to a new one (the
/// kernel's `check_ids`).
#[derive(Default)]
struct IdMap(Vec<(u32, u32)>);

impl IdMap {
    fn check(&mut self, old: u32, new: u32) -> bool {
        if old == 0 {
            return true;
        }
        for &(o, n) in &self.0 {
            if o == old {
                return n == new;
            }
            if n == new {
                return false;
            }
        }
        if new == 0 {
            return false;
        }
        self.0.push((old, new));
        true
    }
}

/// Whether everything `new` may do was already shown safe from `old`:
/// same frames and call sites, and each register and slot of `old` at
/// least as wide as in `new`. Registers and bytes `old` never initialised
/// were never read on any path from it, so they accept anything.
pub fn subsumes(old: &State, new: &State) -> bool {
    if old.frames.len() != new.frames.len() {
        return false;
    }
    let mut ids = IdMap::default();
    for (fo, fnew) in old.frames.iter().zip(&new.frames) {
        if fo.ret != fnew.ret || fo.entry != fnew.entry {
            return false;
        }
        for (ro, rn) in fo.regs.iter().zip(&fnew.regs) {
            if !reg_subsumes(ro, rn, &mut ids) {
                return false;
            }
        }
        let n = fo.stack.len().max(fnew.stack.len());
        for j in 0..n {
            let so = fo.stack.get(j).unwrap_or(&Slot::UNINIT);
            let sn = fnew.stack.get(j).unwrap_or(&Slot::UNINIT);
            if !slot_subsumes(so, sn, &mut ids) {
                return false;
            }
        }
    }
    refs_subsume(&old.refs, &new.refs, &mut ids)
}

/// Held references and locks must correspond one to one: a state holding
/// a reference the other does not would leak (or release) differently,
/// so pruning must not hide it (the kernel's `refsafe`).
fn refs_subsume(old: &Refs, new: &Refs, ids: &mut IdMap) -> bool {
    let lock_key = |l: &Option<Lock>| l.map(|l| (l.map, l.off));
    if old.held.len() != new.held.len() || lock_key(&old.lock) != lock_key(&new.lock) {
        return false;
    }
    if let (Some(o), Some(n)) = (old.lock, new.lock)
        && ((o.id == 0) != (n.id == 0) || !ids.check(o.id, n.id))
    {
        return false;
    }
    let callers = |r: &Refs, id: u32| r.callback_floor.is_some_and(|f| id <= f);
    old.held
        .iter()
        .zip(&new.held)
        .all(|(o, n)| callers(old, o.id) == callers(new, n.id) && ids.check(o.id, n.id))
}

fn reg_subsumes(old: &RegState, new: &RegState, ids: &mut IdMap) -> bool {
    match (old, new) {
        (RegState::Uninit | RegState::Scratched { .. }, _) => true,
        (RegState::Stale { .. }, RegState::Stale { .. }) => true,
        (RegState::Scalar(a), RegState::Scalar(b)) => a.contains(b) && ids.check(a.id, b.id),
        (RegState::Ptr(a), RegState::Ptr(b)) => {
            a.kind == b.kind
                && a.off == b.off
                && a.maybe_null == b.maybe_null
                && a.var.contains(&b.var)
                && b.range >= a.range
                && ids.check(a.id, b.id)
                && (a.ref_obj == 0) == (b.ref_obj == 0)
                && ids.check(a.ref_obj, b.ref_obj)
        }
        _ => false,
    }
}

fn slot_subsumes(old: &Slot, new: &Slot, ids: &mut IdMap) -> bool {
    match (old, new) {
        (Slot::Spill(a), Slot::Spill(b)) => reg_subsumes(a, b, ids),
        (Slot::Bytes(a), Slot::Bytes(b)) => a.iter().zip(b).all(|(x, y)| byte_subsumes(*x, *y)),
        // A spilled number reads as a number, which is what misc bytes
        // (and, privileged, uninitialised ones) give; a spilled pointer
        // behaves differently from any number.
        (Slot::Bytes(a), Slot::Spill(b)) => match b {
            RegState::Scalar(_) => a.iter().all(|x| *x != ByteState::Zero),
            RegState::Uninit | RegState::Scratched { .. } => {
                a.iter().all(|x| *x == ByteState::Uninit)
            }
            _ => false,
        },
        (Slot::Spill(RegState::Scalar(s)), Slot::Bytes(b)) => {
            s.contains(&Scalar::UNKNOWN) && s.id == 0 && b.iter().all(|y| *y != ByteState::Uninit)
        }
        (Slot::Spill(RegState::Uninit | RegState::Scratched { .. }), _) => true,
        (
            Slot::Narrow {
                pos: p1,
                size: s1,
                value: v1,
                bytes: b1,
            },
            Slot::Narrow {
                pos: p2,
                size: s2,
                value: v2,
                bytes: b2,
            },
        ) => {
            p1 == p2
                && s1 == s2
                && v1.contains(v2)
                && b1.iter().zip(b2).all(|(x, y)| byte_subsumes(*x, *y))
        }
        // Plain bytes read as unknown numbers, which covers a narrow spill.
        (Slot::Bytes(a), Slot::Narrow { bytes, .. }) => {
            a.iter().zip(bytes).all(|(x, y)| byte_subsumes(*x, *y))
        }
        _ => false,
    }
}

fn byte_subsumes(old: ByteState, new: ByteState) -> bool {
    match old {
        ByteState::Uninit => true,
        ByteState::Misc => new != ByteState::Uninit,
        ByteState::Zero => new == ByteState::Zero,
    }
}
