//! `.BTF.ext`: per-instruction debug records that clang emits next to
//! `.BTF` (libbpf's `struct btf_ext_header`): function info (which BTF
//! `FUNC` starts at which instruction), line info (file, line, column and
//! source text of instructions) and CO-RE relocations.
//!
//! Records are grouped by ELF section name and address instructions by
//! *byte* offset within that section; [`crate::program`] turns them into
//! slot indices of linked programs.

use crate::btf::{BtfError, Reader, check_header, string_at, sub};

/// A `bpf_func_info` record as stored in the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FuncRec {
    /// Byte offset in the section.
    pub insn_off: u32,
    /// BTF `FUNC` type id.
    pub type_id: u32,
}

/// A `bpf_line_info` record as stored in the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LineRec {
    /// Byte offset in the section.
    pub insn_off: u32,
    /// BTF string offset of the file name.
    pub file_name_off: u32,
    /// BTF string offset of the source line text.
    pub line_off: u32,
    /// Line number in the top 22 bits, column in the low 10
    /// (`BPF_LINE_INFO_LINE_NUM` / `BPF_LINE_INFO_LINE_COL`).
    pub line_col: u32,
}

/// A `bpf_core_relo` record (only counted: oxbpf refuses CO-RE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CoreRec {
    /// Byte offset in the section.
    pub insn_off: u32,
}

/// Records of one kind for one ELF section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SecRecords<T> {
    /// ELF section name (`xdp`, `.text`).
    pub section: String,
    /// Records in file order.
    pub records: Vec<T>,
}

/// Parsed `.BTF.ext`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct BtfExt {
    pub func_info: Vec<SecRecords<FuncRec>>,
    pub line_info: Vec<SecRecords<LineRec>>,
    pub core_relo: Vec<SecRecords<CoreRec>>,
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl BtfExt {
    /// Parses `.BTF.ext`; section names are strings of `btf_strings` (the
    /// string section of `.BTF`).
    pub(crate) fn parse(data: &[u8], btf_strings: &[u8]) -> Result<BtfExt, BtfError> {
        const HDR: usize = 24;
        let hdr_len = check_header(data, HDR)?;
        let body = &data[hdr_len..];
        let field = |at: usize| le_u32(data, at);
        let func = sub(body, field(8).into(), field(12).into(), "func_info")?;
        let line = sub(body, field(16).into(), field(20).into(), "line_info")?;
        // CO-RE relocations were added to the header later (hdr_len >= 32).
        let core = if hdr_len >= 32 {
            sub(body, field(24).into(), field(28).into(), "core_relo")?
        } else {
            &[]
        };
        Ok(BtfExt {
            func_info: parse_table(func, btf_strings, "func_info", 8, |w| FuncRec {
                insn_off: w[0],
                type_id: w[1],
            })?,
            line_info: parse_table(line, btf_strings, "line_info", 16, |w| LineRec {
                insn_off: w[0],
                file_name_off: w[1],
                line_off: w[2],
                line_col: w[3],
            })?,
            core_relo: parse_table(core, btf_strings, "core_relo", 16, |w| CoreRec {
                insn_off: w[0],
            })?,
        })
    }
}

/// One info table: `rec_size`, then per section `sec_name_off`,
/// `num_info` and the records. Only the first `min / 4` words of each
/// record are read; larger records (a newer format) are skipped over.
fn parse_table<T>(
    data: &[u8],
    strings: &[u8],
    what: &'static str,
    min: u32,
    make: impl Fn(&[u32]) -> T,
) -> Result<Vec<SecRecords<T>>, BtfError> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let truncated = |r: &Reader<'_>| BtfError::OutOfBounds {
        what,
        offset: r.pos() as u64,
        len: 4,
        size: data.len() as u64,
    };
    let mut r = Reader::new(data);
    let rec_size = r.u32().ok_or_else(|| truncated(&r))?;
    if rec_size < min || rec_size % 4 != 0 {
        return Err(BtfError::RecordSize {
            what,
            size: rec_size,
            min,
        });
    }
    let mut out = Vec::new();
    while r.pos() < data.len() {
        let name_off = r.u32().ok_or_else(|| truncated(&r))?;
        let num = r.u32().ok_or_else(|| truncated(&r))?;
        let section = string_at(strings, name_off)?.to_string();
        let bytes = u64::from(num) * u64::from(rec_size);
        // Bound the count by the bytes present before allocating.
        if bytes > (data.len() - r.pos()) as u64 {
            return Err(BtfError::OutOfBounds {
                what,
                offset: r.pos() as u64,
                len: bytes,
                size: data.len() as u64,
            });
        }
        let mut records = Vec::with_capacity(num as usize);
        let words = (min / 4) as usize;
        let mut w = vec![0u32; words];
        for _ in 0..num {
            for slot in w.iter_mut() {
                *slot = r.u32().ok_or_else(|| truncated(&r))?;
            }
            r.skip((rec_size - min) as usize)
                .ok_or_else(|| truncated(&r))?;
            records.push(make(&w));
        }
        out.push(SecRecords { section, records });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(func: (u32, u32), line: (u32, u32), core: Option<(u32, u32)>) -> Vec<u8> {
        let hdr_len: u32 = if core.is_some() { 32 } else { 24 };
        let mut v = vec![0x9f, 0xeb, 1, 0];
        v.extend_from_slice(&hdr_len.to_le_bytes());
        for x in [func.0, func.1, line.0, line.1] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        if let Some((o, l)) = core {
            v.extend_from_slice(&o.to_le_bytes());
            v.extend_from_slice(&l.to_le_bytes());
        }
        v
    }

    fn words(ws: &[u32]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    const STRS: &[u8] = b"\0xdp\0a.c\0return 0;\0";

    #[test]
    fn parses_func_and_line_info() {
        let func = words(&[8, 1, 2, 0, 7, 16, 9]);
        let line = words(&[16, 1, 1, 8, 5, 9, (3 << 10) | 2]);
        let mut data = header(
            (0, func.len() as u32),
            (func.len() as u32, line.len() as u32),
            None,
        );
        data.extend_from_slice(&func);
        data.extend_from_slice(&line);
        let ext = BtfExt::parse(&data, STRS).unwrap();
        assert_eq!(ext.func_info[0].section, "xdp");
        assert_eq!(
            ext.func_info[0].records,
            [
                FuncRec {
                    insn_off: 0,
                    type_id: 7
                },
                FuncRec {
                    insn_off: 16,
                    type_id: 9
                }
            ]
        );
        assert_eq!(ext.line_info[0].records[0].line_col >> 10, 3);
        assert!(ext.core_relo.is_empty());
    }

    #[test]
    fn larger_records_are_skipped_over() {
        // rec_size 12 for func_info: one extra word per record.
        let func = words(&[12, 1, 2, 0, 7, 0xdead, 16, 9, 0xbeef]);
        let mut data = header((0, func.len() as u32), (0, 0), None);
        data.extend_from_slice(&func);
        let ext = BtfExt::parse(&data, STRS).unwrap();
        assert_eq!(ext.func_info[0].records[1].type_id, 9);
    }

    #[test]
    fn counts_past_the_end_are_errors() {
        let func = words(&[8, 1, 1_000_000, 0, 7]);
        let mut data = header((0, func.len() as u32), (0, 0), None);
        data.extend_from_slice(&func);
        assert!(matches!(
            BtfExt::parse(&data, STRS),
            Err(BtfError::OutOfBounds {
                what: "func_info",
                ..
            })
        ));
    }

    #[test]
    fn small_record_size_is_an_error() {
        let line = words(&[8, 1, 0]);
        let mut data = header((0, 0), (0, line.len() as u32), None);
        data.extend_from_slice(&line);
        assert_eq!(
            BtfExt::parse(&data, STRS),
            Err(BtfError::RecordSize {
                what: "line_info",
                size: 8,
                min: 16
            })
        );
    }

    #[test]
    fn core_relo_table_is_read_when_the_header_has_it() {
        let core = words(&[16, 1, 1, 24, 3, 5, 0]);
        let mut data = header((0, 0), (0, 0), Some((0, core.len() as u32)));
        data.extend_from_slice(&core);
        let ext = BtfExt::parse(&data, STRS).unwrap();
        assert_eq!(ext.core_relo[0].records, [CoreRec { insn_off: 24 }]);
    }
}
