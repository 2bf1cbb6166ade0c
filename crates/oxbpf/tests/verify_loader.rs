//! The loader verifies objects by default: an unsafe program is refused
//! with the verifier's diagnostic, and `verify(false)` loads it anyway.

use std::path::{Path, PathBuf};

use oxbpf::{Error, Loader};

fn compile(name: &str, src: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let c = dir.join(format!("{name}.c"));
    let o = dir.join(format!("{name}.o"));
    std::fs::write(&c, src).unwrap();
    oxbpf_testkit::bpf::compile(&c, &o).unwrap_or_else(|e| panic!("{e}"));
    o
}

/// Reads the 14th byte of the packet without checking data_end.
const UNCHECKED: &str = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
SEC(\"xdp\") int unchecked(struct xdp_md *ctx) {\n\
    unsigned char *p = (void *)(long)ctx->data;\n\
    return p[13] == 1 ? XDP_DROP : XDP_PASS;\n\
}\n\
char LICENSE[] SEC(\"license\") = \"GPL\";\n";

#[test]
fn unsafe_object_is_refused_with_the_diagnostic() {
    let o = compile("loader-unchecked", UNCHECKED);
    match Loader::new().ncpus(1).load_file(&o) {
        Err(Error::Verify { program, source }) => {
            assert_eq!(program, "unchecked");
            assert_eq!(source.kind().as_str(), "packet_out_of_bounds");
            assert!(source.to_string().contains("0 are proven"), "{source}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("the loader accepted an unchecked packet read"),
    }
    // Opting out loads it (it then runs in checked mode).
    assert!(Loader::new().ncpus(1).verify(false).load_file(&o).is_ok());
}

/// Checks data_end before reading the byte.
const CHECKED_READ: &str = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
SEC(\"xdp\") int checked_read(struct xdp_md *ctx) {\n\
    unsigned char *p = (void *)(long)ctx->data;\n\
    if ((void *)(p + 20) > (void *)(long)ctx->data_end) return XDP_PASS;\n\
    return p[19] == 1 ? XDP_DROP : XDP_PASS;\n\
}\n\
char LICENSE[] SEC(\"license\") = \"GPL\";\n";

#[test]
fn verified_objects_run_in_verified_mode() {
    use oxbpf_runtime::SafetyMode;
    let o = compile("loader-checked-read", CHECKED_READ);
    let obj = Loader::new().ncpus(1).load_file(&o).unwrap();
    let prog = obj.program("checked_read").unwrap();
    assert_eq!(prog.program().mode(), SafetyMode::Verified);
    let mut pkt = vec![0u8; 20];
    pkt[19] = 1;
    for engine in [oxbpf::EngineKind::Interp, oxbpf::EngineKind::Jit] {
        let r = prog.load(engine).unwrap();
        assert_eq!(
            r.run_xdp(&pkt).unwrap().ret,
            1,
            "{engine:?}: byte 19 is 1: XDP_DROP"
        );
        assert_eq!(
            r.run_xdp(&pkt[..19]).unwrap().ret,
            2,
            "{engine:?}: 19 bytes: XDP_PASS"
        );
    }
    let obj = Loader::new().ncpus(1).verify(false).load_file(&o).unwrap();
    assert_eq!(
        obj.program("checked_read").unwrap().program().mode(),
        SafetyMode::Checked
    );
}

/// `dirty` fills 64 bytes of its stack and reads them back (no byte read
/// before written); `peek` reads 64 stack bytes it writes only for long
/// packets (the privileged profile accepts that read).
const STACK_READS: &str = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n\
SEC(\"xdp\") int dirty(struct xdp_md *ctx) {\n\
    volatile unsigned long long x[8];\n\
    for (int i = 0; i < 8; i++) x[i] = 0x5a5a5a5a5a5a5a5aULL + i;\n\
    unsigned long long s = 0;\n\
    for (int i = 0; i < 8; i++) s += x[i];\n\
    return s == 0 ? XDP_DROP : XDP_PASS;\n\
}\n\
SEC(\"xdp\") int peek(struct xdp_md *ctx) {\n\
    volatile unsigned long long x[8];\n\
    if (ctx->data_end - ctx->data > 1000)\n\
        for (int i = 0; i < 8; i++) x[i] = 0;\n\
    unsigned long long s = 0;\n\
    for (int i = 0; i < 8; i++) s |= x[i];\n\
    return s == 0 ? XDP_PASS : XDP_DROP;\n\
}\n\
char LICENSE[] SEC(\"license\") = \"GPL\";\n";

/// The verifier's finding decides whether runs get a zeroed stack: a
/// program that never reads stack it did not write runs without the
/// zeroing; one that may still starts on zeros on every engine, even right
/// after another program left its bytes where its stack will be.
#[test]
fn only_programs_that_read_unwritten_stack_get_a_zeroed_one() {
    let o = compile("loader-stack-reads", STACK_READS);
    let obj = Loader::new().ncpus(1).load_file(&o).unwrap();
    let (dirty, peek) = (obj.program("dirty").unwrap(), obj.program("peek").unwrap());
    assert!(
        !dirty.program().zeroed_stack(),
        "dirty reads only what it wrote"
    );
    assert!(
        peek.program().zeroed_stack(),
        "peek may read unwritten stack"
    );
    let unverified = Loader::new().ncpus(1).verify(false).load_file(&o).unwrap();
    assert!(
        unverified
            .program("dirty")
            .unwrap()
            .program()
            .zeroed_stack()
    );
    let pkt = [0u8; 64];
    for engine in [
        oxbpf::EngineKind::Interp,
        oxbpf::EngineKind::InterpFast,
        oxbpf::EngineKind::Jit,
    ] {
        let (d, p) = (dirty.load(engine).unwrap(), peek.load(engine).unwrap());
        for round in 0..3 {
            assert_eq!(d.run_xdp(&pkt).unwrap().ret, 2, "{engine:?}: dirty");
            assert_eq!(
                p.run_xdp(&pkt).unwrap().ret,
                2,
                "{engine:?} round {round}: peek saw non-zero stack after dirty ran"
            );
        }
    }
}
