//! The verifier corpora under `bpf/verifier/` against the Linux kernel's
//! own verifier, one trial per file:
//! `cargo test -p oxbpf-kernel --test verifier_corpus -- packet`.
//!
//! `structure::*` trials run everywhere: every file has a valid header
//! (`prog-type`, `why`, and for `unsafe/<kind>/` an `expect` equal to the
//! directory, the kind one of the contract list of `/work/tasks/kinds.md`
//! kept in [`KINDS`]), `.s` files assemble, `.c` files compile, and each
//! kind has its minimum number of programs.
//!
//! `kernel::*` trials (privileged convention of `oxbpf-testkit`) load each
//! program as root: `.s` files assembled with `oxbpf-isa` and loaded raw
//! with their program type, `.c` files through `KernelObject`. A safe
//! program must be accepted; an unsafe one rejected; a strict-only one
//! (`profile: strict`: unsafe only under the unprivileged rules) accepted,
//! since root loads it privileged. A `kernel: accepts|rejects — reason`
//! header overrides the expected verdict where the kernel's differs from
//! oxbpf's, and is asserted too so the claim stays true. A mismatch prints
//! the end of the kernel's log. With `OXBPF_CORPUS_LOG=1` each rejection
//! prints its last log line, to review that the kernel rejects a program
//! for the labelled reason.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};
use oxbpf_abi::program_type::ProgramType;
use oxbpf_kernel::prog::attach_type;
use oxbpf_kernel::{
    KernelError, KernelObject, KernelProgram, LoadOptions, ObjectLoadError, ProgramSpec,
};
use oxbpf_object::Object;

/// The corpus root, relative to this crate.
const CORPUS: &str = "../../bpf/verifier";

/// The error kinds of verifier part 1 (the contract with the verifier's
/// `ErrorKind`), each with the minimum number of unsafe programs.
const KINDS: &[(&str, usize)] = &[
    ("uninit_register", 10),
    ("scratched_register", 10),
    ("write_r10", 10),
    ("malformed", 10),
    ("jump_out_of_range", 10),
    ("jump_into_lddw", 10),
    ("unreachable", 10),
    ("stack_out_of_bounds", 10),
    ("ctx_access", 10),
    ("packet_out_of_bounds", 10),
    ("map_value_out_of_bounds", 10),
    ("readonly_write", 10),
    ("null_deref", 10),
    ("pointer_arithmetic", 10),
    ("helper_argument", 10),
    ("helper_not_allowed", 10),
    ("stale_packet_pointer", 10),
    ("pointer_leak", 10),
    ("uninit_stack", 10),
];

/// Kinds only the strict profile reports: their files must say so.
const STRICT_KINDS: &[&str] = &["pointer_leak", "uninit_stack"];

/// Minimum number of safe programs.
const MIN_SAFE: usize = 100;

/// The kernel's verdict a header claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Accepts,
    Rejects,
}

/// A file's header comment lines.
#[derive(Debug, Default)]
struct Header {
    prog_type: Option<String>,
    expect: Option<String>,
    strict_only: bool,
    kernel: Option<(Verdict, String)>,
    why: Option<String>,
}

/// A corpus file: its path and where it sits.
#[derive(Clone, Debug)]
struct Entry {
    path: PathBuf,
    /// `None` in `safe/`, the directory's kind in `unsafe/<kind>/`.
    kind: Option<String>,
}

impl Entry {
    fn is_c(&self) -> bool {
        self.path.extension().is_some_and(|e| e == "c")
    }

    fn name(&self) -> String {
        let file = self
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        match &self.kind {
            None => format!("safe::{file}"),
            Some(k) => format!("unsafe::{k}::{file}"),
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS)
}

/// `.s` and `.c` files of `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "s" || e == "c"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every file of the corpus, and the names of the `unsafe/` directories.
fn entries() -> (Vec<Entry>, Vec<String>) {
    let root = root();
    let mut out: Vec<Entry> = files(&root.join("safe"))
        .into_iter()
        .map(|path| Entry { path, kind: None })
        .collect();
    let mut dirs: Vec<String> = std::fs::read_dir(root.join("unsafe"))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    for d in &dirs {
        for path in files(&root.join("unsafe").join(d)) {
            out.push(Entry {
                path,
                kind: Some(d.clone()),
            });
        }
    }
    (out, dirs)
}

/// Reads the header: the comment lines (`#` in `.s`, `//` in `.c`) before
/// the first other line.
fn header(text: &str, comment: &str) -> Result<Header, String> {
    let mut h = Header::default();
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() {
            continue;
        }
        let Some(rest) = l.strip_prefix(comment) else {
            break;
        };
        let Some((key, value)) = rest.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let at = || format!("line {}", n + 1);
        match key.trim() {
            "prog-type" => h.prog_type = Some(value.to_string()),
            "expect" => h.expect = Some(value.to_string()),
            "why" => h.why = Some(value.to_string()),
            "profile" => match value {
                "strict" => h.strict_only = true,
                "privileged" => {}
                v => return Err(format!("{}: unknown profile {v:?}", at())),
            },
            "kernel" => {
                let (word, reason) = match value.split_once(|c: char| !c.is_ascii_alphabetic()) {
                    Some((w, r)) => (w, r.trim_start_matches([' ', '-', '—', ':']).trim()),
                    None => (value, ""),
                };
                let verdict = match word {
                    "accepts" => Verdict::Accepts,
                    "rejects" => Verdict::Rejects,
                    w => return Err(format!("{}: kernel: {w:?} is not accepts|rejects", at())),
                };
                if reason.is_empty() {
                    return Err(format!("{}: kernel: {word} gives no reason", at()));
                }
                h.kernel = Some((verdict, reason.to_string()));
            }
            _ => {}
        }
    }
    Ok(h)
}

fn read_header(e: &Entry) -> Result<(String, Header), String> {
    let text =
        std::fs::read_to_string(&e.path).map_err(|err| format!("{}: {err}", e.path.display()))?;
    let h = header(&text, if e.is_c() { "//" } else { "#" })?;
    Ok((text, h))
}

/// The program type a header names (libbpf's names, plus `tc` and
/// `socket`).
fn program_type(name: &str) -> Result<ProgramType, String> {
    match name {
        "tc" | "classifier" => Some(ProgramType::SchedCls),
        "socket" => Some(ProgramType::SocketFilter),
        n => ProgramType::from_name(n),
    }
    .ok_or_else(|| format!("unknown prog-type {name:?}"))
}

/// Compiles a `.c` file with the project's flags.
fn compile(e: &Entry) -> Result<Object, String> {
    let name = e.name().replace("::", "-");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("corpus-{name}.o"));
    let o = Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
        .arg("-I/usr/include/x86_64-linux-gnu")
        .arg("-c")
        .arg(&e.path)
        .arg("-o")
        .arg(&out)
        .output()
        .map_err(|err| format!("clang must be installed: {err}"))?;
    if !o.status.success() {
        return Err(format!(
            "clang failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    let bytes = std::fs::read(&out).map_err(|err| format!("{}: {err}", out.display()))?;
    Object::parse(&bytes).map_err(|err| format!("{}: {err}", out.display()))
}

/// Checks what runs everywhere: header, kind, and that the file builds.
fn check_structure(e: &Entry) -> Result<(), Failed> {
    let (text, h) = read_header(e)?;
    if h.why.as_deref().is_none_or(str::is_empty) {
        return Err("no `why:` header".into());
    }
    match (&e.kind, &h.expect) {
        (None, Some(k)) => return Err(format!("a safe program says expect: {k}").into()),
        (None, None) if h.strict_only => {
            return Err("a safe program says profile: strict".into());
        }
        (None, None) => {}
        (Some(_), None) => return Err("no `expect:` header".into()),
        (Some(dir), Some(k)) => {
            if k != dir {
                return Err(format!("expect: {k} but the directory is {dir}").into());
            }
            if !KINDS.iter().any(|(n, _)| n == k) {
                return Err(format!("{k} is not a kind of the contract").into());
            }
            if STRICT_KINDS.contains(&k.as_str()) && !h.strict_only {
                return Err(
                    format!("{k} is strict-only: the file must say profile: strict").into(),
                );
            }
        }
    }
    if e.is_c() {
        let obj = compile(e)?;
        if obj.programs.is_empty() {
            return Err("the object has no programs".into());
        }
    } else {
        program_type(h.prog_type.as_deref().ok_or("no `prog-type:` header")?)?;
        oxbpf_isa::asm::assemble_unchecked(&text)
            .map_err(|err| format!("does not assemble: {err}"))?;
    }
    Ok(())
}

/// The minimum counts per kind and of safe programs.
fn check_counts(all: &[Entry], dirs: &[String]) -> Result<(), Failed> {
    let mut short = Vec::new();
    let safe = all.iter().filter(|e| e.kind.is_none()).count();
    if safe < MIN_SAFE {
        short.push(format!("safe: {safe} < {MIN_SAFE}"));
    }
    for (kind, min) in KINDS {
        let n = all
            .iter()
            .filter(|e| e.kind.as_deref() == Some(kind))
            .count();
        if n < *min {
            short.push(format!("{kind}: {n} < {min}"));
        }
    }
    for d in dirs {
        if !KINDS.iter().any(|(k, _)| k == d) {
            short.push(format!("unsafe/{d} is not a kind of the contract"));
        }
    }
    if short.is_empty() {
        Ok(())
    } else {
        Err(short.join("\n").into())
    }
}

/// The last meaningful lines of a verifier log.
fn log_tail(log: &str, lines: usize) -> String {
    let v: Vec<&str> = log
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("processed "))
        .collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// Loads the file's program(s) into the kernel: `Ok(())` when all are
/// accepted, `Err(log)` with the rejection.
fn kernel_load(e: &Entry, text: &str, h: &Header) -> Result<Result<(), String>, String> {
    if e.is_c() {
        let obj = compile(e)?;
        return match KernelObject::load_with(&obj, &LoadOptions::default()) {
            Ok(_) => Ok(Ok(())),
            Err(ObjectLoadError::Program {
                program,
                source: KernelError::Verifier { log, errno, .. },
            }) => Ok(Err(format!("program {program}: {errno}\n{log}"))),
            Err(err) => Err(format!("load failed before the verifier: {err}")),
        };
    }
    let t = program_type(h.prog_type.as_deref().ok_or("no `prog-type:` header")?)?;
    let insns = oxbpf_isa::asm::assemble_unchecked(text)
        .map_err(|err| format!("does not assemble: {err}"))?;
    let raw = oxbpf_isa::encode(&insns);
    let mut spec = ProgramSpec::xdp("corpus", &raw);
    spec.prog_type = t.id();
    spec.expected_attach_type = if t == ProgramType::Xdp {
        attach_type::XDP
    } else {
        0
    };
    match KernelProgram::load(&spec) {
        Ok(_) => Ok(Ok(())),
        Err(KernelError::Verifier { log, errno, .. }) => Ok(Err(format!("{errno}\n{log}"))),
        Err(err) => Err(format!("load failed: {err}")),
    }
}

/// Loads the file and holds the verdict against the expected one.
fn check_kernel(e: &Entry) -> Result<(), Failed> {
    let (text, h) = read_header(e)?;
    let default = match &e.kind {
        None => Verdict::Accepts,
        // Root loads privileged: what only the strict rules forbid passes.
        Some(_) if h.strict_only => Verdict::Accepts,
        Some(_) => Verdict::Rejects,
    };
    let (want, why) = match &h.kernel {
        Some((v, reason)) => (*v, format!(" (header: {reason})")),
        None => (default, String::new()),
    };
    let got = kernel_load(e, &text, &h)?;
    if let Err(log) = &got
        && std::env::var_os("OXBPF_CORPUS_LOG").is_some()
    {
        println!("{}: {}", e.name(), log_tail(log, 1));
    }
    match (want, got) {
        (Verdict::Accepts, Ok(())) | (Verdict::Rejects, Err(_)) => Ok(()),
        (Verdict::Accepts, Err(log)) => Err(format!(
            "the kernel rejects it, expected accepted{why}:\n{}",
            log_tail(&log, 6)
        )
        .into()),
        (Verdict::Rejects, Ok(())) => {
            Err(format!("the kernel accepts it, expected rejected{why}").into())
        }
    }
}

fn main() {
    let args = Arguments::from_args();
    let (all, dirs) = entries();
    let mut trials = Vec::new();
    let counts = (all.clone(), dirs);
    trials.push(Trial::test("structure::counts", move || {
        check_counts(&counts.0, &counts.1)
    }));
    for e in &all {
        let s = e.clone();
        trials.push(Trial::test(format!("structure::{}", e.name()), move || {
            check_structure(&s)
        }));
        let k = e.clone();
        trials.push(common::privileged(
            &format!("kernel::{}", e.name()),
            move || check_kernel(&k),
        ));
    }
    libtest_mimic::run(&args, trials).exit();
}
