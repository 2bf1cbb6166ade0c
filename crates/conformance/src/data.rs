//! The `.data` file format of the bpf_conformance suite.
//!
//! A file is a sequence of sections, each opened by a line `-- name`. Lines
//! before the first section are a header of `#` comments (copyright, SPDX).
//! Sections:
//!
//! | section | content |
//! |---|---|
//! | `asm` | assembly text, handed to [`oxbpf_isa::asm::assemble`] as is (it has its own `#` comments) |
//! | `raw` | the program as bytes: one `0x…` 64-bit little-endian word per token, or 8 space-separated hex bytes per line (the generated `negative/unused-*` files) |
//! | `mem` | input memory, hex bytes separated by white space |
//! | `result` | expected `r0`: hex if `0x`-prefixed, else decimal (a leading `-` means two's complement) |
//! | `error` | free text: the program must be rejected |
//! | `c`, `no register offset` | ignored (the C source of the test; a note for uBPF's JIT register-remapping mutation) |
//!
//! Outside `asm`, `c` and `error`, `#` starts a comment.

use std::path::{Path, PathBuf};

use crate::error::ParseError;

/// A section of text, with the file line of its first line so that errors
/// found inside it (by the assembler) can name the file line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// Line number (from 1) in the file of the section's first content line.
    pub first_line: usize,
    /// The section's lines, each ending in `\n`.
    pub text: String,
}

/// One parsed `.data` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataFile {
    /// Where it was read from (used in error messages).
    pub path: PathBuf,
    /// The `-- asm` section.
    pub asm: Option<Section>,
    /// The bytes of the `-- raw` section.
    pub raw: Option<Vec<u8>>,
    /// The bytes of the `-- mem` section (empty without one).
    pub mem: Vec<u8>,
    /// The value of the `-- result` section.
    pub result: Option<u64>,
    /// The text of the `-- error` section (possibly empty): its presence
    /// means the program must be rejected.
    pub error: Option<String>,
}

/// Which section the parser is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Header,
    Asm,
    Raw,
    Mem,
    Result,
    Error,
    Ignored,
}

impl Kind {
    fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "asm" => Kind::Asm,
            "raw" => Kind::Raw,
            "mem" => Kind::Mem,
            "result" => Kind::Result,
            "error" => Kind::Error,
            "c" | "no register offset" => Kind::Ignored,
            _ => return None,
        })
    }
}

impl DataFile {
    /// Reads and parses a file.
    pub fn read(path: &Path) -> Result<DataFile, ParseError> {
        let text = std::fs::read_to_string(path).map_err(|e| ParseError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        DataFile::parse(&text, path)
    }

    /// Parses `text`; `path` only names the file in errors.
    ///
    /// ```
    /// use std::path::Path;
    /// use oxbpf_conformance::DataFile;
    /// let f = DataFile::parse("-- asm\nmov %r0, 1\nexit\n-- result\n0x1\n", Path::new("t.data")).unwrap();
    /// assert_eq!(f.result, Some(1));
    /// assert_eq!(f.asm.unwrap().first_line, 2);
    /// ```
    pub fn parse(text: &str, path: &Path) -> Result<DataFile, ParseError> {
        let mut file = DataFile {
            path: path.to_path_buf(),
            asm: None,
            raw: None,
            mem: Vec::new(),
            result: None,
            error: None,
        };
        let mut kind = Kind::Header;
        let mut seen: Vec<&str> = Vec::new();
        let mut result_line = 0;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            if let Some(rest) = line.trim_start().strip_prefix("--") {
                let name = rest.trim();
                kind = Kind::from_name(name).ok_or_else(|| ParseError::UnknownSection {
                    path: path.to_path_buf(),
                    line: n,
                    name: name.to_string(),
                })?;
                if seen.contains(&name) {
                    return Err(ParseError::DuplicateSection {
                        path: path.to_path_buf(),
                        line: n,
                        name: name.to_string(),
                    });
                }
                seen.push(name);
                match kind {
                    Kind::Asm => {
                        file.asm = Some(Section {
                            first_line: n + 1,
                            text: String::new(),
                        })
                    }
                    Kind::Raw => file.raw = Some(Vec::new()),
                    Kind::Error => file.error = Some(String::new()),
                    _ => {}
                }
                continue;
            }
            match kind {
                Kind::Ignored => {}
                Kind::Asm => {
                    if let Some(s) = file.asm.as_mut() {
                        s.text.push_str(line);
                        s.text.push('\n');
                    }
                }
                Kind::Error => {
                    if let Some(e) = file.error.as_mut() {
                        let line = line.trim();
                        if !line.is_empty() {
                            if !e.is_empty() {
                                e.push('\n');
                            }
                            e.push_str(line);
                        }
                    }
                }
                Kind::Header => {
                    if !strip_comment(line).trim().is_empty() {
                        return Err(ParseError::TextOutsideSection {
                            path: path.to_path_buf(),
                            line: n,
                        });
                    }
                }
                Kind::Raw => {
                    let bytes =
                        raw_line(strip_comment(line)).map_err(|token| ParseError::BadRawToken {
                            path: path.to_path_buf(),
                            line: n,
                            token,
                        })?;
                    if let Some(raw) = file.raw.as_mut() {
                        raw.extend_from_slice(&bytes);
                    }
                }
                Kind::Mem => {
                    for token in strip_comment(line).split_whitespace() {
                        let byte = parse_byte(token).ok_or_else(|| ParseError::BadMemByte {
                            path: path.to_path_buf(),
                            line: n,
                            token: token.to_string(),
                        })?;
                        file.mem.push(byte);
                    }
                }
                Kind::Result => {
                    for token in strip_comment(line).split_whitespace() {
                        if file.result.is_some() {
                            return Err(ParseError::ExtraResult {
                                path: path.to_path_buf(),
                                line: n,
                                first_line: result_line,
                            });
                        }
                        file.result =
                            Some(parse_result(token).ok_or_else(|| ParseError::BadResult {
                                path: path.to_path_buf(),
                                line: n,
                                token: token.to_string(),
                            })?);
                        result_line = n;
                    }
                }
            }
        }
        Ok(file)
    }

    /// The file name (`add.data`), for reports.
    pub fn name(&self) -> String {
        file_name(&self.path)
    }
}

/// The last component of a path as a string.
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn strip_comment(line: &str) -> &str {
    line.split('#').next().unwrap_or("")
}

/// One line of a `-- raw` section: `0x…` words, or exactly 8 bare hex
/// bytes. Returns the offending token on error.
fn raw_line(line: &str) -> Result<Vec<u8>, String> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let mut out = Vec::new();
    if tokens.is_empty() {
        return Ok(out);
    }
    if tokens
        .iter()
        .all(|t| t.starts_with("0x") || t.starts_with("0X"))
    {
        for t in tokens {
            let word = u64::from_str_radix(&t[2..], 16).map_err(|_| t.to_string())?;
            out.extend_from_slice(&word.to_le_bytes());
        }
        return Ok(out);
    }
    if tokens.len() != 8 {
        // Neither spelling: name the first token that is not a bare byte,
        // or the whole line when every token is one but there are not 8.
        return Err(tokens
            .iter()
            .find(|t| t.len() != 2 || parse_byte(t).is_none())
            .map(|t| t.to_string())
            .unwrap_or_else(|| format!("{} (expected 8 bytes per line)", line.trim())));
    }
    for t in tokens {
        match parse_byte(t) {
            Some(b) if t.len() == 2 => out.push(b),
            _ => return Err(t.to_string()),
        }
    }
    Ok(out)
}

/// A byte written as one or two hex digits.
fn parse_byte(token: &str) -> Option<u8> {
    if token.is_empty() || token.len() > 2 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(token, 16).ok()
}

/// `0x…` hex (any 64-bit pattern), decimal, or negative decimal (two's
/// complement).
fn parse_result(token: &str) -> Option<u64> {
    if let Some(hex) = token
        .strip_prefix("0x")
        .or_else(|| token.strip_prefix("0X"))
    {
        return u64::from_str_radix(hex, 16).ok();
    }
    if let Some(neg) = token.strip_prefix('-') {
        if !neg.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Magnitudes up to 2^63 (i64::MIN) fit; negate in two's complement.
        return neg
            .parse::<u64>()
            .ok()
            .filter(|&v| v <= 1 << 63)
            .map(u64::wrapping_neg);
    }
    if !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse::<u64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DataFile, ParseError> {
        DataFile::parse(text, Path::new("x.data"))
    }

    #[test]
    fn full_file() {
        let f = parse(
            "# Copyright\n# SPDX\n-- c\n#include <x.h>\nint f() {}\n-- asm\nmov %r0, 1 # one\nexit\n-- mem\naa bb # two bytes\n0c\n-- result\n0x10\n-- no register offset\ncall instruction\n",
        )
        .unwrap();
        let asm = f.asm.unwrap();
        assert_eq!(asm.first_line, 7);
        assert_eq!(asm.text, "mov %r0, 1 # one\nexit\n");
        assert_eq!(f.mem, [0xaa, 0xbb, 0x0c]);
        assert_eq!(f.result, Some(16));
        assert_eq!(f.raw, None);
        assert_eq!(f.error, None);
    }

    #[test]
    fn raw_words_are_little_endian() {
        let f = parse("-- raw\n0x5566778800000018\n0x0000000000000095 # exit\n").unwrap();
        assert_eq!(
            f.raw.unwrap(),
            [
                0x18, 0, 0, 0, 0x88, 0x77, 0x66, 0x55, 0x95, 0, 0, 0, 0, 0, 0, 0
            ]
        );
    }

    #[test]
    fn raw_byte_lines() {
        let f =
            parse("-- raw\n07 00 01 00 01 00 00 00\n95 00 00 00 00 00 00 00\n-- error\n").unwrap();
        let raw = f.raw.unwrap();
        assert_eq!(raw.len(), 16);
        assert_eq!(raw[..4], [0x07, 0x00, 0x01, 0x00]);
        assert_eq!(f.error.as_deref(), Some(""));
    }

    #[test]
    fn results_in_each_spelling() {
        for (text, want) in [
            ("0", 0),
            ("42", 42),
            ("0xffffffffffffffff", u64::MAX),
            ("-1", u64::MAX),
            ("-9223372036854775808", 1 << 63),
        ] {
            let f = parse(&format!("-- result\n{text}\n")).unwrap();
            assert_eq!(f.result, Some(want), "{text}");
        }
    }

    #[test]
    fn negative_results_out_of_range_are_refused() {
        assert!(parse("-- result\n-9223372036854775809\n").is_err());
        assert!(parse("-- result\n18446744073709551616\n").is_err());
    }

    #[test]
    fn error_text_is_kept() {
        let f = parse("-- asm\nlock\n-- error\nInvalid number of operands for lock\n").unwrap();
        assert_eq!(
            f.error.as_deref(),
            Some("Invalid number of operands for lock")
        );
    }

    #[test]
    fn malformed_input_names_file_and_line() {
        let cases: [(&str, &str); 8] = [
            (
                "-- asm\nexit\n-- Unknown directive\n",
                "x.data:3: unknown section '-- Unknown directive'",
            ),
            ("-- mem\naa zz\n", "x.data:2: bad byte 'zz' in -- mem"),
            ("-- mem\n123\n", "x.data:2: bad byte '123' in -- mem"),
            (
                "\n-- result\n0x1\n0x2\n",
                "x.data:4: second value in -- result (first on line 3)",
            ),
            ("-- result\n0xg\n", "x.data:2: bad value '0xg' in -- result"),
            (
                "-- raw\n07 00 01\n",
                "x.data:2: bad token '07 00 01 (expected 8 bytes per line)' in -- raw",
            ),
            ("mov %r0, 1\n", "x.data:1: text before the first section"),
            (
                "-- asm\n-- asm\n",
                "x.data:2: section '-- asm' appears twice",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.to_string(), want, "{text:?}");
        }
    }

    #[test]
    fn raw_mixed_spellings_are_refused() {
        let err = parse("-- raw\n0x95 00\n").unwrap_err();
        assert_eq!(
            err,
            ParseError::BadRawToken {
                path: "x.data".into(),
                line: 2,
                token: "0x95".into()
            }
        );
    }
}
