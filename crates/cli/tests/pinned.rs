//! `oxbpf load FILE.o --pin DIR` and `oxbpf map dump|lookup|update|delete`
//! on the pinned maps, against the kernel (root only: ignored with the
//! reason otherwise, failing under `OXBPF_REQUIRE_PRIVILEGED=1`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use libtest_mimic::{Arguments, Failed};
use oxbpf_testkit::{Requirement, privileged_trial};

fn example(name: &str) -> Result<PathBuf, String> {
    oxbpf_testkit::bpf::example(name, &Path::new(env!("CARGO_TARGET_TMPDIR")).join("pinned"))
}

fn oxbpf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .output()
        .expect("run oxbpf")
}

fn ok(o: &Output, what: &str) -> Result<String, String> {
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(format!(
            "{what}: exit {:?}: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        ))
    }
}

/// Removes the pin directory on drop.
struct Pins(PathBuf);

impl Drop for Pins {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn load_pin_and_edit_maps() -> Result<(), Failed> {
    let obj = example("flow_hash")?;
    let dir = PathBuf::from(format!("/sys/fs/bpf/oxbpf-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pins = Pins(dir.clone());
    let d = dir.to_str().ok_or("path")?;
    let out = ok(
        &oxbpf(&["load", obj.to_str().ok_or("path")?, "--pin", d]),
        "load",
    )?;
    let map = dir.join("maps/flows");
    if !out.contains(&format!("pinned {}", map.display())) || !dir.join("progs/flow_hash").exists()
    {
        return Err(format!("load output: {out}").into());
    }
    // Loading into a directory that already holds pins is refused.
    let again = oxbpf(&["load", obj.to_str().ok_or("path")?, "--pin", d]);
    if again.status.code() != Some(1) {
        return Err(format!("second load: {:?}", again.status).into());
    }
    let m = map.to_str().ok_or("path")?;
    // struct flow_key { __be32 saddr, daddr; __be16 sport, dport; __u8 proto, pad[3]; }
    // = 16 bytes; struct flow_stats { __u64 packets, bytes; }.
    let key = "0a0000010a00000200350035".to_string() + "11000000";
    let value = "0300000000000000e803000000000000"; // 3 packets, 1000 bytes
    ok(
        &oxbpf(&["map", "update", m, "--key", &key, "--value", value]),
        "update",
    )?;
    let looked = ok(&oxbpf(&["map", "lookup", m, "--key", &key]), "lookup")?;
    if !looked.contains("packets: 3")
        || !looked.contains("bytes: 1000")
        || !looked.contains("proto: 17")
    {
        return Err(format!("lookup printed {looked:?}").into());
    }
    let noexist = oxbpf(&[
        "map", "update", m, "--key", &key, "--value", value, "--flag", "noexist",
    ]);
    if noexist.status.code() != Some(1) {
        return Err(format!(
            "update --flag noexist of an existing key: {:?}",
            noexist.status
        )
        .into());
    }
    let dumped = ok(&oxbpf(&["map", "dump", m, "--json"]), "dump")?;
    let want = format!("{{\"flows\":[{{\"key\":\"{key}\",\"value\":\"{value}\"}}]}}\n");
    if dumped != want {
        return Err(format!("dump --json printed {dumped:?}, expected {want:?}").into());
    }
    let wrong = oxbpf(&["map", "lookup", m, "--key", "00"]);
    if wrong.status.code() != Some(2) || !String::from_utf8_lossy(&wrong.stderr).contains("16") {
        return Err(format!("short key: {wrong:?}").into());
    }
    ok(&oxbpf(&["map", "delete", m, "--key", &key]), "delete")?;
    let gone = oxbpf(&["map", "lookup", m, "--key", &key]);
    if gone.status.code() != Some(1) || !String::from_utf8_lossy(&gone.stderr).contains("no entry")
    {
        return Err(format!("lookup after delete: {gone:?}").into());
    }
    drop(pins);
    if dir.exists() {
        return Err("pins left behind".into());
    }
    Ok(())
}

/// `oxbpf run FILE.o --engine kernel` prints the same lines and writes the
/// same map state as the JIT, from the same --maps-in.
fn run_engine_kernel_matches_jit() -> Result<(), Failed> {
    let obj = example("flow_hash")?;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pinned");
    // Ethernet + IPv4 10.0.0.1 -> 10.0.0.2 UDP 53 -> 53, payload "x".
    let mut pkt = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    pkt.extend_from_slice(&[
        0x45, 0, 0, 29, 0, 0, 0x40, 0, 64, 17, 0x26, 0xce, 10, 0, 0, 1, 10, 0, 0, 2,
    ]);
    pkt.extend_from_slice(&[0, 0x35, 0, 0x35, 0, 9, 0, 0, b'x']);
    let data = dir.join("flow.bin");
    std::fs::write(&data, &pkt).map_err(|e| e.to_string())?;
    // The flow already has 3 packets, 1000 bytes.
    let key = "0a0000010a00000200350035".to_string() + "11000000";
    let maps_in = dir.join("flows-in.json");
    std::fs::write(
        &maps_in,
        format!(
            "{{\"flows\":[{{\"key\":\"{key}\",\"value\":\"0300000000000000e803000000000000\"}}]}}"
        ),
    )
    .map_err(|e| e.to_string())?;
    let mut outputs = Vec::new();
    for engine in ["jit", "kernel"] {
        let maps_out = dir.join(format!("flows-out-{engine}.json"));
        let o = ok(
            &oxbpf(&[
                "run",
                obj.to_str().ok_or("path")?,
                "--engine",
                engine,
                "--data",
                data.to_str().ok_or("path")?,
                "--maps-in",
                maps_in.to_str().ok_or("path")?,
                "--maps-out",
                maps_out.to_str().ok_or("path")?,
            ]),
            engine,
        )?;
        let state = std::fs::read_to_string(&maps_out).map_err(|e| e.to_string())?;
        outputs.push((o, state));
    }
    if outputs[0] != outputs[1] {
        return Err(format!("jit {:?}\nkernel {:?}", outputs[0], outputs[1]).into());
    }
    // 4 packets, 1043 bytes = 0x413.
    if !outputs[1].1.contains("04000000000000001304000000000000") {
        return Err(format!("flow not updated: {}", outputs[1].1).into());
    }
    let traced = oxbpf(&[
        "run",
        obj.to_str().ok_or("path")?,
        "--engine",
        "kernel",
        "--trace",
        "--data",
        data.to_str().ok_or("path")?,
    ]);
    if traced.status.code() != Some(2) {
        return Err(format!("--trace on the kernel: {traced:?}").into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let req = [Requirement::Root, Requirement::Bpf];
    let tests = vec![
        privileged_trial(
            "load_pin_and_edit_pinned_maps",
            &req,
            load_pin_and_edit_maps,
        ),
        privileged_trial(
            "run_engine_kernel_matches_jit",
            &req,
            run_engine_kernel_matches_jit,
        ),
    ];
    libtest_mimic::run(&args, tests).exit();
}
