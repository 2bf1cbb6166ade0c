//! The daemon's state: the wanted configuration, the backends' health,
//! and the control plane that writes them into the datapath.
//!
//! Every change (an API call, a reloaded file, a health transition) makes
//! a new wanted configuration and applies it as a diff: VIPs that went
//! away are removed, new ones added, and every VIP's ring is rebuilt in
//! stable mode from the one the datapath holds, writing only the slots
//! that change. A backend that is unhealthy or drained has weight 0: it
//! leaves the ring, while flows already in the connection tables keep
//! going to it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use thiserror::Error;

use crate::abi;
use crate::control::{Balancer, ControlError, Vip, VipOptions};
use crate::daemon::config::{self, BackendConfig, ConfigError, HealthCheck, LbConfig, VipConfig};
use crate::daemon::{Datapath, addr_from16};

/// Errors of daemon operations (API calls and reloads).
#[derive(Debug, Error)]
pub enum DaemonError {
    /// A map operation failed.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The configuration or request is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The VIP is not configured.
    #[error("vip {vip}: not configured")]
    UnknownVip {
        /// The VIP.
        vip: String,
    },
    /// The backend is not configured for the VIP.
    #[error("vip {vip}: backend {addr} is not configured")]
    UnknownBackend {
        /// The VIP.
        vip: String,
        /// The backend.
        addr: IpAddr,
    },
    /// The VIP exists already.
    #[error("vip {vip}: already configured")]
    VipExists {
        /// The VIP.
        vip: String,
    },
    /// The configuration does not fit the datapath.
    #[error("{what}")]
    Mismatch {
        /// What does not fit.
        what: String,
    },
}

/// What the daemon found in a pinned datapath when it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Adopted {
    /// VIPs (with their rings) read back.
    pub vips: usize,
    /// Backend ids read back.
    pub backends: usize,
}

/// Who is serving, for `/v1/status` and the ready line.
#[derive(Clone, Debug, Default)]
pub struct DaemonInfo {
    /// The interface.
    pub iface: String,
    /// `kernel` or `userspace`.
    pub mode: String,
    /// The API socket path.
    pub api: String,
}

/// The daemon's state.
#[derive(Debug)]
pub struct Daemon {
    dp: Arc<dyn Datapath>,
    bal: Balancer,
    cfg: LbConfig,
    /// Health of backends with a check, by (VIP, backend); absent means
    /// healthy (checks start optimistic, so a restart moves nothing).
    unhealthy: BTreeSet<(Vip, IpAddr)>,
    /// QUIC server ids written into the datapath.
    sids: BTreeMap<u16, IpAddr>,
    /// Who is serving.
    pub info: DaemonInfo,
    /// What was adopted at start.
    pub adopted: Adopted,
}

impl std::fmt::Debug for dyn Datapath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Datapath")
    }
}

/// Reads the VIPs, their rings and the backend ids of a datapath that
/// was configured before (a pinned kernel datapath after a restart) into
/// `bal`, so that the next change is a diff against what it holds.
pub fn adopt(bal: &mut Balancer, dp: &dyn Datapath) -> Result<Adopted, ControlError> {
    let mut adopted = Adopted::default();
    let nbackends = dp.max_entries("backends")?;
    for id in 1..nbackends {
        let Some(v) = dp.lookup("backends", &id.to_le_bytes())? else {
            continue;
        };
        if v.len() < 20 || v.iter().all(|&b| b == 0) {
            continue;
        }
        let flags = u32::from_le_bytes([v[16], v[17], v[18], v[19]]);
        if let Some(addr) = addr_from16(&v, flags & abi::B_IPV6 != 0) {
            bal.adopt_backend(addr, id);
            adopted.backends += 1;
        }
    }
    let size = bal.config().ring_size;
    for key in dp.keys("vips")? {
        let Some(meta) = dp.lookup("vips", &key)? else {
            continue;
        };
        if key.len() < 20 || meta.len() < 8 {
            continue;
        }
        let Some(addr) = addr_from16(&key, key[19] != 0) else {
            continue;
        };
        let vip = Vip {
            addr,
            port: u16::from_be_bytes([key[16], key[17]]),
            proto: key[18],
        };
        let flags = u32::from_le_bytes([meta[0], meta[1], meta[2], meta[3]]);
        let num = u32::from_le_bytes([meta[4], meta[5], meta[6], meta[7]]);
        bal.adopt_vip(vip, VipOptions::from_flags(flags), num);
        let mut ring = Vec::with_capacity(size as usize);
        for slot in 0..size {
            let idx = num * size + slot;
            let id = dp
                .lookup("rings", &idx.to_le_bytes())?
                .and_then(|b| {
                    b.get(..4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                })
                .unwrap_or(0);
            ring.push(id);
        }
        bal.adopt_ring(&vip, ring)?;
        adopted.vips += 1;
    }
    Ok(adopted)
}

impl Daemon {
    /// Starts on `dp`: checks that the configuration fits the datapath,
    /// adopts what the datapath holds when `adopt_existing`, and applies
    /// `cfg` as a diff.
    pub fn start(
        dp: Arc<dyn Datapath>,
        cfg: LbConfig,
        adopt_existing: bool,
        info: DaemonInfo,
    ) -> Result<Daemon, DaemonError> {
        let slots = dp.max_entries("rings")?;
        let want = cfg.global.max_vips.saturating_mul(cfg.global.ring_size);
        if slots != want {
            return Err(DaemonError::Mismatch {
                what: format!(
                    "ring_size: {} does not match the datapath (its rings map has {slots} slots, \
                     {} vips x {} expected)",
                    cfg.global.ring_size, cfg.global.max_vips, cfg.global.ring_size
                ),
            });
        }
        let mut bal = Balancer::new(cfg.global.clone());
        let adopted = if adopt_existing {
            adopt(&mut bal, dp.as_ref())?
        } else {
            Adopted::default()
        };
        // A checked backend with weight that owns no slot of an adopted
        // ring was out for its health: it starts unhealthy, so the restart
        // does not put it back before its check says so.
        let mut unhealthy = BTreeSet::new();
        for vc in &cfg.vips {
            let Some((_, ring)) = bal.ring(&vc.vip) else {
                continue;
            };
            for b in &vc.backends {
                if b.health.is_some()
                    && b.weight > 0
                    && let Some(id) = bal.known_backend_id(b.addr)
                    && !ring.contains(&id)
                {
                    unhealthy.insert((vc.vip, b.addr));
                }
            }
        }
        let mut d = Daemon {
            dp,
            bal,
            cfg: LbConfig {
                vips: Vec::new(),
                ..cfg.clone()
            },
            unhealthy,
            sids: BTreeMap::new(),
            info,
            adopted,
        };
        d.apply(cfg)?;
        Ok(d)
    }

    /// The wanted configuration.
    pub fn config(&self) -> &LbConfig {
        &self.cfg
    }

    /// The control plane.
    pub fn balancer(&self) -> &Balancer {
        &self.bal
    }

    /// The datapath.
    pub fn datapath(&self) -> &dyn Datapath {
        self.dp.as_ref()
    }

    /// Whether the backend counts as healthy.
    pub fn is_healthy(&self, vip: &Vip, addr: IpAddr) -> bool {
        !self.unhealthy.contains(&(*vip, addr))
    }

    /// The weight the ring gives the backend now (0 when unhealthy).
    fn effective(&self, vc: &VipConfig) -> Vec<(IpAddr, u32)> {
        vc.backends
            .iter()
            .map(|b| {
                let w = if self.is_healthy(&vc.vip, b.addr) {
                    b.weight
                } else {
                    0
                };
                (b.addr, w)
            })
            .collect()
    }

    /// Applies `new` as a diff against the current state; returns the
    /// ring slots written. On an error part of the change may be applied.
    pub fn apply(&mut self, new: LbConfig) -> Result<usize, DaemonError> {
        config::check(&new)?;
        if new.global.ring_size != self.bal.config().ring_size {
            return Err(DaemonError::Mismatch {
                what: format!(
                    "ring_size: cannot change from {} to {} while running (the datapath's rings \
                     are sized at build time)",
                    self.bal.config().ring_size,
                    new.global.ring_size
                ),
            });
        }
        let dp = Arc::clone(&self.dp);
        let t = dp.as_ref();
        self.bal.set_global(t, new.global.clone())?;
        // VIPs gone, or whose options changed (their key or flags differ):
        // removed first, so their numbers are free for new ones.
        for (vip, opts, _) in self.bal.vip_list() {
            let keep = new
                .vips
                .iter()
                .any(|vc| vc.vip == vip && vc.options == opts);
            if !keep {
                self.bal.remove_vip(t, &vip)?;
            }
        }
        let present: BTreeSet<Vip> = self.bal.vip_list().into_iter().map(|v| v.0).collect();
        // Health of backends that stay is kept.
        self.unhealthy.retain(|(vip, addr)| {
            new.vips
                .iter()
                .any(|vc| vc.vip == *vip && vc.backends.iter().any(|b| b.addr == *addr))
        });
        let mut written = 0;
        for vc in &new.vips {
            if !present.contains(&vc.vip) {
                self.bal.add_vip(t, vc.vip, vc.options)?;
            }
            let eff = self.effective(vc);
            written += self.bal.set_backends(t, &vc.vip, &eff)?;
        }
        // QUIC server ids: new routes written, stale ones cleared.
        let mut sids = BTreeMap::new();
        for b in new.vips.iter().flat_map(|v| &v.backends) {
            if let Some(sid) = b.quic_server_id {
                sids.insert(sid, b.addr);
            }
        }
        for (&sid, &addr) in &sids {
            if self.sids.get(&sid) != Some(&addr) {
                self.bal.set_quic_server(t, sid, addr)?;
            }
        }
        for sid in self.sids.keys().filter(|s| !sids.contains_key(s)) {
            t.update(
                "quic_servers",
                &u32::from(*sid).to_le_bytes(),
                &0u32.to_le_bytes(),
            )?;
        }
        self.sids = sids;
        self.cfg = new;
        Ok(written)
    }

    fn vip_index(&self, vip: &Vip) -> Result<usize, DaemonError> {
        self.cfg
            .vips
            .iter()
            .position(|v| v.vip == *vip)
            .ok_or_else(|| DaemonError::UnknownVip {
                vip: config::vip_string(vip),
            })
    }

    fn backend_index(&self, vi: usize, addr: IpAddr) -> Result<usize, DaemonError> {
        let vc = &self.cfg.vips[vi];
        vc.backends
            .iter()
            .position(|b| b.addr == addr)
            .ok_or_else(|| DaemonError::UnknownBackend {
                vip: config::vip_string(&vc.vip),
                addr,
            })
    }

    /// Adds a VIP (with the backends it lists).
    pub fn add_vip(&mut self, vc: VipConfig) -> Result<usize, DaemonError> {
        if self.cfg.vips.iter().any(|v| v.vip == vc.vip) {
            return Err(DaemonError::VipExists {
                vip: config::vip_string(&vc.vip),
            });
        }
        let mut new = self.cfg.clone();
        new.vips.push(vc);
        self.apply(new)
    }

    /// Removes a VIP.
    pub fn del_vip(&mut self, vip: &Vip) -> Result<usize, DaemonError> {
        let i = self.vip_index(vip)?;
        let mut new = self.cfg.clone();
        new.vips.remove(i);
        self.apply(new)
    }

    /// Adds a backend to a VIP, or replaces the one with its address.
    /// Returns whether it was new.
    pub fn put_backend(&mut self, vip: &Vip, b: BackendConfig) -> Result<bool, DaemonError> {
        let vi = self.vip_index(vip)?;
        let mut new = self.cfg.clone();
        let list = &mut new.vips[vi].backends;
        let fresh = match list.iter_mut().find(|o| o.addr == b.addr) {
            Some(o) => {
                *o = b;
                false
            }
            None => {
                list.push(b);
                true
            }
        };
        self.apply(new)?;
        Ok(fresh)
    }

    /// Removes a backend from a VIP.
    pub fn del_backend(&mut self, vip: &Vip, addr: IpAddr) -> Result<usize, DaemonError> {
        let vi = self.vip_index(vip)?;
        let bi = self.backend_index(vi, addr)?;
        let mut new = self.cfg.clone();
        new.vips[vi].backends.remove(bi);
        self.apply(new)
    }

    /// Sets a backend's weight (0 drains it: it leaves the ring, its
    /// established flows stay through the connection tables).
    pub fn set_weight(
        &mut self,
        vip: &Vip,
        addr: IpAddr,
        weight: u32,
    ) -> Result<usize, DaemonError> {
        if u64::from(weight) > config::MAX_WEIGHT {
            return Err(ConfigError::Field {
                path: "weight".into(),
                msg: format!("{weight} is above the maximum {}", config::MAX_WEIGHT),
            }
            .into());
        }
        let vi = self.vip_index(vip)?;
        let bi = self.backend_index(vi, addr)?;
        let mut new = self.cfg.clone();
        new.vips[vi].backends[bi].weight = weight;
        self.apply(new)
    }

    /// Records a health transition and, when it changes the backend's
    /// state, rebuilds the VIP's ring. Unknown backends (removed while a
    /// check ran) are ignored.
    pub fn set_health(
        &mut self,
        vip: &Vip,
        addr: IpAddr,
        healthy: bool,
    ) -> Result<usize, DaemonError> {
        let Ok(vi) = self.vip_index(vip) else {
            return Ok(0);
        };
        if self.backend_index(vi, addr).is_err() || self.is_healthy(vip, addr) == healthy {
            return Ok(0);
        }
        if healthy {
            self.unhealthy.remove(&(*vip, addr));
        } else {
            self.unhealthy.insert((*vip, addr));
        }
        let vc = self.cfg.vips[vi].clone();
        let eff = self.effective(&vc);
        let dp = Arc::clone(&self.dp);
        Ok(self.bal.set_backends(dp.as_ref(), vip, &eff)?)
    }

    /// The health checks the configuration asks for, by (VIP, backend),
    /// with the backend's health now (where a new check starts).
    pub fn wanted_checks(&self) -> Vec<((Vip, IpAddr), HealthCheck, bool)> {
        let mut out = Vec::new();
        for vc in &self.cfg.vips {
            for b in &vc.backends {
                if let Some(h) = &b.health {
                    out.push((
                        (vc.vip, b.addr),
                        h.clone(),
                        self.is_healthy(&vc.vip, b.addr),
                    ));
                }
            }
        }
        out
    }

    /// Number of VIPs and of (VIP, backend) pairs.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.cfg.vips.len(),
            self.cfg.vips.iter().map(|v| v.backends.len()).sum(),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::control::MapTarget;
    use std::sync::Mutex;

    /// One in-memory map: key -> value.
    pub(crate) type MemMap = BTreeMap<Vec<u8>, Vec<u8>>;

    /// An in-memory datapath: maps of key -> value, with the sizes the
    /// daemon reads.
    #[derive(Default)]
    pub(crate) struct MemDp {
        pub maps: Mutex<BTreeMap<String, MemMap>>,
        pub ring_slots: u32,
        /// Value sizes the datapath reports, by map (others: unknown).
        pub value_sizes: BTreeMap<String, u32>,
    }

    impl MapTarget for MemDp {
        fn update(&self, map: &str, key: &[u8], value: &[u8]) -> Result<(), ControlError> {
            self.maps
                .lock()
                .unwrap()
                .entry(map.into())
                .or_default()
                .insert(key.to_vec(), value.to_vec());
            Ok(())
        }
        fn delete(&self, map: &str, key: &[u8]) -> Result<(), ControlError> {
            if let Some(m) = self.maps.lock().unwrap().get_mut(map) {
                m.remove(key);
            }
            Ok(())
        }
    }

    impl Datapath for MemDp {
        fn lookup(&self, map: &str, key: &[u8]) -> Result<Option<Vec<u8>>, ControlError> {
            Ok(self
                .maps
                .lock()
                .unwrap()
                .get(map)
                .and_then(|m| m.get(key).cloned()))
        }
        fn keys(&self, map: &str) -> Result<Vec<Vec<u8>>, ControlError> {
            Ok(self
                .maps
                .lock()
                .unwrap()
                .get(map)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default())
        }
        fn max_entries(&self, map: &str) -> Result<u32, ControlError> {
            Ok(match map {
                "rings" => self.ring_slots,
                _ => 64,
            })
        }
        fn value_size(&self, map: &str) -> Result<Option<u32>, ControlError> {
            Ok(self.value_sizes.get(map).copied())
        }
    }

    pub(crate) const CFG: &str = r#"
nexthop_mac: "02:00:00:00:00:01"
ring_size: 251
vips:
  - address: 10.200.0.1
    port: 80
    proto: tcp
    backends:
      - {address: 10.201.0.2}
      - {address: 10.201.0.3}
      - {address: 10.201.0.4, weight: 2}
"#;

    pub(crate) fn mem() -> Arc<MemDp> {
        Arc::new(MemDp {
            ring_slots: 16 * 251,
            ..MemDp::default()
        })
    }

    fn ring_of(d: &Daemon, vip: &str) -> Vec<u32> {
        let v = config::parse_vip(vip).unwrap();
        d.balancer().ring(&v).unwrap().1.to_vec()
    }

    fn share(d: &Daemon, vip: &str, addr: &str) -> usize {
        let id = d
            .balancer()
            .known_backend_id(addr.parse().unwrap())
            .unwrap();
        ring_of(d, vip).iter().filter(|&&s| s == id).count()
    }

    #[test]
    fn start_writes_the_config_and_a_restart_adopts_it_without_writes() {
        let dp = mem();
        let cfg = LbConfig::parse(CFG).unwrap();
        let d = Daemon::start(dp.clone(), cfg.clone(), false, DaemonInfo::default()).unwrap();
        let ring = ring_of(&d, "10.200.0.1:80/tcp");
        // Weight 2 of 4 in total: half the slots, within one slot.
        assert!(share(&d, "10.200.0.1:80/tcp", "10.201.0.4").abs_diff(251 / 2) <= 1);
        // The datapath holds the same ring.
        let num = d
            .balancer()
            .ring(&config::parse_vip("10.200.0.1:80/tcp").unwrap())
            .unwrap()
            .0;
        for (i, &id) in ring.iter().enumerate() {
            let k = (num * 251 + i as u32).to_le_bytes();
            assert_eq!(dp.lookup("rings", &k).unwrap().unwrap(), id.to_le_bytes());
        }
        drop(d);
        // A second daemon on the same maps adopts them: same ring, and
        // applying the same configuration writes no slot.
        let before = dp.maps.lock().unwrap().clone();
        let d2 = Daemon::start(dp.clone(), cfg, true, DaemonInfo::default()).unwrap();
        assert_eq!(
            d2.adopted,
            Adopted {
                vips: 1,
                backends: 3
            }
        );
        assert_eq!(ring_of(&d2, "10.200.0.1:80/tcp"), ring);
        assert_eq!(*dp.maps.lock().unwrap(), before);
    }

    #[test]
    fn a_restart_keeps_a_failed_backend_out() {
        let text = CFG.replace(
            "{address: 10.201.0.3}",
            "{address: 10.201.0.3, health: {tcp: 80}}",
        );
        let cfg = LbConfig::parse(&text).unwrap();
        let dp = mem();
        let mut d = Daemon::start(dp.clone(), cfg.clone(), false, DaemonInfo::default()).unwrap();
        let vip = config::parse_vip("10.200.0.1:80/tcp").unwrap();
        let b3: IpAddr = "10.201.0.3".parse().unwrap();
        assert!(d.set_health(&vip, b3, false).unwrap() > 0);
        let ring = ring_of(&d, "10.200.0.1:80/tcp");
        drop(d);
        let d2 = Daemon::start(dp, cfg, true, DaemonInfo::default()).unwrap();
        assert!(!d2.is_healthy(&vip, b3));
        assert_eq!(ring_of(&d2, "10.200.0.1:80/tcp"), ring);
        let checks = d2.wanted_checks();
        assert_eq!(checks.len(), 1);
        assert!(!checks[0].2, "its check starts from unhealthy");
    }

    #[test]
    fn drain_health_and_removal_move_only_that_backends_slots() {
        let dp = mem();
        let mut d = Daemon::start(
            dp,
            LbConfig::parse(CFG).unwrap(),
            false,
            DaemonInfo::default(),
        )
        .unwrap();
        let vip = config::parse_vip("10.200.0.1:80/tcp").unwrap();
        let b3: IpAddr = "10.201.0.3".parse().unwrap();
        let id3 = d.balancer().known_backend_id(b3).unwrap();
        let before = ring_of(&d, "10.200.0.1:80/tcp");
        let owned = before.iter().filter(|&&s| s == id3).count();
        // Draining moves exactly its slots.
        assert_eq!(d.set_weight(&vip, b3, 0).unwrap(), owned);
        let after = ring_of(&d, "10.200.0.1:80/tcp");
        for (a, b) in before.iter().zip(&after) {
            if *a != id3 {
                assert_eq!(a, b, "a slot of another backend moved");
            } else {
                assert_ne!(*b, id3);
            }
        }
        // Undrain, then fail it by health: the same slots leave again.
        d.set_weight(&vip, b3, 1).unwrap();
        assert_eq!(d.set_health(&vip, b3, false).unwrap(), owned);
        assert!(!d.is_healthy(&vip, b3));
        assert_eq!(
            d.set_health(&vip, b3, false).unwrap(),
            0,
            "no transition, no write"
        );
        assert!(d.set_health(&vip, b3, true).unwrap() > 0);
        // Unknown names are refused with what is missing.
        let other = config::parse_vip("10.9.9.9:80/tcp").unwrap();
        assert_eq!(
            d.del_vip(&other).unwrap_err().to_string(),
            "vip 10.9.9.9:80/tcp: not configured"
        );
        assert_eq!(
            d.del_backend(&vip, "10.1.1.1".parse().unwrap())
                .unwrap_err()
                .to_string(),
            "vip 10.200.0.1:80/tcp: backend 10.1.1.1 is not configured"
        );
    }

    #[test]
    fn reload_applies_a_diff_and_refuses_a_new_ring_size() {
        let dp = mem();
        let mut d = Daemon::start(
            dp.clone(),
            LbConfig::parse(CFG).unwrap(),
            false,
            DaemonInfo::default(),
        )
        .unwrap();
        let text = format!(
            "{CFG}  - address: 10.200.0.2\n    port: 53\n    proto: udp\n    backends: [{{address: 10.201.0.9}}]\n"
        );
        let written = d.apply(LbConfig::parse(&text).unwrap()).unwrap();
        assert_eq!(written, 251, "only the new VIP's ring is written");
        assert_eq!(d.counts(), (2, 4));
        let bigger = text.replace("ring_size: 251", "ring_size: 257");
        let e = d.apply(LbConfig::parse(&bigger).unwrap()).unwrap_err();
        assert!(e.to_string().starts_with("ring_size: cannot change"), "{e}");
        assert_eq!(d.counts(), (2, 4), "the running state is kept");
        // Removing the VIP clears its key.
        d.apply(LbConfig::parse(CFG).unwrap()).unwrap();
        assert_eq!(dp.keys("vips").unwrap().len(), 1);
    }
}
