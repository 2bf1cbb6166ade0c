//! `oxbpf keygen`, `oxbpf sign`, `oxbpf verify-signature` and `oxbpf run
//! --require-signature --trusted-key PUB` through the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh directory per test, so keygen's refusal to overwrite does not
/// trip over a previous run.
fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("sign-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Compiles bpf/examples/xdp_tx.c into `dir` (clang is required).
fn object(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bpf/examples/xdp_tx.c");
    let out = dir.join("xdp_tx.o");
    let ok = Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
        .arg("-I/usr/include/x86_64-linux-gnu")
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("clang must be installed")
        .success();
    assert!(ok, "clang failed on {}", src.display());
    out
}

fn oxbpf(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oxbpf"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run oxbpf")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// keygen + sign in `dir`, returning the object path.
fn signed_setup(dir: &Path) -> PathBuf {
    let obj = object(dir);
    let o = oxbpf(dir, &["keygen", "--out", "k"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = oxbpf(dir, &["sign", "xdp_tx.o", "--key", "k"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "signature: xdp_tx.o.sig");
    // A 60-byte packet of zeros: these tests are about whether the run
    // happens at all, not about its verdict.
    std::fs::write(dir.join("pkt.bin"), [0u8; 60]).unwrap();
    obj
}

fn run_signed(dir: &Path, keys: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "xdp_tx.o",
        "--data",
        "pkt.bin",
        "--require-signature",
    ];
    for k in keys {
        args.extend(["--trusted-key", k]);
    }
    oxbpf(dir, &args)
}

#[test]
fn keygen_writes_a_private_key_0600_and_a_public_key() {
    let dir = scratch("keygen");
    let o = oxbpf(&dir, &["keygen", "--out", "k"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let secret = std::fs::read_to_string(dir.join("k")).unwrap();
    let public = std::fs::read_to_string(dir.join("k.pub")).unwrap();
    assert_eq!(secret.lines().next(), Some("oxbpf ed25519 secret key v1"));
    assert_eq!(public.lines().next(), Some("oxbpf ed25519 public key v1"));
    let pub_hex = public.lines().nth(1).unwrap();
    assert_eq!(pub_hex.len(), 64);
    assert!(stdout(&o).contains(pub_hex), "keygen prints the public key");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("k"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Never overwrites an existing key.
    let again = oxbpf(&dir, &["keygen", "--out", "k"]);
    assert_eq!(code(&again), 2);
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read_to_string(dir.join("k")).unwrap(), secret);
}

#[test]
fn signed_object_runs_under_require_signature() {
    let dir = scratch("ok");
    signed_setup(&dir);
    let o = run_signed(&dir, &["k.pub"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("return: "), "{}", stdout(&o));
    let v = oxbpf(
        &dir,
        &["verify-signature", "xdp_tx.o", "--trusted-key", "k.pub"],
    );
    assert_eq!(code(&v), 0, "{}", stderr(&v));
    let pub_hex = std::fs::read_to_string(dir.join("k.pub")).unwrap();
    let pub_hex = pub_hex.lines().nth(1).unwrap();
    assert_eq!(stdout(&v).trim(), format!("ok: signed by {pub_hex}"));
}

#[test]
fn altered_byte_is_refused() {
    let dir = scratch("altered");
    let obj = signed_setup(&dir);
    let mut bytes = std::fs::read(&obj).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&obj, &bytes).unwrap();
    let o = run_signed(&dir, &["k.pub"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(stderr(&o).contains("does not match"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "nothing ran: {}", stdout(&o));
    // The ELF magic altered: still a signature failure, not a bytecode run.
    bytes[mid] ^= 1;
    bytes[1] = b'X';
    std::fs::write(&obj, &bytes).unwrap();
    let o = run_signed(&dir, &["k.pub"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(stderr(&o).contains("does not match"), "{}", stderr(&o));
}

#[test]
fn wrong_key_is_refused_and_any_of_several_trusted_keys_accepts() {
    let dir = scratch("wrongkey");
    signed_setup(&dir);
    assert_eq!(code(&oxbpf(&dir, &["keygen", "--out", "other"])), 0);
    let o = run_signed(&dir, &["other.pub"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("xdp_tx.o.sig does not match xdp_tx.o"),
        "{}",
        stderr(&o)
    );
    let v = oxbpf(
        &dir,
        &["verify-signature", "xdp_tx.o", "--trusted-key", "other.pub"],
    );
    assert_eq!(code(&v), 1);
    let o = run_signed(&dir, &["other.pub", "k.pub"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn missing_signature_is_refused() {
    let dir = scratch("missing");
    signed_setup(&dir);
    std::fs::remove_file(dir.join("xdp_tx.o.sig")).unwrap();
    let o = run_signed(&dir, &["k.pub"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("xdp_tx.o is unsigned: signature file xdp_tx.o.sig does not exist"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn truncated_signature_file_is_refused() {
    let dir = scratch("truncated");
    signed_setup(&dir);
    let sig = dir.join("xdp_tx.o.sig");
    let text = std::fs::read_to_string(&sig).unwrap();
    std::fs::write(&sig, &text[..text.len() - 21]).unwrap();
    let o = run_signed(&dir, &["k.pub"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("signature file xdp_tx.o.sig: hex line has 108 digits, expected 128"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn malformed_key_files_and_missing_trusted_key_are_usage_errors() {
    let dir = scratch("malformed");
    signed_setup(&dir);
    // The secret key given as a trusted public key.
    let o = run_signed(&dir, &["k"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("public key file k: first line is"),
        "{}",
        stderr(&o)
    );
    // --require-signature without any key is a clap usage error.
    let o = run_signed(&dir, &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--trusted-key"), "{}", stderr(&o));
    // sign with a public key as the secret key.
    let o = oxbpf(&dir, &["sign", "xdp_tx.o", "--key", "k.pub"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("secret key file k.pub"),
        "{}",
        stderr(&o)
    );
}
