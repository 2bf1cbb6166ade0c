//! The labelled verifier corpora under `bpf/verifier/`, one test case per
//! file: every program of `safe/` is accepted, every program of
//! `unsafe/<kind>/` is rejected with exactly that kind.
//!
//! File headers (comment lines at the top, `#` in .s, `//` in .c):
//! `prog-type: xdp`, `expect: <kind>` (unsafe only, equal to the
//! directory), `profile: strict` (rejected only under the strict profile:
//! the privileged profile must accept it). `.c` files are compiled with the
//! project's flags at test time.
//!
//! `cargo test -p oxbpf-verifier --test corpus -- packet` runs the files
//! whose name contains `packet`.

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};
use oxbpf_abi::program_type::ProgramType;
use oxbpf_isa::AsmError;
use oxbpf_verifier::{
    ErrorKind, Input, Options, Profile, VerifyError, decode_error, verify, verify_object_program,
};

/// `bpf/verifier`, or `OXBPF_VERIFIER_CORPUS` when set (to try a corpus
/// kept elsewhere).
fn root() -> PathBuf {
    match std::env::var_os("OXBPF_VERIFIER_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bpf/verifier"),
    }
}

#[derive(Debug, Default)]
struct Header {
    prog_type: Option<String>,
    expect: Option<String>,
    strict_only: bool,
}

fn header(text: &str, comment: &str) -> Header {
    let mut h = Header::default();
    for line in text.lines() {
        let l = line.trim();
        if l.is_empty() {
            continue;
        }
        let Some(rest) = l.strip_prefix(comment) else {
            if l.starts_with("/*") || l.starts_with('*') {
                continue;
            }
            break;
        };
        let rest = rest.trim();
        if let Some((k, v)) = rest.split_once(':') {
            let v = v.split_whitespace().next().unwrap_or("").to_string();
            match k.trim() {
                "prog-type" => h.prog_type = Some(v),
                "expect" => h.expect = Some(v),
                "profile" => h.strict_only = v == "strict",
                _ => {}
            }
        }
    }
    h
}

fn program_type(name: &str) -> Result<ProgramType, String> {
    let t = match name {
        "tc" | "classifier" => Some(ProgramType::SchedCls),
        "socket" => Some(ProgramType::SocketFilter),
        n => ProgramType::from_name(n),
    };
    t.ok_or_else(|| format!("unknown prog-type '{name}'"))
}

/// The verdicts (one per program) of a file under `profile`.
fn verdicts(
    path: &Path,
    h: &Header,
    profile: Profile,
) -> Result<Vec<Result<(), Box<VerifyError>>>, String> {
    let options = Options {
        profile,
        ..Options::default()
    };
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "s" => {
            let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
            let t = program_type(h.prog_type.as_deref().ok_or("no prog-type header")?)?;
            let insns = match oxbpf_isa::asm::assemble_unchecked(&text) {
                Ok(i) => i,
                Err(AsmError::Decode(e)) => return Ok(vec![Err(decode_error(&e))]),
                Err(e) => return Err(format!("does not assemble: {e}")),
            };
            let mut input = Input::new(&insns, t);
            input.options = options;
            Ok(vec![verify(&input).map(|_| ())])
        }
        "c" => {
            let obj = compile(path)?;
            let bytes = std::fs::read(&obj).map_err(|e| e.to_string())?;
            let parsed = oxbpf_object::Object::parse(&bytes).map_err(|e| format!("object: {e}"))?;
            if parsed.programs.is_empty() {
                return Err("the object has no programs".into());
            }
            Ok(parsed
                .programs
                .iter()
                .map(|p| verify_object_program(p, &parsed.maps, options).map(|_| ()))
                .collect())
        }
        _ => Err(format!("unexpected file {}", path.display())),
    }
}

fn compile(src: &Path) -> Result<PathBuf, String> {
    let rel = src.strip_prefix(root()).unwrap_or(src);
    let name = rel.to_string_lossy().replace('/', "-");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("corpus-{name}.o"));
    let o = Command::new("clang")
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-mcpu=v3",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(src)
        .arg("-o")
        .arg(&out)
        .output()
        .map_err(|e| format!("clang: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "clang failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(out)
}

fn check_safe(path: &Path) -> Result<(), Failed> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let h = header(
        &text,
        if path.extension().is_some_and(|e| e == "c") {
            "//"
        } else {
            "#"
        },
    );
    let mut profiles = vec![Profile::Privileged];
    if h.strict_only {
        profiles.push(Profile::Strict);
    }
    for profile in profiles {
        for v in verdicts(path, &h, profile)? {
            if let Err(e) = v {
                return Err(format!("rejected under {profile:?}:\n{e}").into());
            }
        }
    }
    Ok(())
}

fn check_unsafe(path: &Path, dir_kind: &str) -> Result<(), Failed> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let h = header(
        &text,
        if path.extension().is_some_and(|e| e == "c") {
            "//"
        } else {
            "#"
        },
    );
    let expect = h.expect.clone().ok_or("no expect header")?;
    if expect != dir_kind {
        return Err(format!("expect: {expect} but the directory says {dir_kind}").into());
    }
    if ErrorKind::from_name(&expect).is_none() {
        return Err(format!("unknown kind {expect}").into());
    }
    if h.strict_only {
        for v in verdicts(path, &h, Profile::Privileged)? {
            if let Err(e) = v {
                return Err(format!("strict-only file rejected under privileged:\n{e}").into());
            }
        }
    }
    let profile = if h.strict_only {
        Profile::Strict
    } else {
        Profile::Privileged
    };
    let vs = verdicts(path, &h, profile)?;
    let Some(err) = vs.into_iter().find_map(|v| v.err()) else {
        return Err(format!("accepted under {profile:?}, expected {expect}").into());
    };
    if err.kind().as_str() != expect {
        return Err(format!("rejected as {} instead of {expect}:\n{err}", err.kind()).into());
    }
    Ok(())
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "s" || e == "c"))
        .collect();
    v.sort();
    v
}

/// One case per file of a corpus root, named `<prefix>::safe::<file>` or
/// `<prefix>::unsafe::<kind>::<file>`.
fn trials_of(prefix: &str, root: &Path, trials: &mut Vec<Trial>) {
    for f in files(&root.join("safe")) {
        let name = format!(
            "{prefix}::safe::{}",
            f.file_name().unwrap().to_string_lossy()
        );
        trials.push(Trial::test(name, move || check_safe(&f)));
    }
    let mut kinds: Vec<PathBuf> = std::fs::read_dir(root.join("unsafe"))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    kinds.sort();
    for k in kinds {
        let kind = k.file_name().unwrap().to_string_lossy().to_string();
        for f in files(&k) {
            let name = format!(
                "{prefix}::unsafe::{kind}::{}",
                f.file_name().unwrap().to_string_lossy()
            );
            let kind = kind.clone();
            trials.push(Trial::test(name, move || check_unsafe(&f, &kind)));
        }
    }
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    let root = root();
    if !root.join("safe").is_dir() || !root.join("unsafe").is_dir() {
        trials.push(
            Trial::test("corpus::missing", || Ok(()))
                .with_ignored_flag(true)
                .with_kind("bpf/verifier/{safe,unsafe} not present in this tree"),
        );
    } else {
        trials_of("corpus", &root, &mut trials);
    }
    // The verifier's own small corpus (kernel-checked while it was
    // written), in the same format.
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs");
    trials_of("own", &own, &mut trials);
    libtest_mimic::run(&args, trials).exit();
}
