//! `array_of_maps` and `hash_of_maps`: maps whose values are other maps
//! (kernel: `kernel/bpf/map_in_map.c`, `arraymap.c`, `hashtab.c`).
//!
//! The outer map is created with an *inner map template* (the
//! `__array(values, struct inner)` of the object's BTF definition); every
//! inner map installed must match it in type, key size, value size and
//! flags, and in `max_entries` unless the template has `BPF_F_INNER_MAP`,
//! as `bpf_map_meta_equal` checks. The control plane installs maps with
//! [`MapOfMaps::set_inner`]; a program's `bpf_map_lookup_elem` on the outer
//! map yields the inner map (see [`MapOfMaps::inner`]), which the helpers
//! then accept as a map handle. A program cannot update the outer map, as
//! in the kernel.
//!
//! A run that looked an inner map up keeps a reference to it until it
//! ends, so replacing or deleting the slot meanwhile is safe (the kernel
//! defers the inner map's release by an RCU grace period for the same
//! reason).

use core::any::Any;
use std::collections::HashMap;
use std::sync::RwLock;

use oxbpf_abi::map_kind::{
    MapKind,
    flags::{BPF_F_ACCESS_MASK, BPF_F_INNER_MAP, BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE},
    update::{BPF_EXIST, BPF_NOEXIST},
};

use crate::array::{array_next_key, index_of};
use crate::spec::Common;
use crate::{Map, MapError, MapHandle, MapOptions, MapSpec, MapStats, RunGuard, ValuePtr};

/// An `array_of_maps` or `hash_of_maps`.
#[derive(Debug)]
pub struct MapOfMaps {
    common: Common,
    template: MapSpec,
    slots: RwLock<HashMap<Vec<u8>, MapHandle>>,
}

impl MapOfMaps {
    /// Creates the outer map. Key size 4 for arrays; value size 4 (the
    /// inner map fd userspace passes in the kernel) for both.
    pub fn new(
        spec: &MapSpec,
        template: MapSpec,
        opts: &MapOptions,
    ) -> Result<MapOfMaps, MapError> {
        let common = Common::new(spec, opts)?;
        let kind = spec.kind;
        if !matches!(kind, MapKind::ArrayOfMaps | MapKind::HashOfMaps) {
            return Err(MapError::Unsupported {
                op: "creation as a map of maps",
                kind,
            });
        }
        if kind == MapKind::ArrayOfMaps && spec.key_size != 4 {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "key_size must be 4",
            });
        }
        if spec.value_size != 4 {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "value_size must be 4",
            });
        }
        if matches!(
            template.kind,
            MapKind::ArrayOfMaps | MapKind::HashOfMaps | MapKind::ProgArray
        ) {
            // bpf_map_meta_alloc(): no nesting, no prog arrays inside.
            return Err(MapError::InvalidSpec {
                kind,
                reason: "the inner map template may not be a map of maps or a prog array",
            });
        }
        common.check_flags_within(BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK | BPF_F_NO_PREALLOC)?;
        Ok(MapOfMaps {
            common,
            template,
            slots: RwLock::new(HashMap::new()),
        })
    }

    /// The inner map template.
    pub fn template(&self) -> &MapSpec {
        &self.template
    }

    fn check_key_range(&self, key: &[u8]) -> Result<(), MapError> {
        self.common.check_key(key)?;
        if self.common.spec.kind == MapKind::ArrayOfMaps {
            let index = index_of(key);
            if index >= self.common.spec.max_entries {
                return Err(MapError::IndexOutOfRange {
                    index,
                    max_entries: self.common.spec.max_entries,
                });
            }
        }
        Ok(())
    }

    /// Installs `inner` at `key` (`BPF_ANY`, `BPF_NOEXIST` or `BPF_EXIST`)
    /// after checking it against the template.
    pub fn set_inner(&self, key: &[u8], inner: MapHandle, flags: u64) -> Result<(), MapError> {
        self.common.check_write("update")?;
        self.check_key_range(key)?;
        let kind = self.common.spec.kind;
        if flags > BPF_EXIST {
            return Err(MapError::BadFlags { flags, kind });
        }
        let t = &self.template;
        let s = inner.spec();
        let dynamic = t.flags & BPF_F_INNER_MAP != 0;
        if s.kind != t.kind
            || s.key_size != t.key_size
            || s.value_size != t.value_size
            || s.flags & !BPF_F_INNER_MAP != t.flags & !BPF_F_INNER_MAP
            || (!dynamic && s.max_entries != t.max_entries)
        {
            return Err(MapError::InvalidSpec {
                kind,
                reason: "the inner map does not match the template",
            });
        }
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        let present = slots.contains_key(key);
        if flags == BPF_NOEXIST && present {
            return Err(MapError::Exists);
        }
        if flags == BPF_EXIST && !present {
            return Err(MapError::NotFound);
        }
        if !present
            && kind == MapKind::HashOfMaps
            && slots.len() >= self.common.spec.max_entries as usize
        {
            return Err(MapError::Full {
                max_entries: self.common.spec.max_entries,
            });
        }
        slots.insert(key.to_vec(), inner);
        Ok(())
    }

    /// The inner map at `key`, if one is installed.
    pub fn inner(&self, key: &[u8]) -> Option<MapHandle> {
        self.slots
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Every installed (key, inner map), in key order.
    pub fn inners(&self) -> Vec<(Vec<u8>, MapHandle)> {
        let mut v: Vec<_> = self
            .slots
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, m)| (k.clone(), m.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

impl Map for MapOfMaps {
    fn spec(&self) -> &MapSpec {
        &self.common.spec
    }

    fn ncpus(&self) -> u32 {
        1
    }

    fn stats(&self) -> MapStats {
        MapStats {
            entries: self.slots.read().map_or(0, |s| s.len()),
            retired: 0,
            reclaimed: 0,
        }
    }

    fn lookup_into(&self, _key: &[u8], _out: &mut [u8]) -> Result<(), MapError> {
        // The kernel answers with the inner map's id; oxbpf's control plane
        // reaches the map itself with `inner`.
        Err(MapError::Unsupported {
            op: "value lookup (use MapOfMaps::inner)",
            kind: self.common.spec.kind,
        })
    }

    fn update(&self, _key: &[u8], _value: &[u8], _flags: u64) -> Result<(), MapError> {
        Err(MapError::Unsupported {
            op: "value update (use MapOfMaps::set_inner)",
            kind: self.common.spec.kind,
        })
    }

    fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.common.check_write("delete")?;
        self.check_key_range(key)?;
        self.slots
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key)
            .map(|_| ())
            .ok_or(MapError::NotFound)
    }

    fn next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        self.common.check_read("next_key")?;
        if let Some(key) = key {
            self.common.check_key(key)?;
        }
        if self.common.spec.kind == MapKind::ArrayOfMaps {
            return array_next_key(key, self.common.spec.max_entries);
        }
        let keys = self.keys()?;
        let next = match key.and_then(|k| keys.iter().position(|x| x == k)) {
            Some(i) => keys.get(i + 1),
            None => keys.first(),
        };
        next.cloned().ok_or(MapError::NotFound)
    }

    fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        self.common.check_read("keys")?;
        Ok(self.inners().into_iter().map(|(k, _)| k).collect())
    }

    fn entries(&self) -> Result<Vec<crate::Entry>, MapError> {
        Err(MapError::Unsupported {
            op: "value dump (use MapOfMaps::inners)",
            kind: self.common.spec.kind,
        })
    }

    fn clear(&self) -> Result<(), MapError> {
        self.common.check_write("clear")?;
        self.slots
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(())
    }

    fn freeze(&self) {
        self.common.freeze();
    }

    fn is_frozen(&self) -> bool {
        self.common.is_frozen()
    }

    fn lookup_ptr(&self, _key: &[u8], _cpu: u32, _guard: &RunGuard) -> Option<ValuePtr> {
        // The lookup helper special-cases maps of maps with `inner`: the
        // result is a map, not a value.
        None
    }

    fn prog_update(&self, _: &[u8], _: &[u8], _: u64, _: u32) -> Result<(), MapError> {
        Err(MapError::Unsupported {
            op: "updates from programs",
            kind: self.common.spec.kind,
        })
    }

    fn prog_delete(&self, _: &[u8]) -> Result<(), MapError> {
        Err(MapError::Unsupported {
            op: "deletes from programs",
            kind: self.common.spec.kind,
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::create;

    #[test]
    fn inner_maps_must_match_the_template() {
        let opts = MapOptions::default();
        let template = MapSpec::new(MapKind::Array, 4, 8, 4);
        let outer = MapOfMaps::new(
            &MapSpec::new(MapKind::ArrayOfMaps, 4, 4, 2),
            template.clone(),
            &opts,
        )
        .unwrap();
        let good = create(&template, &opts).unwrap();
        let bad = create(&MapSpec::new(MapKind::Array, 4, 8, 5), &opts).unwrap();
        outer
            .set_inner(&1u32.to_ne_bytes(), good.clone(), 0)
            .unwrap();
        assert!(outer.set_inner(&0u32.to_ne_bytes(), bad, 0).is_err());
        assert!(
            outer
                .set_inner(&2u32.to_ne_bytes(), good.clone(), 0)
                .is_err()
        );
        let got = outer.inner(&1u32.to_ne_bytes()).unwrap();
        assert!(std::sync::Arc::ptr_eq(&got, &good));
        assert!(outer.inner(&0u32.to_ne_bytes()).is_none());
        outer.delete(&1u32.to_ne_bytes()).unwrap();
        assert!(outer.inner(&1u32.to_ne_bytes()).is_none());
    }

    #[test]
    fn hash_of_maps_is_bounded() {
        let opts = MapOptions::default();
        let template = MapSpec::new(MapKind::Hash, 4, 4, 8);
        let outer = MapOfMaps::new(
            &MapSpec::new(MapKind::HashOfMaps, 8, 4, 1),
            template.clone(),
            &opts,
        )
        .unwrap();
        let m = create(&template, &opts).unwrap();
        outer.set_inner(&[1; 8], m.clone(), 0).unwrap();
        assert_eq!(
            outer.set_inner(&[2; 8], m.clone(), 0),
            Err(MapError::Full { max_entries: 1 })
        );
        assert_eq!(
            outer.set_inner(&[1; 8], m, BPF_NOEXIST),
            Err(MapError::Exists)
        );
    }
}
