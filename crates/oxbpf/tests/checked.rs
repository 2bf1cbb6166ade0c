//! Checked mode on linked objects: global data, map values, map handles
//! and context offsets are enforced, on both engines. Programs are
//! hand-assembled so each test is about one rule.

use oxbpf::{EngineKind, Error, Loader, MapImage, MapReloc, ObjectImage, ProgramImage};
use oxbpf_abi::Trap;
use oxbpf_abi::map_kind::flags::BPF_F_RDONLY_PROG;
use oxbpf_isa::asm::assemble;
use oxbpf_maps::{MapKind, MapSpec};

const ENGINES: [EngineKind; 3] = [EngineKind::Interp, EngineKind::InterpFast, EngineKind::Jit];

fn image(src: &str, relocs: Vec<MapReloc>, maps: Vec<MapImage>) -> ObjectImage {
    ObjectImage {
        programs: vec![ProgramImage {
            name: "p".into(),
            section: "xdp".into(),
            insns: assemble(src).unwrap(),
            relocs,
            functions: vec![],
        }],
        maps,
    }
}

fn rodata() -> MapImage {
    MapImage {
        spec: MapSpec::new(MapKind::Array, 4, 8, 1)
            .with_flags(BPF_F_RDONLY_PROG)
            .with_name(".rodata"),
        init: Some(vec![7, 0, 0, 0, 0, 0, 0, 0]),
        readonly: true,
    }
}

fn array() -> MapImage {
    MapImage {
        spec: MapSpec::new(MapKind::Array, 4, 8, 2).with_name("arr"),
        init: None,
        readonly: false,
    }
}

fn run(img: ObjectImage, engine: EngineKind) -> Result<u32, Error> {
    let obj = Loader::new().ncpus(1).load_image(img)?;
    let runner = obj.program("p")?.load(engine)?;
    runner.run_xdp(&[0u8; 14]).map(|o| o.ret)
}

fn trap_of(r: Result<u32, Error>) -> Trap {
    match r {
        Err(Error::Trapped { source }) => source.trap,
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn rodata_is_readable_but_not_writable() {
    let read = "lddw %r1, map_value 0, 4\nldxw %r0, [%r1-4]\nexit";
    let write = "lddw %r1, map_value 0, 0\nstw [%r1+0], 1\nmov %r0, 2\nexit";
    let reloc = |offset| {
        vec![MapReloc::Value {
            insn: 0,
            map: 0,
            offset,
        }]
    };
    for engine in ENGINES {
        assert_eq!(
            run(image(read, reloc(4), vec![rodata()]), engine).unwrap(),
            7
        );
        assert_eq!(
            trap_of(run(image(write, reloc(0), vec![rodata()]), engine)),
            Trap::ReadOnly
        );
    }
}

#[test]
fn map_value_regions_end_at_the_value() {
    // Look up arr[1]; read its last word (fine), then one past it (trap).
    let body = "stw [%r10-4], 1\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, map_fd 0\ncall 1\n\
                jne %r0, 0, +2\nmov %r0, 9\nexit\n";
    let ok = format!("{body}stdw [%r0+0], 5\nldxdw %r0, [%r0+0]\nexit");
    let bad = format!("{body}ldxdw %r0, [%r0+8]\nexit");
    let reloc = vec![MapReloc::Map { insn: 3, map: 0 }];
    for engine in ENGINES {
        assert_eq!(
            run(image(&ok, reloc.clone(), vec![array()]), engine).unwrap(),
            5
        );
        assert_eq!(
            trap_of(run(image(&bad, reloc.clone(), vec![array()]), engine)),
            Trap::OutOfBounds
        );
    }
}

#[test]
fn a_forged_map_handle_is_refused() {
    let src =
        "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nmov %r1, 4096\ncall 1\nmov %r0, 2\nexit";
    for engine in ENGINES {
        assert_eq!(
            trap_of(run(image(src, vec![], vec![array()]), engine)),
            Trap::HelperFault
        );
    }
}

#[test]
fn unsupported_context_offsets_name_insn_and_offset() {
    let src = "mov %r0, 0\nldxw %r0, [%r1+24]\nexit";
    let err = run(image(src, vec![], vec![]), EngineKind::Interp).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Context { .. }), "{err:?}");
    assert!(msg.contains("insn 1") && msg.contains("offset 24"), "{msg}");
}

#[test]
fn xdp_adjust_head_moves_the_packet_region() {
    // Grow the head by 4 and write the new first byte; then shrink back by
    // 8 and read data[0] (which was byte 4 of the original packet).
    let src = "mov %r6, %r1\nmov %r2, -4\ncall 44\njne %r0, 0, +8\n\
               ldxw %r2, [%r6+0]\nstb [%r2+0], 0xaa\nmov %r1, %r6\nmov %r2, 8\ncall 44\n\
               ldxw %r2, [%r6+0]\nldxb %r0, [%r2+0]\nexit\nmov %r0, 99\nexit";
    for engine in ENGINES {
        let obj = Loader::new()
            .load_image(image(src, vec![], vec![]))
            .unwrap();
        let runner = obj.program("p").unwrap().load(engine).unwrap();
        let pkt: Vec<u8> = (10..40).collect();
        let out = runner.run_xdp(&pkt).unwrap();
        assert_eq!(out.ret, 14, "{engine:?}");
        assert_eq!(out.packet, pkt[4..].to_vec(), "{engine:?}");
    }
}

#[test]
fn a_value_deleted_during_the_run_stays_readable_until_it_ends() {
    // Look up hash[1], delete hash[1] from the program, then read the old
    // value through the pointer: the run's guard keeps the element's memory
    // alive (the kernel's RCU rule), and its region stays registered.
    let src = "stw [%r10-4], 1\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, map_fd 0\ncall 1\n\
               jne %r0, 0, +2\nmov %r0, 99\nexit\nmov %r6, %r0\n\
               mov %r2, %r10\nadd %r2, -4\nlddw %r1, map_fd 0\ncall 3\n\
               jne %r0, 0, +2\nldxdw %r0, [%r6+0]\nexit\nmov %r0, 98\nexit";
    let relocs = vec![
        MapReloc::Map { insn: 3, map: 0 },
        MapReloc::Map { insn: 12, map: 0 },
    ];
    for engine in ENGINES {
        let hash = MapImage {
            spec: MapSpec::new(MapKind::Hash, 4, 8, 4).with_name("h"),
            init: None,
            readonly: false,
        };
        let obj = Loader::new()
            .load_image(image(src, relocs.clone(), vec![hash]))
            .unwrap();
        let h = obj.hash_map::<u32, u64>("h").unwrap();
        h.insert(&1, &42).unwrap();
        let runner = obj.program("p").unwrap().load(engine).unwrap();
        assert_eq!(runner.run_xdp(&[0u8; 14]).unwrap().ret, 42, "{engine:?}");
        assert_eq!(
            h.get(&1).unwrap(),
            None,
            "{engine:?}: the program deleted it"
        );
    }
}

#[test]
fn bytes_cut_by_adjust_tail_are_out_of_bounds() {
    // Read data[20] (an engine may cache the packet region), shrink the
    // packet from 30 to 20 bytes, then read data[25]: past data_end now.
    let src = "mov %r6, %r1\nldxw %r7, [%r6+0]\nldxb %r0, [%r7+20]\nmov %r1, %r6\n\
               mov %r2, -10\ncall 65\nldxb %r0, [%r7+25]\nexit";
    for engine in ENGINES {
        let obj = Loader::new()
            .load_image(image(src, vec![], vec![]))
            .unwrap();
        let runner = obj.program("p").unwrap().load(engine).unwrap();
        let r = runner.run_xdp(&[1u8; 30]).map(|o| o.ret);
        assert_eq!(trap_of(r), Trap::OutOfBounds, "{engine:?}");
    }
}

#[test]
fn programs_of_other_types_load_but_do_not_run_as_xdp() {
    let mut img = image("mov %r0, 0\nexit", vec![], vec![]);
    img.programs[0].section = "kprobe/do_sys_open".into();
    let obj = Loader::new().load_image(img).unwrap();
    let runner = obj.program("p").unwrap().load(EngineKind::Interp).unwrap();
    assert!(matches!(
        runner.run_xdp(&[0u8; 14]),
        Err(Error::WrongRun { .. })
    ));
}
