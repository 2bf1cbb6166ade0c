//! Agreement with the kernel (issue 8 item 6): every C object in the repo
//! is compiled, each of its programs verified by oxbpf (privileged
//! profile) and loaded into the kernel (`KernelObject`, that program
//! only), and the two verdicts compared:
//! `cargo test -p oxbpf-kernel --test agreement`.
//!
//! Objects: `bpf/examples/*.c`, `bpf/tests/*.c`, `bpf/bench/*.c`,
//! `bpf/verifier/safe/**/*.c`, `bpf/verifier/unsafe/**/*.c` and
//! `apps/lb/bpf/balancer.bpf.c` (also built `-DLB_NO_LRU`).
//!
//! Disagreements are listed in `crates/verifier/DISAGREEMENTS.md` (object,
//! program, our verdict, the kernel's, a piece of its log line, why). A
//! trial fails on a disagreement that is not listed, on a listed one that
//! no longer occurs, and on any program we accept while the kernel
//! rejects it for a safety reason (every rejection is one unless its log
//! line names a kernel limit or a load-time requirement, [`NOT_SAFETY`]),
//! listed or not. `listing` fails if more than [`MAX_LISTED`] are listed.
//! Objects the object loader refuses on purpose (CO-RE, `.kconfig`,
//! kfuncs, `.ksyms`) cannot reach either verifier through oxbpf; they are
//! listed apart, as not verifiable by design, and the trial checks that
//! the loader still refuses them for the listed feature.
//!
//! Each object is one privileged trial (`oxbpf-testkit` convention);
//! after the run the test prints `agreement: N objects, P programs, D
//! disagreements (listed)`. `OXBPF_AGREEMENT_LOG=1` prints every
//! program's verdicts.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use libtest_mimic::{Arguments, Failed, Trial};
use oxbpf_kernel::{KernelError, KernelObject, LoadOptions, ObjectLoadError, pin};
use oxbpf_object::Object;
use oxbpf_verifier::{Options, Profile, verify_object_program};

/// The listing, relative to this crate.
const LISTING: &str = "../verifier/DISAGREEMENTS.md";

/// At most this many disagreements may be listed (issue 8).
const MAX_LISTED: usize = 3;

/// Kernel log lines that are not about the program's safety: limits of
/// the kernel's verifier and what a load needs besides a safe program
/// (an attach target, a known program type). A rejection whose last line
/// contains none of these counts as a safety reason.
const NOT_SAFETY: &[&str] = &[
    "BPF program is too large",
    "too complex",
    "attach_btf_id",
    "need an attach target",
    "no program type",
];

/// A C source and how it is built.
#[derive(Clone, Debug)]
struct Source {
    /// Name in trials and in the listing: the path under the repo root,
    /// plus the defines.
    name: String,
    path: PathBuf,
    defines: Vec<&'static str>,
}

/// A verdict on one program.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Accepts,
    /// Rejected, with what the verifier said (our error kind and message,
    /// or the kernel log's last line).
    Rejects(String),
}

impl Verdict {
    fn word(&self) -> &'static str {
        match self {
            Verdict::Accepts => "accepts",
            Verdict::Rejects(_) => "rejects",
        }
    }
}

/// A row of the disagreement table.
#[derive(Clone, Debug)]
struct Listed {
    object: String,
    program: String,
    ours: String,
    kernel: String,
    /// A piece of the kernel's log line.
    log: String,
}

/// A row of the not-verifiable-by-design table.
#[derive(Clone, Debug)]
struct ByDesign {
    object: String,
    /// A piece of the object loader's refusal.
    feature: String,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `.c` files under `dir`, recursively, sorted.
fn c_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            c_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "c") {
            out.push(p);
        }
    }
}

/// Every C object of the repo.
fn sources() -> Vec<Source> {
    let root = repo();
    let mut paths = Vec::new();
    for dir in [
        "bpf/examples",
        "bpf/tests",
        "bpf/bench",
        "bpf/verifier/safe",
        "bpf/verifier/unsafe",
    ] {
        c_files(&root.join(dir), &mut paths);
    }
    let rel = |p: &Path| {
        p.strip_prefix(&root)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let mut out: Vec<Source> = paths
        .iter()
        .map(|p| Source {
            name: rel(p),
            path: p.clone(),
            defines: vec![],
        })
        .collect();
    let lb = root.join("apps/lb/bpf/balancer.bpf.c");
    out.push(Source {
        name: rel(&lb),
        path: lb.clone(),
        defines: vec![],
    });
    out.push(Source {
        name: format!("{} -DLB_NO_LRU", rel(&lb)),
        path: lb,
        defines: vec!["-DLB_NO_LRU"],
    });
    out
}

/// Compiles a source; the object bytes.
fn build(s: &Source) -> Result<Vec<u8>, String> {
    let stem: String = s
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("agreement-{stem}.o"));
    oxbpf_testkit::bpf::compile_with(&s.path, &out, &s.defines)?;
    std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display()))
}

/// The cells of a markdown table row, trimmed, without the outer bars.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner
        .split('|')
        .map(|c| c.trim().trim_matches('`').trim().to_string())
        .collect()
}

/// Reads the listing: the rows of the table under `## Disagreements` and
/// of the one under `## Not verifiable by design`.
fn listing() -> Result<(Vec<Listed>, Vec<ByDesign>), String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(LISTING);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut section = "";
    let mut listed = Vec::new();
    let mut by_design = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            section = if h.starts_with("Disagreements") {
                "d"
            } else if h.starts_with("Not verifiable by design") {
                "b"
            } else {
                ""
            };
            continue;
        }
        let l = line.trim();
        if !l.starts_with('|') || l.starts_with("|--") || l.starts_with("| --") {
            continue;
        }
        let c = cells(l);
        if c.first().is_some_and(|h| h == "object") {
            continue;
        }
        match section {
            "d" => {
                if c.len() < 6 {
                    return Err(format!("a disagreement row needs 6 cells: {l}"));
                }
                listed.push(Listed {
                    object: c[0].clone(),
                    program: c[1].clone(),
                    ours: c[2].clone(),
                    kernel: c[3].clone(),
                    log: c[4].clone(),
                });
            }
            "b" => {
                if c.len() < 3 {
                    return Err(format!("a not-verifiable row needs 3 cells: {l}"));
                }
                by_design.push(ByDesign {
                    object: c[0].clone(),
                    feature: c[1].clone(),
                });
            }
            _ => {}
        }
    }
    Ok((listed, by_design))
}

/// Our verdict on one program (privileged profile).
fn ours(obj: &Object, p: &oxbpf_object::Program) -> Verdict {
    let options = Options {
        profile: Profile::Privileged,
        ..Options::default()
    };
    match verify_object_program(p, &obj.maps, options) {
        Ok(_) => Verdict::Accepts,
        Err(e) => Verdict::Rejects(format!("{}: {}", e.kind().as_str(), e.message)),
    }
}

/// The last meaningful line of a verifier log.
fn last_line(log: &str) -> String {
    log.lines()
        .rfind(|l| !l.trim().is_empty() && !l.starts_with("processed "))
        .unwrap_or("")
        .to_string()
}

/// The kernel's verdict on one program of the object (loaded alone, with
/// every map of the object).
fn kernel(obj: &Object, program: &str, pin_root: &Path) -> Result<Verdict, String> {
    let opts = LoadOptions {
        pin_root: pin_root.to_path_buf(),
        programs: Some(vec![program.to_string()]),
        ..LoadOptions::default()
    };
    match KernelObject::load_with(obj, &opts) {
        Ok(_) => Ok(Verdict::Accepts),
        Err(ObjectLoadError::Program { source, .. }) => Ok(Verdict::Rejects(match source {
            KernelError::Verifier { log, errno, .. } => {
                let l = last_line(&log);
                if l.is_empty() {
                    format!("{errno} (empty log)")
                } else {
                    l
                }
            }
            other => other.to_string(),
        })),
        Err(ObjectLoadError::UnknownType { section, .. }) => Ok(Verdict::Rejects(format!(
            "section {section:?}: no program type the kernel can load"
        ))),
        Err(other) => Err(format!("the object did not load: {other}")),
    }
}

/// A private pin root under bpffs, removed with its pins afterwards.
fn with_pin_root<T>(tag: &str, body: impl FnOnce(&Path) -> T) -> Result<T, String> {
    pin::ensure_bpffs().map_err(|e| e.to_string())?;
    let root = PathBuf::from(format!(
        "/sys/fs/bpf/oxbpf-agreement-{tag}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let out = body(&root);
    if let Ok(dir) = std::fs::read_dir(&root) {
        for entry in dir.flatten() {
            let _ = pin::unpin(&entry.path());
        }
    }
    let _ = std::fs::remove_dir(&root);
    Ok(out)
}

/// Per-object counts for the summary line.
#[derive(Default)]
struct Tally {
    objects: usize,
    programs: usize,
    disagreements: usize,
    by_design: usize,
}

static TALLY: Mutex<Tally> = Mutex::new(Tally {
    objects: 0,
    programs: 0,
    disagreements: 0,
    by_design: 0,
});

fn is_safety(kernel_line: &str) -> bool {
    !NOT_SAFETY.iter().any(|s| kernel_line.contains(s))
}

/// Compares one object's programs; fails on what the module doc says.
fn check_object(
    index: usize,
    s: &Source,
    listed: &[Listed],
    by_design: &[ByDesign],
) -> Result<(), Failed> {
    let bytes = build(s)?;
    let designed = by_design.iter().find(|b| b.object == s.name);
    let obj = match (Object::parse(&bytes), designed) {
        (Err(e), Some(b)) => {
            let msg = e.to_string();
            if !msg.contains(&b.feature) {
                return Err(format!(
                    "listed as not verifiable for {:?}, but the object loader says: {msg}",
                    b.feature
                )
                .into());
            }
            TALLY.lock().unwrap_or_else(|p| p.into_inner()).by_design += 1;
            return Ok(());
        }
        (Err(e), None) => {
            return Err(format!(
                "the object loader refuses it ({e}); list it under `Not verifiable by design` if that is on purpose"
            )
            .into());
        }
        (Ok(_), Some(b)) => {
            return Err(format!(
                "listed as not verifiable by design ({:?}), but the object loader now takes it: compare it and remove the row",
                b.feature
            )
            .into());
        }
        (Ok(o), None) => o,
    };
    let mut problems = Vec::new();
    let mut disagreements = 0;
    // Unique per trial, so trials running in parallel never share pins.
    let tag = index.to_string();
    let verbose = std::env::var_os("OXBPF_AGREEMENT_LOG").is_some();
    for p in &obj.programs {
        let ours = ours(&obj, p);
        let theirs = with_pin_root(&tag, |root| kernel(&obj, &p.name, root))??;
        if verbose {
            println!(
                "{} {}: oxbpf {:?}, kernel {:?}",
                s.name, p.name, ours, theirs
            );
        }
        let row = listed
            .iter()
            .find(|l| l.object == s.name && l.program == p.name);
        let agree = ours.word() == theirs.word();
        if agree {
            if row.is_some() {
                problems.push(format!(
                    "{}: listed as a disagreement, but both {} now: remove the row",
                    p.name,
                    ours.word()
                ));
            }
            continue;
        }
        disagreements += 1;
        if let (Verdict::Accepts, Verdict::Rejects(line)) = (&ours, &theirs)
            && is_safety(line)
        {
            problems.push(format!(
                "{}: oxbpf accepts what the kernel rejects for a safety reason: {line}",
                p.name
            ));
            continue;
        }
        let describe = || {
            format!(
                "{}: oxbpf {}, kernel {}",
                p.name,
                match &ours {
                    Verdict::Accepts => "accepts".to_string(),
                    Verdict::Rejects(m) => format!("rejects ({m})"),
                },
                match &theirs {
                    Verdict::Accepts => "accepts".to_string(),
                    Verdict::Rejects(m) => format!("rejects ({m})"),
                }
            )
        };
        match row {
            None => problems.push(format!(
                "{}; fix the verifier or list it in {LISTING}",
                describe()
            )),
            Some(l) => {
                let kernel_line = match &theirs {
                    Verdict::Rejects(m) => m.as_str(),
                    Verdict::Accepts => "",
                };
                if l.ours != ours.word()
                    || l.kernel != theirs.word()
                    || !kernel_line.contains(&l.log)
                {
                    problems.push(format!(
                        "{}; the listing says oxbpf {}, kernel {} ({:?})",
                        describe(),
                        l.ours,
                        l.kernel,
                        l.log
                    ));
                }
            }
        }
    }
    for l in listed.iter().filter(|l| l.object == s.name) {
        if !obj.programs.iter().any(|p| p.name == l.program) {
            problems.push(format!(
                "the listing names program {}, which the object does not have",
                l.program
            ));
        }
    }
    {
        let mut t = TALLY.lock().unwrap_or_else(|p| p.into_inner());
        t.objects += 1;
        t.programs += obj.programs.len();
        t.disagreements += disagreements;
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

/// The listing itself: at most [`MAX_LISTED`] disagreements, every row
/// naming an object of the repo.
fn check_listing(listed: &[Listed], by_design: &[ByDesign], all: &[Source]) -> Result<(), Failed> {
    let mut problems = Vec::new();
    if listed.len() > MAX_LISTED {
        problems.push(format!(
            "{} disagreements listed, at most {MAX_LISTED} allowed",
            listed.len()
        ));
    }
    for l in listed {
        if !all.iter().any(|s| s.name == l.object) {
            problems.push(format!("{}: no such object", l.object));
        }
        for (what, v) in [("oxbpf", &l.ours), ("kernel", &l.kernel)] {
            if v != "accepts" && v != "rejects" {
                problems.push(format!(
                    "{} {}: {what} verdict {v:?} is not accepts|rejects",
                    l.object, l.program
                ));
            }
        }
        if l.ours == l.kernel {
            problems.push(format!(
                "{} {}: the verdicts are the same",
                l.object, l.program
            ));
        }
        if l.log.is_empty() {
            problems.push(format!("{} {}: no kernel log line", l.object, l.program));
        }
    }
    for b in by_design {
        if !all.iter().any(|s| s.name == b.object) {
            problems.push(format!("{}: no such object", b.object));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let all = sources();
    let (listed, by_design) = match listing() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{LISTING}: {e}");
            std::process::exit(101);
        }
    };
    let mut trials = Vec::new();
    {
        let (l, b, a) = (listed.clone(), by_design.clone(), all.clone());
        trials.push(Trial::test("listing", move || check_listing(&l, &b, &a)));
    }
    for (i, s) in all.iter().enumerate() {
        let (s, l, b) = (s.clone(), listed.clone(), by_design.clone());
        trials.push(common::privileged(&s.name.clone(), move || {
            check_object(i, &s, &l, &b)
        }));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    let t = TALLY.lock().unwrap_or_else(|p| p.into_inner());
    println!(
        "agreement: {} objects, {} programs, {} disagreements ({} listed); {} objects not verifiable by design",
        t.objects,
        t.programs,
        t.disagreements,
        listed.len(),
        t.by_design
    );
    conclusion.exit();
}
