//! `.rodata` constants (issue 8 item 5): a load at a constant offset of a
//! frozen read-only map gives the number stored there, as the kernel's
//! `bpf_map_direct_read`, so branches on configuration constants are
//! decided and their dead side is not analysed.
//!
//! Each program ends in a branch whose one side is unsafe (`exit` with r0
//! never written): it is accepted only if the verifier knows the loaded
//! value exactly, and the same program with the expected value changed by
//! one must be rejected, so the tests can fail either way.

use oxbpf_abi::map_kind::MapKind;
use oxbpf_abi::program_type::ProgramType;
use oxbpf_verifier::{Input, MapInfo, verify};

/// The value of map 0, chosen by hand; the expectations below are its
/// little-endian reads worked out by hand.
const BYTES: [u8; 16] = [
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0xff, 0x80, 0, 0, 0, 0, 0, 0,
];

fn maps() -> Vec<MapInfo> {
    let m = |name: &str, rodata: Option<Vec<u8>>| MapInfo {
        name: name.into(),
        kind: MapKind::Array,
        key_size: 4,
        value_size: 16,
        max_entries: 1,
        readonly: true,
        inner: None,
        rodata,
    };
    vec![
        // 0: frozen, contents known.
        m(".rodata", Some(BYTES.to_vec())),
        // 1: read-only to programs but not frozen: contents unknown.
        m("rdonly", None),
    ]
}

fn run(src: &str) -> Result<(), String> {
    let insns = oxbpf_isa::asm::assemble(src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let maps = maps();
    let mut input = Input::new(&insns, ProgramType::Xdp);
    input.maps = &maps;
    verify(&input)
        .map(|_| ())
        .map_err(|e| format!("{}: {e}", e.kind().as_str()))
}

/// Loads `load` (into r2, from r1 = map `map`'s value) and continues only
/// when r2 == `want`; the other side exits with r0 unwritten.
fn program(map: u32, load: &str, want: u64) -> String {
    format!(
        "lddw %r1, map_value {map}, 0\n{load}\nlddw %r3, {want:#x}\njne %r2, %r3, +2\nmov %r0, 2\nexit\nexit"
    )
}

#[track_caller]
fn known(load: &str, want: u64) {
    let ok = program(0, load, want);
    assert_eq!(run(&ok), Ok(()), "{ok}");
    let off_by_one = program(0, load, want.wrapping_add(1));
    let got = run(&off_by_one);
    assert!(
        got.as_ref()
            .is_err_and(|e| e.starts_with("uninit_register")),
        "{off_by_one}\n{got:?}"
    );
    // Without known contents both sides are analysed.
    let unknown = program(1, load, want);
    let got = run(&unknown);
    assert!(
        got.as_ref()
            .is_err_and(|e| e.starts_with("uninit_register")),
        "{unknown}\n{got:?}"
    );
}

#[test]
fn loads_of_every_size_read_the_bytes_little_endian() {
    known("ldxb %r2, [%r1+0]", 0x11);
    known("ldxb %r2, [%r1+9]", 0x80);
    known("ldxh %r2, [%r1+2]", 0x4433);
    known("ldxw %r2, [%r1+4]", 0x8877_6655);
    known("ldxdw %r2, [%r1+0]", 0x8877_6655_4433_2211);
    known("ldxdw %r2, [%r1+8]", 0x80ff);
}

#[test]
fn sign_extending_loads_extend_the_constant() {
    known("ldxsb %r2, [%r1+8]", u64::MAX);
    known("ldxsh %r2, [%r1+8]", 0xffff_ffff_ffff_80ff);
    known("ldxsb %r2, [%r1+0]", 0x11);
}

#[test]
fn offsets_add_up_from_lddw_pointer_and_insn() {
    // lddw at offset 4, insn offset 2: byte 6 onwards.
    let src =
        "lddw %r1, map_value 0, 4\nldxh %r2, [%r1+2]\njne %r2, 0x8877, +2\nmov %r0, 2\nexit\nexit";
    assert_eq!(run(src), Ok(()), "{src}");
    // The pointer moved by a constant.
    let src = "lddw %r1, map_value 0, 0\nadd %r1, 8\nldxb %r2, [%r1+1]\njne %r2, 0x80, +2\nmov %r0, 2\nexit\nexit";
    assert_eq!(run(src), Ok(()), "{src}");
}

#[test]
fn variable_offsets_read_unknown_numbers() {
    // r4 is `mask` of a random number; the dead side reads above r10.
    let src = |mask: u32| {
        format!(
            "call 7\nmov %r4, %r0\nand %r4, {mask}\nlddw %r1, map_value 0, 0\nadd %r1, %r4\nldxb %r2, [%r1+0]\njne %r2, 0x11, +2\nmov %r0, 2\nexit\nldxdw %r0, [%r10+8]\nexit"
        )
    };
    // Mask 0: the offset is the constant 0, the byte is 0x11.
    assert_eq!(run(&src(0)), Ok(()), "{}", src(0));
    // Mask 8: the byte may be 0x11 or 0xff.
    let got = run(&src(8));
    assert!(
        got.as_ref()
            .is_err_and(|e| e.starts_with("stack_out_of_bounds")),
        "{got:?}"
    );
}

#[test]
fn out_of_bounds_loads_are_still_rejected() {
    let src = "lddw %r1, map_value 0, 0\nldxdw %r2, [%r1+12]\nmov %r0, 2\nexit";
    let got = run(src);
    assert!(
        got.as_ref()
            .is_err_and(|e| e.starts_with("map_value_out_of_bounds")),
        "{got:?}"
    );
}

#[test]
fn writes_are_still_rejected() {
    let src = "lddw %r1, map_value 0, 0\nstb [%r1+0], 1\nmov %r0, 2\nexit";
    let got = run(src);
    assert!(
        got.as_ref().is_err_and(|e| e.starts_with("readonly_write")),
        "{got:?}"
    );
}

/// An object's maps: `.rodata` gets its bytes (after the loader's
/// changes to the spec), `.data` and `.bss` do not.
#[test]
fn from_spec_takes_rodata_bytes_of_frozen_readonly_arrays_only() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bpf/verifier/safe/rodata_read.c");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("rodata-from-spec.o");
    let status = std::process::Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
        .arg("-I/usr/include/x86_64-linux-gnu")
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("clang must be installed");
    assert!(status.success(), "clang failed on {}", src.display());
    let obj = oxbpf_object::Object::parse(&std::fs::read(&out).unwrap()).unwrap();
    let spec = obj
        .maps
        .iter()
        .find(|m| m.name == ".rodata")
        .expect("rodata_read.c has .rodata");
    let info = MapInfo::from_spec(spec);
    // `cfg = { .mode = 1, .port = 80, .limit = 100, .seed = 7 }`, laid out
    // as u8 mode, u8 pad, u16 port, u32 limit, u64 seed.
    let mut want = vec![1u8, 0, 80, 0, 100, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(info.rodata.as_deref(), Some(&want[..]));
    // A loader that changed the bytes before freezing: the verifier sees
    // the changed ones.
    let mut changed = spec.clone();
    want[4] = 10;
    changed.init = oxbpf_object::MapInit::Data(want.clone());
    assert_eq!(
        MapInfo::from_spec(&changed).rodata.as_deref(),
        Some(&want[..])
    );
    // Not frozen: unknown contents.
    let mut thawed = spec.clone();
    thawed.frozen = false;
    assert_eq!(MapInfo::from_spec(&thawed).rodata, None);
    // Frozen but writable by programs: the kernel does not read it.
    let mut writable = spec.clone();
    writable.map_flags = 0;
    assert_eq!(MapInfo::from_spec(&writable).rodata, None);
    // Short initial data (as `.bss` would have) reads as zeros after it.
    let mut short = spec.clone();
    short.init = oxbpf_object::MapInit::Data(vec![9]);
    let mut z = [0u8; 16];
    z[0] = 9;
    assert_eq!(MapInfo::from_spec(&short).rodata.as_deref(), Some(&z[..]));
}
