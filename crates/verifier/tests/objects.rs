//! Every C object in bpf/examples and bpf/tests that oxbpf can load is
//! accepted by the verifier (privileged profile), compiled at test time
//! with the project's flags.

use std::path::{Path, PathBuf};
use std::process::Command;

use oxbpf_verifier::{Options, verify_object_program};

/// Objects the object loader refuses on purpose (features oxbpf does not
/// support yet), so they never reach the verifier.
const UNSUPPORTED: &[&str] = &["core", "kconfig", "kfunc", "ksym"];

/// Programs (object, program) refused as `malformed` before verification,
/// as the kernel refuses them at load: no program type, or an attach
/// target by BTF id that oxbpf does not resolve.
const UNLOADABLE: &[(&str, &str)] = &[("sections", "unknown_prog"), ("sections", "fentry_prog")];

fn compile(src: &Path) -> PathBuf {
    let name = src.file_stem().unwrap().to_string_lossy().to_string();
    let dir = src
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("verifier-{dir}-{name}.o"));
    let status = Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
        .arg("-I/usr/include/x86_64-linux-gnu")
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("clang must be installed");
    assert!(status.success(), "clang failed on {}", src.display());
    out
}

fn sources(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bpf")
        .join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    v.sort();
    v
}

fn check_dir(dir: &str) {
    let mut verified = 0;
    let mut failures = Vec::new();
    for src in sources(dir) {
        let name = src.file_stem().unwrap().to_string_lossy().to_string();
        let obj = compile(&src);
        let bytes = std::fs::read(&obj).unwrap();
        let parsed = match oxbpf_object::Object::parse(&bytes) {
            Ok(o) => o,
            Err(e) => {
                assert!(
                    UNSUPPORTED.contains(&name.as_str()),
                    "{}: the object loader refused it: {e}",
                    src.display()
                );
                continue;
            }
        };
        assert!(
            !UNSUPPORTED.contains(&name.as_str()),
            "{name} now loads: remove it from UNSUPPORTED"
        );
        for prog in &parsed.programs {
            let unloadable = UNLOADABLE.contains(&(name.as_str(), prog.name.as_str()));
            match verify_object_program(prog, &parsed.maps, Options::default()) {
                Err(e) if unloadable && e.kind().as_str() == "malformed" => {}
                _ if unloadable => failures.push(format!(
                    "{dir}/{name}:{}: must be refused as malformed, like the kernel",
                    prog.name
                )),
                Ok(v) => {
                    verified += 1;
                    eprintln!(
                        "{dir}/{name}:{}: accepted, {} insns, {} processed",
                        prog.name, v.stats.insns, v.stats.processed
                    );
                }
                Err(e) => failures.push(format!("{dir}/{name}:{}:\n{e}", prog.name)),
            }
        }
    }
    assert!(failures.is_empty(), "rejected:\n{}", failures.join("\n\n"));
    assert!(verified > 0);
}

#[test]
fn every_example_is_accepted() {
    check_dir("examples");
}

#[test]
fn every_test_object_is_accepted() {
    check_dir("tests");
}

#[test]
fn errors_quote_the_source_line() {
    let src = Path::new(env!("CARGO_TARGET_TMPDIR")).join("verifier-srcline.c");
    std::fs::write(
        &src,
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
         SEC(\"xdp\") int srcline(struct xdp_md *ctx) {\n\
         \tunsigned char *p = (void *)(long)ctx->data;\n\
         \treturn p[13] == 1 ? XDP_DROP : XDP_PASS;\n\
         }\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n",
    )
    .unwrap();
    let obj = compile(&src);
    let parsed = oxbpf_object::Object::parse(&std::fs::read(obj).unwrap()).unwrap();
    let e =
        verify_object_program(&parsed.programs[0], &parsed.maps, Options::default()).unwrap_err();
    assert_eq!(e.kind().as_str(), "packet_out_of_bounds");
    let source = e.source.clone().expect("line info names the source line");
    // Line 5 of the file above.
    assert!(source.starts_with("verifier-srcline.c:5"), "{source}");
    assert!(source.contains("p[13] == 1"), "{source}");
    assert!(
        e.to_string().contains("source: verifier-srcline.c:5"),
        "{e}"
    );
}
