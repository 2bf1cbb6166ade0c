//! Rejections by the decoder, each against hand-written bytes.

use oxbpf_isa::{DecodeError, decode_bytes};

fn bytes(hex: &str) -> Vec<u8> {
    hex.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("test hex"))
        .collect()
}

const EXIT: &str = "95 00 00 00 00 00 00 00";

/// Decodes `hex` followed by an `exit`.
fn decode_then_exit(hex: &str) -> Result<Vec<oxbpf_isa::Insn>, DecodeError> {
    decode_bytes(&bytes(&format!("{hex} {EXIT}")))
}

#[track_caller]
fn unknown(hex: &str, opcode: u8) {
    assert_eq!(
        decode_then_exit(hex),
        Err(DecodeError::UnknownOpcode { index: 0, opcode }),
        "{hex}"
    );
}

#[track_caller]
fn reserved(hex: &str, field: &str, value: i64) {
    match decode_then_exit(hex) {
        Err(DecodeError::ReservedField {
            index: 0,
            field: f,
            value: v,
            ..
        }) if f == field && v == value => {}
        other => panic!("{hex}: expected reserved {field} = {value}, got {other:?}"),
    }
}

#[track_caller]
fn bad(hex: &str, field: &str, value: i64) {
    match decode_then_exit(hex) {
        Err(DecodeError::BadField {
            index: 0,
            field: f,
            value: v,
            ..
        }) if f == field && v == value => {}
        other => panic!("{hex}: expected bad {field} = {value}, got {other:?}"),
    }
}

#[test]
fn unknown_opcodes() {
    // 0x00 is only valid as the second slot of lddw.
    unknown("00 00 00 00 00 00 00 00", 0x00);
    // lddw is the only BPF_IMM load; other sizes do not exist.
    unknown("10 00 00 00 00 00 00 00", 0x10);
    // neg has no register form; ALU64 end has no source bit.
    unknown("8c 00 00 00 00 00 00 00", 0x8c);
    unknown("8f 00 00 00 00 00 00 00", 0x8f);
    unknown("df 00 00 00 10 00 00 00", 0xdf);
    // ALU operation codes 0xe and 0xf are unassigned.
    unknown("e4 00 00 00 00 00 00 00", 0xe4);
    unknown("f7 00 00 00 00 00 00 00", 0xf7);
    // ja has no register form; call and exit have no JMP32 form.
    unknown("0d 00 00 00 00 00 00 00", 0x0d);
    unknown("0e 00 00 00 00 00 00 00", 0x0e);
    unknown("86 00 00 00 00 00 00 00", 0x86);
    unknown("96 00 00 00 00 00 00 00", 0x96);
    unknown("9d 00 00 00 00 00 00 00", 0x9d);
    unknown("e5 00 00 00 00 00 00 00", 0xe5);
    unknown("f6 00 00 00 00 00 00 00", 0xf6);
    // No 64-bit legacy packet load, no sign-extending 64-bit load.
    unknown("38 00 00 00 00 00 00 00", 0x38);
    unknown("58 00 00 00 00 00 00 00", 0x58);
    unknown("99 10 00 00 00 00 00 00", 0x99);
    // LDX / ST / STX in modes they do not have.
    unknown("21 10 00 00 00 00 00 00", 0x21);
    unknown("82 00 00 00 00 00 00 00", 0x82);
    unknown("a3 10 00 00 00 00 00 00", 0xa3);
    // Atomics exist for W and DW only.
    unknown("d3 1a f8 ff 00 00 00 00", 0xd3);
    unknown("cb 1a f8 ff 00 00 00 00", 0xcb);
}

#[test]
fn reserved_fields_per_class() {
    reserved("07 00 01 00 01 00 00 00", "off", 1);
    reserved("07 10 00 00 01 00 00 00", "src", 1);
    reserved("0f 00 00 00 01 00 00 00", "imm", 1);
    // A garbage src nibble of an immediate form is reserved, not a register.
    reserved("b7 b0 00 00 01 00 00 00", "src", 11);
    reserved("87 00 00 00 01 00 00 00", "imm", 1);
    reserved("84 10 00 00 00 00 00 00", "src", 1);
    reserved("d4 00 01 00 10 00 00 00", "off", 1);
    reserved("dc 10 00 00 10 00 00 00", "src", 1);
    reserved("05 01 00 00 00 00 00 00", "dst", 1);
    reserved("05 00 00 00 01 00 00 00", "imm", 1);
    // gotol: the offset is in imm, off is unused.
    reserved("06 00 01 00 00 00 00 00", "off", 1);
    reserved("15 10 00 00 00 00 00 00", "src", 1);
    reserved("1d 00 00 00 01 00 00 00", "imm", 1);
    reserved("85 01 00 00 00 00 00 00", "dst", 1);
    reserved("85 00 01 00 00 00 00 00", "off", 1);
    // callx with the register in imm (LLVM before 19) is not accepted.
    reserved("8d 00 00 00 02 00 00 00", "imm", 2);
    reserved("8d 10 00 00 00 00 00 00", "src", 1);
    reserved("95 00 00 00 01 00 00 00", "imm", 1);
    reserved("61 a0 fc ff 01 00 00 00", "imm", 1);
    reserved("62 1a fc ff 01 00 00 00", "src", 1);
    reserved("63 1a fc ff 01 00 00 00", "imm", 1);
    reserved("20 01 00 00 00 00 00 00", "dst", 1);
    reserved("20 10 00 00 00 00 00 00", "src", 1);
    reserved("40 10 01 00 00 00 00 00", "off", 1);
}

#[test]
fn bad_field_values() {
    // end: only 16, 32 and 64 bits.
    bad("d4 00 00 00 11 00 00 00", "imm", 17);
    bad("d7 00 00 00 08 00 00 00", "imm", 8);
    // Unknown atomic operation.
    bad("db 1a f8 ff 02 00 00 00", "imm", 2);
    bad("db 1a f8 ff e0 00 00 00", "imm", 0xe0);
    // Load-acquire (imm 0x100) is newer than RFC 9669.
    bad("db 1a f8 ff 00 01 00 00", "imm", 0x100);
    // movsx: 8/16 in the 32-bit class, 8/16/32 in the 64-bit class.
    bad("bf 10 07 00 00 00 00 00", "off", 7);
    bad("bc 10 20 00 00 00 00 00", "off", 32);
    // sdiv/smod are offset 1; 2 is nothing.
    bad("34 00 02 00 01 00 00 00", "off", 2);
    bad("9f 10 ff ff 00 00 00 00", "off", -1);
    // call src: 0 helper, 1 local, 2 kfunc.
    bad("85 30 00 00 00 00 00 00", "src", 3);
    // lddw pseudo sources stop at 6.
    bad("18 71 00 00 00 00 00 00 00 00 00 00 00 00 00 00", "src", 7);
}

#[test]
fn movsx_needs_register_form() {
    // mov with an immediate and offset 8 is not movsx: off is reserved.
    reserved("b7 00 08 00 01 00 00 00", "off", 8);
}

#[test]
fn bad_registers() {
    assert_eq!(
        decode_then_exit("b7 0b 00 00 00 00 00 00"),
        Err(DecodeError::BadRegister {
            index: 0,
            field: "dst",
            reg: 11
        })
    );
    assert_eq!(
        decode_then_exit("bf f0 00 00 00 00 00 00"),
        Err(DecodeError::BadRegister {
            index: 0,
            field: "src",
            reg: 15
        })
    );
    assert_eq!(
        decode_then_exit("8d 0c 00 00 00 00 00 00"),
        Err(DecodeError::BadRegister {
            index: 0,
            field: "dst",
            reg: 12
        })
    );
    // The index is the slot of the offender.
    assert_eq!(
        decode_bytes(&bytes(&format!("{EXIT} {EXIT} 79 c0 00 00 00 00 00 00"))),
        Err(DecodeError::BadRegister {
            index: 2,
            field: "src",
            reg: 12
        })
    );
}

#[test]
fn lddw_second_slot() {
    let lo = "18 01 00 00 01 00 00 00";
    // Alone at the end.
    assert_eq!(
        decode_bytes(&bytes(lo)),
        Err(DecodeError::TruncatedLddw { index: 0 })
    );
    assert_eq!(
        decode_bytes(&bytes(&format!("{EXIT} {lo}"))),
        Err(DecodeError::TruncatedLddw { index: 1 })
    );
    // The second slot holds only imm.
    reserved(
        &format!("{lo} 95 00 00 00 00 00 00 00"),
        "next.opcode",
        0x95,
    );
    reserved(&format!("{lo} 00 01 00 00 00 00 00 00"), "next.dst", 1);
    reserved(&format!("{lo} 00 10 00 00 00 00 00 00"), "next.src", 1);
    reserved(&format!("{lo} 00 00 01 00 00 00 00 00"), "next.off", 1);
    reserved("18 01 01 00 01 00 00 00 00 00 00 00 00 00 00 00", "off", 1);
    // Map references by fd or index leave the second imm zero; the value
    // forms use it as the offset into the value.
    reserved(
        "18 11 00 00 03 00 00 00 00 00 00 00 01 00 00 00",
        "next.imm",
        1,
    );
    reserved(
        "18 51 00 00 03 00 00 00 00 00 00 00 01 00 00 00",
        "next.imm",
        1,
    );
    assert!(decode_then_exit("18 21 00 00 03 00 00 00 00 00 00 00 01 00 00 00").is_ok());
    assert!(decode_then_exit("18 61 00 00 03 00 00 00 00 00 00 00 01 00 00 00").is_ok());
    // A second slot without a first is an unknown opcode 0.
    assert_eq!(
        decode_bytes(&bytes(&format!("{EXIT} 00 00 00 00 00 00 00 00 {EXIT}"))),
        Err(DecodeError::UnknownOpcode {
            index: 1,
            opcode: 0
        })
    );
}

#[test]
fn jump_targets() {
    // ja +1 at slot 0 of 2 slots leads to slot 2.
    assert_eq!(
        decode_then_exit("05 00 01 00 00 00 00 00"),
        Err(DecodeError::JumpOutOfRange {
            index: 0,
            target: 2
        })
    );
    assert_eq!(
        decode_then_exit("05 00 fe ff 00 00 00 00"),
        Err(DecodeError::JumpOutOfRange {
            index: 0,
            target: -1
        })
    );
    // jeq +1 from slot 0 lands on the second half of the lddw at slot 1.
    assert_eq!(
        decode_then_exit("15 01 01 00 00 00 00 00 18 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
        Err(DecodeError::JumpIntoLddw {
            index: 0,
            target: 2
        })
    );
    // gotol far beyond the end.
    assert_eq!(
        decode_then_exit("06 00 00 00 00 00 01 00"),
        Err(DecodeError::JumpOutOfRange {
            index: 0,
            target: 65537
        })
    );
    // A local call and an lddw code address are checked like jumps.
    assert_eq!(
        decode_then_exit("85 10 00 00 fb ff ff ff"),
        Err(DecodeError::JumpOutOfRange {
            index: 0,
            target: -4
        })
    );
    assert_eq!(
        decode_then_exit("18 41 00 00 05 00 00 00 00 00 00 00 00 00 00 00"),
        Err(DecodeError::JumpOutOfRange {
            index: 0,
            target: 6
        })
    );
    assert_eq!(
        decode_then_exit("18 41 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
        Err(DecodeError::JumpIntoLddw {
            index: 0,
            target: 1
        })
    );
    // Jumping to itself and to the last slot are fine.
    assert!(decode_then_exit("05 00 ff ff 00 00 00 00").is_ok());
    assert!(decode_then_exit("05 00 00 00 00 00 00 00").is_ok());
}

#[test]
fn lengths() {
    assert_eq!(decode_bytes(&[]), Err(DecodeError::Empty));
    assert_eq!(
        decode_bytes(&bytes(&format!("{EXIT} 00"))),
        Err(DecodeError::TrailingBytes { len: 9 })
    );
}

#[test]
fn error_messages_name_the_slot() {
    let e = decode_then_exit("07 00 01 00 01 00 00 00").unwrap_err();
    assert_eq!(e.index(), Some(0));
    assert_eq!(
        e.to_string(),
        "insn 0: opcode 0x07 requires field off to be 0, found 1"
    );
    assert_eq!(DecodeError::Empty.index(), None);
}
