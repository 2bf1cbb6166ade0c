//! The control plane: owns VIPs, backends and Maglev rings, and writes them
//! into the datapath's maps through a [`MapTarget`] — an oxbpf object on
//! any engine, or the kernel's maps of a [`KernelObject`]. Ring changes are
//! written as diffs (only the slots that changed), built in stable mode from
//! the ring the datapath holds.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use oxbpf_kernel::KernelObject;
use thiserror::Error;

use crate::abi;
use crate::maglev::{self, MaglevBackend, MaglevError};

/// Errors of the control plane.
#[derive(Debug, Error)]
pub enum ControlError {
    /// The datapath object has no map of that name.
    #[error("map {map}: not in the datapath object")]
    NoMap {
        /// The map name.
        map: String,
    },
    /// A map operation failed.
    #[error("map {map}: {op} failed: {source}")]
    Map {
        /// The map name.
        map: String,
        /// `update` or `delete`.
        op: &'static str,
        /// The engine's or kernel's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Building a ring failed.
    #[error("vip {vip}: {source}")]
    Ring {
        /// The VIP.
        vip: String,
        /// The Maglev error.
        source: MaglevError,
    },
    /// Every VIP number is in use.
    #[error("vip {vip}: all {max} vip numbers are in use")]
    TooManyVips {
        /// The VIP.
        vip: String,
        /// `LB_MAX_VIPS`.
        max: u32,
    },
    /// The VIP is not configured.
    #[error("vip {vip}: not configured")]
    UnknownVip {
        /// The VIP.
        vip: String,
    },
}

/// Where the control plane writes: map updates and deletes by map name.
pub trait MapTarget {
    /// Sets `key` to `value` in `map` (`BPF_ANY`).
    fn update(&self, map: &str, key: &[u8], value: &[u8]) -> Result<(), ControlError>;
    /// Deletes `key` from `map` (absent keys are not an error).
    fn delete(&self, map: &str, key: &[u8]) -> Result<(), ControlError>;
}

fn map_err(
    map: &str,
    op: &'static str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> ControlError {
    ControlError::Map {
        map: map.to_string(),
        op,
        source: Box::new(e),
    }
}

impl MapTarget for oxbpf::Object {
    fn update(&self, map: &str, key: &[u8], value: &[u8]) -> Result<(), ControlError> {
        let m = self
            .map(map)
            .map_err(|_| ControlError::NoMap { map: map.into() })?;
        m.update(key, value, 0)
            .map_err(|e| map_err(map, "update", e))
    }

    fn delete(&self, map: &str, key: &[u8]) -> Result<(), ControlError> {
        let m = self
            .map(map)
            .map_err(|_| ControlError::NoMap { map: map.into() })?;
        match m.delete(key) {
            Ok(()) | Err(oxbpf_maps::MapError::NotFound) => Ok(()),
            Err(e) => Err(map_err(map, "delete", e)),
        }
    }
}

impl MapTarget for KernelObject {
    fn update(&self, map: &str, key: &[u8], value: &[u8]) -> Result<(), ControlError> {
        let m = self
            .map(map)
            .ok_or_else(|| ControlError::NoMap { map: map.into() })?;
        m.update(key, value, 0)
            .map_err(|e| map_err(map, "update", e))
    }

    fn delete(&self, map: &str, key: &[u8]) -> Result<(), ControlError> {
        let m = self
            .map(map)
            .ok_or_else(|| ControlError::NoMap { map: map.into() })?;
        m.delete(key)
            .map(|_| ())
            .map_err(|e| map_err(map, "delete", e))
    }
}

/// How packets reach backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    /// IPIP / IP6IP6 (and the mixed 4-in-6, 6-in-4), by the families.
    Ip,
    /// GUE variant 1 over UDP to this destination port.
    Gue {
        /// The UDP destination port.
        port: u16,
    },
}

/// Global settings (`struct lb_ctl`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalConfig {
    /// MAC of the next hop every encapsulated packet is sent to.
    pub nexthop_mac: [u8; 6],
    /// Encapsulation.
    pub encap: Encap,
    /// Outer IPv4 source base; its low 16 bits come from the flow hash.
    pub src4: Ipv4Addr,
    /// Outer IPv6 source base; its last 32 bits come from the flow hash.
    pub src6: Ipv6Addr,
    /// New flows recorded per CPU per second (0: no limit).
    pub max_new_per_sec: u32,
    /// Ring size (a prime; must match the datapath's `LB_RING_SIZE`).
    pub ring_size: u32,
    /// Number of VIP rings (the datapath's `LB_MAX_VIPS`).
    pub max_vips: u32,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            nexthop_mac: [0; 6],
            encap: Encap::Ip,
            src4: Ipv4Addr::new(172, 16, 0, 0),
            src6: Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
            max_new_per_sec: 0,
            ring_size: maglev::DEFAULT_RING_SIZE,
            max_vips: 16,
        }
    }
}

/// A VIP: address, port (0 with `all_ports`), protocol and options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vip {
    /// The address clients connect to.
    pub addr: IpAddr,
    /// Destination port (ignored with `all_ports`).
    pub port: u16,
    /// IP protocol (6 TCP, 17 UDP).
    pub proto: u8,
}

impl std::fmt::Display for Vip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}/{}", self.port, self.proto),
            IpAddr::V6(a) => write!(f, "[{a}]:{}/{}", self.port, self.proto),
        }
    }
}

/// Per-VIP options (`vip_meta.flags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VipOptions {
    /// Match every destination port (the VIP's port must be 0).
    pub all_ports: bool,
    /// Hash only the client address.
    pub src_only: bool,
    /// Route UDP by QUIC server id.
    pub quic: bool,
}

impl VipOptions {
    /// The options of `vip_meta.flags` bits (unknown bits are ignored).
    pub fn from_flags(flags: u32) -> VipOptions {
        VipOptions {
            all_ports: flags & abi::F_ALL_PORTS != 0,
            src_only: flags & abi::F_SRC_ONLY != 0,
            quic: flags & abi::F_QUIC != 0,
        }
    }

    fn flags(self) -> u32 {
        (if self.all_ports { abi::F_ALL_PORTS } else { 0 })
            | (if self.src_only { abi::F_SRC_ONLY } else { 0 })
            | (if self.quic { abi::F_QUIC } else { 0 })
    }
}

#[derive(Clone, Debug)]
struct VipState {
    num: u32,
    options: VipOptions,
    /// Backend address -> weight.
    backends: BTreeMap<IpAddr, u32>,
    ring: Vec<u32>,
}

/// The control plane's state.
#[derive(Debug)]
pub struct Balancer {
    config: GlobalConfig,
    vips: BTreeMap<Vip, VipState>,
    backend_ids: BTreeMap<IpAddr, u32>,
}

impl Balancer {
    /// A balancer with no VIPs.
    pub fn new(config: GlobalConfig) -> Balancer {
        Balancer {
            config,
            vips: BTreeMap::new(),
            backend_ids: BTreeMap::new(),
        }
    }

    /// The global configuration.
    pub fn config(&self) -> &GlobalConfig {
        &self.config
    }

    /// Writes the global settings (`ctl`).
    pub fn write_global(&self, t: &dyn MapTarget) -> Result<(), ControlError> {
        let c = &self.config;
        let (port, flags) = match c.encap {
            Encap::Ip => (0, 0),
            Encap::Gue { port } => (port, abi::C_GUE),
        };
        let v = abi::ctl(
            c.nexthop_mac,
            port,
            c.src4.octets(),
            c.src6.octets(),
            c.max_new_per_sec,
            flags,
        );
        t.update("ctl", &0u32.to_le_bytes(), &v)
    }

    /// The id of a backend address, given on first use (ids start at 1).
    pub fn backend_id(&mut self, t: &dyn MapTarget, addr: IpAddr) -> Result<u32, ControlError> {
        if let Some(&id) = self.backend_ids.get(&addr) {
            return Ok(id);
        }
        // One above the highest id in use: ids adopted from a pinned
        // datapath may have gaps.
        let id = self.backend_ids.values().max().copied().unwrap_or(0) + 1;
        t.update("backends", &id.to_le_bytes(), &abi::backend(addr))?;
        self.backend_ids.insert(addr, id);
        Ok(id)
    }

    /// Adds a VIP (no backends yet) and returns its number.
    pub fn add_vip(
        &mut self,
        t: &dyn MapTarget,
        vip: Vip,
        options: VipOptions,
    ) -> Result<u32, ControlError> {
        let used: Vec<u32> = self.vips.values().map(|v| v.num).collect();
        let num = (0..self.config.max_vips)
            .find(|n| !used.contains(n))
            .ok_or(ControlError::TooManyVips {
                vip: vip.to_string(),
                max: self.config.max_vips,
            })?;
        let port = if options.all_ports { 0 } else { vip.port };
        t.update(
            "vips",
            &abi::vip_key(vip.addr, port, vip.proto),
            &abi::vip_meta(options.flags(), num),
        )?;
        t.update("vip_addrs", &abi::vip_addr(vip.addr), &1u32.to_le_bytes())?;
        self.adopt_vip(vip, options, num);
        Ok(num)
    }

    /// Sets the VIP's backends and weights (weight 0 drains): builds the
    /// ring in stable mode from the current one and writes the changed
    /// slots. Returns how many slots were written.
    pub fn set_backends(
        &mut self,
        t: &dyn MapTarget,
        vip: &Vip,
        backends: &[(IpAddr, u32)],
    ) -> Result<usize, ControlError> {
        let mut mb = Vec::new();
        for &(addr, w) in backends {
            let id = self.backend_id(t, addr)?;
            mb.push(MaglevBackend::new(id, w, abi::addr16(addr).to_vec()));
        }
        let size = self.config.ring_size;
        let st = self
            .vips
            .get_mut(vip)
            .ok_or_else(|| ControlError::UnknownVip {
                vip: vip.to_string(),
            })?;
        let ring =
            maglev::build_stable(&mb, size, &st.ring).map_err(|source| ControlError::Ring {
                vip: vip.to_string(),
                source,
            })?;
        let changes = maglev::diff(&st.ring, &ring);
        let base = st.num * size;
        for &(slot, id) in &changes {
            t.update("rings", &(base + slot).to_le_bytes(), &id.to_le_bytes())?;
        }
        st.ring = ring;
        st.backends = backends.iter().copied().collect();
        Ok(changes.len())
    }

    /// Adopts `ring` (read back from a pinned map) as the VIP's current
    /// ring, so the next change is computed from what the datapath holds.
    pub fn adopt_ring(&mut self, vip: &Vip, ring: Vec<u32>) -> Result<(), ControlError> {
        let size = self.config.ring_size;
        let st = self
            .vips
            .get_mut(vip)
            .ok_or_else(|| ControlError::UnknownVip {
                vip: vip.to_string(),
            })?;
        if ring.len() != size as usize {
            return Err(ControlError::Ring {
                vip: vip.to_string(),
                source: MaglevError::PreviousSize {
                    found: ring.len(),
                    expected: size,
                },
            });
        }
        st.ring = ring;
        Ok(())
    }

    /// Removes a VIP: its keys and its ring slots.
    pub fn remove_vip(&mut self, t: &dyn MapTarget, vip: &Vip) -> Result<(), ControlError> {
        let st = self
            .vips
            .remove(vip)
            .ok_or_else(|| ControlError::UnknownVip {
                vip: vip.to_string(),
            })?;
        let port = if st.options.all_ports { 0 } else { vip.port };
        t.delete("vips", &abi::vip_key(vip.addr, port, vip.proto))?;
        if !self.vips.keys().any(|v| v.addr == vip.addr) {
            t.delete("vip_addrs", &abi::vip_addr(vip.addr))?;
        }
        let base = st.num * self.config.ring_size;
        for (slot, &id) in st.ring.iter().enumerate() {
            if id != maglev::NO_BACKEND {
                t.update(
                    "rings",
                    &(base + slot as u32).to_le_bytes(),
                    &0u32.to_le_bytes(),
                )?;
            }
        }
        Ok(())
    }

    /// Routes QUIC server id `sid` to backend `addr`.
    pub fn set_quic_server(
        &mut self,
        t: &dyn MapTarget,
        sid: u16,
        addr: IpAddr,
    ) -> Result<(), ControlError> {
        let id = self.backend_id(t, addr)?;
        t.update(
            "quic_servers",
            &u32::from(sid).to_le_bytes(),
            &id.to_le_bytes(),
        )
    }

    /// Replaces the global settings (the ring size must stay; the caller
    /// checks) and writes them.
    pub fn set_global(
        &mut self,
        t: &dyn MapTarget,
        config: GlobalConfig,
    ) -> Result<(), ControlError> {
        self.config = config;
        self.write_global(t)
    }

    /// Records that backend `addr` has id `id` in the datapath (read back
    /// from a pinned `backends` map), so the same id is used again.
    pub fn adopt_backend(&mut self, addr: IpAddr, id: u32) {
        self.backend_ids.insert(addr, id);
    }

    /// Records a VIP the datapath already has (read back from a pinned
    /// `vips` map) under its number `num`, with an empty ring and no
    /// backends; [`Balancer::adopt_ring`] then gives it the pinned ring.
    /// Writes nothing.
    pub fn adopt_vip(&mut self, vip: Vip, options: VipOptions, num: u32) {
        self.vips.insert(
            vip,
            VipState {
                num,
                options,
                backends: BTreeMap::new(),
                ring: vec![maglev::NO_BACKEND; self.config.ring_size as usize],
            },
        );
    }

    /// The VIPs with their options and numbers.
    pub fn vip_list(&self) -> Vec<(Vip, VipOptions, u32)> {
        self.vips
            .iter()
            .map(|(v, s)| (*v, s.options, s.num))
            .collect()
    }

    /// The VIP's backends and weights as last set.
    pub fn backends_of(&self, vip: &Vip) -> Option<&BTreeMap<IpAddr, u32>> {
        self.vips.get(vip).map(|s| &s.backends)
    }

    /// The id of backend `addr`, if it has one.
    pub fn known_backend_id(&self, addr: IpAddr) -> Option<u32> {
        self.backend_ids.get(&addr).copied()
    }

    /// The VIP's number and current ring.
    pub fn ring(&self, vip: &Vip) -> Option<(u32, &[u32])> {
        self.vips.get(vip).map(|s| (s.num, s.ring.as_slice()))
    }

    /// The address of backend `id`.
    pub fn backend_addr(&self, id: u32) -> Option<IpAddr> {
        self.backend_ids
            .iter()
            .find(|(_, v)| **v == id)
            .map(|(a, _)| *a)
    }

    /// The backend a new flow to `vip` gets by the ring (what the datapath
    /// computes on a connection-table miss).
    pub fn pick(&self, vip: &Vip, flow: &crate::flow::Flow) -> Option<IpAddr> {
        let st = self.vips.get(vip)?;
        let slot = crate::flow::ring_slot(flow, st.options.src_only, self.config.ring_size);
        self.backend_addr(st.ring[slot as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A map write: map name, key, value.
    type Write = (String, Vec<u8>, Vec<u8>);

    /// Records every write.
    #[derive(Default)]
    struct Recorder(RefCell<Vec<Write>>);

    impl MapTarget for Recorder {
        fn update(&self, map: &str, key: &[u8], value: &[u8]) -> Result<(), ControlError> {
            self.0
                .borrow_mut()
                .push((map.into(), key.to_vec(), value.to_vec()));
            Ok(())
        }
        fn delete(&self, _: &str, _: &[u8]) -> Result<(), ControlError> {
            Ok(())
        }
    }

    fn ring_writes(r: &Recorder) -> usize {
        r.0.borrow().iter().filter(|(m, _, _)| m == "rings").count()
    }

    #[test]
    fn restart_adopting_the_pinned_ring_writes_nothing_for_the_same_backends() {
        let cfg = GlobalConfig {
            ring_size: 257,
            ..GlobalConfig::default()
        };
        let vip = Vip {
            addr: "10.0.0.1".parse().unwrap(),
            port: 80,
            proto: 6,
        };
        let bs: Vec<(IpAddr, u32)> = (1..=4).map(|i| (IpAddr::from([10, 1, 0, i]), 1)).collect();
        let first = Recorder::default();
        let mut a = Balancer::new(cfg.clone());
        a.add_vip(&first, vip, VipOptions::default()).unwrap();
        a.set_backends(&first, &vip, &bs).unwrap();
        // A fresh ring writes every slot.
        assert_eq!(ring_writes(&first), 257);
        let pinned = a.ring(&vip).unwrap().1.to_vec();

        // A new process adopts the pinned ring: the same backends change
        // nothing, removing one rewrites only its slots.
        let second = Recorder::default();
        let mut b = Balancer::new(cfg);
        b.add_vip(&second, vip, VipOptions::default()).unwrap();
        b.adopt_ring(&vip, pinned.clone()).unwrap();
        assert_eq!(b.set_backends(&second, &vip, &bs).unwrap(), 0);
        let removed_id = pinned[0];
        let removed_slots = pinned.iter().filter(|&&s| s == removed_id).count();
        let kept: Vec<_> = bs
            .iter()
            .copied()
            .filter(|(a, _)| b.backend_addr(removed_id) != Some(*a))
            .collect();
        assert_eq!(b.set_backends(&second, &vip, &kept).unwrap(), removed_slots);
    }
}
