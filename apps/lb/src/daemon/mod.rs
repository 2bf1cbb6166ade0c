//! The `oxbpf lb` daemon as a library: the configuration file
//! ([`config`]), the state it keeps and applies as diffs ([`state`]), the
//! HTTP/JSON control API ([`api`]) and its client ([`client`]), health
//! checks ([`health`]) and metrics ([`metrics`]).
//!
//! The daemon works on a [`Datapath`]: the datapath's maps on any engine
//! (an [`oxbpf::Object`] run by AF_XDP workers in userspace mode) or in
//! the kernel ([`PinnedMaps`], the maps pinned under
//! `/sys/fs/bpf/oxbpf/lb/IFACE/maps/`). Attaching the datapath to an
//! interface is the command line's job (`crates/cli/src/cmd/lb.rs`).

pub mod api;
pub mod client;
pub mod config;
pub mod health;
pub mod metrics;
pub mod state;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use oxbpf_kernel::{KernelMap, KernelObject};

use crate::control::{ControlError, MapTarget};

/// The datapath's maps as the daemon uses them: writes (the control
/// plane's [`MapTarget`]) and reads (adoption and counters).
pub trait Datapath: MapTarget + Send + Sync {
    /// The value of `key` in `map` as the map's user API returns it (for
    /// per-CPU maps every CPU's copy, each padded to 8 bytes); `None` if
    /// absent.
    fn lookup(&self, map: &str, key: &[u8]) -> Result<Option<Vec<u8>>, ControlError>;
    /// Every key of `map`.
    fn keys(&self, map: &str) -> Result<Vec<Vec<u8>>, ControlError>;
    /// `max_entries` of `map`.
    fn max_entries(&self, map: &str) -> Result<u32, ControlError>;
    /// `value_size` of `map` (one CPU's value for a per-CPU map), if the
    /// datapath knows it: the metrics read a pinned datapath of another
    /// build by its own layout.
    fn value_size(&self, map: &str) -> Result<Option<u32>, ControlError> {
        let _ = map;
        Ok(None)
    }
}

fn read_err(map: &str, e: impl std::error::Error + Send + Sync + 'static) -> ControlError {
    ControlError::Map {
        map: map.to_string(),
        op: "read",
        source: Box::new(e),
    }
}

impl Datapath for oxbpf::Object {
    fn lookup(&self, map: &str, key: &[u8]) -> Result<Option<Vec<u8>>, ControlError> {
        let m = self
            .map(map)
            .map_err(|_| ControlError::NoMap { map: map.into() })?;
        match m.lookup(key) {
            Ok(v) => Ok(Some(v)),
            Err(oxbpf_maps::MapError::NotFound) => Ok(None),
            Err(e) => Err(read_err(map, e)),
        }
    }

    fn keys(&self, map: &str) -> Result<Vec<Vec<u8>>, ControlError> {
        let m = self
            .map(map)
            .map_err(|_| ControlError::NoMap { map: map.into() })?;
        m.keys().map_err(|e| read_err(map, e))
    }

    fn max_entries(&self, map: &str) -> Result<u32, ControlError> {
        let m = self
            .map(map)
            .map_err(|_| ControlError::NoMap { map: map.into() })?;
        Ok(m.spec().max_entries)
    }

    fn value_size(&self, map: &str) -> Result<Option<u32>, ControlError> {
        let m = self
            .map(map)
            .map_err(|_| ControlError::NoMap { map: map.into() })?;
        Ok(Some(m.spec().value_size))
    }
}

fn kernel_lookup(m: &KernelMap, map: &str, key: &[u8]) -> Result<Option<Vec<u8>>, ControlError> {
    m.lookup(key).map_err(|e| read_err(map, e))
}

fn kernel_keys(m: &KernelMap, map: &str) -> Result<Vec<Vec<u8>>, ControlError> {
    m.keys()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read_err(map, e))
}

impl Datapath for KernelObject {
    fn lookup(&self, map: &str, key: &[u8]) -> Result<Option<Vec<u8>>, ControlError> {
        let m = self
            .map(map)
            .ok_or_else(|| ControlError::NoMap { map: map.into() })?;
        kernel_lookup(m, map, key)
    }

    fn keys(&self, map: &str) -> Result<Vec<Vec<u8>>, ControlError> {
        let m = self
            .map(map)
            .ok_or_else(|| ControlError::NoMap { map: map.into() })?;
        kernel_keys(m, map)
    }

    fn max_entries(&self, map: &str) -> Result<u32, ControlError> {
        let m = self
            .map(map)
            .ok_or_else(|| ControlError::NoMap { map: map.into() })?;
        Ok(m.spec().max_entries)
    }

    fn value_size(&self, map: &str) -> Result<Option<u32>, ControlError> {
        let m = self
            .map(map)
            .ok_or_else(|| ControlError::NoMap { map: map.into() })?;
        Ok(Some(m.spec().value_size))
    }
}

/// Kernel maps opened from their pins, by name.
#[derive(Debug, Default)]
pub struct PinnedMaps {
    maps: BTreeMap<String, KernelMap>,
}

impl PinnedMaps {
    /// Opens every map pinned in `dir` (one file per map, named after it).
    pub fn open(dir: &Path) -> Result<PinnedMaps, ControlError> {
        let rd = std::fs::read_dir(dir).map_err(|e| read_err(&dir.display().to_string(), e))?;
        let mut maps = BTreeMap::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let m = KernelMap::from_pin(&e.path()).map_err(|err| read_err(&name, err))?;
            maps.insert(name, m);
        }
        Ok(PinnedMaps { maps })
    }

    /// The map named `name`.
    pub fn get(&self, name: &str) -> Option<&KernelMap> {
        self.maps.get(name)
    }

    fn map(&self, name: &str) -> Result<&KernelMap, ControlError> {
        self.maps
            .get(name)
            .ok_or_else(|| ControlError::NoMap { map: name.into() })
    }
}

impl MapTarget for PinnedMaps {
    fn update(&self, map: &str, key: &[u8], value: &[u8]) -> Result<(), ControlError> {
        self.map(map)?
            .update(key, value, 0)
            .map_err(|e| ControlError::Map {
                map: map.into(),
                op: "update",
                source: Box::new(e),
            })
    }

    fn delete(&self, map: &str, key: &[u8]) -> Result<(), ControlError> {
        self.map(map)?
            .delete(key)
            .map(|_| ())
            .map_err(|e| ControlError::Map {
                map: map.into(),
                op: "delete",
                source: Box::new(e),
            })
    }
}

impl Datapath for PinnedMaps {
    fn lookup(&self, map: &str, key: &[u8]) -> Result<Option<Vec<u8>>, ControlError> {
        kernel_lookup(self.map(map)?, map, key)
    }

    fn keys(&self, map: &str) -> Result<Vec<Vec<u8>>, ControlError> {
        kernel_keys(self.map(map)?, map)
    }

    fn max_entries(&self, map: &str) -> Result<u32, ControlError> {
        Ok(self.map(map)?.spec().max_entries)
    }

    fn value_size(&self, map: &str) -> Result<Option<u32>, ControlError> {
        Ok(Some(self.map(map)?.spec().value_size))
    }
}

/// The sums over CPUs of the `u64` fields of a per-CPU value of
/// `value_size` bytes (`raw` is every CPU's copy, padded to 8 bytes); a
/// plain value is one CPU's.
pub fn sum_percpu_u64(raw: &[u8], value_size: usize) -> Vec<u64> {
    let slot = value_size.div_ceil(8) * 8;
    let fields = value_size / 8;
    let mut out = vec![0u64; fields];
    if slot == 0 {
        return out;
    }
    for cpu in raw.chunks(slot) {
        for (i, o) in out.iter_mut().enumerate() {
            if let Some(b) = cpu.get(i * 8..i * 8 + 8) {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                *o = o.wrapping_add(u64::from_le_bytes(a));
            }
        }
    }
    out
}

/// The address in the 16 bytes of a key (IPv4 in the first four).
pub fn addr_from16(b: &[u8], v6: bool) -> Option<IpAddr> {
    if v6 {
        let a: [u8; 16] = b.get(..16)?.try_into().ok()?;
        Some(IpAddr::from(a))
    } else {
        let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
        Some(IpAddr::from(a))
    }
}

/// The datapath's C source and header, built into the binary.
pub const BALANCER_C: &str = include_str!("../../bpf/balancer.bpf.c");
/// `balancer.h`.
pub const BALANCER_H: &str = include_str!("../../bpf/balancer.h");

/// Errors building the built-in datapath.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Writing the sources or the object failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// clang failed.
    #[error("clang failed on the built-in datapath ({status}): {stderr}")]
    Clang {
        /// Its exit status.
        status: String,
        /// What it printed.
        stderr: String,
    },
}

/// Compiles the built-in datapath with `ring_size` slots per ring into
/// `cache_dir` (reused while the sources and ring size are the same) and
/// returns the object's path. Uses the project's clang flags.
pub fn build_datapath(cache_dir: &Path, ring_size: u32) -> Result<PathBuf, BuildError> {
    let mut key = Vec::new();
    key.extend_from_slice(BALANCER_C.as_bytes());
    key.extend_from_slice(BALANCER_H.as_bytes());
    key.extend_from_slice(&ring_size.to_le_bytes());
    let h = crate::maglev::stable_hash(&key, 0x6c62_6275_696c_6431);
    let dir = cache_dir.join(format!("balancer-{h:016x}"));
    let obj = dir.join("balancer.o");
    if obj.exists() {
        return Ok(obj);
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    static BUILDS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Sources in a directory of this build's own (a concurrent build
    // may be writing the shared one), the object renamed into place.
    let src = dir.join(format!("src.{}.{n}", std::process::id()));
    std::fs::create_dir_all(&src).map_err(io(&src))?;
    let c = src.join("balancer.bpf.c");
    std::fs::write(&c, BALANCER_C).map_err(io(&c))?;
    let hdr = src.join("balancer.h");
    std::fs::write(&hdr, BALANCER_H).map_err(io(&hdr))?;
    // Build to a temporary name and rename, so a concurrent daemon never
    // reads a half-written object.
    let tmp = dir.join(format!("balancer.o.{}.{n}", std::process::id()));
    let out = std::process::Command::new("clang")
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-mcpu=v3",
            "-I/usr/include/x86_64-linux-gnu",
        ])
        .arg(format!("-DLB_RING_SIZE={ring_size}"))
        .arg("-c")
        .arg(&c)
        .arg("-o")
        .arg(&tmp)
        .output()
        .map_err(io(Path::new("clang")))?;
    let _ = std::fs::remove_dir_all(&src);
    if !out.status.success() {
        return Err(BuildError::Clang {
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    std::fs::rename(&tmp, &obj).map_err(io(&obj))?;
    Ok(obj)
}

/// Where `oxbpf lb` pins the kernel datapath of `iface`.
pub fn pin_dir(iface: &str) -> PathBuf {
    Path::new(oxbpf_kernel::pin::BPFFS)
        .join("oxbpf")
        .join("lb")
        .join(iface)
}

/// The default API socket of the daemon on `iface`.
pub fn default_socket(iface: &str) -> PathBuf {
    PathBuf::from(format!("/run/oxbpf/lb-{iface}.sock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percpu_sums_add_every_cpu() {
        // Two CPUs of a 16-byte {packets, bytes}.
        let mut raw = Vec::new();
        for (p, b) in [(3u64, 300u64), (4, 401)] {
            raw.extend_from_slice(&p.to_le_bytes());
            raw.extend_from_slice(&b.to_le_bytes());
        }
        assert_eq!(sum_percpu_u64(&raw, 16), vec![7, 701]);
        assert_eq!(sum_percpu_u64(&5u64.to_le_bytes(), 8), vec![5]);
    }
}
