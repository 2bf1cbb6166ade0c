//! Classic pcap files (libpcap format, not pcapng), read without copying:
//! records borrow the file's bytes, so replaying a capture through a
//! program allocates nothing per packet.

use crate::error::{Result, XdpError};

/// One record of a capture, borrowing the packet bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Seconds of the timestamp.
    pub ts_sec: u32,
    /// Microseconds, or nanoseconds in a nanosecond capture.
    pub ts_frac: u32,
    /// Length on the wire.
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// A parsed capture: the global header and the records.
#[derive(Clone, Debug)]
pub struct Capture<'a> {
    /// The 24-byte global header (byte order, resolution, link type), kept
    /// to write output in the same format.
    pub header: [u8; 24],
    /// Whether the file is big-endian.
    pub big_endian: bool,
    /// Every record, in file order.
    pub records: Vec<Record<'a>>,
}

fn bad(reason: String) -> XdpError {
    XdpError::Invalid {
        what: "pcap file",
        reason,
    }
}

/// Parses a whole capture (checking every record header).
pub fn parse(bytes: &[u8]) -> Result<Capture<'_>> {
    let header: [u8; 24] = bytes
        .get(..24)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| bad("shorter than the 24-byte header".into()))?;
    let magic = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let big_endian = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => false,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => true,
        _ => {
            return Err(bad(format!(
                "bad magic {magic:#010x} (pcapng is not supported)"
            )));
        }
    };
    let word = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    };
    let mut records = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let h = bytes
            .get(at..at + 16)
            .ok_or_else(|| bad(format!("record header truncated at byte {at}")))?;
        let incl = word(&h[8..12]) as usize;
        let data = at
            .checked_add(16 + incl)
            .and_then(|end| bytes.get(at + 16..end))
            .ok_or_else(|| bad(format!("record of {incl} bytes truncated at byte {at}")))?;
        records.push(Record {
            ts_sec: word(&h[0..4]),
            ts_frac: word(&h[4..8]),
            orig_len: word(&h[12..16]),
            data,
        });
        at += 16 + incl;
    }
    Ok(Capture {
        header,
        big_endian,
        records,
    })
}

/// Appends one record to `out` in the byte order of `like` (whose header
/// must already be in `out`).
pub fn write_record(like: &Capture<'_>, out: &mut Vec<u8>, r: &Record<'_>) {
    let put = |out: &mut Vec<u8>, v: u32| {
        out.extend_from_slice(&if like.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    put(out, r.ts_sec);
    put(out, r.ts_frac);
    put(out, r.data.len() as u32);
    put(out, r.orig_len.max(r.data.len() as u32));
    out.extend_from_slice(r.data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        for magic in [0xa1b2_c3d4u32.to_le_bytes(), 0xa1b2_c3d4u32.to_be_bytes()] {
            let mut header = [0u8; 24];
            header[..4].copy_from_slice(&magic);
            let cap = Capture {
                header,
                big_endian: magic[0] == 0xa1,
                records: vec![],
            };
            let mut out = header.to_vec();
            let r = Record {
                ts_sec: 1,
                ts_frac: 2,
                orig_len: 3,
                data: &[9, 8, 7],
            };
            write_record(&cap, &mut out, &r);
            assert_eq!(out.len(), 24 + 16 + 3);
            assert_eq!(parse(&out).unwrap().records, vec![r]);
            out.pop();
            assert!(
                parse(&out)
                    .unwrap_err()
                    .to_string()
                    .contains("truncated at byte 24")
            );
        }
        assert!(parse(&[0; 10]).is_err());
        assert!(
            parse(&[0; 24])
                .unwrap_err()
                .to_string()
                .contains("bad magic")
        );
    }
}
