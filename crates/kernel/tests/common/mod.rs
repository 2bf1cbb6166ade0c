//! The privileged-test convention of `oxbpf-testkit` (root and `bpf(2)`,
//! ignored with the reason otherwise, failing under
//! `OXBPF_REQUIRE_PRIVILEGED=1`), plus small assertion helpers.

// Each test binary uses a different subset.
#![allow(dead_code)]

use libtest_mimic::{Completion, Failed, Trial};
use oxbpf_testkit::{Requirement, privileged_required, privileged_trial, require};

/// What every kernel test needs.
pub const NEEDS: &[Requirement] = &[Requirement::Root, Requirement::Bpf];

/// A trial that needs root and `bpf(2)`.
pub fn privileged<F>(name: &str, body: F) -> Trial
where
    F: FnOnce() -> Result<(), Failed> + Send + 'static,
{
    privileged_trial(name, NEEDS, body)
}

/// Like [`privileged`] for bodies that can end as ignored themselves
/// (skips of a data-driven suite).
pub fn privileged_ignorable<F>(name: String, body: F) -> Trial
where
    F: FnOnce() -> Result<Completion, Failed> + Send + 'static,
{
    match require(&name, NEEDS) {
        Ok(()) => Trial::ignorable_test(name, body),
        Err(reason) if privileged_required() => Trial::test(name, move || {
            Err(format!("cannot run: {}; OXBPF_REQUIRE_PRIVILEGED=1", reason.missing).into())
        }),
        Err(reason) => {
            let missing = reason.missing;
            Trial::ignorable_test(name, move || Ok(Completion::ignored_with(missing)))
                .with_ignored_flag(true)
        }
    }
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
