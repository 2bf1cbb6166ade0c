//! Typed map handles: sizes checked once, keys and values as Rust types.

use core::marker::PhantomData;

use oxbpf_maps::{MapHandle, MapKind, update::BPF_ANY};

use crate::Error;

/// Plain data that can be copied to and from map bytes.
///
/// # Safety
///
/// The type must have no padding bytes and accept every bit pattern
/// (integers, arrays of them, `#[repr(C)]` structs of them without
/// padding).
pub unsafe trait Pod: Copy + 'static {}

macro_rules! pod {
    ($($t:ty),*) => { $(
        // SAFETY: primitive integers have no padding and accept every bit
        // pattern.
        unsafe impl Pod for $t {}
    )* };
}
pod!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);
// SAFETY: an array of Pod elements has no padding between them.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

fn bytes_of<T: Pod>(v: &T) -> &[u8] {
    // SAFETY: T is Pod: size_of::<T>() initialised bytes without padding.
    unsafe { core::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
}

fn from_bytes<T: Pod>(b: &[u8]) -> T {
    debug_assert_eq!(b.len(), size_of::<T>());
    // SAFETY: `b` holds size_of::<T>() bytes (checked when the handle was
    // made) and every bit pattern is a valid T; read_unaligned needs no
    // alignment.
    unsafe { b.as_ptr().cast::<T>().read_unaligned() }
}

fn check(name: &str, map: &MapHandle, key: usize, value: usize) -> Result<(), Error> {
    let spec = map.spec();
    if spec.key_size as usize != key {
        return Err(Error::SizeMismatch {
            map: name.into(),
            what: "key",
            expected: spec.key_size as usize,
            actual: key,
        });
    }
    if spec.value_size as usize != value {
        return Err(Error::SizeMismatch {
            map: name.into(),
            what: "value",
            expected: spec.value_size as usize,
            actual: value,
        });
    }
    Ok(())
}

fn map_err(name: &str) -> impl Fn(oxbpf_maps::MapError) -> Error + '_ {
    move |source| Error::Map {
        map: name.into(),
        source,
    }
}

/// A `hash` (or `lru_hash`) map with typed keys and values.
#[derive(Debug, Clone)]
pub struct HashMap<K, V> {
    name: String,
    map: MapHandle,
    _t: PhantomData<fn(K, V)>,
}

impl<K: Pod, V: Pod> HashMap<K, V> {
    pub(crate) fn new(name: &str, map: MapHandle) -> Result<Self, Error> {
        if !matches!(map.spec().kind, MapKind::Hash | MapKind::LruHash) {
            return Err(Error::WrongKind {
                map: name.into(),
                kind: map.spec().kind.name(),
                expected: "hash",
            });
        }
        check(name, &map, size_of::<K>(), size_of::<V>())?;
        Ok(HashMap {
            name: name.into(),
            map,
            _t: PhantomData,
        })
    }

    /// The value for `key`, if any.
    pub fn get(&self, key: &K) -> Result<Option<V>, Error> {
        match self.map.lookup(bytes_of(key)) {
            Ok(v) => Ok(Some(from_bytes(&v))),
            Err(oxbpf_maps::MapError::NotFound) => Ok(None),
            Err(e) => Err(map_err(&self.name)(e)),
        }
    }

    /// Sets `key` to `value` (`BPF_ANY`).
    pub fn insert(&self, key: &K, value: &V) -> Result<(), Error> {
        self.map
            .update(bytes_of(key), bytes_of(value), BPF_ANY)
            .map_err(map_err(&self.name))
    }

    /// Removes `key`.
    pub fn remove(&self, key: &K) -> Result<(), Error> {
        self.map.delete(bytes_of(key)).map_err(map_err(&self.name))
    }

    /// Every entry.
    pub fn entries(&self) -> Result<Vec<(K, V)>, Error> {
        Ok(self
            .map
            .entries()
            .map_err(map_err(&self.name))?
            .iter()
            .map(|(k, v)| (from_bytes(k), from_bytes(v)))
            .collect())
    }
}

/// An `array` map with typed values, indexed by `u32`.
#[derive(Debug, Clone)]
pub struct Array<V> {
    name: String,
    map: MapHandle,
    _t: PhantomData<fn(V)>,
}

impl<V: Pod> Array<V> {
    pub(crate) fn new(name: &str, map: MapHandle) -> Result<Self, Error> {
        if map.spec().kind != MapKind::Array {
            return Err(Error::WrongKind {
                map: name.into(),
                kind: map.spec().kind.name(),
                expected: "array",
            });
        }
        check(name, &map, 4, size_of::<V>())?;
        Ok(Array {
            name: name.into(),
            map,
            _t: PhantomData,
        })
    }

    /// Number of elements.
    pub fn len(&self) -> u32 {
        self.map.spec().max_entries
    }

    /// Always false: arrays have at least one element.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Element `index`.
    pub fn get(&self, index: u32) -> Result<V, Error> {
        let v = self
            .map
            .lookup(&index.to_ne_bytes())
            .map_err(map_err(&self.name))?;
        Ok(from_bytes(&v))
    }

    /// Sets element `index`.
    pub fn set(&self, index: u32, value: &V) -> Result<(), Error> {
        self.map
            .update(&index.to_ne_bytes(), bytes_of(value), BPF_ANY)
            .map_err(map_err(&self.name))
    }
}
