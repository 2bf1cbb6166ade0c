//! XDP packet buffers and their runtime context.
//!
//! Laid out as the kernel's `bpf_prog_test_run_xdp` lays out a test packet:
//! one 4096-byte frame, [`XDP_HEADROOM`] bytes of headroom before the data
//! (`XDP_PACKET_HEADROOM`), and [`XDP_TAILROOM`] bytes reserved at the end
//! for `struct skb_shared_info`. The `bpf_xdp_adjust_*` helpers move
//! `data`, `data_meta` and `data_end` inside the frame with the kernel's
//! limits ([`XdpBuff::adjust_head`] and friends).

use oxbpf_abi::context::{XDP_MD, xdp_slot};

use crate::memory::{Region, RegionKind};
use crate::state::RunState;

/// Headroom before the packet (`XDP_PACKET_HEADROOM`).
pub const XDP_HEADROOM: usize = 256;
/// Bytes of a frame (`PAGE_SIZE`, the test-run frame size).
pub const XDP_FRAME_SIZE: usize = 4096;
/// `SKB_DATA_ALIGN(sizeof(struct skb_shared_info))` on x86-64: the end of
/// the frame the packet may not grow into.
pub const XDP_TAILROOM: usize = 320;
/// `sizeof(struct xdp_frame)`: the start of the frame `adjust_head` and
/// `adjust_meta` may not move into.
pub const XDP_FRAME_STRUCT: usize = 40;
/// `ETH_HLEN`: the smallest packet XDP accepts and leaves.
pub const ETH_HLEN: usize = 14;
/// Largest packet that fits one frame.
pub const XDP_MAX_DATA: usize = XDP_FRAME_SIZE - XDP_HEADROOM - XDP_TAILROOM;
/// Largest metadata (`xdp_metalen_invalid`).
pub const XDP_MAX_META: usize = 32;

const EINVAL: i64 = 22;
const EACCES: i64 = 13;

/// Why a packet cannot be made into an XDP buffer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Shorter than an Ethernet header: `bpf_prog_test_run_xdp` refuses it.
    #[error("xdp packet of {len} bytes is shorter than an ethernet header ({ETH_HLEN} bytes)")]
    TooShort { len: usize },
    /// Does not fit one frame (multi-buffer packets are not supported).
    #[error("xdp packet of {len} bytes exceeds the {XDP_MAX_DATA} bytes of one frame")]
    TooLong { len: usize },
}

/// A packet in an XDP frame, with the runtime context (`struct xdp_md` as
/// [`XDP_MD`] lays it out: one `u64` slot per field) pointing into it.
///
/// Both live in heap allocations that never move, so the addresses a
/// program holds stay valid as long as the buffer lives.
#[derive(Debug)]
pub struct XdpBuff {
    ctx: Box<[u64; 6]>,
    frame: Box<[u64]>,
    packet_region: Option<usize>,
    /// One past the highest frame offset `data_end` has reached since the
    /// frame was last zeroed: every byte a program could have written lies
    /// below it (and above the `xdp_frame` area), so [`XdpBuff::reload`]
    /// clears only that span.
    high: usize,
}

impl XdpBuff {
    /// A frame holding `packet` at the kernel's headroom.
    pub fn new(packet: &[u8]) -> Result<XdpBuff, PacketError> {
        if packet.len() < ETH_HLEN {
            return Err(PacketError::TooShort { len: packet.len() });
        }
        if packet.len() > XDP_MAX_DATA {
            return Err(PacketError::TooLong { len: packet.len() });
        }
        let mut b = XdpBuff {
            ctx: Box::new([0; 6]),
            frame: vec![0u64; XDP_FRAME_SIZE / 8].into_boxed_slice(),
            packet_region: None,
            high: XDP_HEADROOM + packet.len(),
        };
        let base = b.base();
        b.frame_bytes_mut()[XDP_HEADROOM..XDP_HEADROOM + packet.len()].copy_from_slice(packet);
        let data = base + XDP_HEADROOM as u64;
        b.ctx[xdp_slot::DATA] = data;
        b.ctx[xdp_slot::DATA_META] = data;
        b.ctx[xdp_slot::DATA_END] = data + packet.len() as u64;
        b.ctx[xdp_slot::INGRESS_IFINDEX] = 1;
        Ok(b)
    }

    /// Puts a new packet in the frame, reusing its memory (no allocation):
    /// the bytes the previous run could have touched are zeroed first, so a
    /// run sees exactly what it would in a fresh [`XdpBuff::new`]. The
    /// receive interface and queue are kept.
    pub fn reload(&mut self, packet: &[u8]) -> Result<(), PacketError> {
        if packet.len() < ETH_HLEN {
            return Err(PacketError::TooShort { len: packet.len() });
        }
        if packet.len() > XDP_MAX_DATA {
            return Err(PacketError::TooLong { len: packet.len() });
        }
        let high = self.high.max(self.off(xdp_slot::DATA_END));
        self.frame_bytes_mut()[XDP_FRAME_STRUCT..high].fill(0);
        self.frame_bytes_mut()[XDP_HEADROOM..XDP_HEADROOM + packet.len()].copy_from_slice(packet);
        let data = self.base() + XDP_HEADROOM as u64;
        self.ctx[xdp_slot::DATA] = data;
        self.ctx[xdp_slot::DATA_META] = data;
        self.ctx[xdp_slot::DATA_END] = data + packet.len() as u64;
        self.packet_region = None;
        self.high = XDP_HEADROOM + packet.len();
        Ok(())
    }

    fn base(&self) -> u64 {
        self.frame.as_ptr() as u64
    }

    fn frame_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: the frame is XDP_FRAME_SIZE initialised bytes; u8 has no
        // alignment or validity requirements.
        unsafe { core::slice::from_raw_parts_mut(self.frame.as_mut_ptr().cast(), XDP_FRAME_SIZE) }
    }

    fn frame_bytes(&self) -> &[u8] {
        // SAFETY: as in frame_bytes_mut.
        unsafe { core::slice::from_raw_parts(self.frame.as_ptr().cast(), XDP_FRAME_SIZE) }
    }

    fn off(&self, slot: usize) -> usize {
        (self.ctx[slot] - self.base()) as usize
    }

    /// Sets `ingress_ifindex` and `rx_queue_index`.
    pub fn set_rx(&mut self, ifindex: u32, queue: u32) {
        self.ctx[xdp_slot::INGRESS_IFINDEX] = ifindex.into();
        self.ctx[xdp_slot::RX_QUEUE_INDEX] = queue.into();
    }

    /// The address of the runtime context: the program's `r1`.
    #[inline]
    pub fn ctx_addr(&self) -> u64 {
        self.ctx.as_ptr() as u64
    }

    /// The packet, from `data` to `data_end`.
    pub fn data(&self) -> &[u8] {
        &self.frame_bytes()[self.off(xdp_slot::DATA)..self.off(xdp_slot::DATA_END)]
    }

    /// The metadata, from `data_meta` to `data`.
    pub fn meta(&self) -> &[u8] {
        &self.frame_bytes()[self.off(xdp_slot::DATA_META)..self.off(xdp_slot::DATA)]
    }

    /// Lends the buffer to a run: registers the context (read-only) and
    /// the packet `[data_meta, data_end)` (writable) as regions for checked
    /// mode, and makes the buffer reachable by the `xdp_adjust_*` helpers.
    /// Returns the context address to pass in `r1`.
    #[inline]
    pub fn attach<'a>(&'a mut self, state: &mut RunState<'a>) -> u64 {
        state.regions.push(Region {
            start: self.ctx_addr(),
            len: (XDP_MD.runtime_size()) as u64,
            writable: false,
            kind: RegionKind::Context,
        });
        self.packet_region = Some(state.regions.push(self.packet_region_value()));
        let ctx = self.ctx_addr();
        state.set_xdp(self);
        ctx
    }

    /// [`XdpBuff::attach`] without the regions, for a verified program
    /// that does not need them ([`crate::Program::needs_regions`]): only
    /// makes the buffer reachable by the `xdp_adjust_*` helpers. Returns
    /// the context address to pass in `r1`.
    #[inline]
    pub fn attach_without_regions<'a>(&'a mut self, state: &mut RunState<'a>) -> u64 {
        self.packet_region = None;
        let ctx = self.ctx_addr();
        state.set_xdp(self);
        ctx
    }

    #[inline]
    fn packet_region_value(&self) -> Region {
        let start = self.ctx[xdp_slot::DATA_META];
        Region {
            start,
            len: self.ctx[xdp_slot::DATA_END] - start,
            writable: true,
            kind: RegionKind::Packet,
        }
    }

    fn sync_region(&self, state_regions: &mut [Region]) {
        if let Some(r) = self.packet_region.and_then(|i| state_regions.get_mut(i)) {
            *r = self.packet_region_value();
        }
    }

    /// `bpf_xdp_adjust_head`: moves `data` by `delta` (negative grows the
    /// packet into the headroom), keeping the metadata just before it.
    /// Returns 0 or a negative errno, as the helper does.
    pub fn adjust_head(&mut self, delta: i64) -> i64 {
        let meta = self.off(xdp_slot::DATA_META) as i64;
        let data = self.off(xdp_slot::DATA) as i64;
        let end = self.off(xdp_slot::DATA_END) as i64;
        let metalen = data - meta;
        let new_data = data + delta;
        if new_data < XDP_FRAME_STRUCT as i64 + metalen || new_data > end - ETH_HLEN as i64 {
            return -EINVAL;
        }
        if metalen > 0 {
            let (m, n) = (meta as usize, (meta + delta) as usize);
            self.frame_bytes_mut()
                .copy_within(m..m + metalen as usize, n);
        }
        let base = self.base();
        self.ctx[xdp_slot::DATA_META] = base + (meta + delta) as u64;
        self.ctx[xdp_slot::DATA] = base + new_data as u64;
        0
    }

    /// `bpf_xdp_adjust_meta`: moves `data_meta` by `delta`; the metadata
    /// must stay a multiple of 4 bytes, at most 32.
    pub fn adjust_meta(&mut self, delta: i64) -> i64 {
        let meta = self.off(xdp_slot::DATA_META) as i64 + delta;
        let data = self.off(xdp_slot::DATA) as i64;
        if meta < XDP_FRAME_STRUCT as i64 || meta > data {
            return -EINVAL;
        }
        let metalen = data - meta;
        if metalen % 4 != 0 || metalen > XDP_MAX_META as i64 {
            return -EACCES;
        }
        self.ctx[xdp_slot::DATA_META] = self.base() + meta as u64;
        0
    }

    /// `bpf_xdp_adjust_tail`: moves `data_end` by `delta`; grown bytes are
    /// zeroed; the packet keeps at least an Ethernet header.
    pub fn adjust_tail(&mut self, delta: i64) -> i64 {
        let data = self.off(xdp_slot::DATA) as i64;
        let end = self.off(xdp_slot::DATA_END) as i64;
        let new_end = end + delta;
        if new_end > (XDP_FRAME_SIZE - XDP_TAILROOM) as i64 || new_end < data + ETH_HLEN as i64 {
            return -EINVAL;
        }
        if delta > 0 {
            self.frame_bytes_mut()[end as usize..new_end as usize].fill(0);
            self.high = self.high.max(new_end as usize);
        }
        self.ctx[xdp_slot::DATA_END] = self.base() + new_end as u64;
        0
    }
}

/// Runs an `xdp_adjust_*` operation on the buffer attached to `state`, for
/// the helper whose context argument is `ctx`; keeps the checked-mode
/// packet region in step. `None` if no buffer is attached or `ctx` is not
/// its context.
pub(crate) fn with_xdp(
    state: &mut RunState<'_>,
    ctx: u64,
    f: impl FnOnce(&mut XdpBuff) -> i64,
) -> Option<i64> {
    let buf = state.xdp_ptr()?;
    // SAFETY: the pointer was set by `XdpBuff::attach` from a `&'a mut
    // XdpBuff` that outlives the state's lifetime 'a, and no other
    // reference to the buffer exists while the state holds it.
    let buf = unsafe { &mut *buf };
    if buf.ctx_addr() != ctx {
        return None;
    }
    let r = f(buf);
    buf.sync_region(state.regions.as_mut_slice());
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_kernel() {
        assert_eq!(
            XdpBuff::new(&[0; 13]).unwrap_err(),
            PacketError::TooShort { len: 13 }
        );
        let mut b = XdpBuff::new(&[7; 60]).unwrap();
        // Headroom 256, minus the xdp_frame: -216 is the most.
        assert_eq!(b.adjust_head(-217), -EINVAL);
        assert_eq!(b.adjust_head(-216), 0);
        assert_eq!(b.data().len(), 276);
        assert_eq!(b.adjust_head(216 + 60 - 14 + 1), -EINVAL);
        assert_eq!(b.adjust_head(216 + 60 - 14), 0);
        assert_eq!(b.data(), &[7; 14]);
        assert_eq!(b.adjust_tail(-1), -EINVAL);
        let room = XDP_FRAME_SIZE - XDP_TAILROOM - (XDP_HEADROOM + 60);
        assert_eq!(b.adjust_tail(room as i64 + 1), -EINVAL);
        assert_eq!(b.adjust_tail(room as i64), 0);
        assert!(b.data()[14..].iter().all(|&x| x == 0));
    }

    #[test]
    fn reload_matches_a_fresh_buffer() {
        let mut b = XdpBuff::new(&[9; 100]).unwrap();
        b.set_rx(7, 3);
        // Dirty the headroom, the metadata and a grown tail.
        assert_eq!(b.adjust_head(-64), 0);
        assert_eq!(b.adjust_meta(-16), 0);
        assert_eq!(b.adjust_tail(200), 0);
        let (d, e) = (b.off(xdp_slot::DATA_META), b.off(xdp_slot::DATA_END));
        b.frame_bytes_mut()[d..e].fill(0xaa);
        assert_eq!(b.adjust_tail(-250), 0);
        b.reload(&[5; 20]).unwrap();
        let fresh = XdpBuff::new(&[5; 20]).unwrap();
        assert_eq!(b.frame_bytes(), fresh.frame_bytes());
        assert_eq!(b.data(), fresh.data());
        assert_eq!(b.meta(), fresh.meta());
        assert_eq!(b.ctx[xdp_slot::RX_QUEUE_INDEX], 3);
        assert_eq!(b.reload(&[0; 13]), Err(PacketError::TooShort { len: 13 }));
    }

    #[test]
    fn meta_moves_with_head() {
        let mut b = XdpBuff::new(&[1; 20]).unwrap();
        assert_eq!(b.adjust_meta(-3), -EACCES);
        assert_eq!(b.adjust_meta(-36), -EACCES);
        assert_eq!(b.adjust_meta(-8), 0);
        assert_eq!(b.meta().len(), 8);
        assert_eq!(b.adjust_head(-4), 0);
        assert_eq!(b.meta().len(), 8);
        assert_eq!(b.data().len(), 24);
    }
}
