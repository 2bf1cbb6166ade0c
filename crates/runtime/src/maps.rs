//! The maps a loaded program uses, and the handles its `lddw` instructions
//! hold.
//!
//! Linking replaces an `lddw` with a map pseudo source by the address of
//! that map's slot here, the *map handle* a program passes to map helpers
//! in `r1` (the kernel hands programs a `struct bpf_map *` the same way).
//! Slots are boxed, so their addresses never move while the table lives.
//! In checked mode helpers accept only the handles of the table attached to
//! the run ([`LinkedMaps::get`]).

use std::sync::Arc;

use oxbpf_maps::MapHandle;

/// One map of a program, at a stable address.
#[derive(Debug)]
pub struct MapSlot {
    /// The map.
    pub map: MapHandle,
    /// The map's name, for diagnostics.
    pub name: String,
}

/// The maps of a loaded program (or object), by index.
#[derive(Debug, Default)]
#[allow(clippy::vec_box)] // boxed on purpose: the slot addresses are the handles programs hold
pub struct LinkedMaps {
    slots: Vec<Box<MapSlot>>,
}

impl LinkedMaps {
    /// An empty table.
    pub fn new() -> LinkedMaps {
        LinkedMaps::default()
    }

    /// Adds a map; returns its index.
    pub fn push(&mut self, name: impl Into<String>, map: MapHandle) -> usize {
        self.slots.push(Box::new(MapSlot {
            map,
            name: name.into(),
        }));
        self.slots.len() - 1
    }

    /// The handle of map `index`: the value `lddw` loads for it.
    pub fn handle(&self, index: usize) -> Option<u64> {
        self.slots.get(index).map(|s| &**s as *const MapSlot as u64)
    }

    /// The map at `index`.
    pub fn at(&self, index: usize) -> Option<&MapSlot> {
        self.slots.get(index).map(|s| &**s)
    }

    /// The map whose handle is `handle`, if it is one of this table's.
    pub fn get(&self, handle: u64) -> Option<&MapSlot> {
        self.slots
            .iter()
            .find(|s| &***s as *const MapSlot as u64 == handle)
            .map(|s| &**s)
    }

    /// Every map, by index.
    pub fn iter(&self) -> impl Iterator<Item = &MapSlot> {
        self.slots.iter().map(|s| &**s)
    }

    /// Number of maps.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// Shared form, as [`crate::RunState::maps`] holds it.
pub type SharedMaps = Arc<LinkedMaps>;
