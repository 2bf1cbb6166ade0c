//! Program arrays and maps of maps on an [`Object`]: program ids, tail-call
//! slots set by program name, inner maps created from the object's
//! template, and the object's own initial slots (libbpf's
//! `.values = { [i] = &prog_or_map }`).
//!
//! A `prog_array` slot holds a program *id*: the program's position in
//! the object plus one (0 is never an id, as no kernel program has id 0).
//! Each engine gets its own table of the object's programs loaded on it
//! ([`TailTargets`]), built when the first program of the object is
//! loaded on that engine, so a tail call stays on the caller's engine.

use std::sync::Arc;

use oxbpf_maps::{FdArray, MapError, MapHandle, MapKind, MapOfMaps, MapOptions, create};
use oxbpf_runtime::tail_call::TailTargets;

use crate::object::InitSlots;
use crate::{EngineKind, Error, Object};

fn engine_slot(engine: EngineKind) -> usize {
    match engine {
        EngineKind::Interp => 0,
        EngineKind::InterpFast => 1,
        EngineKind::Jit => 2,
    }
}

impl Object {
    /// The id `prog_array` slots use for program `name`.
    ///
    /// ```no_run
    /// # let obj = oxbpf::Loader::new().load_file("dispatch.o")?;
    /// obj.set_tail_call("jump_table", 6, "handle_tcp")?;
    /// let slot = obj.map("jump_table")?.lookup(&6u32.to_ne_bytes()).expect("slot 6 is set");
    /// assert_eq!(obj.program_id("handle_tcp")?, u32::from_ne_bytes(slot[..4].try_into().unwrap()));
    /// # Ok::<(), oxbpf::Error>(())
    /// ```
    pub fn program_id(&self, name: &str) -> Result<u32, Error> {
        self.programs
            .iter()
            .position(|p| p.name == name)
            .map(|i| i as u32 + 1)
            .ok_or_else(|| Error::NotFound {
                what: "program",
                name: name.to_string(),
            })
    }

    /// The name of the program with id `id` (see [`Object::program_id`]).
    pub fn program_name(&self, id: u32) -> Option<&str> {
        let i = (id as usize).checked_sub(1)?;
        self.programs.get(i).map(|p| p.name.as_str())
    }

    fn fd_array(&self, map: &str, kind: MapKind) -> Result<&FdArray, Error> {
        let handle = self.map(map)?;
        let wrong = || Error::WrongKind {
            map: map.to_string(),
            kind: handle.spec().kind.name(),
            expected: kind.name(),
        };
        if handle.spec().kind != kind {
            return Err(wrong());
        }
        handle.as_any().downcast_ref::<FdArray>().ok_or_else(wrong)
    }

    fn map_of_maps(&self, map: &str) -> Result<&MapOfMaps, Error> {
        let handle = self.map(map)?;
        handle
            .as_any()
            .downcast_ref::<MapOfMaps>()
            .ok_or_else(|| Error::WrongKind {
                map: map.to_string(),
                kind: handle.spec().kind.name(),
                expected: "array_of_maps or hash_of_maps",
            })
    }

    /// Puts program `program` in slot `index` of prog_array `map`: a
    /// `bpf_tail_call(ctx, &map, index)` then runs it.
    pub fn set_tail_call(&self, map: &str, index: u32, program: &str) -> Result<(), Error> {
        let id = self.program_id(program)?;
        self.fd_array(map, MapKind::ProgArray)?
            .set_slot(index, id)
            .map_err(|source| Error::Map {
                map: map.to_string(),
                source,
            })
    }

    /// Empties slot `index` of prog_array `map`: tail calls through it
    /// fall through.
    pub fn clear_tail_call(&self, map: &str, index: u32) -> Result<(), Error> {
        self.fd_array(map, MapKind::ProgArray)?
            .clear_slot(index)
            .map_err(|source| Error::Map {
                map: map.to_string(),
                source,
            })
    }

    /// The program in slot `index` of prog_array `map`, by name.
    pub fn tail_call(&self, map: &str, index: u32) -> Result<Option<&str>, Error> {
        let array = self.fd_array(map, MapKind::ProgArray)?;
        Ok(array.slot(index).and_then(|id| self.program_name(id)))
    }

    /// A new, empty map made from the inner map template of map-in-map
    /// `outer`, named `name`, ready for [`Object::set_inner_map`].
    pub fn create_inner_map(&self, outer: &str, name: &str) -> Result<MapHandle, Error> {
        let template = self.map_of_maps(outer)?.template().clone().with_name(name);
        let ncpus = self
            .map(outer)?
            .ncpus()
            .max(self.maps.iter().map(|m| m.map.ncpus()).max().unwrap_or(1));
        let opts = if template.kind.is_percpu() {
            MapOptions::with_ncpus(ncpus)
        } else {
            MapOptions::default()
        };
        create(&template, &opts).map_err(|source| Error::Map {
            map: name.to_string(),
            source,
        })
    }

    /// Installs `inner` at `key` of map-in-map `outer` (`BPF_ANY`): the
    /// template must match (see [`MapOfMaps::set_inner`]).
    pub fn set_inner_map(&self, outer: &str, key: &[u8], inner: MapHandle) -> Result<(), Error> {
        self.map_of_maps(outer)?
            .set_inner(key, inner, 0)
            .map_err(|source| Error::Map {
                map: outer.to_string(),
                source,
            })
    }

    /// The inner map at `key` of map-in-map `outer`.
    pub fn inner_map(&self, outer: &str, key: &[u8]) -> Result<Option<MapHandle>, Error> {
        Ok(self.map_of_maps(outer)?.inner(key))
    }

    /// The object's programs loaded on `engine`, by id, if the object has
    /// a prog_array (else `None`: no tail call can succeed).
    pub(crate) fn tail_targets(
        &self,
        engine: EngineKind,
    ) -> Result<Option<Arc<TailTargets>>, Error> {
        let cell = &self.targets[engine_slot(engine)];
        if let Some(t) = cell.get() {
            return Ok(t.clone());
        }
        let has_prog_array = self
            .maps
            .iter()
            .any(|m| m.map.spec().kind == MapKind::ProgArray);
        let built = if has_prog_array {
            let mut t = TailTargets::new();
            for (i, p) in self.programs.iter().enumerate() {
                let exe = engine.engine().load(&p.program)?;
                t.insert(i as u32 + 1, Arc::from(exe));
            }
            Some(Arc::new(t))
        } else {
            None
        };
        // Another thread may have built it meanwhile: both are equivalent.
        Ok(cell.get_or_init(|| built).clone())
    }
}

/// Fills the object's initial prog_array and map-in-map slots.
pub(crate) fn fill_initial_slots(obj: &Object, slots: &[InitSlots]) -> Result<(), Error> {
    for s in slots {
        match s {
            InitSlots::Programs { map, slots } => {
                let name = map_name(obj, *map)?;
                for (index, program) in slots {
                    obj.set_tail_call(&name, *index, program)?;
                }
            }
            InitSlots::Maps { map, slots } => {
                let name = map_name(obj, *map)?;
                for (index, inner) in slots {
                    let inner = obj
                        .maps
                        .at(*inner)
                        .ok_or(Error::Map {
                            map: name.clone(),
                            source: MapError::NotFound,
                        })?
                        .map
                        .clone();
                    obj.set_inner_map(&name, &index.to_ne_bytes(), inner)?;
                }
            }
        }
    }
    Ok(())
}

fn map_name(obj: &Object, index: usize) -> Result<String, Error> {
    obj.maps
        .at(index)
        .map(|m| m.name.clone())
        .ok_or_else(|| Error::Object {
            reason: format!("initial slots name map {index}, which does not exist"),
        })
}
