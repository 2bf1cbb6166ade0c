//! Classic pcap files (the libpcap format, not pcapng): read every record,
//! write records back with the input's timestamps and link type.

use anyhow::{Result, anyhow};

/// One captured packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub ts_sec: u32,
    /// Microseconds, or nanoseconds in a nanosecond capture.
    pub ts_frac: u32,
    /// Length on the wire.
    pub orig_len: u32,
    pub data: Vec<u8>,
}

/// A parsed capture.
#[derive(Clone, Debug)]
pub struct Capture {
    /// The 24-byte global header, kept to write the output in the same
    /// format (byte order, time resolution, link type).
    pub header: [u8; 24],
    pub big_endian: bool,
    pub records: Vec<Record>,
}

/// Parses a pcap file.
pub fn parse(bytes: &[u8]) -> Result<Capture> {
    let header: [u8; 24] = bytes
        .get(..24)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| anyhow!("pcap: file shorter than the 24-byte header"))?;
    let magic = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let big_endian = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => false,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => true,
        _ => {
            return Err(anyhow!(
                "pcap: bad magic {magic:#010x} (pcapng is not supported)"
            ));
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
            .ok_or_else(|| anyhow!("pcap: record header truncated at byte {at}"))?;
        let incl = word(&h[8..12]) as usize;
        let data = bytes
            .get(at + 16..at + 16 + incl)
            .ok_or_else(|| anyhow!("pcap: record of {incl} bytes truncated at byte {at}"))?;
        records.push(Record {
            ts_sec: word(&h[0..4]),
            ts_frac: word(&h[4..8]),
            orig_len: word(&h[12..16]),
            data: data.to_vec(),
        });
        at += 16 + incl;
    }
    Ok(Capture {
        header,
        big_endian,
        records,
    })
}

/// Serialises records with the header (and byte order) of `like`.
pub fn write(like: &Capture, records: &[Record]) -> Vec<u8> {
    let mut out = like.header.to_vec();
    let put = |out: &mut Vec<u8>, v: u32| {
        out.extend_from_slice(&if like.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    for r in records {
        put(&mut out, r.ts_sec);
        put(&mut out, r.ts_frac);
        put(&mut out, r.data.len() as u32);
        put(&mut out, r.orig_len.max(r.data.len() as u32));
        out.extend_from_slice(&r.data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_little_and_big_endian() {
        for magic in [0xa1b2_c3d4u32.to_le_bytes(), 0xa1b2_c3d4u32.to_be_bytes()] {
            let mut header = [0u8; 24];
            header[..4].copy_from_slice(&magic);
            let cap = Capture {
                header,
                big_endian: magic[0] == 0xa1,
                records: vec![],
            };
            let recs = vec![Record {
                ts_sec: 1,
                ts_frac: 2,
                orig_len: 3,
                data: vec![9, 8, 7],
            }];
            let bytes = write(&cap, &recs);
            assert_eq!(bytes.len(), 24 + 16 + 3);
            assert_eq!(parse(&bytes).unwrap().records, recs);
        }
        assert!(parse(&[0; 10]).is_err());
    }
}
