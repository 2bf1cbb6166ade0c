//! The verifier reads `.rodata` as constants (issue 8 item 5), so the
//! loader must verify with exactly the bytes the maps will hold: a
//! `set_global` that turns a dead branch live must make the verifier see
//! that branch (regression: the loader once verified the ELF's own bytes,
//! before `set_global`).

mod common;

use std::path::{Path, PathBuf};

use common::{ENGINES, ipv4_udp};
use oxbpf::{Error, Loader};

/// `bpf/verifier/safe/rodata_dead_branch.c`: when `debug` (a `.rodata`
/// `u32`, 0 in the object) is set, it reads packet byte 100 without a
/// bounds check.
fn object() -> PathBuf {
    let src = oxbpf_testkit::workspace_root().join("bpf/verifier/safe/rodata_dead_branch.c");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rodata_dead_branch.o");
    oxbpf_testkit::bpf::compile(&src, &out).unwrap_or_else(|e| panic!("{e}"));
    out
}

#[test]
fn dead_branch_on_rodata_is_skipped_and_the_program_runs_verified() {
    let obj = Loader::new().ncpus(1).load_file(object()).unwrap();
    // A 42-byte frame: byte 100 does not exist; the branch never runs.
    let pkt = ipv4_udp(b"", 1, 2);
    for engine in ENGINES {
        let out = obj
            .program("prog")
            .unwrap()
            .load(engine)
            .unwrap()
            .run_xdp(&pkt)
            .unwrap_or_else(|e| panic!("{engine:?}: {e}"));
        // XDP_PASS.
        assert_eq!(out.ret, 2, "{engine:?}");
    }
}

#[test]
fn set_global_that_makes_the_branch_live_is_verified_as_live() {
    match Loader::new()
        .ncpus(1)
        .set_global("debug", &1u32.to_ne_bytes())
        .load_file(object())
    {
        Err(Error::Verify { program, source }) => {
            assert_eq!(program, "prog");
            assert_eq!(source.kind().as_str(), "packet_out_of_bounds", "{source}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("verified with the ELF's .rodata instead of the loader's"),
    }
    // Setting it to its default value changes nothing.
    assert!(
        Loader::new()
            .ncpus(1)
            .set_global("debug", &0u32.to_ne_bytes())
            .load_file(object())
            .is_ok()
    );
}
