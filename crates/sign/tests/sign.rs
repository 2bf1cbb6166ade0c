//! Signing and verification of object bytes and the key/signature files.

use std::path::{Path, PathBuf};

use oxbpf_sign::{
    FileKind, Malformed, PublicKey, SecretKey, SignError, Signature, TrustedKeys, signature_path,
};

fn tmpdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("oxbpf-sign-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const OBJECT: &[u8] = b"\x7fELF\x02\x01\x01\0 pretend object bytes";

#[test]
fn signed_bytes_verify_under_the_signing_key() {
    let key = SecretKey::from_seed([7; 32]);
    let sig = key.sign_object(OBJECT);
    let trusted = TrustedKeys::new(vec![key.public_key()]);
    assert_eq!(trusted.verify(OBJECT, &sig).unwrap(), key.public_key());
}

#[test]
fn every_altered_byte_is_refused() {
    let key = SecretKey::from_seed([1; 32]);
    let sig = key.sign_object(OBJECT);
    let trusted = TrustedKeys::new(vec![key.public_key()]);
    for i in 0..OBJECT.len() {
        let mut altered = OBJECT.to_vec();
        altered[i] ^= 0x01;
        assert!(
            matches!(
                trusted.verify(&altered, &sig),
                Err(SignError::Mismatch { keys: 1, .. })
            ),
            "byte {i} altered yet accepted"
        );
    }
    // Appending or dropping bytes breaks it too.
    let mut longer = OBJECT.to_vec();
    longer.push(0);
    assert!(trusted.verify(&longer, &sig).is_err());
    assert!(trusted.verify(&OBJECT[..OBJECT.len() - 1], &sig).is_err());
}

#[test]
fn signature_is_domain_separated_from_plain_ed25519_over_the_bytes() {
    // A signature over the raw bytes (no context prefix) must not pass, so a
    // key used elsewhere cannot be tricked into signing objects.
    use ed25519_dalek::Signer;
    let seed = [3; 32];
    let raw = ed25519_dalek::SigningKey::from_bytes(&seed).sign(OBJECT);
    let text = format!(
        "oxbpf ed25519 signature v1\n{}\n",
        raw.to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let sig = Signature::from_text(&text, Path::new("raw.sig")).unwrap();
    let trusted = TrustedKeys::new(vec![SecretKey::from_seed(seed).public_key()]);
    assert!(matches!(
        trusted.verify(OBJECT, &sig),
        Err(SignError::Mismatch { .. })
    ));
}

#[test]
fn wrong_key_is_refused_and_any_trusted_key_accepts() {
    let signer = SecretKey::from_seed([1; 32]);
    let other = SecretKey::from_seed([2; 32]);
    let sig = signer.sign_object(OBJECT);
    let only_other = TrustedKeys::new(vec![other.public_key()]);
    assert!(matches!(
        only_other.verify(OBJECT, &sig),
        Err(SignError::Mismatch { keys: 1, .. })
    ));
    let both = TrustedKeys::new(vec![other.public_key(), signer.public_key()]);
    assert_eq!(both.verify(OBJECT, &sig).unwrap(), signer.public_key());
    assert!(matches!(
        TrustedKeys::default().verify(OBJECT, &sig),
        Err(SignError::NoTrustedKeys)
    ));
}

#[test]
fn key_and_signature_files_round_trip() {
    let dir = tmpdir("roundtrip");
    let key = SecretKey::generate().unwrap();
    let kp = dir.join("k");
    key.write_new(&kp).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kp).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // A second write must not overwrite the key.
    assert!(matches!(key.write_new(&kp), Err(SignError::Io { .. })));
    let back = SecretKey::read(&kp).unwrap();
    assert_eq!(back.public_key(), key.public_key());
    let pp = dir.join("k.pub");
    key.public_key().write(&pp).unwrap();
    assert_eq!(PublicKey::read(&pp).unwrap(), key.public_key());
    let text = std::fs::read_to_string(&pp).unwrap();
    assert!(text.starts_with("oxbpf ed25519 public key v1\n"));
    assert_eq!(text.lines().nth(1).unwrap().len(), 64);
    let sp = dir.join("o.sig");
    let sig = key.sign_object(OBJECT);
    sig.write(&sp).unwrap();
    assert_eq!(Signature::read(&sp).unwrap(), sig);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ed25519_matches_rfc8032_test_vector_1() {
    // RFC 8032 section 7.1, TEST 1: the empty message. Our object signatures
    // prefix a context, so check the key derivation here, which decides
    // whether public key files interoperate with other ed25519 tools.
    let seed: [u8; 32] = unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    let public: [u8; 32] =
        unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    assert_eq!(SecretKey::from_seed(seed).public_key().to_bytes(), public);
}

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn malformed(r: Result<impl std::fmt::Debug, SignError>) -> (FileKind, Malformed) {
    match r {
        Err(SignError::Malformed { kind, problem, .. }) => (kind, problem),
        other => panic!("expected a malformed-file error, got {other:?}"),
    }
}

#[test]
fn malformed_files_say_what_is_wrong() {
    let p = Path::new("x");
    let sig = SecretKey::from_seed([9; 32]).sign_object(OBJECT).to_text();
    // Truncated signature: the hex line cut short.
    let truncated = &sig[..sig.len() - 11];
    assert_eq!(
        malformed(Signature::from_text(truncated, p)),
        (
            FileKind::Signature,
            Malformed::Length {
                expected: 128,
                found: 118
            }
        )
    );
    assert_eq!(
        malformed(Signature::from_text("oxbpf ed25519 signature v1\n", p)),
        (FileKind::Signature, Malformed::MissingData)
    );
    assert_eq!(
        malformed(Signature::from_text("", p)).1,
        Malformed::Header {
            expected: "oxbpf ed25519 signature v1",
            found: String::new()
        }
    );
    // A public key given where a signature is expected.
    let pubtext = SecretKey::from_seed([9; 32]).public_key().to_text();
    assert!(matches!(
        malformed(Signature::from_text(&pubtext, p)).1,
        Malformed::Header { .. }
    ));
    let bad_digit = pubtext.replacen(
        "oxbpf ed25519 public key v1\n",
        "oxbpf ed25519 public key v1\nz",
        1,
    );
    let bad_digit: String = {
        let mut lines: Vec<&str> = bad_digit.lines().collect();
        let l = &lines[1][..64];
        lines[1] = l;
        lines.join("\n")
    };
    assert_eq!(
        malformed(PublicKey::from_text(&bad_digit, p)),
        (FileKind::PublicKey, Malformed::Hex { position: 1 })
    );
    let non_ascii = format!("oxbpf ed25519 public key v1\n{}é\n", "0".repeat(63));
    assert_eq!(
        malformed(PublicKey::from_text(&non_ascii, p)).1,
        Malformed::Hex { position: 64 }
    );
    let trailing = format!("{pubtext}more\n");
    assert_eq!(
        malformed(PublicKey::from_text(&trailing, p)).1,
        Malformed::Trailing
    );
    let key = SecretKey::from_seed([9; 32]).to_text();
    assert!(matches!(
        malformed(PublicKey::from_text(&key, p)),
        (FileKind::PublicKey, Malformed::Header { .. })
    ));
}

#[test]
fn read_verified_reports_missing_and_truncated_signatures() {
    let dir = tmpdir("files");
    let key = SecretKey::from_seed([5; 32]);
    let trusted = TrustedKeys::new(vec![key.public_key()]);
    let obj = dir.join("prog.o");
    std::fs::write(&obj, OBJECT).unwrap();
    let sig = signature_path(&obj);
    assert_eq!(sig, dir.join("prog.o.sig"));
    match trusted.read_verified(&obj) {
        Err(SignError::MissingSignature { object, signature }) => {
            assert_eq!(object, obj);
            assert_eq!(signature, sig);
        }
        other => panic!("expected missing signature, got {other:?}"),
    }
    let text = key.sign_object(OBJECT).to_text();
    std::fs::write(&sig, &text[..40]).unwrap();
    let err = trusted.read_verified(&obj).unwrap_err();
    assert!(
        matches!(
            err,
            SignError::Malformed {
                kind: FileKind::Signature,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("prog.o.sig"), "{err}");
    std::fs::write(&sig, &text).unwrap();
    assert_eq!(trusted.read_verified(&obj).unwrap(), OBJECT);
    std::fs::remove_dir_all(&dir).unwrap();
}
