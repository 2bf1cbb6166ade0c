//! Loading under a signature policy (`Loader::require_signature`): a signed
//! object loads and runs; altered, wrongly signed, unsigned and truncated
//! ones are refused before parsing.

mod common;
use common::*;

use std::path::{Path, PathBuf};

use oxbpf::{Error, Loader, SignError, TrustedKeys};
use oxbpf_sign::{FileKind, Malformed, SecretKey, signature_path};

/// A private directory holding a copy of the `percpu_count` example, so
/// tests can alter and sign it without touching other tests' files.
fn fixture(name: &str) -> (PathBuf, PathBuf, Vec<u8>) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("signing-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let obj = dir.join("percpu_count.o");
    let bytes = std::fs::read(example("percpu_count")).unwrap();
    std::fs::write(&obj, &bytes).unwrap();
    (dir, obj, bytes)
}

fn signer() -> SecretKey {
    SecretKey::from_seed([0x42; 32])
}

fn policy() -> Loader {
    Loader::new()
        .ncpus(1)
        .require_signature(TrustedKeys::new(vec![signer().public_key()]))
}

#[test]
fn signed_object_loads_and_runs_under_the_policy() {
    let (_dir, obj, bytes) = fixture("ok");
    signer()
        .sign_object(&bytes)
        .write(signature_path(&obj))
        .unwrap();
    let loaded = policy().load_file(&obj).unwrap();
    for engine in ENGINES {
        let out = loaded
            .program("percpu_count")
            .unwrap()
            .load(engine)
            .unwrap()
            .run_xdp(&ipv4_udp(b"x", 1, 2))
            .unwrap();
        assert_eq!(out.ret, 2, "XDP_PASS expected on {engine:?}");
    }
    // In memory too.
    let sig = signer().sign_object(&bytes);
    assert!(policy().load_signed(&bytes, &sig).is_ok());
}

#[test]
fn altered_byte_is_refused_before_parsing() {
    let (_dir, obj, bytes) = fixture("altered");
    signer()
        .sign_object(&bytes)
        .write(signature_path(&obj))
        .unwrap();
    // One byte in the middle (still a parseable ELF most likely) and the ELF
    // magic (unparseable): both must fail on the signature, never reach the
    // object parser.
    for at in [bytes.len() / 2, 0] {
        let mut altered = bytes.clone();
        altered[at] ^= 0x20;
        std::fs::write(&obj, &altered).unwrap();
        match policy().load_file(&obj) {
            Err(Error::Signature {
                source:
                    SignError::Mismatch {
                        object, keys: 1, ..
                    },
            }) => assert_eq!(object, obj),
            other => panic!("byte {at} altered: expected a mismatch, got {other:?}"),
        }
    }
}

#[test]
fn wrong_key_is_refused_and_a_second_trusted_key_accepts() {
    let (_dir, obj, bytes) = fixture("wrongkey");
    let other = SecretKey::from_seed([0x17; 32]);
    other
        .sign_object(&bytes)
        .write(signature_path(&obj))
        .unwrap();
    let err = policy().load_file(&obj).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Signature {
                source: SignError::Mismatch { .. }
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("percpu_count.o.sig") && msg.contains("does not match"),
        "{msg}"
    );
    let both = Loader::new()
        .ncpus(1)
        .require_signature(TrustedKeys::new(vec![
            signer().public_key(),
            other.public_key(),
        ]));
    assert!(both.load_file(&obj).is_ok());
}

#[test]
fn missing_signature_is_refused() {
    let (_dir, obj, _) = fixture("missing");
    match policy().load_file(&obj) {
        Err(Error::Signature {
            source: SignError::MissingSignature { object, signature },
        }) => {
            assert_eq!(object, obj);
            assert_eq!(signature, obj.with_file_name("percpu_count.o.sig"));
        }
        other => panic!("expected a missing signature, got {other:?}"),
    }
    // Bytes without a signature cannot pass the policy either.
    let bytes = std::fs::read(&obj).unwrap();
    assert!(matches!(
        policy().load(&bytes),
        Err(Error::SignatureUnavailable { .. })
    ));
}

#[test]
fn truncated_signature_file_is_refused() {
    let (_dir, obj, bytes) = fixture("truncated");
    let text = signer().sign_object(&bytes).to_text();
    // Header plus 100 of the 128 hex digits.
    std::fs::write(
        signature_path(&obj),
        &text[..text.find('\n').unwrap() + 101],
    )
    .unwrap();
    match policy().load_file(&obj) {
        Err(Error::Signature {
            source:
                SignError::Malformed {
                    kind: FileKind::Signature,
                    problem:
                        Malformed::Length {
                            expected: 128,
                            found: 100,
                        },
                    ..
                },
        }) => {}
        other => panic!("expected a truncated signature error, got {other:?}"),
    }
}

#[test]
fn without_a_policy_unsigned_objects_load_as_before() {
    let (_dir, obj, _) = fixture("nopolicy");
    assert!(Loader::new().ncpus(1).load_file(&obj).is_ok());
}
