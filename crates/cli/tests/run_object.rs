//! `oxbpf run FILE.o`: the bpf/examples objects through the command, on
//! interp and jit. Packets are built by hand here; the expected verdicts,
//! packets and map contents are worked out in the comments.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tmp() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("run_object");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Compiles bpf/examples/NAME.c (clang is required: a missing compiler
/// fails the test).
fn example(name: &str) -> PathBuf {
    oxbpf_testkit::bpf::example(name, &tmp()).unwrap_or_else(|e| panic!("{e}"))
}

fn oxbpf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .output()
        .expect("run oxbpf")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Ethernet (02:..:02 <- 02:..:01) + IPv4 10.0.0.1 -> 10.0.0.2, TTL 64,
/// UDP 1 -> 2 with payload "x": 14 + 20 + 9 = 43 bytes. The IPv4 checksum
/// (RFC 1071) of 4500 001d 0000 4000 4011 0000 0a00 0001 0a00 0002 is
/// 0x26ce; the UDP checksum is left 0 (optional over IPv4).
fn udp_packet() -> Vec<u8> {
    let mut p = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    p.extend_from_slice(&[
        0x45, 0, 0, 29, 0, 0, 0x40, 0, 64, 17, 0x26, 0xce, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    p.extend_from_slice(&[0, 1, 0, 2, 0, 9, 0, 0, b'x']);
    p
}

#[test]
fn parse_passes_udp_and_counts_it_on_both_engines() {
    let obj = example("parse");
    let pkt = tmp().join("udp.bin");
    std::fs::write(&pkt, udp_packet()).unwrap();
    for engine in ["interp", "jit"] {
        let state = tmp().join(format!("parse-{engine}.json"));
        let o = oxbpf(&[
            "run",
            obj.to_str().unwrap(),
            "--engine",
            engine,
            "--data",
            pkt.to_str().unwrap(),
            "--repeat",
            "4",
            "--maps-out",
            state.to_str().unwrap(),
        ]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{engine}: {out} {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "return: 2 (XDP_PASS)");
        assert_eq!(lines[1], format!("packet: {}", hex(&udp_packet())));
        assert!(lines[2].starts_with("time: ") && lines[2].ends_with(" ns/run over 4 runs"));
        // 1 + 4 runs, all UDP: proto_count[17] = 5, every other slot 0.
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
        let entries = v["proto_count"].as_array().unwrap();
        assert_eq!(entries.len(), 256);
        for e in entries {
            let want = if e["key"] == "11000000" {
                "0500000000000000"
            } else {
                "0000000000000000"
            };
            assert_eq!(e["value"], want, "{engine}: {e}");
        }
    }
}

#[test]
fn maps_in_seeds_per_cpu_values_and_data_out_writes_the_packet() {
    let obj = example("percpu_count");
    let pkt = tmp().join("udp2.bin");
    std::fs::write(&pkt, udp_packet()).unwrap();
    let state_in = tmp().join("percpu-in.json");
    // Every CPU's packet count starts at 5; the run is on CPU 0.
    std::fs::write(
        &state_in,
        r#"{"counters": [{"key": "00000000", "value": "0500000000000000"}]}"#,
    )
    .unwrap();
    for engine in ["interp", "jit"] {
        let state_out = tmp().join(format!("percpu-{engine}.json"));
        let pkt_out = tmp().join(format!("percpu-{engine}.bin"));
        let o = oxbpf(&[
            "run",
            obj.to_str().unwrap(),
            "--engine",
            engine,
            "--data",
            pkt.to_str().unwrap(),
            "--data-out",
            pkt_out.to_str().unwrap(),
            "--maps-in",
            state_in.to_str().unwrap(),
            "--maps-out",
            state_out.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&o.stdout), "return: 2 (XDP_PASS)\n");
        assert_eq!(std::fs::read(&pkt_out).unwrap(), udp_packet());
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&state_out).unwrap()).unwrap();
        let counters = v["counters"].as_array().unwrap();
        assert_eq!(counters[0]["key"], "00000000");
        let pkts = counters[0]["value"].as_array().unwrap();
        // CPU 0 counted one packet on top of 5; the others keep 5.
        assert_eq!(pkts[0], "0600000000000000");
        assert!(
            pkts[1..].iter().all(|x| x == "0500000000000000"),
            "{pkts:?}"
        );
        // Bytes: 43 = 0x2b on CPU 0.
        assert_eq!(counters[1]["value"][0], "2b00000000000000");
    }
}

#[test]
fn several_programs_without_prog_exit_2_listing_them() {
    let src = tmp().join("two.c");
    std::fs::write(
        &src,
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
         SEC(\"xdp\") int first(struct xdp_md *c) { return XDP_DROP; }\n\
         SEC(\"xdp\") int second(struct xdp_md *c) { return XDP_TX; }\n",
    )
    .unwrap();
    let obj = tmp().join("two.o");
    oxbpf_testkit::bpf::compile(&src, &obj).unwrap();
    let pkt = tmp().join("udp3.bin");
    std::fs::write(&pkt, udp_packet()).unwrap();
    let o = oxbpf(&[
        "run",
        obj.to_str().unwrap(),
        "--data",
        pkt.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("first, second"), "{err}");
    let o = oxbpf(&[
        "run",
        obj.to_str().unwrap(),
        "--prog",
        "second",
        "--engine",
        "jit",
        "--data",
        pkt.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("return: 3 (XDP_TX)\n"));
    // 13 bytes: shorter than an Ethernet header, refused as malformed input.
    std::fs::write(&pkt, &udp_packet()[..13]).unwrap();
    let o = oxbpf(&[
        "run",
        obj.to_str().unwrap(),
        "--prog",
        "first",
        "--data",
        pkt.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// RFC 1071 checksum of an IPv4 header with its checksum field zeroed.
fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for (i, w) in h.chunks(2).enumerate() {
        if i != 5 {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn with_ttl(ttl: u8, swap: bool) -> Vec<u8> {
    let mut p = udp_packet();
    if swap {
        let (a, b) = (p[0..6].to_vec(), p[6..12].to_vec());
        p[0..6].copy_from_slice(&b);
        p[6..12].copy_from_slice(&a);
        let (s, d) = (p[26..30].to_vec(), p[30..34].to_vec());
        p[26..30].copy_from_slice(&d);
        p[30..34].copy_from_slice(&s);
    }
    p[22] = ttl;
    let c = ipv4_checksum(&p[14..34]);
    p[24..26].copy_from_slice(&c.to_be_bytes());
    p
}

fn pcap_file(packets: &[Vec<u8>]) -> Vec<u8> {
    // Little-endian microsecond pcap, version 2.4, snaplen 65535, Ethernet.
    let mut out = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, p) in packets.iter().enumerate() {
        out.extend_from_slice(&(i as u32 + 100).to_le_bytes());
        out.extend_from_slice(&7u32.to_le_bytes());
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}

#[test]
fn pcap_replay_counts_verdicts_and_writes_tx_packets() {
    let obj = example("xdp_tx");
    let input = tmp().join("in.pcap");
    // TTL 64 is reflected (TX) with TTL 63; TTL 1 passes; 10 bytes are refused.
    std::fs::write(
        &input,
        pcap_file(&[with_ttl(64, false), with_ttl(1, false), vec![0; 10]]),
    )
    .unwrap();
    for engine in ["interp", "jit"] {
        let output = tmp().join(format!("out-{engine}.pcap"));
        let o = oxbpf(&[
            "run",
            obj.to_str().unwrap(),
            "--engine",
            engine,
            "--pcap",
            input.to_str().unwrap(),
            "--out",
            output.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let stdout = String::from_utf8_lossy(&o.stdout);
        let (counts, rate) = stdout
            .rsplit_once("replay: ")
            .unwrap_or_else(|| panic!("no replay line in {stdout:?}"));
        assert_eq!(counts, "packets: 3\nXDP_PASS: 1\nXDP_TX: 1\nrefused: 1\n");
        assert!(
            rate.contains(" pkt/s (") && rate.ends_with(&format!("ns/packet on {engine})\n")),
            "{rate:?}"
        );
        // The first record again, timestamps kept, with the reflected packet.
        assert_eq!(
            std::fs::read(&output).unwrap(),
            pcap_file(&[with_ttl(63, true)])
        );
    }
}

#[test]
fn map_dump_prints_values_with_btf_types() {
    let obj = example("flow_hash");
    let pkt = tmp().join("udp4.bin");
    std::fs::write(&pkt, udp_packet()).unwrap();
    let state = tmp().join("flows.json");
    let o = oxbpf(&[
        "run",
        obj.to_str().unwrap(),
        "--data",
        pkt.to_str().unwrap(),
        "--maps-out",
        state.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let o = oxbpf(&[
        "map",
        "dump",
        state.to_str().unwrap(),
        "--object",
        obj.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Addresses and ports are big-endian bytes shown as little-endian
    // integers: 10.0.0.1 = 0x0100000a = 16777226, port 1 = 0x0100 = 256.
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "flows (hash, key struct flow_key, value struct flow_stats):\n  \
         { saddr: 16777226, daddr: 33554442, sport: 256, dport: 512, proto: 17, pad: [0, 0, 0] } \
         => { packets: 1, bytes: 43 }\n"
    );
}

#[test]
fn json_output_names_return_action_and_packet() {
    let obj = example("calls");
    let pkt = tmp().join("udp5.bin");
    std::fs::write(&pkt, udp_packet()).unwrap();
    let o = oxbpf(&[
        "run",
        obj.to_str().unwrap(),
        "--data",
        pkt.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Unicast destination 02:00:00:00:00:02: XDP_PASS, packet unchanged.
    assert_eq!(v["return"], 2);
    assert_eq!(v["action"], "XDP_PASS");
    assert_eq!(v["program"], "calls");
    assert_eq!(v["packet"], hex(&udp_packet()));
}
