//! Compiling BPF C for tests, with the project's flags (clang 14,
//! `-O2 -g -target bpf -mcpu=v3`). A missing or failing clang is an error
//! the test reports, never a skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::paths::workspace_root;

/// Compiles `src` to the object `out`.
pub fn compile(src: &Path, out: &Path) -> Result<(), String> {
    compile_with(src, out, &[])
}

/// [`compile`] with extra clang arguments (`-DNAME` for a build variant).
pub fn compile_with(src: &Path, out: &Path, extra: &[&str]) -> Result<(), String> {
    let o = Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
        .arg("-I/usr/include/x86_64-linux-gnu")
        .args(extra)
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(out)
        .output()
        .map_err(|e| format!("clang must be installed to build {}: {e}", src.display()))?;
    if !o.status.success() {
        return Err(format!(
            "clang failed on {}: {}",
            src.display(),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(())
}

/// Compiles `bpf/examples/NAME.c` into `out_dir/NAME.o` (created).
pub fn example(name: &str, out_dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let src = workspace_root()
        .join("bpf/examples")
        .join(format!("{name}.c"));
    let out = out_dir.join(format!("{name}.o"));
    compile(&src, &out)?;
    Ok(out)
}
