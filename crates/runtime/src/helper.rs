//! The helper calling convention and per-environment helper tables.
//!
//! A helper receives `r1`..`r5` and returns the new `r0`. It may end the
//! whole program instead ([`HelperExit::Exit`], the conformance suite's
//! `unwind`) or refuse its arguments ([`HelperExit::Trap`]). Engines call
//! helpers only through a [`HelperTable`], so interpreter and JIT share the
//! implementations.

use oxbpf_abi::Trap;

use crate::state::RunState;

/// How a helper call ended other than by returning a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelperExit {
    /// End the program now with this r0.
    Exit(u64),
    /// Stop the run with a trap.
    Trap(Trap),
}

impl From<Trap> for HelperExit {
    fn from(t: Trap) -> Self {
        HelperExit::Trap(t)
    }
}

/// A helper implementation: `(state, [r1..r5]) -> r0`.
pub type HelperFn = fn(&mut RunState<'_>, [u64; 5]) -> Result<u64, HelperExit>;

/// One helper of a table.
#[derive(Clone, Copy, Debug)]
pub struct Helper {
    pub id: u32,
    pub name: &'static str,
    /// Number of argument registers it reads (`r1`..`rN`); the
    /// read-before-write check uses it.
    pub arg_count: u8,
    pub func: HelperFn,
}

/// The helpers of one environment, indexed by id.
#[derive(Clone, Debug)]
pub struct HelperTable {
    name: &'static str,
    by_id: Vec<Option<Helper>>,
}

impl HelperTable {
    /// An empty table called `name` (shown in diagnostics).
    pub fn new(name: &'static str) -> HelperTable {
        HelperTable {
            name,
            by_id: Vec::new(),
        }
    }

    /// Adds or replaces a helper.
    pub fn register(&mut self, helper: Helper) {
        let i = helper.id as usize;
        if self.by_id.len() <= i {
            self.by_id.resize(i + 1, None);
        }
        self.by_id[i] = Some(helper);
    }

    /// The helper with this id.
    #[inline]
    pub fn get(&self, id: u32) -> Option<&Helper> {
        self.by_id.get(id as usize).and_then(Option::as_ref)
    }

    /// The table's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Every helper, by ascending id.
    pub fn iter(&self) -> impl Iterator<Item = &Helper> {
        self.by_id.iter().flatten()
    }
}
