//! Where tests find the workspace, the conformance suite and the binary.

use std::path::PathBuf;

/// The workspace root (this crate lives in `crates/testkit`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The bpf_conformance snapshot (`tests/`, `negative/`), kept in
/// `../shared` beside the repository and never copied into it.
pub fn suite_dir() -> PathBuf {
    workspace_root().join("../shared/conformance/bpf_conformance")
}

/// The bundled example programs (`examples/*.s`).
pub fn examples_dir() -> PathBuf {
    workspace_root().join("examples")
}

/// The built `oxbpf` command: `$OXBPF_BIN` if set, else `oxbpf` in the
/// target directory of the running test (`target/<profile>/oxbpf`, the
/// test itself being `target/<profile>/deps/<name>-<hash>`). `None` when
/// it is not built; build it with `cargo build -p oxbpf-cli`. Tests inside
/// the cli crate use `env!("CARGO_BIN_EXE_oxbpf")` instead, which cargo
/// guarantees is built.
pub fn oxbpf_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OXBPF_BIN") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let bin = profile_dir.join(format!("oxbpf{}", std::env::consts::EXE_SUFFIX));
    bin.is_file().then_some(bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_is_where_the_brief_says() {
        // A fixed snapshot of 313 + 60 files; if it moved, every conformance
        // test would fail to find it.
        assert!(suite_dir().join("tests/add.data").is_file());
        assert!(suite_dir().join("negative/error.data").is_file());
        assert!(workspace_root().join("Cargo.toml").is_file());
    }
}
