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
//! the end of the kernel's log. A rejection of an unsafe file must quote
//! the kernel's message for its kind ([`KERNEL_SAYS`]), so the program is
//! unsafe for the labelled reason and not another.
//!
//! `kernel_unprivileged::*` trials load each strict-only file and each
//! safe file again from a thread without `CAP_PERFMON` and
//! `CAP_SYS_ADMIN` (kept: `CAP_BPF`, `CAP_NET_ADMIN`), where the kernel
//! applies its unprivileged rules: a strict-only file must be rejected for
//! its kind ([`KERNEL_STRICT_SAYS`]); a safe file accepted, unless its
//! header says `profile: privileged — reason` (then rejected).
//!
//! With `OXBPF_CORPUS_LOG=1` each rejection prints its last log line.

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
    ("reference_leak", 10),
    ("lock_not_released", 10),
];

/// Kinds only the strict profile reports: their files must say so.
const STRICT_KINDS: &[&str] = &["pointer_leak", "uninit_stack"];

/// What the kernel's log says when it rejects a program for each kind
/// (Linux 6.18, `kernel/bpf/verifier.c`): an unsafe file's rejection must
/// quote one of these, so that the kernel rejects it for the labelled
/// reason and not another. Strict-only kinds have none: root accepts them.
const KERNEL_SAYS: &[(&str, &[&str])] = &[
    ("uninit_register", &["!read_ok"]),
    ("scratched_register", &["!read_ok"]),
    ("write_r10", &["frame pointer is read only"]),
    (
        "malformed",
        &[
            "div by zero",
            "invalid shift",
            "BPF_LD_[ABS|IND] instructions not allowed",
        ],
    ),
    (
        "jump_out_of_range",
        &["jump out of range", "last insn is not an exit or jmp"],
    ),
    ("jump_into_lddw", &["jump into the middle of ldimm64"]),
    ("unreachable", &["unreachable insn"]),
    (
        "stack_out_of_bounds",
        &[
            "invalid write to stack",
            "invalid read from stack",
            "misaligned stack access",
            "invalid variable-offset write to stack",
        ],
    ),
    (
        "ctx_access",
        &[
            "invalid bpf_context access",
            "dereference of modified ctx ptr",
        ],
    ),
    (
        "packet_out_of_bounds",
        &[
            "offset is outside of the packet",
            "invalid mem access 'pkt_end'",
        ],
    ),
    (
        "map_value_out_of_bounds",
        &[
            "value is outside of the allowed memory range",
            "unbounded memory access",
        ],
    ),
    ("readonly_write", &["write into map forbidden"]),
    ("null_deref", &["invalid mem access 'map_value_or_null'"]),
    (
        "pointer_arithmetic",
        &[
            "prohibited",
            "with unbounded min value is not allowed",
            "makes pkt pointer be out of bounds",
            "tried to subtract pointer from scalar",
            "unbounded memory access",
        ],
    ),
    (
        "helper_argument",
        &[
            "expected=",
            "min value is negative",
            "invalid zero-sized read",
        ],
    ),
    (
        "helper_not_allowed",
        &["cannot use helper", "invalid func unknown"],
    ),
    ("stale_packet_pointer", &["invalid mem access 'scalar'"]),
    (
        "reference_leak",
        &[
            // At exit ("BPF_EXIT instruction in main prog would lead to
            // reference leak") and at a tail call.
            "would lead to reference leak",
        ],
    ),
    (
        "lock_not_released",
        &[
            "cannot be used inside bpf_spin_lock-ed region",
            "function calls are not allowed while holding a lock",
            "bpf_spin_unlock without taking a lock",
            "bpf_spin_unlock of different lock",
        ],
    ),
];

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
    /// `profile: privileged` on a safe file: the strict profile rejects it.
    privileged_only: bool,
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
            "profile" => match value.split_whitespace().next().unwrap_or("") {
                "strict" => h.strict_only = true,
                "privileged" => h.privileged_only = true,
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
        (Some(_), _) if h.privileged_only => {
            return Err("profile: privileged is for safe programs".into());
        }
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
        (Verdict::Accepts, Ok(())) => Ok(()),
        (Verdict::Rejects, Err(log)) => {
            // Unless a header overrides the verdict, the rejection must be
            // for the labelled kind.
            let Some(kind) = e.kind.as_deref().filter(|_| h.kernel.is_none()) else {
                return Ok(());
            };
            let says = KERNEL_SAYS
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or(&[][..], |(_, s)| *s);
            let last = log_tail(&log, 1);
            if says.iter().any(|s| last.contains(s)) {
                Ok(())
            } else {
                Err(format!(
                    "the kernel rejects it, but not for {kind} (expected one of {says:?}):\n{}",
                    log_tail(&log, 6)
                )
                .into())
            }
        }
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

/// Linux capabilities of the calling thread (`capget`/`capset`,
/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set).
mod caps {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }

    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }

    const VERSION_3: u32 = 0x2008_0522;
    /// `CAP_SYS_ADMIN` and `CAP_PERFMON`: either makes `perfmon_capable()`
    /// true, which is what lets the kernel verifier allow pointer leaks,
    /// uninitialised stack reads and pointer comparisons.
    const SYS_ADMIN: u32 = 21;
    const PERFMON: u32 = 38;

    fn get() -> Result<[Data; 2], String> {
        let mut h = Header {
            version: VERSION_3,
            pid: 0,
        };
        let mut d = [Data::default(); 2];
        // SAFETY: capget(2) with a version-3 header and room for the two
        // data words it writes; pid 0 is the calling thread.
        let r = unsafe { libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()) };
        if r == 0 {
            Ok(d)
        } else {
            Err(format!("capget: {}", std::io::Error::last_os_error()))
        }
    }

    fn set(d: &[Data; 2]) -> Result<(), String> {
        let mut h = Header {
            version: VERSION_3,
            pid: 0,
        };
        // SAFETY: capset(2) reads a version-3 header and two data words;
        // it changes only the calling thread's credentials.
        let r = unsafe { libc::syscall(libc::SYS_capset, &mut h, d.as_ptr()) };
        if r == 0 {
            Ok(())
        } else {
            Err(format!("capset: {}", std::io::Error::last_os_error()))
        }
    }

    /// Runs `f` with `CAP_SYS_ADMIN` and `CAP_PERFMON` out of this
    /// thread's effective set (kept permitted, so they come back after):
    /// `CAP_BPF` and `CAP_NET_ADMIN` stay, so XDP and tc programs still
    /// load, but under the kernel's unprivileged verifier rules.
    pub fn without_perfmon<T>(f: impl FnOnce() -> T) -> Result<T, String> {
        let saved = get()?;
        let mut reduced = saved;
        for cap in [SYS_ADMIN, PERFMON] {
            reduced[(cap / 32) as usize].effective &= !(1 << (cap % 32));
        }
        set(&reduced)?;
        let out = f();
        set(&saved)?;
        Ok(out)
    }
}

/// What the kernel says when it rejects a strict-only file under the
/// unprivileged rules (`allow_ptr_leaks` and `allow_uninit_stack` off).
const KERNEL_STRICT_SAYS: &[(&str, &[&str])] = &[
    (
        "pointer_leak",
        &[
            "leaks addr",
            "pointer comparison prohibited",
            "partial copy of pointer",
        ],
    ),
    (
        "uninit_stack",
        &[
            "invalid read from stack",
            "invalid indirect read from stack",
        ],
    ),
];

/// A strict-only file loaded without `CAP_PERFMON`/`CAP_SYS_ADMIN`: the
/// kernel's unprivileged rules must reject it for its kind.
fn check_kernel_strict(e: &Entry) -> Result<(), Failed> {
    let (text, h) = read_header(e)?;
    let kind = e.kind.clone().unwrap_or_default();
    let got = caps::without_perfmon(|| kernel_load(e, &text, &h))??;
    let Err(log) = got else {
        return Err("the kernel accepts it without CAP_PERFMON, expected rejected".into());
    };
    if std::env::var_os("OXBPF_CORPUS_LOG").is_some() {
        println!("strict {}: {}", e.name(), log_tail(&log, 1));
    }
    let says = KERNEL_STRICT_SAYS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(&[][..], |(_, s)| *s);
    let last = log_tail(&log, 1);
    if says.iter().any(|s| last.contains(s)) {
        Ok(())
    } else {
        Err(format!(
            "rejected without CAP_PERFMON, but not for {kind} (expected one of {says:?}):\n{}",
            log_tail(&log, 6)
        )
        .into())
    }
}

/// A safe file loaded without `CAP_PERFMON`/`CAP_SYS_ADMIN`: accepted,
/// unless its header says `profile: privileged` (safe only under the
/// privileged rules), then rejected, so the claim stays true.
fn check_kernel_safe_unprivileged(e: &Entry) -> Result<(), Failed> {
    let (text, h) = read_header(e)?;
    let got = caps::without_perfmon(|| kernel_load(e, &text, &h))??;
    match (h.privileged_only, got) {
        (false, Ok(())) | (true, Err(_)) => Ok(()),
        (false, Err(log)) => Err(format!(
            "the kernel rejects it without CAP_PERFMON (say `profile: privileged` if that is right):\n{}",
            log_tail(&log, 6)
        )
        .into()),
        (true, Ok(())) => Err(
            "the header says profile: privileged, but the kernel accepts it without CAP_PERFMON"
                .into(),
        ),
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
        if e.kind.is_none() {
            let u = e.clone();
            trials.push(common::privileged(
                &format!("kernel_unprivileged::{}", e.name()),
                move || check_kernel_safe_unprivileged(&u),
            ));
        }
        if read_header(e).is_ok_and(|(_, h)| h.strict_only) && e.kind.is_some() {
            let u = e.clone();
            trials.push(common::privileged(
                &format!("kernel_unprivileged::{}", e.name()),
                move || check_kernel_strict(&u),
            ));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
