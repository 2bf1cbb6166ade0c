//! `oxbpf verify`: exit codes, the text diagnostic and --json.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn oxbpf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .output()
        .expect("run oxbpf")
}

fn write(name: &str, text: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn compile_example(name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bpf/examples")
        .join(format!("{name}.c"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("verify-{name}.o"));
    let ok = Command::new("clang")
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-mcpu=v3",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("clang must be installed")
        .success();
    assert!(ok);
    out
}

/// 14 bytes proven by `data + 14 > data_end`, then a 4-byte load at 12.
const OUT_OF_BOUNDS: &str = "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, +2\nldxw %r0, [%r2+12]\nexit\nmov %r0, 1\nexit\n";

#[test]
fn rejected_program_exits_1_with_a_diagnostic() {
    let f = write("verify-oob.s", OUT_OF_BOUNDS);
    let o = oxbpf(&["verify", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("error at insn 5 (ldxw %r0, [%r2+12]): packet access out of bounds"),
        "{out}"
    );
    assert!(
        out.contains("r2 is a packet pointer with 14 bytes proven"),
        "{out}"
    );
    assert!(out.contains("needs bytes 12..16"), "{out}");
    assert!(
        out.contains("path: insn 4 (jgt %r4, %r3, +2) not taken"),
        "{out}"
    );
}

#[test]
fn json_names_the_kind() {
    let f = write("verify-oob-json.s", OUT_OF_BOUNDS);
    let o = oxbpf(&["verify", f.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = &v["programs"][0];
    assert_eq!(p["accepted"], false);
    assert_eq!(p["error"]["kind"], "packet_out_of_bounds");
    assert_eq!(p["error"]["pc"], 5);
}

#[test]
fn accepted_object_exits_0() {
    let obj = compile_example("parse");
    let o = oxbpf(&["verify", obj.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with("parse (xdp): accepted: 100 insns") || out.contains("accepted"),
        "{out}"
    );
    let o = oxbpf(&["verify", obj.to_str().unwrap(), "--prog", "nope"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn usage_errors_exit_2() {
    let f = write("verify-ok.s", "mov %r0, 2\nexit\n");
    assert_eq!(
        oxbpf(&["verify", f.to_str().unwrap()]).status.code(),
        Some(0)
    );
    assert_eq!(
        oxbpf(&["verify", f.to_str().unwrap(), "--profile", "root"])
            .status
            .code(),
        Some(2)
    );
    let g = write("verify-syntax.s", "mov %r0,\n");
    assert_eq!(
        oxbpf(&["verify", g.to_str().unwrap()]).status.code(),
        Some(2)
    );
    // A jump out of the program is the verifier's verdict, not a usage error.
    let j = write("verify-jump.s", "mov %r0, 0\nja +5\nexit\n");
    let o = oxbpf(&["verify", j.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("[jump_out_of_range]"));
}

#[test]
fn log_states_prints_each_processed_instruction() {
    let f = write("verify-log.s", "mov %r0, 2\nexit\n");
    let o = oxbpf(&["verify", f.to_str().unwrap(), "--log", "states"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    // Entry state: r1 is the context; after the mov, r0 is the constant 2.
    assert!(
        lines[0].starts_with("0: mov %r0, 2  ; r1 = a context pointer"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("1: exit  ; r0 = the constant 2"),
        "{out}"
    );
    assert!(lines[2].contains("accepted: 2 insns, 2 processed"), "{out}");
    assert_eq!(
        oxbpf(&["verify", f.to_str().unwrap(), "--log", "everything"])
            .status
            .code(),
        Some(2)
    );
}
