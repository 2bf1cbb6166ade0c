//! `--maps-in/--maps-out` for prog_arrays (slots by program name) and maps
//! of maps (slots by inner map name, new inner maps with their entries),
//! through the command on every engine.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn tmp() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("maps_calls");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Compiles bpf/examples/NAME.c (clang is required).
fn example(name: &str) -> PathBuf {
    oxbpf_testkit::bpf::example(name, &tmp()).unwrap_or_else(|e| panic!("{e}"))
}

/// Ethernet + IPv4 (protocol 17, UDP) + 8 bytes: enough for the programs,
/// which read only the Ethernet type and the IPv4 protocol.
fn udp_packet() -> Vec<u8> {
    let mut p = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    p.extend_from_slice(&[
        0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    p.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
    p
}

fn run(obj: &Path, prog: &str, engine: &str, maps_in: &Value, tag: &str) -> (String, Value) {
    let dir = tmp();
    let data = dir.join(format!("{tag}-{engine}-udp.bin"));
    std::fs::write(&data, udp_packet()).unwrap();
    let input = dir.join(format!("{tag}-{engine}-in.json"));
    let output = dir.join(format!("{tag}-{engine}-out.json"));
    std::fs::write(&input, maps_in.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .arg("run")
        .arg(obj)
        .args(["--prog", prog, "--engine", engine, "--data"])
        .arg(&data)
        .arg("--maps-in")
        .arg(&input)
        .arg("--maps-out")
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let state: Value = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), state)
}

#[test]
fn prog_array_slots_by_program_name() {
    let obj = example("tail_dispatch");
    for engine in ["interp", "interp-fast", "jit"] {
        // Route UDP (17 = 0x11) to the TCP handler: XDP_DROP, counted in
        // hits[0].
        let input = json!({ "jump_table": [ { "key": "11000000", "program": "handle_tcp" } ] });
        let (stdout, state) = run(&obj, "dispatch", engine, &input, "route");
        assert!(stdout.contains("XDP_DROP"), "{engine}: {stdout}");
        assert_eq!(
            state["jump_table"],
            json!([
                { "key": "06000000", "program": "handle_tcp" },
                { "key": "11000000", "program": "handle_tcp" },
            ]),
            "{engine}"
        );
        assert_eq!(state["hits"][0]["value"], "0100000000000000", "{engine}");
        // Emptying the slot: the tail call falls through, XDP_PASS.
        let input = json!({ "jump_table": [ { "key": "11000000", "program": null } ] });
        let (stdout, state) = run(&obj, "dispatch", engine, &input, "empty");
        assert!(stdout.contains("XDP_PASS"), "{engine}: {stdout}");
        assert_eq!(state["hits"][2]["value"], "0100000000000000", "{engine}");
    }
}

#[test]
fn map_in_map_slots_by_inner_map_name() {
    let obj = example("tenant_maps");
    for engine in ["interp", "interp-fast", "jit"] {
        // A new table for tenant 0 (receive queue 0) with 5 UDP packets
        // counted already; the run adds the sixth.
        let input = json!({ "tenants": [ {
            "key": "00000000",
            "map": "fresh",
            "entries": [ { "key": "02000000", "value": "0500000000000000" } ],
        } ] });
        let (stdout, state) = run(&obj, "per_tenant", engine, &input, "tenant");
        assert!(stdout.contains("XDP_PASS"), "{engine}: {stdout}");
        let slot = &state["tenants"][0];
        assert_eq!(slot["map"], "fresh", "{engine}");
        assert_eq!(slot["entries"][2]["value"], "0600000000000000", "{engine}");
        // The object's own table was replaced, so it counted nothing.
        assert_eq!(state["tenant0"][2]["value"], "0000000000000000", "{engine}");
    }
}
