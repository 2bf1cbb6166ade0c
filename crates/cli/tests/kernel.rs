//! The kernel through the command: `oxbpf run FILE.o --engine kernel`.
//! Privileged (root and `bpf(2)`): ignored with the reason otherwise,
//! failing under `OXBPF_REQUIRE_PRIVILEGED=1`. Expected values are worked
//! out from the C sources of bpf/examples and the packets built here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use libtest_mimic::{Arguments, Failed, Trial};
use oxbpf_testkit::{Requirement, privileged_trial};

const NEEDS: &[Requirement] = &[Requirement::Root, Requirement::Bpf];

fn tmp() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-kernel");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Compiles bpf/examples/NAME.c.
fn example(name: &str) -> Result<PathBuf, Failed> {
    Ok(oxbpf_testkit::bpf::example(name, &tmp())?)
}

fn oxbpf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .output()
        .expect("run oxbpf")
}

fn check(o: &Output, code: i32, what: &str) -> Result<String, Failed> {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    if o.status.code() != Some(code) {
        return Err(format!(
            "{what}: exit {:?}, wanted {code}\nstdout: {out}\nstderr: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        )
        .into());
    }
    Ok(out)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Ethernet + IPv4 10.0.0.1 -> 10.0.0.2 + an L4 header of `l4_len` bytes
/// whose destination port is `dport`.
fn ipv4(proto: u8, l4_len: usize, dport: u16) -> Vec<u8> {
    let mut p = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = (20 + l4_len) as u16;
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    let mut l4 = vec![0u8; l4_len];
    l4[0..2].copy_from_slice(&40000u16.to_be_bytes());
    l4[2..4].copy_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&l4);
    p
}

fn write_tmp(name: &str, bytes: &[u8]) -> String {
    let p = tmp().join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_string_lossy().into_owned()
}

/// parse.c passes UDP and counts it in `proto_count[17]`; tcp to port 23
/// is dropped. Map state in and out, --repeat timing, --json.
fn run_kernel_parse() -> Result<(), Failed> {
    let obj = example("parse")?;
    let obj = obj.to_str().unwrap();
    let udp = ipv4(17, 8, 53);
    let udp_path = write_tmp("udp.bin", &udp);
    let state_in = write_tmp(
        "parse-in.json",
        // proto_count[17] starts at 5.
        br#"{"proto_count": [{"key": "11000000", "value": "0500000000000000"}]}"#,
    );
    let state_out = tmp().join("parse-out.json");
    let o = oxbpf(&[
        "run",
        obj,
        "--engine",
        "kernel",
        "--data",
        &udp_path,
        "--repeat",
        "3",
        "--maps-in",
        &state_in,
        "--maps-out",
        state_out.to_str().unwrap(),
    ]);
    let out = check(&o, 0, "run parse")?;
    let lines: Vec<&str> = out.lines().collect();
    if lines.len() != 3
        || lines[0] != "return: 2 (XDP_PASS)"
        || lines[1] != format!("packet: {}", hex(&udp))
        || !(lines[2].starts_with("time: ") && lines[2].ends_with(" ns/run over 3 runs"))
    {
        return Err(format!("unexpected output:\n{out}").into());
    }
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_out)?).map_err(|e| e.to_string())?;
    let entries = state["proto_count"]
        .as_array()
        .ok_or("no proto_count in the state")?;
    let udp_count = entries
        .iter()
        .find(|e| e["key"] == "11000000")
        .ok_or("no key 17")?;
    // 5 from --maps-in, 1 for the first run, 3 for --repeat 3.
    if udp_count["value"] != "0900000000000000" {
        return Err(format!("proto_count[17] = {}", udp_count["value"]).into());
    }

    let telnet = write_tmp("tcp23.bin", &ipv4(6, 20, 23));
    let o = oxbpf(&[
        "run", obj, "--engine", "kernel", "--data", &telnet, "--json",
    ]);
    let out = check(&o, 0, "run parse --json")?;
    let v: serde_json::Value = serde_json::from_str(out.trim()).map_err(|e| e.to_string())?;
    if v["engine"] != "kernel" || v["return"] != 1 || v["action"] != "XDP_DROP" {
        return Err(format!("unexpected json: {out}").into());
    }
    Ok(())
}

fn run_kernel_refuses_trace() -> Result<(), Failed> {
    let obj = example("parse")?;
    let udp_path = write_tmp("udp-trace.bin", &ipv4(17, 8, 53));
    let o = oxbpf(&[
        "run",
        obj.to_str().unwrap(),
        "--engine",
        "kernel",
        "--data",
        &udp_path,
        "--trace",
    ]);
    check(&o, 2, "run --trace")?;
    let err = String::from_utf8_lossy(&o.stderr);
    if !err.contains("--trace") || !err.contains("kernel") {
        return Err(format!("unclear message: {err}").into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let trials: Vec<Trial> = vec![
        privileged_trial("run_kernel_parse", NEEDS, run_kernel_parse),
        privileged_trial("run_kernel_refuses_trace", NEEDS, run_kernel_refuses_trace),
    ];
    libtest_mimic::run(&args, trials).exit();
}
