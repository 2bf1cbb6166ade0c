//! Reading programs and data from the user's files.
//!
//! A program file is one of:
//!
//! - assembly, when its name ends in `.s` or `.asm`;
//! - hex text, when its content is nothing but hex tokens (see
//!   [`parse_hex`]);
//! - raw bytecode otherwise: 8 bytes per instruction, little-endian, as
//!   `oxbpf asm` writes it.

use std::path::Path;

use anyhow::{Context, anyhow};
use oxbpf_isa::asm::assemble;
use oxbpf_isa::{Insn, decode_bytes};

use crate::error::{CliError, Result};

/// Parses hex text: tokens separated by white space or commas, `#`
/// comments to the end of the line. A bare token is a string of bytes in
/// order (`b7`, or `b700000001000000`); a `0x` token is one 64-bit
/// little-endian instruction word, as the conformance suite's `-- raw`
/// sections write them (`0x00000001000000b7`).
pub fn parse_hex(text: &str) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        for token in line
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
        {
            let bad = || format!("line {}: '{token}' is not hex", n + 1);
            if let Some(word) = token
                .strip_prefix("0x")
                .or_else(|| token.strip_prefix("0X"))
            {
                if word.is_empty() || word.len() > 16 {
                    return Err(format!(
                        "line {}: '{token}' is not a 64-bit word (1-16 hex digits after 0x)",
                        n + 1
                    ));
                }
                let w = u64::from_str_radix(word, 16).map_err(|_| bad())?;
                out.extend_from_slice(&w.to_le_bytes());
            } else {
                if !token.len().is_multiple_of(2) {
                    return Err(format!(
                        "line {}: '{token}' has an odd number of hex digits",
                        n + 1
                    ));
                }
                for i in (0..token.len()).step_by(2) {
                    let pair = token.get(i..i + 2).ok_or_else(bad)?;
                    out.push(u8::from_str_radix(pair, 16).map_err(|_| bad())?);
                }
            }
        }
    }
    Ok(out)
}

/// Whether file content is meant as hex text: only hex digits, `x`, white
/// space, commas and `#` comments. Raw bytecode never qualifies: its
/// opcode bytes (`exit` is 0x95) are not all printable hex characters.
pub fn looks_like_hex(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let mut any = false;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        for c in line.chars() {
            match c {
                c if c.is_ascii_hexdigit() => any = true,
                'x' | 'X' | ',' => {}
                c if c.is_whitespace() => {}
                _ => return false,
            }
        }
    }
    any
}

/// Decodes bytecode, classifying a refusal as malformed input.
pub fn decode(bytes: &[u8], what: &str) -> Result<Vec<Insn>> {
    decode_bytes(bytes).map_err(|e| {
        CliError::malformed(anyhow::Error::new(e).context(format!("cannot decode {what}")))
    })
}

/// Reads a program file (assembly, hex text or raw bytecode).
pub fn read_program(path: &Path) -> Result<Vec<Insn>> {
    let shown = path.display();
    if is_assembly(path) {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {shown}"))?;
        return assemble(&text).map_err(|e| {
            CliError::malformed(anyhow::Error::new(e).context(format!("cannot assemble {shown}")))
        });
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
    read_bytecode(&bytes, &shown.to_string())
}

/// Bytecode given as file content: hex text or raw bytes.
pub fn read_bytecode(bytes: &[u8], what: &str) -> Result<Vec<Insn>> {
    if looks_like_hex(bytes) {
        let text = String::from_utf8_lossy(bytes);
        let raw = parse_hex(&text).map_err(|e| CliError::malformed(anyhow!("{what}: {e}")))?;
        return decode(&raw, what);
    }
    decode(bytes, what)
}

/// Whether a path names an assembly source.
pub fn is_assembly(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("s") || e.eq_ignore_ascii_case("asm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_bytes_and_words() {
        assert_eq!(parse_hex("b7 00, 0a\n").unwrap(), [0xb7, 0x00, 0x0a]);
        assert_eq!(parse_hex("b70001 # comment\n").unwrap(), [0xb7, 0x00, 0x01]);
        assert_eq!(
            parse_hex("0x00000001000000b7").unwrap(),
            [0xb7, 0, 0, 0, 1, 0, 0, 0]
        );
        assert_eq!(parse_hex("0x95").unwrap(), [0x95, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn bad_hex_names_line_and_token() {
        assert_eq!(parse_hex("b7\nzz").unwrap_err(), "line 2: 'zz' is not hex");
        assert_eq!(
            parse_hex("b70").unwrap_err(),
            "line 1: 'b70' has an odd number of hex digits"
        );
        assert!(parse_hex("0x11112222333344445").is_err());
    }

    #[test]
    fn hex_detection() {
        assert!(looks_like_hex(
            b"b7 00 00 00 01 00 00 00\n95 00 00 00 00 00 00 00\n"
        ));
        assert!(looks_like_hex(b"# lddw\n0x5566778800000018\n"));
        // mov32 %r0, 1 ; exit as raw bytes.
        assert!(!looks_like_hex(&[
            0xb4, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0
        ]));
        assert!(!looks_like_hex(b""));
        assert!(!looks_like_hex(b"mov %r0, 1"));
    }
}
