//! `oxbpf disasm --jit` and `oxbpf bench` as a user runs them.
//!
//! The x86 code is not compared byte for byte (the JIT's choices may
//! change); the tests check the listing's structure and that the
//! instruction a `mov` becomes is a `mov`. Bench tests check the shape of
//! the report, never timings.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

fn oxbpf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .args(args)
        .output()
        .expect("run oxbpf")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(o)))
}

/// Writes `text` to a fresh file named `name` and returns its path.
fn file(name: &str, text: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "oxbpf-cli-jit-bench-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write scratch file");
    p.display().to_string()
}

/// `mov %r0, 1; exit`: b7 = ALU64 | K | MOV, 95 = JMP | EXIT (RFC 9669
/// section 4, opcode table).
const MOV_EXIT_HEX: &str = "b7 00 00 00 01 00 00 00 95 00 00 00 00 00 00 00";

#[test]
fn disasm_jit_lists_each_ebpf_instruction_with_its_x86_code() {
    let src = file("mov.s", "mov %r0, 1\nexit\n");
    let hex = file("mov.hex", MOV_EXIT_HEX);
    for path in [&src, &hex] {
        let o = oxbpf(&["disasm", "--jit", path]);
        assert!(o.status.success(), "{path}: {}", stderr(&o));
        let text = stdout(&o);
        let lines: Vec<&str> = text.lines().collect();
        let mov = lines
            .iter()
            .position(|l| l.trim_start().starts_with("0: mov %r0, 1"))
            .unwrap_or_else(|| panic!("no eBPF mov line:\n{text}"));
        let exit = lines
            .iter()
            .position(|l| l.trim_start().starts_with("1: exit"))
            .unwrap_or_else(|| panic!("no eBPF exit line:\n{text}"));
        assert!(mov < exit, "{text}");
        // x86 lines are indented more deeply than the eBPF lines.
        let indent = |l: &str| l.len() - l.trim_start().len();
        let between = &lines[mov + 1..exit];
        assert!(!between.is_empty(), "mov has no x86 code:\n{text}");
        assert!(between.iter().all(|l| indent(l) > indent(lines[mov])));
        assert!(
            between.iter().any(|l| l.contains("mov ")),
            "mov %r0, 1 did not become an x86 mov:\n{text}"
        );
        let after = lines.get(exit + 1).expect("x86 code after exit");
        assert!(indent(after) > indent(lines[exit]), "{text}");
        assert!(text.starts_with("prologue:\n"), "{text}");
    }
}

#[test]
fn disasm_jit_json_is_the_structured_listing() {
    let hex = file("mov.hex", MOV_EXIT_HEX);
    let o = oxbpf(&["disasm", "--jit", "--json", &hex]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    let insns = v["insns"].as_array().expect("insns");
    assert_eq!(insns.len(), 2);
    assert_eq!(insns[0]["slot"], 0);
    assert_eq!(insns[0]["text"], "mov %r0, 1");
    assert_eq!(insns[1]["slot"], 1);
    assert_eq!(insns[1]["text"], "exit");
    for insn in insns {
        let x86 = insn["x86"].as_array().expect("x86 lines");
        assert!(!x86.is_empty(), "{insn}");
        for line in x86 {
            assert!(line["offset"].as_u64().is_some(), "{line}");
            let bytes = line["bytes"].as_str().expect("bytes");
            assert!(!bytes.is_empty() && bytes.len() % 2 == 0, "{line}");
        }
    }
    assert!(
        insns[0]["x86"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["text"].as_str().unwrap().starts_with("mov ")),
        "{v}"
    );
    assert!(!v["prologue"].as_array().expect("prologue").is_empty());
    assert!(v["out_of_line"].is_array());
    assert!(v["code_len"].as_u64().unwrap() > 0);
}

#[test]
fn disasm_jit_refuses_a_program_the_load_check_rejects() {
    // Reads r3, never written: refused at load time (exit 1).
    let src = file("bad.s", "mov %r0, %r3\nexit\n");
    let o = oxbpf(&["disasm", "--jit", &src]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("rejected"), "{}", stderr(&o));
}

/// Sum of 1..=10 in a loop: r0 = 55.
const SUM_LOOP: &str = "\
mov %r0, 0
mov %r1, 1
loop:
add %r0, %r1
add %r1, 1
jle %r1, 10, loop
exit
";

#[test]
fn bench_json_has_each_engine_with_positive_times() {
    let src = file("sum.s", SUM_LOOP);
    let o = oxbpf(&[
        "bench", &src, "--repeat", "10", "--engine", "interp", "--engine", "jit", "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["return"], 55, "{v}");
    assert_eq!(v["runs"], 10, "{v}");
    assert_eq!(v["insns"], 6, "{v}");
    let engines = v["engines"].as_array().expect("engines");
    let names: Vec<&str> = engines
        .iter()
        .map(|e| e["engine"].as_str().expect("engine name"))
        .collect();
    assert_eq!(names, ["interp", "jit"]);
    for e in engines {
        for key in ["raw_ns", "baseline_ns"] {
            let ns = e[key].as_f64().unwrap_or_else(|| panic!("{key} in {e}"));
            assert!(ns > 0.0, "{key} in {e}");
        }
        assert!(e["net_ns"].is_number(), "{e}");
        assert!(e.get("na").is_none(), "{e}");
    }
    let compile = &v["jit_compile"];
    assert!(compile["compiles"].as_u64().unwrap() >= 10, "{compile}");
    assert!(
        compile["us_per_1000_insns"].as_f64().unwrap() > 0.0,
        "{compile}"
    );
}

#[test]
fn bench_default_engines_report_times_or_why_not() {
    let src = file("sum.s", SUM_LOOP);
    let o = oxbpf(&["bench", &src, "--repeat", "10", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    let engines = v["engines"].as_array().expect("engines");
    let names: Vec<&str> = engines
        .iter()
        .map(|e| e["engine"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["interp", "interp-fast", "jit", "kernel"]);
    for e in engines {
        // Our engines always run; the kernel runs or says why not.
        let ran = e["raw_ns"].as_f64().is_some_and(|ns| ns > 0.0);
        let na = e["na"].as_str().is_some_and(|why| !why.is_empty());
        assert!(ran != na, "{e}");
        if e["engine"] != "kernel" {
            assert!(ran, "{e}");
        }
    }
}

#[test]
fn bench_text_table_and_exit_codes() {
    let src = file("sum.s", SUM_LOOP);
    let o = oxbpf(&[
        "bench",
        &src,
        "--repeat",
        "10",
        "--engine",
        "interp-fast",
        "--engine",
        "jit",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.lines().any(|l| l.starts_with("interp-fast ")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("jit ")), "{text}");
    assert!(text.contains("return: 55 (0x37) on every engine"), "{text}");
    assert!(text.contains("per 1,000 instructions"), "{text}");

    // A trap is a failure (exit 1): a load through a null pointer.
    let trap = file("trap.s", "ldxdw %r0, [%r1]\nexit\n");
    let o = oxbpf(&["bench", &trap, "--repeat", "10", "--engine", "jit"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("trapped"), "{}", stderr(&o));

    // An unknown engine is a usage error (exit 2).
    let o = oxbpf(&["bench", &src, "--engine", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    let o = oxbpf(&["bench", "--help"]);
    assert!(
        stdout(&o).contains("oxbpf bench bench-programs/arith_loop.s"),
        "{}",
        stdout(&o)
    );
}
