//! Every example program of `bpf/examples/` parses, and its relocation
//! records agree with its instructions.

mod common;

use std::path::Path;

use oxbpf_abi::program_type::ProgramType;
use oxbpf_isa::{CallTarget, Insn, LddwSrc};
use oxbpf_object::{Object, RelocKind};

fn examples() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bpf/examples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "c").then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no examples in {}", dir.display());
    names
}

fn load_example(name: &str) -> Object {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bpf/examples");
    let bytes = common::build_in(&dir, name);
    Object::parse(&bytes).unwrap_or_else(|e| panic!("{name}.o: {e}"))
}

#[test]
fn every_example_parses_consistently() {
    for name in examples() {
        let obj = load_example(&name);
        assert_eq!(obj.license.as_deref(), Some("GPL"), "{name}");
        assert!(!obj.programs.is_empty(), "{name}: no programs");
        for p in &obj.programs {
            assert_ne!(p.program_type, ProgramType::Unspec, "{name}/{}", p.name);
            for r in &p.relocs {
                let insn = p.insns[r.insn];
                match (r.kind, insn) {
                    (
                        RelocKind::Map { map },
                        Insn::Lddw {
                            src: LddwSrc::MapIdx,
                            imm,
                            ..
                        },
                    ) => assert_eq!(imm, map as u64),
                    (
                        RelocKind::MapValue { map, offset },
                        Insn::Lddw {
                            src: LddwSrc::MapIdxValue,
                            imm,
                            ..
                        },
                    ) => {
                        assert_eq!(imm, map as u64 | u64::from(offset) << 32);
                        assert!(offset < obj.maps[map].value_size);
                    }
                    (RelocKind::Call { function }, Insn::Call(CallTarget::Local(off))) => {
                        assert_eq!(
                            r.insn as i64 + 1 + i64::from(off),
                            p.functions[function].start as i64
                        );
                    }
                    // A callback's address (`bpf_loop`): relative like a call.
                    (
                        RelocKind::FuncAddr { function },
                        Insn::Lddw {
                            src: LddwSrc::Func,
                            imm,
                            ..
                        },
                    ) => {
                        assert_eq!(
                            r.insn as i64 + 1 + imm as i64,
                            p.functions[function].start as i64,
                            "{name}/{}: callback address",
                            p.name
                        );
                    }
                    (kind, insn) => panic!("{name}/{}: {kind:?} at {insn:?}", p.name),
                }
            }
            // No unresolved pseudo loads remain.
            for insn in &p.insns {
                if let Insn::Lddw { src, .. } = insn {
                    assert!(
                        matches!(
                            src,
                            LddwSrc::Imm | LddwSrc::MapIdx | LddwSrc::MapIdxValue | LddwSrc::Func
                        ),
                        "{name}/{}: {insn:?}",
                        p.name
                    );
                }
            }
        }
    }
}

/// bpf/examples/calls.c: the XDP program `calls` calls `classify`, which
/// calls `is_broadcast`.
#[test]
fn calls_example_links_its_subprograms() {
    let obj = load_example("calls");
    let p = obj.program("calls").unwrap();
    let fns: Vec<_> = p.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(fns, ["calls", "classify", "is_broadcast"]);
    assert_eq!(p.program_type, ProgramType::Xdp);
}
