//! Compiles the C fixtures of `bpf/tests/` with clang, once per test
//! process, into the test target's temporary directory.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use object::{Object as _, ObjectSection as _, ObjectSymbol as _};
use oxbpf_object::Object;

/// `bpf/tests/` of the repository.
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bpf/tests")
}

/// Compiles `bpf/tests/<name>.c` and returns the object's bytes. Panics
/// with the reason when clang is missing or compilation fails: these
/// tests cannot run without it, and a skipped test must not pass.
pub fn build(name: &str) -> Vec<u8> {
    build_in(&fixture_dir(), name)
}

/// Compiles `<dir>/<name>.c` (with `dir` on the include path).
pub fn build_in(dir: &Path, name: &str) -> Vec<u8> {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    let key = dir.join(name).display().to_string();
    let path = match built.get(&key) {
        Some(p) => p.clone(),
        None => {
            let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oxbpf-object-fixtures");
            std::fs::create_dir_all(&out_dir).expect("create fixture output directory");
            let src = dir.join(format!("{name}.c"));
            let subdir = dir.file_name().and_then(|d| d.to_str()).unwrap_or("bpf");
            let out = out_dir.join(format!("{subdir}-{name}.o"));
            let status = Command::new("clang")
                .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
                .arg("-I/usr/include/x86_64-linux-gnu")
                .arg("-I")
                .arg(dir)
                .arg("-c")
                .arg(&src)
                .arg("-o")
                .arg(&out)
                .status()
                .unwrap_or_else(|e| {
                    panic!("cannot run clang ({e}): install clang (14 or newer) and libbpf-dev to build {}", src.display())
                });
            assert!(status.success(), "clang failed on {}", src.display());
            built.insert(key, out.clone());
            out
        }
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Compiles and parses `bpf/tests/<name>.c`, panicking with the error.
pub fn load(name: &str) -> Object {
    let bytes = build(name);
    Object::parse(&bytes).unwrap_or_else(|e| panic!("{name}.o: {e}"))
}

/// File range of section `name`.
pub fn section_range(bytes: &[u8], name: &str) -> (usize, usize) {
    let file = object::File::parse(bytes).unwrap();
    let s = file
        .section_by_name(name)
        .unwrap_or_else(|| panic!("no section {name}"));
    let (off, size) = s.file_range().unwrap();
    (off as usize, size as usize)
}

/// File offset of the `.symtab` entry of symbol `name`.
pub fn symbol_entry(bytes: &[u8], name: &str) -> usize {
    let file = object::File::parse(bytes).unwrap();
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok(name))
        .unwrap_or_else(|| panic!("no symbol {name}"));
    let (symtab, _) = section_range(bytes, ".symtab");
    symtab + sym.index().0 * 24
}

/// Index of symbol `name` in `.symtab`.
pub fn symbol_index(bytes: &[u8], name: &str) -> u32 {
    let file = object::File::parse(bytes).unwrap();
    file.symbols()
        .find(|s| s.name() == Ok(name))
        .unwrap_or_else(|| panic!("no symbol {name}"))
        .index()
        .0 as u32
}
