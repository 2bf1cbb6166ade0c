//! Checked mode and ring buffer records: a reserved record is a region of
//! exactly its size, submit and discard accept only an outstanding
//! reservation, and a submitted record can no longer be written; on every
//! engine. Programs are hand-assembled so each test is about one rule.

use oxbpf::{EngineKind, Error, Loader, MapImage, MapReloc, ObjectImage, ProgramImage};
use oxbpf_abi::Trap;
use oxbpf_isa::asm::assemble;
use oxbpf_maps::{MapKind, MapSpec, RingBuf};

const ENGINES: [EngineKind; 3] = [EngineKind::Interp, EngineKind::InterpFast, EngineKind::Jit];

/// Reserves an 8-byte record into r6 (returns 9 if the reservation fails).
const RESERVE: &str = "lddw %r1, map_fd 0\nmov %r2, 8\nmov %r3, 0\ncall 131\n\
                       jne %r0, 0, +2\nmov %r0, 9\nexit\nmov %r6, %r0\n";
const SUBMIT: &str = "mov %r1, %r6\nmov %r2, 0\ncall 132\n";
const DISCARD: &str = "mov %r1, %r6\nmov %r2, 0\ncall 133\n";

/// Runs `body` after RESERVE; returns the result and the records left in
/// the ring.
fn run(body: &str, engine: EngineKind) -> (Result<u32, Error>, Vec<Vec<u8>>) {
    let img = ObjectImage {
        programs: vec![ProgramImage {
            name: "p".into(),
            section: "xdp".into(),
            insns: assemble(&format!("{RESERVE}{body}mov %r0, 2\nexit")).unwrap(),
            relocs: vec![MapReloc::Map { insn: 0, map: 0 }],
            functions: vec![],
        }],
        maps: vec![MapImage {
            spec: MapSpec::new(MapKind::Ringbuf, 0, 0, 4096).with_name("rb"),
            init: None,
            readonly: false,
        }],
    };
    let obj = Loader::new().ncpus(1).load_image(img).unwrap();
    let r = obj
        .program("p")
        .unwrap()
        .load(engine)
        .unwrap()
        .run_xdp(&[0u8; 14])
        .map(|o| o.ret);
    let map = obj.map("rb").unwrap();
    let rb = map.as_any().downcast_ref::<RingBuf>().unwrap();
    let mut records = Vec::new();
    rb.consume(|rec| records.push(rec.to_vec()));
    (r, records)
}

fn trap_of(r: Result<u32, Error>) -> Trap {
    match r {
        Err(Error::Trapped { source }) => source.trap,
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn a_submitted_record_reaches_the_consumer() {
    for engine in ENGINES {
        let (r, recs) = run(&format!("stdw [%r6+0], 5\n{SUBMIT}"), engine);
        assert_eq!(r.unwrap(), 2, "{engine:?}");
        assert_eq!(recs, [5u64.to_ne_bytes().to_vec()], "{engine:?}");
        let (r, recs) = run(&format!("stdw [%r6+0], 5\n{DISCARD}"), engine);
        assert_eq!(r.unwrap(), 2, "{engine:?}");
        assert!(recs.is_empty(), "{engine:?}: discarded");
    }
}

#[test]
fn a_record_region_ends_at_the_reserved_size() {
    for engine in ENGINES {
        let (r, _) = run(&format!("stdw [%r6+8], 5\n{SUBMIT}"), engine);
        assert_eq!(trap_of(r), Trap::OutOfBounds, "{engine:?}");
        let (r, _) = run(&format!("stdw [%r6-8], 5\n{SUBMIT}"), engine);
        assert_eq!(
            trap_of(r),
            Trap::OutOfBounds,
            "{engine:?}: the header is not the program's"
        );
    }
}

#[test]
fn a_submitted_record_is_no_longer_writable() {
    for engine in ENGINES {
        let (r, _) = run(&format!("{SUBMIT}stdw [%r6+0], 1\n"), engine);
        assert_eq!(trap_of(r), Trap::OutOfBounds, "{engine:?}");
    }
}

#[test]
fn submit_and_discard_refuse_what_is_not_an_outstanding_reservation() {
    for engine in ENGINES {
        for body in [
            format!("{SUBMIT}{SUBMIT}"),
            format!("{DISCARD}{SUBMIT}"),
            format!("{SUBMIT}{DISCARD}"),
            // One byte into the record, and a stack pointer.
            format!("add %r6, 1\n{SUBMIT}"),
            format!("mov %r6, %r10\n{SUBMIT}"),
        ] {
            let (r, _) = run(&body, engine);
            assert_eq!(trap_of(r), Trap::HelperFault, "{engine:?}: {body}");
        }
    }
}
