//! Every example of bpf/examples on the interpreter and the JIT, with
//! input packets built by etherparse and expected verdicts, packets and map
//! state worked out here, independently of the programs.

mod common;

use common::*;
use etherparse::{IpNumber, Ipv4Header, PacketBuilder, VlanId};
use oxbpf::{EngineKind, Loader, Object, RunOptions, XdpAction};

const SRC_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const DST_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn run(obj: &Object, prog: &str, engine: EngineKind, pkt: &[u8]) -> oxbpf::XdpOutput {
    obj.program(prog)
        .unwrap()
        .load(engine)
        .unwrap()
        .run_xdp(pkt)
        .unwrap_or_else(|e| panic!("{prog} on {engine:?}: {e}"))
}

#[test]
fn parse_counts_protocols_and_drops_telnet() {
    let udp4 = ipv4_udp(b"data", 1000, 53);
    let telnet = ipv4_tcp(b"", 40000, 23);
    let http = ipv4_tcp(b"GET /", 40000, 80);
    let mut vlan_icmp = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .single_vlan(VlanId::try_new(5).unwrap())
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .icmpv4_echo_request(7, 1)
        .write(&mut vlan_icmp, b"ping")
        .unwrap();
    let mut udp6 = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv6([1; 16], [2; 16], 64)
        .udp(5000, 6000)
        .write(&mut udp6, b"x")
        .unwrap();
    let mut arp = vec![0xffu8; 6];
    arp.extend_from_slice(&SRC_MAC);
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0; 28]);
    // An IPv4 ethertype with only 10 bytes of IP header.
    let mut truncated = udp4[..24].to_vec();
    truncated[12..14].copy_from_slice(&[0x08, 0x00]);

    let cases: [(&[u8], u32); 7] = [
        (&udp4, 2),
        (&telnet, 1),
        (&http, 2),
        (&vlan_icmp, 2),
        (&udp6, 2),
        (&arp, 2),
        (&truncated, 0),
    ];
    for engine in ENGINES {
        let obj = load("parse", 1);
        for (i, (pkt, verdict)) in cases.iter().enumerate() {
            let out = run(&obj, "parse", engine, pkt);
            assert_eq!(out.ret, *verdict, "case {i} on {engine:?}");
            assert_eq!(&out.packet, pkt, "case {i} on {engine:?}: packet unchanged");
        }
        let counts = obj.array::<u64>("proto_count").unwrap();
        // UDP: udp4 + udp6; TCP: telnet + http; ICMP: vlan_icmp.
        for p in 0..256 {
            let want = match p {
                17 => 2,
                6 => 2,
                1 => 1,
                _ => 0,
            };
            assert_eq!(counts.get(p).unwrap(), want, "proto {p} on {engine:?}");
        }
    }
}

#[test]
fn percpu_counter_keeps_cpus_apart() {
    let a = ipv4_udp(&[0; 10], 1, 2); // 14 + 20 + 8 + 10 = 52 bytes
    let b = ipv4_tcp(&[0; 6], 1, 2); // 14 + 20 + 20 + 6 = 60 bytes
    assert_eq!((a.len(), b.len()), (52, 60));
    for engine in ENGINES {
        let obj = load("percpu_count", 2);
        let runner = obj.program("percpu_count").unwrap().load(engine).unwrap();
        for (pkt, cpu) in [(&a, 0), (&b, 1), (&a, 1), (&b, 1)] {
            let out = runner
                .run_xdp_with(
                    pkt,
                    &RunOptions {
                        cpu,
                        ..RunOptions::default()
                    },
                )
                .unwrap();
            assert_eq!(out.action(), Some(XdpAction::Pass));
        }
        let m = obj.map("counters").unwrap();
        let pkts = m.lookup(&0u32.to_ne_bytes()).unwrap();
        let bytes = m.lookup(&1u32.to_ne_bytes()).unwrap();
        let word =
            |v: &[u8], cpu: usize| u64::from_ne_bytes(v[cpu * 8..cpu * 8 + 8].try_into().unwrap());
        assert_eq!((word(&pkts, 0), word(&pkts, 1)), (1, 3), "{engine:?}");
        assert_eq!((word(&bytes, 0), word(&bytes, 1)), (52, 172), "{engine:?}");
    }
}

fn flow_key(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, proto: u8) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[0..4].copy_from_slice(&src);
    k[4..8].copy_from_slice(&dst);
    k[8..10].copy_from_slice(&sport.to_be_bytes());
    k[10..12].copy_from_slice(&dport.to_be_bytes());
    k[12] = proto;
    k
}

#[test]
fn flow_hash_counts_per_five_tuple() {
    let f1 = ipv4_udp(&[1; 20], 1111, 53);
    let f2 = ipv4_tcp(&[], 2222, 443);
    for engine in ENGINES {
        let obj = load("flow_hash", 1);
        for pkt in [&f1, &f2, &f1, &f1] {
            assert_eq!(run(&obj, "flow_hash", engine, pkt).ret, 2);
        }
        let flows = obj.hash_map::<[u8; 16], [u64; 2]>("flows").unwrap();
        let mut got = flows.entries().unwrap();
        got.sort();
        let mut want = vec![
            (
                flow_key([10, 0, 0, 1], [10, 0, 0, 2], 1111, 53, 17),
                [3, 3 * f1.len() as u64],
            ),
            (
                flow_key([10, 0, 0, 1], [10, 0, 0, 2], 2222, 443, 6),
                [1, f2.len() as u64],
            ),
        ];
        want.sort();
        assert_eq!(got, want, "{engine:?}");
    }
}

#[test]
fn rodata_switch_and_global_data() {
    let udp = ipv4_udp(b"q", 1, 2);
    for engine in ENGINES {
        // Default configuration: UDP passes.
        let obj = load("rodata_config", 1);
        for _ in 0..2 {
            let out = run(&obj, "rodata_config", engine, &udp);
            assert_eq!((out.ret, &out.packet), (2, &udp), "{engine:?}");
        }
        let bss = obj
            .map(".bss")
            .unwrap()
            .lookup(&0u32.to_ne_bytes())
            .unwrap();
        assert_eq!(&bss[..8], &2u64.to_ne_bytes(), "seen in .bss on {engine:?}");
        let data = obj
            .map(".data")
            .unwrap()
            .lookup(&0u32.to_ne_bytes())
            .unwrap();
        assert_eq!(
            &data[..4],
            &2u32.to_ne_bytes(),
            "last_verdict in .data on {engine:?}"
        );

        // drop_udp set before loading: UDP dropped, TOS set to `mark`.
        let obj = Loader::new()
            .ncpus(1)
            .set_global("drop_udp", &1u32.to_ne_bytes())
            .load_file(example("rodata_config"))
            .unwrap();
        let out = run(&obj, "rodata_config", engine, &udp);
        let mut want = udp.clone();
        want[15] = 0x5a;
        assert_eq!((out.ret, &out.packet), (1, &want), "{engine:?}");
        let tcp = ipv4_tcp(b"", 1, 2);
        assert_eq!(run(&obj, "rodata_config", engine, &tcp).ret, 2);
        let data = obj
            .map(".data")
            .unwrap()
            .lookup(&0u32.to_ne_bytes())
            .unwrap();
        assert_eq!(&data[..4], &2u32.to_ne_bytes());
    }
}

#[test]
fn bpf_to_bpf_calls_classify_broadcast() {
    let mut bcast = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, [0xff; 6])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 255], 64)
        .udp(1, 2)
        .write(&mut bcast, b"")
        .unwrap();
    let mut almost = bcast.clone();
    almost[5] = 0xfe;
    for engine in ENGINES {
        let obj = load("calls", 1);
        let names: Vec<&str> = obj
            .program("calls")
            .unwrap()
            .functions()
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names[0], "calls");
        assert!(
            names.contains(&"classify") && names.contains(&"is_broadcast"),
            "{names:?}"
        );
        assert_eq!(run(&obj, "calls", engine, &bcast).ret, 1, "{engine:?}");
        assert_eq!(run(&obj, "calls", engine, &almost).ret, 2, "{engine:?}");
    }
}

#[test]
fn bounded_loop_sums_payload() {
    let mut short = vec![0u8; 14];
    short.extend_from_slice(&[1, 2, 3, 5]); // sum 11: odd, drop
    let mut long = vec![0u8; 14];
    long.extend((0..100u8).map(|i| i.wrapping_mul(7))); // only 64 bytes count
    let long_sum: u64 = (0..64u64).map(|i| (i * 7) & 0xff).sum();
    for engine in ENGINES {
        let obj = load("bounded_loop", 1);
        let sums = obj.array::<u64>("sums").unwrap();
        assert_eq!(run(&obj, "bounded_loop", engine, &short).ret, 1);
        assert_eq!(sums.get(0).unwrap(), 11);
        let want = if long_sum % 2 == 1 { 1 } else { 2 };
        assert_eq!(run(&obj, "bounded_loop", engine, &long).ret, want);
        assert_eq!(sums.get(0).unwrap(), long_sum, "{engine:?}");
        assert_eq!(run(&obj, "bounded_loop", engine, &[0u8; 14]).ret, 2);
        assert_eq!(sums.get(0).unwrap(), 0);
    }
}

#[test]
fn xdp_tx_reflects_with_checksum_update() {
    for (ttl, payload) in [(64u8, &b"abc"[..]), (2, &[0xffu8; 33][..]), (200, &b""[..])] {
        let mut input = Vec::new();
        PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
            .ipv4([192, 168, 1, 10], [172, 16, 0, 1], ttl)
            .udp(1234, 80)
            .write(&mut input, payload)
            .unwrap();
        let mut want = Vec::new();
        PacketBuilder::ethernet2(DST_MAC, SRC_MAC)
            .ipv4([172, 16, 0, 1], [192, 168, 1, 10], ttl - 1)
            .udp(1234, 80)
            .write(&mut want, payload)
            .unwrap();
        // The UDP checksum covers the addresses, which were only swapped:
        // the sum is unchanged, so the builders agree on it.
        for engine in ENGINES {
            let obj = load("xdp_tx", 1);
            let out = run(&obj, "xdp_tx", engine, &input);
            assert_eq!(out.action(), Some(XdpAction::Tx), "ttl {ttl} on {engine:?}");
            assert_eq!(out.packet, want, "ttl {ttl} on {engine:?}");
        }
    }
    // TTL 1 passes untouched.
    let mut low = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 1)
        .udp(1, 2)
        .write(&mut low, b"")
        .unwrap();
    for engine in ENGINES {
        let obj = load("xdp_tx", 1);
        let out = run(&obj, "xdp_tx", engine, &low);
        assert_eq!((out.ret, &out.packet), (2, &low));
    }
}

#[test]
fn encap_prepends_an_outer_header() {
    let input = ipv4_tcp(b"payload", 5555, 80);
    let inner = &input[14..];
    let mut outer = Ipv4Header::new(
        inner.len() as u16,
        64,
        IpNumber::IPV4,
        [10, 0, 0, 1],
        [10, 0, 0, 2],
    )
    .unwrap();
    outer.dont_fragment = false;
    let mut want = input[..14].to_vec();
    outer.write(&mut want).unwrap();
    want.extend_from_slice(inner);
    for engine in ENGINES {
        let obj = load("encap", 1);
        let out = run(&obj, "encap", engine, &input);
        assert_eq!(out.action(), Some(XdpAction::Tx), "{engine:?}");
        assert_eq!(out.packet, want, "{engine:?}");
    }
}

#[test]
fn short_xdp_input_is_refused() {
    let obj = load("calls", 1);
    let r = obj
        .program("calls")
        .unwrap()
        .load(EngineKind::Interp)
        .unwrap()
        .run_xdp(&[0; 13]);
    assert!(matches!(r, Err(oxbpf::Error::Packet { .. })), "{r:?}");
}

#[test]
fn tc_classifier_marks_ipv4_and_drops_ipv6() {
    // TOS 0xb8 (DSCP 46): mark 0x100 | 46 = 0x12e.
    let mut v4 = ipv4_udp(b"abcd", 1, 2);
    v4[15] = 0xb8;
    let mut v6 = Vec::new();
    PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv6([1; 16], [2; 16], 64)
        .udp(1, 2)
        .write(&mut v6, b"")
        .unwrap();
    for engine in ENGINES {
        let obj = load("tc_mark", 1);
        let runner = obj.program("tc_mark").unwrap().load(engine).unwrap();
        let out = runner.run_skb(&v4, &RunOptions::default()).unwrap();
        assert_eq!(
            (out.ret, out.mark, out.cb[0]),
            (0, 0x12e, v4.len() as u32),
            "{engine:?}"
        );
        assert_eq!(out.packet, v4);
        let out = runner.run_skb(&v6, &RunOptions::default()).unwrap();
        assert_eq!(
            (out.ret, out.mark, out.cb[0]),
            (2, 0, v6.len() as u32),
            "{engine:?}"
        );
    }
}

#[test]
fn socket_filter_keeps_ipv4_heads() {
    let small = ipv4_udp(b"x", 1, 2); // 43 bytes
    let big = ipv4_udp(&[0; 100], 1, 2); // 142 bytes
    let mut arp = vec![0u8; 42];
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    for engine in ENGINES {
        let obj = load("socket_ipv4", 1);
        let runner = obj.program("socket_ipv4").unwrap().load(engine).unwrap();
        let ret = |p: &[u8]| runner.run_skb(p, &RunOptions::default()).unwrap().ret;
        // A socket filter sees the skb from the network header, as the
        // kernel runs it (checked against the kernel by the differential
        // test): skb->len of the 43-byte packet is 43 - 14 = 29.
        assert_eq!(
            (ret(&small), ret(&big), ret(&arp)),
            (29, 64, 0),
            "{engine:?}"
        );
    }
}
