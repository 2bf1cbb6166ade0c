//! Socket buffers for `sched_cls` (tc) and `socket_filter` programs: a
//! packet and the runtime `struct __sk_buff` (one `u64` slot per field of
//! [`SK_BUFF_TC`], see [`oxbpf_abi::context`]) pointing into it.
//!
//! Filled as the kernel's `bpf_prog_test_run_skb` fills a test skb for an
//! Ethernet device: `len` is the packet length, `protocol` the Ethernet
//! type (`eth_type_trans`), `ifindex` and `ingress_ifindex` the device
//! (1, the loopback device's index, by default); every other field 0.

use oxbpf_abi::context::{SK_BUFF_TC, skb_slot};

use crate::memory::{Region, RegionKind};
use crate::packet::{ETH_HLEN, PacketError, XDP_HEADROOM, XDP_MAX_DATA};
use crate::state::RunState;

/// A packet with its runtime `__sk_buff`.
#[derive(Debug)]
pub struct SkBuff {
    ctx: Box<[u64; skb_slot::COUNT]>,
    buf: Box<[u64]>,
    len: usize,
}

impl SkBuff {
    /// A buffer holding `packet` (at least an Ethernet header).
    pub fn new(packet: &[u8]) -> Result<SkBuff, PacketError> {
        if packet.len() < ETH_HLEN {
            return Err(PacketError::TooShort { len: packet.len() });
        }
        if packet.len() > XDP_MAX_DATA {
            return Err(PacketError::TooLong { len: packet.len() });
        }
        let words = (XDP_HEADROOM + packet.len()).div_ceil(8);
        let mut s = SkBuff {
            ctx: Box::new([0; skb_slot::COUNT]),
            buf: vec![0u64; words].into_boxed_slice(),
            len: packet.len(),
        };
        s.bytes_mut()[XDP_HEADROOM..].copy_from_slice(packet);
        let data = s.buf.as_ptr() as u64 + XDP_HEADROOM as u64;
        s.ctx[skb_slot::LEN] = packet.len() as u64;
        // skb->protocol is big-endian, read as stored.
        s.ctx[skb_slot::PROTOCOL] = u16::from_ne_bytes([packet[12], packet[13]]).into();
        s.ctx[skb_slot::IFINDEX] = 1;
        s.ctx[skb_slot::INGRESS_IFINDEX] = 1;
        s.ctx[skb_slot::DATA] = data;
        s.ctx[skb_slot::DATA_META] = data;
        s.ctx[skb_slot::DATA_END] = data + packet.len() as u64;
        Ok(s)
    }

    /// Moves `data` past the Ethernet header and shortens `len` by it, as
    /// the kernel's test runner leaves the skb for program types that see
    /// the packet from the network header (socket filters: only tc
    /// programs get the link-layer header pushed back, `is_l2` in
    /// `bpf_prog_test_run_skb`). The output packet still starts at the
    /// Ethernet header (the runner pushes it back before copying out).
    pub fn pull_l2(&mut self) {
        if self.ctx[skb_slot::DATA] + ETH_HLEN as u64 <= self.ctx[skb_slot::DATA_END] {
            self.ctx[skb_slot::DATA] += ETH_HLEN as u64;
            self.ctx[skb_slot::LEN] -= ETH_HLEN as u64;
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        let n = XDP_HEADROOM + self.len;
        // SAFETY: the buffer holds at least `n` initialised bytes (rounded
        // up to whole u64 words); u8 has no alignment requirement.
        unsafe { core::slice::from_raw_parts_mut(self.buf.as_mut_ptr().cast(), n) }
    }

    /// The address of the runtime context: the program's `r1`.
    pub fn ctx_addr(&self) -> u64 {
        self.ctx.as_ptr() as u64
    }

    /// The packet.
    pub fn data(&self) -> &[u8] {
        // SAFETY: as in bytes_mut, read-only.
        let all: &[u8] = unsafe {
            core::slice::from_raw_parts(self.buf.as_ptr().cast(), XDP_HEADROOM + self.len)
        };
        &all[XDP_HEADROOM..]
    }

    /// The value of slot `slot` ([`skb_slot`]) after a run, as the field's
    /// `u32`.
    pub fn field(&self, slot: usize) -> u32 {
        self.ctx.get(slot).copied().unwrap_or(0) as u32
    }

    /// Sets a scalar field before a run (`mark`, `priority`, `cb[i]`...).
    pub fn set_field(&mut self, slot: usize, value: u32) {
        let pointer = SK_BUFF_TC
            .fields
            .get(slot)
            .is_none_or(|f| f.kind.is_pointer());
        if !pointer {
            self.ctx[slot] = value.into();
        }
    }

    /// Lends the buffer to a run: the context (writable: the rewriting
    /// pass already refuses stores to read-only fields) and the packet
    /// (writable when `packet_writable`, as for tc programs) become regions.
    /// Returns the context address for `r1`.
    pub fn attach<'a>(&'a mut self, state: &mut RunState<'a>, packet_writable: bool) -> u64 {
        state.regions.push(Region {
            start: self.ctx_addr(),
            len: SK_BUFF_TC.runtime_size() as u64,
            writable: true,
            kind: RegionKind::Context,
        });
        let data = self.ctx[skb_slot::DATA];
        state.regions.push(Region {
            start: data,
            len: self.len as u64,
            writable: packet_writable,
            kind: RegionKind::Packet,
        });
        self.ctx_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_the_packet() {
        let mut pkt = vec![0u8; 60];
        pkt[12] = 0x86;
        pkt[13] = 0xdd;
        let s = SkBuff::new(&pkt).unwrap();
        assert_eq!(s.field(skb_slot::LEN), 60);
        // 0x86dd in network order, read as a little-endian u16: 0xdd86.
        assert_eq!(s.field(skb_slot::PROTOCOL), 0xdd86);
        assert_eq!(s.data(), &pkt[..]);
        assert!(SkBuff::new(&pkt[..13]).is_err());
    }
}
