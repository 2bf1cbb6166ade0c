//! Random bytecode never makes the verifier panic: it accepts or rejects.
//! Programs are built from instruction templates that decode, so most get
//! past the decoder and exercise the abstract interpreter.

use oxbpf_abi::map_kind::MapKind;
use oxbpf_abi::program_type::ProgramType;
use oxbpf_isa::{RawInsn, decode::decode_each};
use oxbpf_verifier::{Input, MapInfo, Options, Profile, verify};
use proptest::prelude::*;

fn insn() -> impl Strategy<Value = RawInsn> {
    // Opcodes that decode with suitable fields: ALU/ALU64 (imm and reg),
    // jumps, loads/stores of every size, calls of common helpers, exit.
    let opcode = prop_oneof![
        Just(0x07u8),
        Just(0x0f),
        Just(0x17),
        Just(0x1f),
        Just(0xb7),
        Just(0xbf),
        Just(0x04),
        Just(0x0c),
        Just(0xb4),
        Just(0xbc),
        Just(0x57),
        Just(0x5f),
        Just(0x77),
        Just(0x67),
        Just(0xc7),
        Just(0x37),
        Just(0x3f),
        Just(0x97),
        Just(0x9f),
        Just(0x05),
        Just(0x15),
        Just(0x1d),
        Just(0x25),
        Just(0x2d),
        Just(0x35),
        Just(0x3d),
        Just(0x55),
        Just(0x5d),
        Just(0xa5),
        Just(0xad),
        Just(0x65),
        Just(0x6d),
        Just(0x16),
        Just(0x56),
        Just(0x61),
        Just(0x69),
        Just(0x71),
        Just(0x79),
        Just(0x62),
        Just(0x6a),
        Just(0x72),
        Just(0x7a),
        Just(0x63),
        Just(0x6b),
        Just(0x73),
        Just(0x7b),
        Just(0xdb),
        Just(0xc3),
        Just(0x85),
        Just(0x95),
    ];
    (
        opcode,
        0u8..11,
        0u8..11,
        -8i16..8,
        prop_oneof![
            -16i32..64,
            Just(1),
            Just(2),
            Just(7),
            Just(44),
            Just(14),
            any::<i32>()
        ],
    )
        .prop_map(|(opcode, dst, src, off, imm)| {
            let mut r = RawInsn {
                opcode,
                dst,
                src,
                off,
                imm,
            };
            // Memory offsets: stack-sized and aligned-ish.
            if matches!(opcode & 0x07, 0x01..=0x03) {
                r.off = off * 4 - 8;
            }
            if opcode == 0x85 {
                r.src = 0;
                r.dst = 0;
                r.off = 0;
                r.imm = [1, 2, 3, 5, 7, 12, 44, 28][imm.rem_euclid(8) as usize];
            }
            if opcode == 0x95 || opcode == 0x05 {
                r.src = 0;
                r.dst = 0;
                r.imm = 0;
            }
            if opcode & 0x08 == 0 && matches!(opcode & 0x07, 0x04..=0x07) {
                r.src = 0;
            }
            if matches!(opcode & 0x07, 0x04 | 0x07) {
                r.off = 0;
            }
            if opcode == 0xdb || opcode == 0xc3 {
                r.imm = 0;
            }
            r
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn verifier_never_panics(raw in prop::collection::vec(insn(), 1..24), strict in any::<bool>()) {
        let Ok(insns) = decode_each(&raw) else { return Ok(()); };
        let maps = [MapInfo {
            name: "m".into(),
            kind: MapKind::Hash,
            key_size: 4,
            value_size: 8,
            max_entries: 4,
            readonly: false,
            inner: None,
            rodata: None,
        }];
        let mut input = Input::new(&insns, ProgramType::Xdp);
        input.maps = &maps;
        input.options = Options {
            profile: if strict { Profile::Strict } else { Profile::Privileged },
            budget: 20_000,
            ..Options::default()
        };
        let _ = verify(&input);
    }
}
