//! Parsed facts of the `bpf/tests/` fixtures, checked against values
//! written by hand from their C sources.

mod common;

use oxbpf_abi::map_kind::MapKind;
use oxbpf_abi::map_kind::flags::{BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG};
use oxbpf_abi::program_type::{AttachType, ProgramType};
use oxbpf_isa::{CallTarget, Insn, LddwSrc};
use oxbpf_object::{
    DataKind, MapInit, MapSlot, MapSource, Object, Pinning, Program, ProgramSlot, RelocKind,
    Unsupported,
};

fn map<'a>(obj: &'a Object, name: &str) -> &'a oxbpf_object::MapSpec {
    obj.map(name)
        .unwrap_or_else(|| panic!("no map {name}; maps: {:?}", names(obj)))
}

fn names(obj: &Object) -> Vec<&str> {
    obj.maps.iter().map(|m| m.name.as_str()).collect()
}

fn type_name(obj: &Object, id: Option<u32>) -> String {
    obj.btf
        .as_ref()
        .unwrap()
        .type_name(id.expect("no BTF type"))
}

/// The helper id of the first helper call after slot `from`.
fn next_helper(p: &Program, from: usize) -> i32 {
    p.insns[from..]
        .iter()
        .find_map(|i| match i {
            Insn::Call(CallTarget::Helper(id)) => Some(*id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no helper call after slot {from}"))
}

#[test]
fn btf_maps_match_the_source() {
    let obj = common::load("maps_btf");
    assert_eq!(obj.license.as_deref(), Some("Dual MIT/GPL"));

    let m = map(&obj, "stats_array");
    assert_eq!(
        (m.kind, m.key_size, m.value_size, m.max_entries, m.map_flags),
        (MapKind::Array, 4, 16, 8, 0)
    );
    assert_eq!(m.source, MapSource::BtfMaps);
    assert_eq!(type_name(&obj, m.key_type), "__u32");
    assert_eq!(type_name(&obj, m.value_type), "struct stats");

    let m = map(&obj, "flows");
    assert_eq!(
        (m.kind, m.key_size, m.value_size, m.max_entries, m.map_flags),
        (MapKind::Hash, 16, 8, 1024, BPF_F_NO_PREALLOC)
    );
    assert_eq!(m.pinning, Pinning::ByName);
    assert_eq!(type_name(&obj, m.key_type), "struct flow");
    assert_eq!(type_name(&obj, m.value_type), "__u64");

    // Sizes given as numbers: no BTF types.
    let m = map(&obj, "pcpu_counts");
    assert_eq!(
        (m.kind, m.key_size, m.value_size, m.max_entries),
        (MapKind::PercpuArray, 4, 8, 4)
    );
    assert_eq!((m.key_type, m.value_type), (None, None));
    assert_eq!(m.pinning, Pinning::None);

    let m = map(&obj, "pcpu_hash");
    assert_eq!(
        (m.kind, m.key_size, m.value_size, m.max_entries),
        (MapKind::PercpuHash, 8, 4, 256)
    );

    for name in ["inner_a", "inner_b"] {
        let m = map(&obj, name);
        assert_eq!(
            (m.kind, m.key_size, m.value_size, m.max_entries),
            (MapKind::Array, 4, 4, 2)
        );
    }

    let outer = map(&obj, "outer");
    assert_eq!(
        (
            outer.kind,
            outer.key_size,
            outer.value_size,
            outer.max_entries
        ),
        (MapKind::ArrayOfMaps, 4, 4, 4)
    );
    let inner = outer
        .inner
        .as_ref()
        .expect("outer has an inner map template");
    assert_eq!(
        (
            inner.kind,
            inner.key_size,
            inner.value_size,
            inner.max_entries
        ),
        (MapKind::Array, 4, 4, 2)
    );
    assert_eq!(
        outer.init,
        MapInit::Maps(vec![
            MapSlot {
                index: 0,
                map: obj.map_index("inner_a").unwrap()
            },
            MapSlot {
                index: 2,
                map: obj.map_index("inner_b").unwrap()
            },
        ])
    );

    let jumps = map(&obj, "jumps");
    assert_eq!(
        (
            jumps.kind,
            jumps.key_size,
            jumps.value_size,
            jumps.max_entries
        ),
        (MapKind::ProgArray, 4, 4, 3)
    );
    assert_eq!(
        jumps.init,
        MapInit::Programs(vec![ProgramSlot {
            index: 1,
            program: "tail_target".to_string()
        }])
    );

    // Besides the eight definitions, only data sections clang chose to
    // emit (constant pools) may appear.
    let defined = [
        "stats_array",
        "flows",
        "pcpu_counts",
        "pcpu_hash",
        "inner_a",
        "inner_b",
        "outer",
        "jumps",
    ];
    for m in &obj.maps {
        assert!(
            defined.contains(&m.name.as_str()) || matches!(m.source, MapSource::Data(_)),
            "unexpected map {}",
            m.name
        );
    }
}

#[test]
fn map_references_point_to_the_right_maps() {
    let obj = common::load("maps_btf");
    let p = obj.program("use_maps").unwrap();
    assert_eq!(p.program_type, ProgramType::Xdp);
    // In source order: each map reference and the helper it is passed to.
    let expected = [
        ("stats_array", 1), // bpf_map_lookup_elem
        ("flows", 2),       // bpf_map_update_elem
        ("pcpu_counts", 1),
        ("pcpu_hash", 2),
        ("outer", 1),
        ("jumps", 12), // bpf_tail_call
    ];
    let refs: Vec<_> = p
        .relocs
        .iter()
        .filter_map(|r| match r.kind {
            RelocKind::Map { map } => Some((r.insn, map, r.symbol.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(refs.len(), expected.len(), "{refs:?}");
    for ((insn, map, symbol), (name, helper)) in refs.into_iter().zip(expected) {
        assert_eq!(obj.maps[map].name, name);
        assert_eq!(symbol, name);
        let Insn::Lddw { src, imm, .. } = p.insns[insn] else {
            panic!("slot {insn} is {:?}, not lddw", p.insns[insn]);
        };
        assert_eq!((src, imm), (LddwSrc::MapIdx, map as u64), "{name}");
        assert_eq!(next_helper(p, insn), helper, "{name}");
    }
    // The tail call's target program exists as its own program.
    let t = obj.program("tail_target").unwrap();
    assert_eq!(t.section, "xdp");
    assert!(t.relocs.is_empty());
}

#[test]
fn legacy_maps_match_the_source() {
    let obj = common::load("legacy_maps");
    let h = map(&obj, "legacy_hash");
    assert_eq!(
        (h.kind, h.key_size, h.value_size, h.max_entries, h.map_flags),
        (MapKind::Hash, 4, 8, 64, 0)
    );
    assert_eq!(h.source, MapSource::Legacy);
    let a = map(&obj, "legacy_array");
    assert_eq!(
        (a.kind, a.key_size, a.value_size, a.max_entries, a.map_flags),
        (MapKind::Array, 4, 16, 10, BPF_F_RDONLY_PROG)
    );
    let p = obj.program("legacy_prog").unwrap();
    assert_eq!(p.program_type, ProgramType::SocketFilter);
    let used: Vec<&str> = p
        .relocs
        .iter()
        .map(|r| match r.kind {
            RelocKind::Map { map } => obj.maps[map].name.as_str(),
            other => panic!("unexpected relocation {other:?}"),
        })
        .collect();
    assert_eq!(used, ["legacy_hash", "legacy_array"]);
}

#[test]
fn global_data_sections_are_array_maps() {
    let obj = common::load("globals");
    assert_eq!(obj.license.as_deref(), Some("GPL"));
    assert_eq!(obj.kernel_version, Some(0x050a00));

    let data = map(&obj, ".data");
    assert_eq!(data.source, MapSource::Data(DataKind::Data));
    assert_eq!(
        (data.kind, data.key_size, data.value_size, data.max_entries),
        (MapKind::Array, 4, 4, 1)
    );
    assert_eq!(data.init, MapInit::Data(3i32.to_le_bytes().to_vec()));
    assert!(!data.frozen);

    let rodata = map(&obj, ".rodata");
    assert_eq!(rodata.source, MapSource::Data(DataKind::Rodata));
    assert!(rodata.frozen);
    assert_eq!(rodata.map_flags & BPF_F_RDONLY_PROG, BPF_F_RDONLY_PROG);
    let var = |m: &oxbpf_object::MapSpec, name: &str| {
        m.globals
            .iter()
            .find(|g| g.name == name)
            .unwrap_or_else(|| panic!("{}: no variable {name}", m.name))
            .clone()
    };
    let MapInit::Data(bytes) = &rodata.init else {
        panic!(".rodata has no data");
    };
    let threshold = var(rodata, "threshold");
    let at = threshold.offset as usize;
    assert_eq!(threshold.size, 4);
    assert_eq!(bytes[at..at + 4], 100u32.to_le_bytes());
    let mode = var(rodata, "mode");
    assert_eq!((mode.size, bytes[mode.offset as usize]), (1, 2));
    assert_eq!(type_name(&obj, threshold.type_id), "const volatile __u32");
    // bpf_printk's format is a static variable without a symbol; BTF
    // still describes it.
    let fmt = rodata
        .globals
        .iter()
        .find(|g| g.name.ends_with("____fmt"))
        .expect("the bpf_printk format string");
    let at = fmt.offset as usize;
    assert_eq!(&bytes[at..at + fmt.size as usize], b"n=%d\0");
    assert_eq!(type_name(&obj, fmt.type_id), "const char[5]");

    let bss = map(&obj, ".bss");
    assert_eq!(bss.source, MapSource::Data(DataKind::Bss));
    assert_eq!(bss.init, MapInit::Data(Vec::new()));
    // seen (u64) and the static hidden (u32): 12 bytes.
    assert_eq!(bss.value_size, 12);
    assert_eq!(var(bss, "seen").size, 8);
    assert_eq!(var(bss, "hidden").size, 4);

    let greet = map(&obj, ".data.greet");
    assert_eq!(greet.init, MapInit::Data(b"hello\0\0\0".to_vec()));
    let table = map(&obj, ".rodata.table");
    let words: Vec<u8> = [10u32, 20, 30, 40]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    assert_eq!(table.init, MapInit::Data(words));
    assert!(table.frozen);

    // The string literal lands in a read-only data map of its own.
    let strings = obj
        .maps
        .iter()
        .find(|m| matches!(&m.init, MapInit::Data(d) if d.as_slice() == b"hi there\0"))
        .expect("a map holding the string literal");
    assert_eq!(strings.source, MapSource::Data(DataKind::Rodata));
}

#[test]
fn data_variables_without_symbols_come_from_btf() {
    // Turn the format string's symbol into an untyped one: the variable is
    // then known only through the .rodata DATASEC.
    let mut bytes = common::build("globals");
    let e = common::symbol_entry(&bytes, "globals_prog.____fmt");
    bytes[e + 4] &= 0xf0; // STT_NOTYPE
    let obj = Object::parse(&bytes).unwrap();
    let rodata = map(&obj, ".rodata");
    let MapInit::Data(bytes) = &rodata.init else {
        panic!(".rodata has no data");
    };
    let fmt = rodata
        .globals
        .iter()
        .find(|g| g.name == "globals_prog.____fmt")
        .expect("the format string from BTF");
    let at = fmt.offset as usize;
    assert_eq!(&bytes[at..at + fmt.size as usize], b"n=%d\0");
    let offsets: Vec<u32> = rodata.globals.iter().map(|g| g.offset).collect();
    assert!(offsets.is_sorted(), "{offsets:?}");
}

#[test]
fn global_variable_references_resolve_to_map_offsets() {
    let obj = common::load("globals");
    let p = obj.program("globals_prog").unwrap();
    assert_eq!(p.program_type, ProgramType::SchedCls);
    let mut seen = Vec::new();
    for r in &p.relocs {
        let RelocKind::MapValue { map, offset } = r.kind else {
            panic!("unexpected relocation {r:?}");
        };
        let Insn::Lddw { src, imm, .. } = p.insns[r.insn] else {
            panic!("slot {} is not lddw", r.insn);
        };
        assert_eq!(src, LddwSrc::MapIdxValue);
        assert_eq!(imm, map as u64 | (u64::from(offset) << 32));
        let m = &obj.maps[map];
        let var = m
            .globals
            .iter()
            .find(|g| offset >= g.offset && offset < g.offset + g.size.max(1))
            .map(|g| g.name.clone())
            .unwrap_or_else(|| format!("{}+{offset}", m.name));
        seen.push(var);
    }
    // Every global the program touches, whatever order clang emits them in.
    for var in [
        "packets",
        "seen",
        "hidden",
        "greeting",
        "threshold",
        "mode",
        "table",
    ] {
        assert!(
            seen.iter().any(|s| s == var),
            "{var} not referenced: {seen:?}"
        );
    }
    assert!(
        seen.iter().any(|s| s.starts_with(".rodata.str")),
        "string literal not referenced: {seen:?}"
    );
}

/// Callee names of every local call in function `f` of `p`, checking on
/// the way that each call lands on the first slot of the callee.
fn callees(p: &Program, f: &str) -> Vec<String> {
    let func = p.functions.iter().find(|x| x.name == f).unwrap();
    let mut out = Vec::new();
    for pc in func.start..func.start + func.len {
        if let Insn::Call(CallTarget::Local(off)) = p.insns[pc] {
            let target = (pc as i64 + 1 + i64::from(off)) as usize;
            let callee = p
                .functions
                .iter()
                .find(|g| g.start == target)
                .unwrap_or_else(|| {
                    panic!("{f}: call at {pc} lands on {target}, no function starts there")
                });
            let r = p.reloc_at(pc).expect("call has a relocation record");
            assert_eq!(
                r.kind,
                RelocKind::Call {
                    function: p.functions.iter().position(|g| g.start == target).unwrap()
                }
            );
            out.push(callee.name.clone());
        }
    }
    out
}

#[test]
fn subprograms_are_linked_into_each_program() {
    let obj = common::load("calls");
    let names: Vec<_> = obj.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["first", "second", "with_loop"]);

    // first -> middle -> leaf, leaf (calls.c).
    let first = obj.program("first").unwrap();
    let fns: Vec<_> = first.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(fns, ["first", "middle", "leaf"]);
    assert_eq!(callees(first, "first"), ["middle"]);
    assert_eq!(callees(first, "middle"), ["leaf", "leaf"]);
    assert_eq!(callees(first, "leaf"), Vec::<String>::new());
    assert_eq!(first.functions[0].section, "xdp");
    assert_eq!(first.functions[1].section, ".text");

    // second calls other, leaf, middle; it gets its own copies.
    let second = obj.program("second").unwrap();
    let mut fns: Vec<_> = second.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(fns[0], "second");
    fns.sort();
    assert_eq!(fns, ["leaf", "middle", "other", "second"]);
    assert_eq!(callees(second, "second"), ["other", "leaf", "middle"]);
    assert_eq!(callees(second, "middle"), ["leaf", "leaf"]);

    // Functions tile the program: contiguous, no gaps.
    for p in [first, second] {
        let mut end = 0;
        for f in &p.functions {
            assert_eq!(f.start, end, "{}: {} does not follow", p.name, f.name);
            end += f.len;
        }
        assert_eq!(end, p.insns.len());
    }

    // bpf_loop's callback is linked through a function address.
    let wl = obj.program("with_loop").unwrap();
    assert_eq!(wl.program_type, ProgramType::SchedCls);
    let fns: Vec<_> = wl.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(fns, ["with_loop", "add_index"]);
    let r = wl
        .relocs
        .iter()
        .find(|r| matches!(r.kind, RelocKind::FuncAddr { .. }))
        .expect("function address relocation");
    assert_eq!(r.kind, RelocKind::FuncAddr { function: 1 });
    let Insn::Lddw { src, imm, .. } = wl.insns[r.insn] else {
        panic!("not lddw");
    };
    assert_eq!(src, LddwSrc::Func);
    assert_eq!(
        r.insn as i64 + 1 + i64::from(imm as u32 as i32),
        wl.functions[1].start as i64
    );
    // The helper it is passed to: bpf_loop (181).
    assert_eq!(next_helper(wl, r.insn), 181);
}

#[test]
fn line_info_names_source_lines() {
    let obj = common::load("calls");
    let source = std::fs::read_to_string(common::fixture_dir().join("calls.c")).unwrap();
    let line_of = |text: &str| {
        source
            .lines()
            .position(|l| l.contains(text))
            .map(|i| i as u32 + 1)
            .unwrap_or_else(|| panic!("{text} not in calls.c"))
    };
    let first = obj.program("first").unwrap();
    let call = (0..first.insns.len())
        .find(|&i| matches!(first.insns[i], Insn::Call(CallTarget::Local(_))))
        .unwrap();
    let l = first.line_at(call).expect("line info for the call");
    assert!(l.file.ends_with("calls.c"), "{}", l.file);
    assert_eq!(l.line, line_of("return middle(ctx->ingress_ifindex) & 3;"));
    assert!(
        l.text.contains("middle(ctx->ingress_ifindex)"),
        "{}",
        l.text
    );
    assert!(l.column > 0);

    // Inside a linked subprogram, lines come from that function.
    let leaf = first.functions.iter().find(|f| f.name == "leaf").unwrap();
    let lines: Vec<u32> = (leaf.start..leaf.start + leaf.len)
        .filter_map(|i| first.line_at(i))
        .map(|l| l.line)
        .collect();
    assert!(lines.contains(&line_of("return x * 7 + 1;")), "{lines:?}");
    assert!(first.line_at(first.insns.len()).is_none());
    // Func info names each function's BTF FUNC.
    let btf = obj.btf.as_ref().unwrap();
    for f in &first.functions {
        let id = f.btf_func.expect("func info");
        assert_eq!(btf.type_by_id(id).unwrap().name, f.name);
    }
}

#[test]
fn section_names_select_program_types() {
    let obj = common::load("sections");
    // (program, section, type, expected attach type, attach target), from sections.c.
    type Row<'a> = (
        &'a str,
        &'a str,
        ProgramType,
        Option<AttachType>,
        Option<&'a str>,
    );
    let expected: &[Row] = &[
        (
            "xdp_one",
            "xdp",
            ProgramType::Xdp,
            Some(AttachType::Xdp),
            None,
        ),
        (
            "xdp_two",
            "xdp",
            ProgramType::Xdp,
            Some(AttachType::Xdp),
            None,
        ),
        (
            "xdp_frags_prog",
            "xdp.frags",
            ProgramType::Xdp,
            Some(AttachType::Xdp),
            None,
        ),
        ("tc_prog", "tc", ProgramType::SchedCls, None, None),
        (
            "classifier_prog",
            "classifier",
            ProgramType::SchedCls,
            None,
            None,
        ),
        (
            "tcx_ingress_prog",
            "tc/ingress",
            ProgramType::SchedCls,
            Some(AttachType::TcxIngress),
            None,
        ),
        (
            "socket_prog",
            "socket",
            ProgramType::SocketFilter,
            None,
            None,
        ),
        (
            "kprobe_prog",
            "kprobe/do_unlinkat",
            ProgramType::Kprobe,
            None,
            Some("do_unlinkat"),
        ),
        (
            "kretprobe_prog",
            "kretprobe/do_unlinkat",
            ProgramType::Kprobe,
            None,
            Some("do_unlinkat"),
        ),
        (
            "tracepoint_prog",
            "tracepoint/syscalls/sys_enter_openat",
            ProgramType::Tracepoint,
            None,
            Some("syscalls/sys_enter_openat"),
        ),
        (
            "tp_prog",
            "tp/sched/sched_switch",
            ProgramType::Tracepoint,
            None,
            Some("sched/sched_switch"),
        ),
        (
            "raw_tp_prog",
            "raw_tracepoint/sched_switch",
            ProgramType::RawTracepoint,
            None,
            Some("sched_switch"),
        ),
        (
            "cgroup_skb_prog",
            "cgroup_skb/ingress",
            ProgramType::CgroupSkb,
            Some(AttachType::CgroupInetIngress),
            None,
        ),
        (
            "fentry_prog",
            "fentry/do_unlinkat",
            ProgramType::Tracing,
            Some(AttachType::TraceFentry),
            Some("do_unlinkat"),
        ),
        (
            "unknown_prog",
            "oxbpf_unknown",
            ProgramType::Unspec,
            None,
            None,
        ),
    ];
    assert_eq!(obj.programs.len(), expected.len());
    for &(name, section, ty, attach, target) in expected {
        let p = obj
            .program(name)
            .unwrap_or_else(|| panic!("no program {name}"));
        assert_eq!(p.section, section, "{name}");
        assert_eq!(p.program_type, ty, "{name}");
        assert_eq!(p.expected_attach_type, attach, "{name}");
        assert_eq!(p.attach_target.as_deref(), target, "{name}");
        assert_eq!(p.functions.len(), 1, "{name}");
        assert_eq!(p.insns.last(), Some(&Insn::Exit), "{name}");
    }
    assert!(obj.program("xdp_frags_prog").unwrap().xdp_frags);
    assert!(!obj.program("xdp_one").unwrap().xdp_frags);
    // xdp_one returns XDP_PASS (2), xdp_two XDP_DROP (1).
    let ret = |n: &str| match obj.program(n).unwrap().insns[0] {
        Insn::Alu {
            src: oxbpf_isa::Operand::Imm(v),
            ..
        } => v,
        other => panic!("{n}: {other:?}"),
    };
    assert_eq!((ret("xdp_one"), ret("xdp_two")), (2, 1));
    assert!(obj.maps.is_empty());
}

fn unsupported(name: &str) -> (Unsupported, String) {
    let bytes = common::build(name);
    let err = Object::parse(&bytes).expect_err("an unsupported feature must be refused");
    let feature = err
        .unsupported()
        .unwrap_or_else(|| panic!("{name}: not an unsupported-feature error: {err}"));
    (feature, err.to_string())
}

#[test]
fn core_relocations_are_refused_by_name() {
    let (feature, msg) = unsupported("core");
    assert_eq!(feature, Unsupported::CoreRelocations);
    assert!(msg.contains("CO-RE relocations are not supported"), "{msg}");
    assert!(msg.contains("kprobe/do_unlinkat"), "{msg}");
}

#[test]
fn kfunc_calls_are_refused_by_name() {
    let (feature, msg) = unsupported("kfunc");
    assert_eq!(feature, Unsupported::KfuncCalls);
    assert!(msg.contains("kfunc calls are not supported"), "{msg}");
    assert!(msg.contains("bpf_rcu_read_lock"), "{msg}");
}

#[test]
fn kconfig_externs_are_refused_by_name() {
    let (feature, msg) = unsupported("kconfig");
    assert_eq!(feature, Unsupported::KconfigExterns);
    assert!(msg.contains(".kconfig externs are not supported"), "{msg}");
    assert!(msg.contains("LINUX_KERNEL_VERSION"), "{msg}");
}

#[test]
fn ksyms_externs_are_refused_by_name() {
    let (feature, msg) = unsupported("ksym");
    assert_eq!(feature, Unsupported::KsymsExterns);
    assert!(msg.contains(".ksyms externs are not supported"), "{msg}");
    assert!(msg.contains("bpf_prog_active"), "{msg}");
}

#[test]
fn map_indices_and_names_agree() {
    let obj = common::load("maps_btf");
    for (i, m) in obj.maps.iter().enumerate() {
        assert_eq!(obj.map_index(&m.name), Some(i));
    }
    assert_eq!(obj.map_index("no_such_map"), None);
    assert!(obj.program("no_such_program").is_none());
}
