//! The `oxbpf` binary as a user runs it: outputs, `--json`, exit codes.
//!
//! Expected values are worked out by hand in the comments: encodings from
//! RFC 9669's opcode table, checksums from RFC 1071, Fibonacci numbers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use oxbpf_testkit::{examples_dir, suite_dir};
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

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or("")
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(o)))
}

/// A fresh empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "oxbpf-cli-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write scratch file");
    p.display().to_string()
}

fn example(name: &str) -> String {
    examples_dir().join(name).display().to_string()
}

fn suite(sub: &str) -> String {
    suite_dir().join(sub).display().to_string()
}

// mov32 %r0, 42 (opcode 0xb4, imm 42 = 0x2a) ; exit (0x95).
const MOV32_42_EXIT: [u8; 16] = [0xb4, 0, 0, 0, 0x2a, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];

#[test]
fn asm_writes_bytecode_next_to_the_source() {
    let dir = scratch("asm");
    let src = write(&dir, "p.s", "mov32 %r0, 42\nexit\n");
    let o = oxbpf(&["asm", &src]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let bin = dir.join("p.bin");
    assert_eq!(std::fs::read(&bin).unwrap(), MOV32_42_EXIT);
    assert_eq!(
        stdout(&o),
        format!("{src}: 2 instructions, 16 bytes -> {}\n", bin.display())
    );
}

#[test]
fn asm_to_a_named_output_and_json() {
    let dir = scratch("asm-json");
    let src = write(&dir, "p.s", "lddw %r0, 0x1122334455667788\nexit\n");
    let out = dir.join("out.bin").display().to_string();
    let o = oxbpf(&["asm", &src, "-o", &out, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    // lddw is two slots, exit one: 3 slots, 24 bytes.
    assert_eq!(v["insns"], 3);
    assert_eq!(v["bytes"], 24);
    assert_eq!(v["output"], out.as_str());
    assert_eq!(v["input"], src.as_str());
    assert_eq!(std::fs::read(&out).unwrap().len(), 24);
}

#[test]
fn asm_to_stdout() {
    let dir = scratch("asm-stdout");
    let src = write(&dir, "p.s", "mov32 %r0, 42\nexit\n");
    let o = oxbpf(&["asm", &src, "-o", "-"]);
    assert_eq!(code(&o), 0);
    assert_eq!(o.stdout, MOV32_42_EXIT);
    assert!(stderr(&o).contains("2 instructions, 16 bytes"));
}

#[test]
fn asm_error_names_line_and_exits_2() {
    let dir = scratch("asm-bad");
    let src = write(&dir, "bad.s", "mov %r0, 1\nldxq %r0, %r1\nexit\n");
    let o = oxbpf(&["asm", &src]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!("error: cannot assemble {src}: line 2")),
        "{err}"
    );
    assert!(!dir.join("bad.bin").exists());
}

#[test]
fn asm_refuses_to_overwrite_a_bin_input() {
    let dir = scratch("asm-bin");
    let src = write(&dir, "p.bin", "exit\n");
    let o = oxbpf(&["asm", &src]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("name the output with -o"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn disasm_hex_bytes_words_and_files_agree() {
    let expected = "mov32 %r0, 42\nexit\n";
    let hex = "b4 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00";
    let o = oxbpf(&["disasm", "--hex", hex]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), expected);
    // The same instructions as 64-bit little-endian words.
    let o = oxbpf(&["disasm", "--hex", "0x0000002a000000b4,0x95"]);
    assert_eq!(stdout(&o), expected);
    let dir = scratch("disasm");
    let bin = write(&dir, "p.bin", MOV32_42_EXIT);
    assert_eq!(stdout(&oxbpf(&["disasm", &bin])), expected);
    let hexfile = write(&dir, "p.hex", format!("# mov32 ; exit\n{hex}\n"));
    assert_eq!(stdout(&oxbpf(&["disasm", &hexfile])), expected);
}

#[test]
fn disasm_output_reassembles_to_the_same_bytes() {
    let dir = scratch("disasm-round");
    let bin = dir.join("fib.bin").display().to_string();
    assert_eq!(code(&oxbpf(&["asm", &example("fib.s"), "-o", &bin])), 0);
    let text = stdout(&oxbpf(&["disasm", &bin]));
    let again = write(&dir, "again.s", &text);
    let bin2 = dir.join("again.bin").display().to_string();
    assert_eq!(code(&oxbpf(&["asm", &again, "-o", &bin2])), 0);
    assert_eq!(std::fs::read(&bin).unwrap(), std::fs::read(&bin2).unwrap());
}

#[test]
fn disasm_json_lists_slots() {
    // lddw %r0, 0x1122334455667788 (opcode 0x18, low imm in slot 0, high
    // imm in slot 1) ; exit.
    let o = oxbpf(&[
        "disasm",
        "--json",
        "--hex",
        "0x5566778800000018 0x1122334400000000 0x95",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    let insns = v["insns"].as_array().unwrap();
    assert_eq!(insns.len(), 2);
    assert_eq!(insns[0]["pc"], 0);
    assert_eq!(insns[0]["raw"], "18000000887766550000000044332211");
    assert_eq!(insns[0]["text"], "lddw %r0, 0x1122334455667788");
    assert_eq!(insns[1]["pc"], 2);
    assert_eq!(insns[1]["raw"], "9500000000000000");
    assert_eq!(insns[1]["text"], "exit");
}

#[test]
fn disasm_malformed_input_exits_2() {
    // exit with imm = 1: a reserved field (RFC 9669 §3).
    let o = oxbpf(&["disasm", "--hex", "95 00 00 00 01 00 00 00"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("insn 0:"), "{}", stderr(&o));
    let o = oxbpf(&["disasm", "--hex", "zz"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).starts_with("error: --hex: line 1: 'zz' is not hex"));
    // Not a multiple of 8 bytes.
    let o = oxbpf(&["disasm", "--hex", "95 00 00"]);
    assert_eq!(code(&o), 2);
    let o = oxbpf(&["disasm", "/nonexistent/p.bin"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).starts_with("error: cannot read /nonexistent/p.bin: "));
}

#[test]
fn run_checksum_example_on_rfc1071_vector() {
    // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to 0x2ddf0, folds to
    // 0xddf2, whose complement is 0x220d = 8717.
    let dir = scratch("run-rfc");
    let data = write(
        &dir,
        "d.bin",
        [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7],
    );
    let o = oxbpf(&["run", &example("hello.s"), "--data", &data]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "return: 8717\n");
    // --mem is an alias of --data.
    let o = oxbpf(&["run", &example("hello.s"), "--mem", &data]);
    assert_eq!(stdout(&o), "return: 8717\n");
}

#[test]
fn run_checksum_example_on_odd_length_and_bundled_text() {
    let dir = scratch("run-odd");
    // 01 02 03: words 0x0102 + 0x0300 = 0x0402; complement 0xfbfd = 64509.
    let data = write(&dir, "d.bin", [1, 2, 3]);
    let o = oxbpf(&["run", &example("hello.s"), "--data", &data]);
    assert_eq!(stdout(&o), "return: 64509\n");
    // "Hello, oxbpf!\n": 0x4865 + 0x6c6c + 0x6f2c + 0x206f + 0x7862 +
    // 0x7066 + 0x210a = 0x24e3e; folded 0x4e40; complement 0xb1bf = 45503.
    let o = oxbpf(&["run", &example("hello.s"), "--data", &example("hello.txt")]);
    assert_eq!(stdout(&o), "return: 45503\n");
    // No input: the sum is 0, its complement 0xffff.
    let o = oxbpf(&["run", &example("hello.s")]);
    assert_eq!(stdout(&o), "return: 65535\n");
}

#[test]
fn run_fibonacci_example_from_bytecode() {
    let dir = scratch("run-fib");
    let bin = dir.join("fib.bin").display().to_string();
    assert_eq!(code(&oxbpf(&["asm", &example("fib.s"), "-o", &bin])), 0);
    // F(50) = 12586269025.
    for engine in ["interp", "interp-fast"] {
        let o = oxbpf(&["run", &bin, "--engine", engine]);
        assert_eq!(code(&o), 0, "{engine}: {}", stderr(&o));
        assert_eq!(stdout(&o), "return: 12586269025\n", "{engine}");
    }
}

#[test]
fn run_repeat_prints_mean_time() {
    let o = oxbpf(&["run", &example("fib.s"), "--repeat", "10"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0], "return: 12586269025");
    let time = lines[1]
        .strip_prefix("time: ")
        .and_then(|t| t.strip_suffix(" ns/run over 10 runs"))
        .unwrap_or_else(|| panic!("bad time line: {}", lines[1]));
    assert!(time.parse::<u64>().is_ok(), "{time}");
}

#[test]
fn run_json() {
    let o = oxbpf(&["run", &example("fib.s"), "--json"]);
    assert_eq!(code(&o), 0);
    let v = json(&o);
    assert_eq!(v["engine"], "interp");
    assert_eq!(v["return"], 12586269025u64);
    // 12586269025 = 0x2ee333961.
    assert_eq!(v["return_hex"], "0x2ee333961");
    assert!(v.get("runs").is_none());
    let o = oxbpf(&["run", &example("fib.s"), "--json", "--repeat", "2"]);
    let v = json(&o);
    assert_eq!(v["runs"], 2);
    assert!(v["ns_per_run"].is_u64());
}

#[test]
fn run_trap_exits_1() {
    let dir = scratch("run-trap");
    // Without --data r1 is 0: the load is outside every region.
    let src = write(&dir, "t.s", "ldxb %r0, [%r1]\nexit\n");
    let o = oxbpf(&["run", &src]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "");
    assert_eq!(
        stderr(&o),
        "error: program trapped at insn 0: trap 1: memory access out of bounds\n"
    );
    let o = oxbpf(&["run", &src, "--json"]);
    assert_eq!(code(&o), 1);
    let v = json(&o);
    assert_eq!(v["trap"]["code"], 1);
    assert_eq!(v["trap"]["pc"], 0);
}

#[test]
fn run_budget_exhaustion_exits_1() {
    let dir = scratch("run-budget");
    let src = write(&dir, "loop.s", "spin:\nja spin\n");
    let o = oxbpf(&["run", &src, "--budget", "100"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("trap 3: instruction budget exhausted"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_rejected_program_exits_1() {
    let dir = scratch("run-reject");
    // r0 is read before any write (negative/error.data's program).
    let src = write(&dir, "e.s", "or %r0, %r10\nexit\n");
    let o = oxbpf(&["run", &src]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).starts_with("error: program rejected: insn 0:"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["run"],
        &["run", "x.s", "--engine", "nope"],
        &["run", "x.s", "--repeat", "0"],
        &["disasm"],
        &["disasm", "f.bin", "--hex", "95"],
        &["frobnicate"],
        &["conformance"],
    ] {
        let o = oxbpf(args);
        assert_eq!(code(&o), 2, "oxbpf {args:?}: {}", stderr(&o));
    }
    let o = oxbpf(&["run", "/nonexistent/x.s"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).starts_with("error: cannot read /nonexistent/x.s: "));
}

#[test]
fn every_command_teaches_with_an_example() {
    for cmd in ["asm", "disasm", "run", "conformance", "bench"] {
        let o = oxbpf(&[cmd, "--help"]);
        assert_eq!(code(&o), 0);
        let help = stdout(&o);
        assert!(
            help.contains("Examples:") && help.contains(&format!("oxbpf {cmd} ")),
            "{cmd} --help:\n{help}"
        );
    }
}

#[test]
fn conformance_tests_all_pass() {
    let o = oxbpf(&["conformance", &suite("tests"), "--engine", "interp"]);
    assert_eq!(
        last_line(&stdout(&o)),
        "313 passed, 0 failed",
        "{}",
        stderr(&o)
    );
    assert_eq!(code(&o), 0);
}

#[test]
fn conformance_negative_all_fail_as_intended() {
    let o = oxbpf(&["conformance", &suite("negative"), "--engine", "interp"]);
    assert_eq!(
        last_line(&stdout(&o)),
        "60 passed, 0 failed",
        "{}",
        stderr(&o)
    );
    assert_eq!(code(&o), 0);
}

#[test]
fn conformance_on_the_fast_interpreter() {
    let o = oxbpf(&["conformance", &suite("tests"), "--engine", "interp-fast"]);
    assert_eq!(
        last_line(&stdout(&o)),
        "313 passed, 0 failed",
        "{}",
        stderr(&o)
    );
    let o = oxbpf(&["conformance", &suite("negative"), "--engine", "interp-fast"]);
    assert_eq!(
        last_line(&stdout(&o)),
        "60 passed, 0 failed",
        "{}",
        stderr(&o)
    );
}

#[test]
fn conformance_filter_selects_by_name() {
    let dir = suite_dir().join("tests");
    let want = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.ends_with(".data") && n.contains("lddw")
        })
        .count();
    assert!(want > 1);
    let o = oxbpf(&["conformance", &suite("tests"), "--filter", "lddw"]);
    assert_eq!(last_line(&stdout(&o)), format!("{want} passed, 0 failed"));
    let o = oxbpf(&["conformance", &suite("tests"), "--filter", "no-such-file"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn conformance_failures_and_skips_are_reported() {
    let dir = scratch("conf");
    write(
        &dir,
        "a_good.data",
        "-- asm\nmov %r0, 2\nexit\n-- result\n0x2\n",
    );
    write(
        &dir,
        "b_bad.data",
        "-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n",
    );
    write(&dir, "c_none.data", "-- asm\nmov %r0, 1\nexit\n");
    write(&dir, "d_malformed.data", "-- asm\nexit\n-- result\nzz\n");
    write(
        &dir,
        "e_mem.data",
        "-- asm\nldxb %r0, [%r1+1]\nexit\n-- mem\n07 09\n-- result\n9\n",
    );
    write(&dir, "not-data.txt", "ignored");
    let d = dir.display().to_string();
    let o = oxbpf(&["conformance", &d]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "2 passed, 2 failed, 1 skipped\n");
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines[0], "FAIL b_bad.data: r0 = 0x1, expected 0x2");
    assert!(
        lines[1].starts_with("SKIP c_none.data: no -- result"),
        "{err}"
    );
    assert!(
        lines[2].starts_with("FAIL d_malformed.data: malformed data file: ")
            && lines[2].ends_with("d_malformed.data:4: bad value 'zz' in -- result"),
        "{err}"
    );

    let o = oxbpf(&["conformance", &d, "--json"]);
    assert_eq!(code(&o), 1);
    let v = json(&o);
    assert_eq!(v["passed"], 2);
    assert_eq!(v["failed"], 2);
    assert_eq!(v["skipped"], 1);
    assert_eq!(v["expect_fail"], false);
    let files = v["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "a_good.data",
            "b_bad.data",
            "c_none.data",
            "d_malformed.data",
            "e_mem.data"
        ]
    );
    assert_eq!(files[0]["outcome"], "pass");
    assert_eq!(files[0]["observed"], "returned r0 = 0x2");
    assert!(files[0].get("reason").is_none());
    assert_eq!(files[1]["outcome"], "fail");
    assert_eq!(files[2]["outcome"], "skip");
}

#[test]
fn conformance_expect_fail_turns_passes_into_failures() {
    let dir = scratch("conf-neg").join("negative");
    std::fs::create_dir_all(&dir).unwrap();
    write(
        &dir,
        "passes.data",
        "-- asm\nmov %r0, 2\nexit\n-- result\n0x2\n",
    );
    write(
        &dir,
        "mismatch.data",
        "-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n",
    );
    write(
        &dir,
        "refused.data",
        "-- asm\nmov %r0, %r11\nexit\n-- result\n0x2\n",
    );
    let o = oxbpf(&["conformance", &dir.display().to_string()]);
    assert_eq!(stdout(&o), "2 passed, 1 failed\n");
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).starts_with("FAIL passes.data: expected to fail"),
        "{}",
        stderr(&o)
    );
    // The same files in a directory not named `negative` need the flag.
    let other = dir.parent().unwrap().join("other");
    std::fs::rename(&dir, &other).unwrap();
    let d = other.display().to_string();
    assert_eq!(stdout(&oxbpf(&["conformance", &d])), "1 passed, 2 failed\n");
    let o = oxbpf(&["conformance", &d, "--expect-fail"]);
    assert_eq!(stdout(&o), "2 passed, 1 failed\n");
}

#[test]
fn conformance_unreadable_directory_exits_2() {
    let o = oxbpf(&["conformance", "/nonexistent/dir"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).starts_with("error: /nonexistent/dir: cannot list directory"));
    let empty = scratch("conf-empty");
    let o = oxbpf(&["conformance", &empty.display().to_string()]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("no .data files"), "{}", stderr(&o));
}
