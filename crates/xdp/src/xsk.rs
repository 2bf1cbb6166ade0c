//! AF_XDP sockets: a packet buffer area (the UMEM) shared with the kernel
//! and four single-producer single-consumer rings (the kernel's
//! `Documentation/networking/af_xdp.rst`).
//!
//! - **fill** (we produce): frames the kernel may receive into;
//! - **rx** (kernel produces): received frames, as `(addr, len)`;
//! - **tx** (we produce): frames to send;
//! - **completion** (kernel produces): sent frames we may reuse.
//!
//! A frame is owned by exactly one party at a time: our free list, the fill
//! ring, the kernel (receiving), us again (from rx, while the program runs),
//! the tx ring, and back through the completion ring to the free list. The
//! socket keeps that invariant: [`XskSocket::recycle`] and
//! [`XskSocket::transmit`] take frames that came out of
//! [`XskSocket::receive`], and every frame address is checked to be a chunk
//! of this UMEM before it is handed to the kernel.
//!
//! One socket serves one receive queue of one interface; a worker thread
//! owns it (the rings are single-producer, single-consumer).

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::error::{Result, XdpError};

/// Bytes the kernel leaves in front of a received packet in copy mode
/// (`XDP_PACKET_HEADROOM`); zero-copy drivers use the UMEM headroom only.
pub const KERNEL_HEADROOM: u32 = 256;

/// How the socket was bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindMode {
    /// Zero-copy: the driver DMAs straight into the UMEM.
    ZeroCopy,
    /// Copy mode: the kernel copies each packet into the UMEM (works on
    /// every interface, veth included).
    Copy,
}

impl BindMode {
    /// "zero-copy" or "copy".
    pub fn name(self) -> &'static str {
        match self {
            BindMode::ZeroCopy => "zero-copy",
            BindMode::Copy => "copy",
        }
    }
}

/// Which binding to ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BindRequest {
    /// Zero-copy if the driver offers it, else copy.
    #[default]
    Auto,
    /// Copy mode only.
    Copy,
    /// Zero-copy or fail.
    ZeroCopy,
}

/// Sizes of the UMEM and rings. Ring sizes must be powers of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XskConfig {
    /// Bytes per frame: 2048 or 4096 (aligned chunk mode).
    pub frame_size: u32,
    /// Frames in the UMEM.
    pub frame_count: u32,
    /// Entries of the fill and completion rings.
    pub fill_size: u32,
    /// Entries of the rx and tx rings.
    pub ring_size: u32,
    /// The binding wanted.
    pub bind: BindRequest,
}

impl Default for XskConfig {
    fn default() -> XskConfig {
        XskConfig {
            frame_size: 4096,
            frame_count: 4096,
            fill_size: 2048,
            ring_size: 2048,
            bind: BindRequest::Auto,
        }
    }
}

impl XskConfig {
    fn check(&self) -> Result<()> {
        let pow2 = |what: &'static str, v: u32| {
            if v.is_power_of_two() {
                Ok(())
            } else {
                Err(XdpError::Invalid {
                    what,
                    reason: format!("{v} is not a power of two"),
                })
            }
        };
        if self.frame_size != 2048 && self.frame_size != 4096 {
            return Err(XdpError::Invalid {
                what: "frame size",
                reason: format!("{} (2048 or 4096 bytes)", self.frame_size),
            });
        }
        pow2("fill ring size", self.fill_size)?;
        pow2("rx/tx ring size", self.ring_size)?;
        if self.frame_count < self.fill_size * 2 {
            return Err(XdpError::Invalid {
                what: "frame count",
                reason: format!(
                    "{} frames cannot keep the fill ring ({}) full and still transmit",
                    self.frame_count, self.fill_size
                ),
            });
        }
        Ok(())
    }
}

/// A received frame: its address in the UMEM and the packet's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Desc {
    /// Offset of the packet's first byte in the UMEM.
    pub addr: u64,
    /// Bytes of packet.
    pub len: u32,
}

/// An anonymous or socket mapping, unmapped on drop.
#[derive(Debug)]
struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mmap {
    fn anonymous(len: usize) -> std::io::Result<Mmap> {
        // SAFETY: a fresh private anonymous mapping; no existing memory is
        // affected.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        Mmap::from_result(p, len)
    }

    fn ring(fd: RawFd, len: usize, pgoff: i64) -> std::io::Result<Mmap> {
        // SAFETY: maps the socket's ring at the offset the kernel defines
        // for it (XDP_PGOFF_*); a new mapping, no existing memory affected.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                pgoff,
            )
        };
        Mmap::from_result(p, len)
    }

    fn from_result(p: *mut libc::c_void, len: usize) -> std::io::Result<Mmap> {
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mmap {
            ptr: NonNull::new(p.cast()).ok_or_else(std::io::Error::last_os_error)?,
            len,
        })
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping this value created; nothing
        // borrows it any more (rings and frames borrow the socket).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// One ring: its mapping and the positions we cache.
#[derive(Debug)]
struct Ring {
    map: Mmap,
    producer: usize,
    consumer: usize,
    flags: usize,
    desc: usize,
    size: u32,
    /// Our own index (the producer for fill/tx, the consumer for rx/comp).
    local: u32,
}

impl Ring {
    fn new(map: Mmap, off: &libc::xdp_ring_offset, size: u32) -> Ring {
        Ring {
            map,
            producer: off.producer as usize,
            consumer: off.consumer as usize,
            flags: off.flags as usize,
            desc: off.desc as usize,
            size,
            local: 0,
        }
    }

    fn atomic(&self, at: usize) -> &AtomicU32 {
        // SAFETY: the kernel's offsets point at 4-byte aligned u32 indexes
        // inside the mapping, shared with the kernel, which only accesses
        // them atomically (smp_load_acquire / smp_store_release).
        unsafe { &*self.map.ptr.as_ptr().add(at).cast::<AtomicU32>() }
    }

    fn producer(&self) -> &AtomicU32 {
        self.atomic(self.producer)
    }

    fn consumer(&self) -> &AtomicU32 {
        self.atomic(self.consumer)
    }

    fn needs_wakeup(&self) -> bool {
        // XDP_RING_NEED_WAKEUP
        self.atomic(self.flags).load(Ordering::Relaxed) & 1 != 0
    }

    /// Pointer to entry `i` of `T`s.
    fn entry<T>(&self, i: u32) -> *mut T {
        let index = (i & (self.size - 1)) as usize;
        // SAFETY: `index < size` and the mapping holds `size` entries of
        // `T` from `desc` (its length was computed from the same numbers).
        unsafe { self.map.ptr.as_ptr().add(self.desc).cast::<T>().add(index) }
    }

    /// Free entries for a producer.
    fn free(&self) -> u32 {
        let cons = self.consumer().load(Ordering::Acquire);
        self.size - self.local.wrapping_sub(cons)
    }

    /// Filled entries for a consumer.
    fn available(&self) -> u32 {
        self.producer()
            .load(Ordering::Acquire)
            .wrapping_sub(self.local)
    }
}

/// Counters a socket keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XskStats {
    /// Frames received.
    pub rx: u64,
    /// Frames handed to the tx ring.
    pub tx: u64,
    /// Frames we wanted to send but found no tx slot for (recycled).
    pub tx_full: u64,
    /// `rx_dropped` from the kernel (`XDP_STATISTICS`): no fill frame.
    pub kernel_rx_dropped: u64,
}

/// An AF_XDP socket bound to one queue of one interface, with its own
/// UMEM.
#[derive(Debug)]
pub struct XskSocket {
    fd: OwnedFd,
    umem: Mmap,
    fill: Ring,
    comp: Ring,
    rx: Ring,
    tx: Ring,
    frame_size: u32,
    /// Frame base addresses we own and may give to the fill ring.
    free: Vec<u64>,
    /// Frames in the tx ring not yet completed.
    in_flight: u32,
    mode: BindMode,
    iface: String,
    ifindex: u32,
    queue: u32,
    stats: XskStats,
}

fn setsockopt<T>(fd: RawFd, opt: libc::c_int, value: &T) -> std::io::Result<()> {
    // SAFETY: `value` is a valid `T` of the size passed; the kernel copies
    // it and keeps no pointer.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_XDP,
            opt,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The index of interface `iface`.
pub fn ifindex(iface: &str) -> Result<u32> {
    let name = CString::new(iface).map_err(|_| XdpError::NoInterface(iface.to_string()))?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(XdpError::NoInterface(iface.to_string()));
    }
    Ok(index)
}

impl XskSocket {
    /// Creates a socket with its UMEM and rings and binds it to `queue` of
    /// `iface`. Packets reach it only once a program redirects them into
    /// an `xskmap` holding [`XskSocket::raw_fd`] (see [`crate::steer`]).
    pub fn open(iface: &str, queue: u32, cfg: &XskConfig) -> Result<XskSocket> {
        cfg.check()?;
        let index = ifindex(iface)?;
        match cfg.bind {
            BindRequest::Copy => XskSocket::open_mode(iface, index, queue, cfg, BindMode::Copy),
            BindRequest::ZeroCopy => {
                XskSocket::open_mode(iface, index, queue, cfg, BindMode::ZeroCopy)
            }
            // A failed bind leaves the socket unusable; start afresh.
            BindRequest::Auto => XskSocket::open_mode(iface, index, queue, cfg, BindMode::ZeroCopy)
                .or_else(|_| XskSocket::open_mode(iface, index, queue, cfg, BindMode::Copy)),
        }
    }

    fn open_mode(
        iface: &str,
        ifindex: u32,
        queue: u32,
        cfg: &XskConfig,
        mode: BindMode,
    ) -> Result<XskSocket> {
        let at = format!("{iface} queue {queue}");
        // SAFETY: plain socket(2) call.
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(XdpError::last_os("create AF_XDP socket", at));
        }
        // SAFETY: `raw` is a new descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let umem_len = cfg.frame_size as usize * cfg.frame_count as usize;
        let umem = Mmap::anonymous(umem_len).map_err(|source| XdpError::Sys {
            what: "allocate UMEM",
            iface: at.clone(),
            source,
        })?;
        let reg = libc::xdp_umem_reg {
            addr: umem.ptr.as_ptr() as u64,
            len: umem_len as u64,
            chunk_size: cfg.frame_size,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        let sys = |what: &'static str| {
            let at = at.clone();
            move |source| XdpError::Sys {
                what,
                iface: at,
                source,
            }
        };
        setsockopt(raw, libc::XDP_UMEM_REG, &reg).map_err(sys("register UMEM"))?;
        setsockopt(raw, libc::XDP_UMEM_FILL_RING, &cfg.fill_size).map_err(sys("size fill ring"))?;
        setsockopt(raw, libc::XDP_UMEM_COMPLETION_RING, &cfg.fill_size)
            .map_err(sys("size completion ring"))?;
        setsockopt(raw, libc::XDP_RX_RING, &cfg.ring_size).map_err(sys("size rx ring"))?;
        setsockopt(raw, libc::XDP_TX_RING, &cfg.ring_size).map_err(sys("size tx ring"))?;

        // SAFETY: all-zero is a valid xdp_mmap_offsets (plain integers).
        let mut off: libc::xdp_mmap_offsets = unsafe { core::mem::zeroed() };
        let mut optlen = size_of::<libc::xdp_mmap_offsets>() as libc::socklen_t;
        // SAFETY: `off` is writable for `optlen` bytes; the kernel writes
        // at most that and updates `optlen`.
        let rc = unsafe {
            libc::getsockopt(
                raw,
                libc::SOL_XDP,
                libc::XDP_MMAP_OFFSETS,
                (&mut off as *mut libc::xdp_mmap_offsets).cast(),
                &mut optlen,
            )
        };
        if rc != 0 {
            return Err(XdpError::last_os("read ring offsets", at));
        }
        let map = |ring: &libc::xdp_ring_offset, entry: usize, n: u32, pgoff: i64, what| {
            Mmap::ring(raw, ring.desc as usize + entry * n as usize, pgoff).map_err(sys(what))
        };
        let desc = size_of::<libc::xdp_desc>();
        let fill = Ring::new(
            map(
                &off.fr,
                8,
                cfg.fill_size,
                libc::XDP_UMEM_PGOFF_FILL_RING as i64,
                "map fill ring",
            )?,
            &off.fr,
            cfg.fill_size,
        );
        let comp = Ring::new(
            map(
                &off.cr,
                8,
                cfg.fill_size,
                libc::XDP_UMEM_PGOFF_COMPLETION_RING as i64,
                "map completion ring",
            )?,
            &off.cr,
            cfg.fill_size,
        );
        let rx = Ring::new(
            map(
                &off.rx,
                desc,
                cfg.ring_size,
                libc::XDP_PGOFF_RX_RING,
                "map rx ring",
            )?,
            &off.rx,
            cfg.ring_size,
        );
        let tx = Ring::new(
            map(
                &off.tx,
                desc,
                cfg.ring_size,
                libc::XDP_PGOFF_TX_RING,
                "map tx ring",
            )?,
            &off.tx,
            cfg.ring_size,
        );

        let flags = libc::XDP_USE_NEED_WAKEUP
            | match mode {
                BindMode::ZeroCopy => libc::XDP_ZEROCOPY,
                BindMode::Copy => libc::XDP_COPY,
            };
        let sa = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: flags,
            sxdp_ifindex: ifindex,
            sxdp_queue_id: queue,
            sxdp_shared_umem_fd: 0,
        };
        // SAFETY: `sa` is a valid sockaddr_xdp of the size passed.
        let rc = unsafe {
            libc::bind(
                raw,
                (&sa as *const libc::sockaddr_xdp).cast(),
                size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(XdpError::last_os(
                match mode {
                    BindMode::ZeroCopy => "bind AF_XDP socket in zero-copy mode",
                    BindMode::Copy => "bind AF_XDP socket in copy mode",
                },
                at,
            ));
        }
        let free = (0..cfg.frame_count)
            .rev()
            .map(|i| u64::from(i) * u64::from(cfg.frame_size))
            .collect();
        let mut sock = XskSocket {
            fd,
            umem,
            fill,
            comp,
            rx,
            tx,
            frame_size: cfg.frame_size,
            free,
            in_flight: 0,
            mode,
            iface: iface.to_string(),
            ifindex,
            queue,
            stats: XskStats::default(),
        };
        sock.refill();
        Ok(sock)
    }

    /// The socket's descriptor, the value an `xskmap` entry holds.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// How the socket is bound.
    pub fn mode(&self) -> BindMode {
        self.mode
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The receive queue.
    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// Bytes per frame.
    pub fn frame_size(&self) -> u32 {
        self.frame_size
    }

    /// Counters so far (the kernel's drop count read now).
    pub fn stats(&mut self) -> XskStats {
        // SAFETY: all-zero is a valid xdp_statistics.
        let mut st: libc::xdp_statistics = unsafe { core::mem::zeroed() };
        let mut len = size_of::<libc::xdp_statistics>() as libc::socklen_t;
        // SAFETY: `st` is writable for `len` bytes.
        let rc = unsafe {
            libc::getsockopt(
                self.raw_fd(),
                libc::SOL_XDP,
                libc::XDP_STATISTICS,
                (&mut st as *mut libc::xdp_statistics).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            self.stats.kernel_rx_dropped = st.rx_dropped;
        }
        self.stats
    }

    /// Gives every free frame the fill ring has room for to the kernel.
    fn refill(&mut self) {
        let n = self.fill.free().min(self.free.len() as u32);
        for _ in 0..n {
            let Some(addr) = self.free.pop() else { break };
            // SAFETY: fill entries are u64 frame addresses; `free()` said
            // this slot is ours to write until we publish the producer.
            unsafe { self.fill.entry::<u64>(self.fill.local).write(addr) };
            self.fill.local = self.fill.local.wrapping_add(1);
        }
        if n > 0 {
            self.fill
                .producer()
                .store(self.fill.local, Ordering::Release);
        }
    }

    /// Takes completed transmissions back into the free list.
    fn reap(&mut self) {
        let n = self.comp.available();
        for _ in 0..n {
            // SAFETY: entries below the kernel's producer index are
            // written (the acquire load in `available` ordered them).
            let addr = unsafe { self.comp.entry::<u64>(self.comp.local).read() };
            self.comp.local = self.comp.local.wrapping_add(1);
            self.free.push(self.base(addr));
        }
        if n > 0 {
            self.comp
                .consumer()
                .store(self.comp.local, Ordering::Release);
            self.in_flight = self.in_flight.saturating_sub(n);
        }
    }

    fn base(&self, addr: u64) -> u64 {
        addr - addr % u64::from(self.frame_size)
    }

    /// Moves up to `max` received frames into `out` (cleared first). Each
    /// must come back through [`XskSocket::recycle`] or
    /// [`XskSocket::transmit`].
    pub fn receive(&mut self, out: &mut Vec<Desc>, max: usize) {
        out.clear();
        let n = self.rx.available().min(max as u32);
        for _ in 0..n {
            // SAFETY: as in `reap`, for rx descriptors.
            let d = unsafe { self.rx.entry::<libc::xdp_desc>(self.rx.local).read() };
            self.rx.local = self.rx.local.wrapping_add(1);
            out.push(Desc {
                addr: d.addr,
                len: d.len,
            });
        }
        if n > 0 {
            self.rx.consumer().store(self.rx.local, Ordering::Release);
            self.stats.rx += u64::from(n);
        }
    }

    fn check_desc(&self, d: Desc) -> Option<(usize, usize)> {
        let start = usize::try_from(d.addr).ok()?;
        let end = start.checked_add(d.len as usize)?;
        // A packet never crosses its frame (aligned chunk mode).
        let frame_end = (start / self.frame_size as usize + 1) * self.frame_size as usize;
        (end <= frame_end && end <= self.umem.len).then_some((start, end))
    }

    /// The bytes of a received frame.
    pub fn packet(&self, d: Desc) -> &[u8] {
        match self.check_desc(d) {
            // SAFETY: in bounds of the UMEM (checked); the frame is ours
            // (out of the rx ring), so the kernel does not write it.
            Some((s, e)) => unsafe {
                core::slice::from_raw_parts(self.umem.ptr.as_ptr().add(s), e - s)
            },
            None => &[],
        }
    }

    /// Writes `bytes` into the frame of `d` (from the frame's start) and
    /// returns the descriptor of the new packet, or `None` when it does not
    /// fit in one frame.
    pub fn rewrite(&mut self, d: Desc, bytes: &[u8]) -> Option<Desc> {
        let base = self.base(d.addr);
        if bytes.len() > self.frame_size as usize || base as usize >= self.umem.len {
            return None;
        }
        // SAFETY: `base .. base + len` lies inside this frame of the UMEM
        // (checked above); the frame is ours, and `bytes` does not alias the
        // UMEM mutably (the caller holds `&mut self`).
        unsafe {
            core::ptr::copy(
                bytes.as_ptr(),
                self.umem.ptr.as_ptr().add(base as usize),
                bytes.len(),
            );
        }
        Some(Desc {
            addr: base,
            len: bytes.len() as u32,
        })
    }

    /// Returns a received frame to the free list.
    pub fn recycle(&mut self, d: Desc) {
        let base = self.base(d.addr);
        if (base as usize) < self.umem.len {
            self.free.push(base);
        }
    }

    /// Queues a frame for transmission out of the socket's interface; when
    /// the tx ring is full the frame is recycled and counted in
    /// [`XskStats::tx_full`].
    pub fn transmit(&mut self, d: Desc) {
        if self.check_desc(d).is_none() {
            return;
        }
        if self.tx.free() == 0 {
            self.stats.tx_full += 1;
            self.recycle(d);
            return;
        }
        let desc = libc::xdp_desc {
            addr: d.addr,
            len: d.len,
            options: 0,
        };
        // SAFETY: a free tx slot (checked), written before the release
        // store that publishes it.
        unsafe { self.tx.entry::<libc::xdp_desc>(self.tx.local).write(desc) };
        self.tx.local = self.tx.local.wrapping_add(1);
        self.in_flight += 1;
        self.stats.tx += 1;
    }

    /// Publishes queued transmissions (waking the kernel if it asks to),
    /// reaps completions and refills the fill ring. Call once per batch.
    pub fn flush(&mut self) {
        let published = self.tx.producer().load(Ordering::Relaxed);
        if published != self.tx.local {
            self.tx.producer().store(self.tx.local, Ordering::Release);
        }
        if self.in_flight > 0 && (self.tx.needs_wakeup() || self.mode == BindMode::Copy) {
            // SAFETY: a zero-length sendto only kicks the socket's tx path.
            unsafe {
                libc::sendto(
                    self.raw_fd(),
                    core::ptr::null(),
                    0,
                    libc::MSG_DONTWAIT,
                    core::ptr::null(),
                    0,
                );
            }
        }
        self.reap();
        self.refill();
    }

    /// Waits up to `timeout_ms` for received frames; true if some wait.
    pub fn wait(&mut self, timeout_ms: i32) -> bool {
        if self.rx.available() > 0 {
            return true;
        }
        let mut p = libc::pollfd {
            fd: self.raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        rc > 0 && self.rx.available() > 0
    }

    /// The interface name.
    pub fn iface(&self) -> &str {
        &self.iface
    }
}

// SAFETY: a mapping is plain memory owned by this value; moving the owner
// to another thread moves the only user with it (the rings are used by one
// thread at a time: the socket's methods take `&mut self` or read atomics).
unsafe impl Send for Mmap {}
