//! Arbitrary text into the assembler. Whatever assembles must be valid
//! bytecode and survive disassembly and reassembly unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxbpf_isa::asm::assemble;
use oxbpf_isa::disasm::disassemble;
use oxbpf_isa::{decode, encode};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(p) = assemble(src) else {
        return;
    };
    let decoded = decode(&encode(&p)).unwrap_or_else(|e| panic!("assembled invalid code: {e}"));
    assert_eq!(decoded, p, "decode(encode(assembled)) differs");
    let text = disassemble(&p);
    let again = assemble(&text).unwrap_or_else(|e| panic!("reassembly failed: {e}\n{text}"));
    assert_eq!(again, p, "reassembled program differs:\n{text}");
});
