//! `XdpSession` reuses one frame for many packets: every run must give
//! exactly what a fresh `run_xdp` gives, whatever the previous packet did
//! to the frame (grown head, metadata, rewritten bytes).

mod common;

use common::{ENGINES, ipv4_tcp, ipv4_udp, load};
use oxbpf::RunOptions;

#[test]
fn session_runs_match_fresh_runs_on_every_engine() {
    // encap grows the head (an outer header), xdp_tx rewrites addresses,
    // parse only reads: interleave them so stale bytes would show.
    let packets: Vec<Vec<u8>> = (0..40u16)
        .map(|i| match i % 4 {
            0 => ipv4_udp(&[i as u8; 30], 1000 + i, 53),
            1 => ipv4_tcp(&[0xee; 100], 2000 + i, 80),
            2 => ipv4_udp(&[], 7, 9),
            _ => {
                let mut p = ipv4_udp(&[1; 600], i, i);
                p.truncate(14 + 20 + 8 + 10 + usize::from(i));
                p
            }
        })
        .collect();
    let mut compared = 0;
    for name in ["encap", "xdp_tx", "parse", "flow_hash"] {
        for engine in ENGINES {
            let fresh_obj = load(name, 1);
            let session_obj = load(name, 1);
            let prog = fresh_obj.program_names()[0].to_string();
            let fresh = fresh_obj.program(&prog).unwrap().load(engine).unwrap();
            let reused = session_obj.program(&prog).unwrap().load(engine).unwrap();
            let mut session = reused.xdp_session(RunOptions::default()).unwrap();
            for (i, p) in packets.iter().enumerate() {
                let want = fresh.run_xdp(p);
                let got = session.run(p);
                match (want, got) {
                    (Ok(w), Ok(ret)) => {
                        assert_eq!(ret, w.ret, "{name} on {engine:?}, packet {i}: return value");
                        assert_eq!(
                            session.packet(),
                            &w.packet[..],
                            "{name} on {engine:?}, packet {i}"
                        );
                    }
                    (Err(w), Err(g)) => assert_eq!(w.to_string(), g.to_string()),
                    (w, g) => {
                        panic!("{name} on {engine:?}, packet {i}: fresh {w:?}, session {g:?}")
                    }
                }
                compared += 1;
            }
            // Both copies of the object saw the same packets: same maps.
            for (m, h) in fresh_obj.maps() {
                let other = session_obj.map(m).unwrap();
                let (mut a, mut b) = (h.entries().unwrap(), other.entries().unwrap());
                a.sort();
                b.sort();
                assert_eq!(a, b, "{name}: map {m}");
            }
        }
    }
    assert_eq!(compared, 4 * ENGINES.len() * packets.len());
}
