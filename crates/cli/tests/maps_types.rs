//! `--maps-in`, `--maps-out` and `map dump` for the map types without
//! keys (ringbuf records, queue/stack values) and for lpm_trie keys, through
//! the command. Expected JSON is worked out by hand from the packet.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tmp() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("maps_types");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn example(name: &str) -> PathBuf {
    oxbpf_testkit::bpf::example(name, &tmp()).unwrap_or_else(|e| panic!("{e}"))
}

fn oxbpf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .output()
        .expect("run oxbpf")
}

/// Ethernet + IPv4 10.0.0.1 -> 10.1.2.3 + UDP 1 -> 2, payload "x": 43
/// bytes (checksums are not looked at by these programs).
fn packet() -> Vec<u8> {
    let mut p = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    p.extend_from_slice(&[
        0x45, 0, 0, 29, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 1, 2, 3,
    ]);
    p.extend_from_slice(&[0, 1, 0, 2, 0, 9, 0, 0, b'x']);
    p
}

/// Runs `example` on the packet with `maps_in` on `engine`; returns the
/// --maps-out JSON and the object's path.
fn run(example_name: &str, maps_in: &str, engine: &str) -> (serde_json::Value, PathBuf) {
    let obj = example(example_name);
    let dir = tmp();
    let data = dir.join(format!("{example_name}-{engine}.bin"));
    let inp = dir.join(format!("{example_name}-{engine}-in.json"));
    let out = dir.join(format!("{example_name}-{engine}-out.json"));
    std::fs::write(&data, packet()).unwrap();
    std::fs::write(&inp, maps_in).unwrap();
    let o = oxbpf(&[
        "run",
        obj.to_str().unwrap(),
        "--engine",
        engine,
        "--data",
        data.to_str().unwrap(),
        "--maps-in",
        inp.to_str().unwrap(),
        "--maps-out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("return: 2 (XDP_PASS)"));
    let json = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    (json, out)
}

#[test]
fn ringbuf_records_in_and_out_and_dumped() {
    for engine in ["interp", "jit"] {
        let (json, out) = run(
            "ringbuf_events",
            r#"{"events": [{"value": "deadbeef"}]}"#,
            engine,
        );
        // The seeded record, then the event: saddr 0a000001, daddr
        // 0a010203, sport 0001, dport 0002 (network order), len 43 (u32
        // host order).
        assert_eq!(
            json["events"],
            serde_json::json!([{"value": "deadbeef"}, {"value": "0a0000010a01020300010002" .to_owned() + "2b000000"}]),
            "{engine}"
        );
        // Waiting bytes after the run: 8 + 4 -> 16, 8 + 16 -> 24.
        assert_eq!(json[".bss"][0]["value"], "2800000000000000", "{engine}");
        let o = oxbpf(&[
            "map",
            "dump",
            out.to_str().unwrap(),
            "--object",
            example("ringbuf_events").to_str().unwrap(),
        ]);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("events (ringbuf"), "{text}");
        assert!(text.contains("  #0: deadbeef"), "{text}");
        assert!(text.contains("avail_after = 40"), "{text}");
    }
}

#[test]
fn queue_and_stack_values_in_and_out() {
    for engine in ["interp", "jit"] {
        let (json, _) = run(
            "queue_stack",
            r#"{"tokens": [{"value": "0b000000"}, {"value": "16000000"}], "lens": [{"value": "01000000"}]}"#,
            engine,
        );
        // The stack popped 22 (0x16), 11 is left; the queue holds the seeded
        // 1 and the packet's 43 bytes, oldest first.
        assert_eq!(
            json["tokens"],
            serde_json::json!([{"value": "0b000000"}]),
            "{engine}"
        );
        assert_eq!(
            json["lens"],
            serde_json::json!([{"value": "01000000"}, {"value": "2b000000"}]),
            "{engine}"
        );
    }
}

#[test]
fn lpm_routes_in_and_out() {
    for engine in ["interp", "jit"] {
        // 10.1.0.0/16 -> XDP_PASS with 0 hits; /8 -> XDP_DROP.
        let (json, _) = run(
            "lpm_route",
            r#"{"routes": [{"key": "100000000a010000", "value": "0200000000000000"},
                           {"key": "080000000a000000", "value": "0100000000000000"}]}"#,
            engine,
        );
        // Post-order: the /16 (more specific) first; it got the hit.
        assert_eq!(
            json["routes"],
            serde_json::json!([
                {"key": "100000000a010000", "value": "0200000001000000"},
                {"key": "080000000a000000", "value": "0100000000000000"}
            ]),
            "{engine}"
        );
    }
}
