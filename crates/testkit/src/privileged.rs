//! The convention for tests that need privileges (see the crate docs).

use std::fmt;
use std::sync::OnceLock;

use libtest_mimic::{Completion, Failed, Trial};

/// The environment variable that turns an unrunnable privileged test into
/// a failure. Set to `1` in CI.
pub const REQUIRE_ENV: &str = "OXBPF_REQUIRE_PRIVILEGED";

/// Something a privileged test needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Requirement {
    /// Effective user id 0.
    Root,
    /// `bpf(2)` can load a trivial socket filter (`r0 = 0; exit`): the
    /// syscall exists, is not disabled, and the caller may use it.
    Bpf,
}

impl Requirement {
    /// Checks the requirement on this machine; `Err` says what is missing.
    /// Results are cached for the life of the process.
    pub fn check(self) -> Result<(), String> {
        match self {
            Requirement::Root => {
                static ROOT: OnceLock<Result<(), String>> = OnceLock::new();
                ROOT.get_or_init(probe_root).clone()
            }
            Requirement::Bpf => {
                static BPF: OnceLock<Result<(), String>> = OnceLock::new();
                BPF.get_or_init(probe_bpf).clone()
            }
        }
    }
}

/// Why a privileged test cannot run here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkipReason {
    /// The test or feature that needed it.
    pub what: String,
    /// What is missing, like `not running as root (euid 1000)`.
    pub missing: String,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} needs privileges: {}", self.what, self.missing)
    }
}

impl std::error::Error for SkipReason {}

/// Whether `OXBPF_REQUIRE_PRIVILEGED=1` is set: privileged tests that
/// cannot run must fail rather than be ignored.
pub fn privileged_required() -> bool {
    std::env::var_os(REQUIRE_ENV).is_some_and(|v| v == "1")
}

/// Checks every requirement; the first one missing is the reason.
pub fn require(what: &str, requirements: &[Requirement]) -> Result<(), SkipReason> {
    for r in requirements {
        r.check().map_err(|missing| SkipReason {
            what: what.to_string(),
            missing,
        })?;
    }
    Ok(())
}

/// Root and a working `bpf(2)`: what kernel tests need.
pub fn privileged_or_skip(what: &str) -> Result<(), SkipReason> {
    require(what, &[Requirement::Root, Requirement::Bpf])
}

/// A [`libtest_mimic`] trial that runs `body` when `requirements` are met;
/// otherwise it is ignored with the reason printed, or, under
/// `OXBPF_REQUIRE_PRIVILEGED=1`, fails with the reason.
pub fn privileged_trial<F>(name: impl Into<String>, requirements: &[Requirement], body: F) -> Trial
where
    F: FnOnce() -> Result<(), Failed> + Send + 'static,
{
    let name = name.into();
    let decision = decide(require(&name, requirements), privileged_required());
    trial(name, decision, body)
}

/// What becomes of a privileged test.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Decision {
    Run,
    Ignore { missing: String },
    Fail { message: String },
}

/// The decision for a test whose requirements check gave `check`, with
/// `required` the value of `OXBPF_REQUIRE_PRIVILEGED=1`.
fn decide(check: Result<(), SkipReason>, required: bool) -> Decision {
    match check {
        Ok(()) => Decision::Run,
        Err(reason) if required => Decision::Fail {
            message: format!(
                "cannot run: {}; {REQUIRE_ENV}=1 makes this a failure",
                reason.missing
            ),
        },
        Err(reason) => Decision::Ignore {
            missing: reason.missing,
        },
    }
}

fn trial<F>(name: String, decision: Decision, body: F) -> Trial
where
    F: FnOnce() -> Result<(), Failed> + Send + 'static,
{
    match decision {
        Decision::Run => Trial::test(name, body),
        Decision::Fail { message } => Trial::test(name, move || Err(message.into())),
        Decision::Ignore { missing } => {
            // libtest prints no reason for a test ignored by flag, so say it
            // here, once per trial, before the run starts. The flag (not a
            // run-time "ignored") makes cargo-nextest count it as skipped.
            eprintln!("{name}: ignored: {missing}");
            Trial::ignorable_test(name, move || Ok(Completion::ignored_with(missing)))
                .with_ignored_flag(true)
        }
    }
}

fn probe_root() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        Ok(())
    } else {
        Err(format!("not running as root (euid {euid})"))
    }
}

/// The leading fields of the kernel's `union bpf_attr` for
/// `BPF_PROG_LOAD` (include/uapi/linux/bpf.h). The kernel zero-fills the
/// fields past the size it is given.
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;

fn probe_bpf() -> Result<(), String> {
    // mov64 r0, 0 ; exit (RFC 9669 opcodes 0xb7 and 0x95).
    let insns: [u64; 2] = [0xb7, 0x95];
    let license = c"GPL";
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
    };
    // SAFETY: `attr` is a valid, initialised prefix of `union bpf_attr`
    // whose pointers (`insns`, `license`) stay alive for the call; the size
    // passed is its size, so the kernel reads nothing beyond it.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            size_of::<ProgLoadAttr>() as libc::c_uint,
        )
    };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        return Err(format!(
            "bpf(BPF_PROG_LOAD) of a trivial socket filter failed: {err}"
        ));
    }
    // SAFETY: `fd` is a file descriptor the kernel just returned to us and
    // nothing else owns.
    unsafe { libc::close(fd as libc::c_int) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_reason_names_test_and_missing_piece() {
        let r = SkipReason {
            what: "kernel::load".into(),
            missing: "not running as root (euid 1000)".into(),
        };
        assert_eq!(
            r.to_string(),
            "kernel::load needs privileges: not running as root (euid 1000)"
        );
    }

    fn missing() -> Result<(), SkipReason> {
        Err(SkipReason {
            what: "t".into(),
            missing: "not running as root (euid 1000)".into(),
        })
    }

    #[test]
    fn met_requirements_run_the_body() {
        for required in [false, true] {
            assert_eq!(decide(Ok(()), required), Decision::Run);
        }
        assert!(!trial("t".into(), Decision::Run, || Ok(())).has_ignored_flag());
    }

    #[test]
    fn unmet_requirements_are_ignored_with_the_reason() {
        let d = decide(missing(), false);
        assert_eq!(
            d,
            Decision::Ignore {
                missing: "not running as root (euid 1000)".into()
            }
        );
        // Flagged when listed, so neither libtest nor cargo-nextest runs or
        // passes it.
        assert!(trial("t".into(), d, || Ok(())).has_ignored_flag());
    }

    #[test]
    fn unmet_requirements_fail_when_privileges_are_required() {
        let d = decide(missing(), true);
        assert_eq!(
            d,
            Decision::Fail {
                message: "cannot run: not running as root (euid 1000); \
                          OXBPF_REQUIRE_PRIVILEGED=1 makes this a failure"
                    .into()
            }
        );
        assert!(!trial("t".into(), d, || Ok(())).has_ignored_flag());
    }

    #[test]
    fn no_requirements_always_run() {
        assert_eq!(require("nothing", &[]), Ok(()));
    }

    #[test]
    fn probes_agree_with_the_effective_user() {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(Requirement::Root.check().is_ok(), euid == 0);
        if euid != 0 {
            // Without root the reason says so.
            let e = Requirement::Root.check().unwrap_err();
            assert!(e.contains("not running as root"), "{e}");
        }
    }
}
