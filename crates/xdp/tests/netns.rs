//! AF_XDP end to end, in two network namespaces joined by a veth pair the
//! test creates and removes: a client namespace sends real UDP packets to
//! the server namespace, where the steering program hands port 9000 to an
//! AF_XDP socket and a userspace handler echoes or drops them.
//!
//! Root only (ignored with the reason otherwise; a failure under
//! `OXBPF_REQUIRE_PRIVILEGED=1`). The scenarios run one at a time (a lock)
//! with names unique to the process; leftovers of a killed run (same name
//! prefix) are removed first.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use libtest_mimic::{Arguments, Failed};
use oxbpf_kernel::XdpMode;
use oxbpf_testkit::netns::{VethPair, in_netns};
use oxbpf_testkit::{Requirement, privileged_trial};
use oxbpf_xdp::steer::{SelectKey, Selection, Steering};
use oxbpf_xdp::worker::{Counters, Redirector, Verdict, run_xsk};
use oxbpf_xdp::xsk::{XskConfig, XskSocket, ifindex};

const PREFIX: &str = "oxxdp";
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

/// Swaps Ethernet, IPv4 and UDP source and destination: the echo a
/// program would send with `XDP_TX`. Checksums stay valid (the sums are
/// commutative).
fn echo(packet: &[u8], out: &mut Vec<u8>) -> Verdict {
    if packet.len() < 42 || packet[12..14] != [0x08, 0x00] || packet[23] != 17 {
        return Verdict::Pass;
    }
    let ihl = usize::from(packet[14] & 0xf) * 4;
    if packet.len() < 14 + ihl + 8 {
        return Verdict::Pass;
    }
    let payload = &packet[14 + ihl + 8..];
    if payload.starts_with(b"drop") {
        return Verdict::Drop;
    }
    out.extend_from_slice(packet);
    let (dst, src) = (packet[0..6].to_vec(), packet[6..12].to_vec());
    out[0..6].copy_from_slice(&src);
    out[6..12].copy_from_slice(&dst);
    let (s, d) = (packet[26..30].to_vec(), packet[30..34].to_vec());
    out[26..30].copy_from_slice(&d);
    out[30..34].copy_from_slice(&s);
    let l4 = 14 + ihl;
    let (sp, dp) = (packet[l4..l4 + 2].to_vec(), packet[l4 + 2..l4 + 4].to_vec());
    out[l4..l4 + 2].copy_from_slice(&dp);
    out[l4 + 2..l4 + 4].copy_from_slice(&sp);
    // veth hands packets on with CHECKSUM_PARTIAL: the UDP checksum field
    // holds only the pseudo-header sum, which the receiver would reject.
    // Zero means "no checksum" for UDP over IPv4 (RFC 768).
    out[l4 + 6..l4 + 8].fill(0);
    Verdict::Tx
}

fn afxdp_echoes_and_drops_udp() -> Result<(), Failed> {
    let pair = VethPair::create(PREFIX, 1, CLIENT_IP, SERVER_IP)?;
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<String, String>>();

    // Server side: steering + AF_XDP worker, and a normal UDP socket on
    // the same port that must receive nothing (the packets are taken
    // before the kernel's stack).
    let server = {
        let (stop, counters, dev) = (stop.clone(), counters.clone(), pair.server_if.clone());
        in_netns(&pair.server, move || {
            let run = || -> Result<(XskSocket, Steering, UdpSocket), String> {
                let listener = UdpSocket::bind(SocketAddrV4::new(SERVER_IP, 9000))
                    .map_err(|e| format!("bind listener: {e}"))?;
                listener.set_nonblocking(true).map_err(|e| e.to_string())?;
                let index = ifindex(&dev).map_err(|e| e.to_string())?;
                let steering = Steering::attach(
                    &dev,
                    index,
                    1,
                    &Selection::Match(vec![
                        SelectKey::parse("udp:9000").map_err(|e| e.to_string())?,
                    ]),
                    XdpMode::Generic,
                )
                .map_err(|e| e.to_string())?;
                let cfg = XskConfig {
                    frame_count: 1024,
                    fill_size: 256,
                    ring_size: 256,
                    ..XskConfig::default()
                };
                let sock = XskSocket::open(&dev, 0, &cfg).map_err(|e| e.to_string())?;
                steering
                    .insert(0, sock.raw_fd())
                    .map_err(|e| e.to_string())?;
                Ok((sock, steering, listener))
            };
            let (mut sock, steering, listener) = match run() {
                Ok(v) => v,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.clone()));
                    return Err(e);
                }
            };
            let _ = ready_tx.send(Ok(format!(
                "{} mode, link {:?}",
                sock.mode().name(),
                steering.link_id()
            )));
            let mut handler = echo;
            run_xsk(
                &mut sock,
                &mut handler,
                None,
                &mut Redirector::default(),
                &counters,
                &stop,
            );
            // Drops never reached the kernel's stack.
            let mut buf = [0u8; 64];
            let leaked = listener.recv(&mut buf).ok();
            drop(steering);
            Ok(leaked)
        })
    };
    let ready = ready_rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| "server did not start")?;
    if let Err(e) = ready {
        stop.store(true, Ordering::Relaxed);
        let _ = server.join();
        return Err(e.into());
    }

    // Client side: 20 echo requests (each must come back) and 20 packets
    // the handler drops.
    let client = in_netns(&pair.client, move || {
        let s = UdpSocket::bind(SocketAddrV4::new(CLIENT_IP, 0)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .map_err(|e| e.to_string())?;
        let to = SocketAddrV4::new(SERVER_IP, 9000);
        let mut echoed = 0;
        for i in 0..20u32 {
            let msg = format!("echo {i}");
            s.send_to(msg.as_bytes(), to).map_err(|e| e.to_string())?;
            let mut buf = [0u8; 64];
            // The first packets can go to ARP resolution; retry once.
            for _ in 0..3 {
                match s.recv_from(&mut buf) {
                    Ok((n, from)) if &buf[..n] == msg.as_bytes() && from == to.into() => {
                        echoed += 1;
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        s.send_to(msg.as_bytes(), to).map_err(|e| e.to_string())?;
                    }
                }
            }
        }
        for i in 0..20u32 {
            s.send_to(format!("drop {i}").as_bytes(), to)
                .map_err(|e| e.to_string())?;
        }
        std::thread::sleep(Duration::from_millis(300));
        Ok(echoed)
    });
    let echoed = client.join().map_err(|_| "client panicked")??;
    stop.store(true, Ordering::Relaxed);
    let leaked = server.join().map_err(|_| "server panicked")??;
    let c = counters.snapshot();
    let tx = c.packets[Verdict::Tx.index()];
    let dropped = c.packets[Verdict::Drop.index()];
    if echoed != 20 {
        return Err(format!("{echoed} of 20 echo requests answered (counters {c:?})").into());
    }
    if dropped != 20 || tx < 20 {
        return Err(
            format!("handler saw {tx} echoes and {dropped} drops, expected >= 20 and 20").into(),
        );
    }
    if let Some(n) = leaked {
        return Err(format!("the kernel's stack received a {n}-byte packet on port 9000").into());
    }
    drop(pair);
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let tests = vec![privileged_trial(
        "afxdp_echoes_and_drops_udp_in_netns",
        &[Requirement::Root, Requirement::Bpf],
        afxdp_echoes_and_drops_udp,
    )];
    libtest_mimic::run(&args, tests).exit();
}
