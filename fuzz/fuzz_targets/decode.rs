//! Arbitrary bytes into the decoder. Whatever decodes must encode back to
//! the same bytes and survive disassembly and reassembly unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxbpf_isa::asm::assemble;
use oxbpf_isa::disasm::{disassemble, format_insn};
use oxbpf_isa::{decode_bytes, encode_bytes};

fuzz_target!(|data: &[u8]| {
    let Ok(p) = decode_bytes(data) else {
        return;
    };
    assert_eq!(encode_bytes(&p), data, "encode(decode(bytes)) != bytes");
    for (pc, insn) in p.iter().enumerate() {
        let _ = format_insn(insn, pc);
    }
    let text = disassemble(&p);
    let again = assemble(&text).unwrap_or_else(|e| panic!("reassembly failed: {e}\n{text}"));
    assert_eq!(again, p, "reassembled program differs:\n{text}");
});
