//! The privileged-test convention (ARCHITECTURE.md, "Tests"): a test that
//! needs root and `bpf(2)` reports itself *ignored*, with the reason, when
//! it cannot run; with `OXBPF_REQUIRE_PRIVILEGED=1` (CI) it fails instead.
//!
//! This is a local implementation of what `oxbpf-testkit` will provide;
//! switch to it once that crate lands.

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::sync::OnceLock;

use libtest_mimic::{Completion, Failed, Trial};
use oxbpf_kernel::{KernelEngine, sys};

/// Environment variable that turns "cannot run" into a failure.
pub const REQUIRE_PRIVILEGED: &str = "OXBPF_REQUIRE_PRIVILEGED";

/// `None` if the kernel can be used, else why not.
pub fn unavailable() -> Option<String> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| match KernelEngine::available() {
        Ok(()) => None,
        Err(e) => Some(format!("needs root and bpf(2) (euid {}): {e}", sys::euid())),
    })
    .clone()
}

fn required() -> bool {
    std::env::var(REQUIRE_PRIVILEGED).is_ok_and(|v| v == "1")
}

/// Decides before running `body`: ignored (or failed, when required) if
/// the kernel cannot be used.
pub fn gate() -> Result<Option<Completion>, Failed> {
    match unavailable() {
        None => Ok(None),
        Some(why) if required() => Err(format!("{REQUIRE_PRIVILEGED}=1 but {why}").into()),
        Some(why) => Ok(Some(Completion::ignored_with(why))),
    }
}

/// A trial that needs the kernel.
pub fn privileged<F>(name: &str, body: F) -> Trial
where
    F: FnOnce() -> Result<(), Failed> + Send + 'static,
{
    Trial::ignorable_test(name, move || {
        if let Some(ignored) = gate()? {
            return Ok(ignored);
        }
        body().map(|()| Completion::Completed)
    })
}

/// Fails with `msg` unless `cond`.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), Failed> {
    if cond { Ok(()) } else { Err(msg().into()) }
}

/// Fails unless `a == b`.
pub fn ensure_eq<T: PartialEq + std::fmt::Debug>(a: T, b: T, what: &str) -> Result<(), Failed> {
    if a == b {
        Ok(())
    } else {
        Err(format!("{what}: {a:?} != {b:?}").into())
    }
}
