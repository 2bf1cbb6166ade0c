//! Detached ed25519 signatures over eBPF object files, and the trust policy
//! a loader applies before it parses an object.
//!
//! Linux's Hornet proposal has the kernel check a signature over a BPF
//! program before loading it; oxbpf does the same in user space: the signer
//! keeps a secret key, publishes its public key, and ships `prog.o` with a
//! detached `prog.o.sig`. A loader configured with one or more trusted
//! public keys refuses an object whose signature is missing, malformed, or
//! made by no trusted key — before a single byte of the ELF is parsed, so a
//! hostile object never reaches the parser.
//!
//! ```
//! use oxbpf_sign::{SecretKey, TrustedKeys};
//!
//! let key = SecretKey::generate()?;
//! let object = b"\x7fELF...";
//! let sig = key.sign_object(object);
//! let trusted = TrustedKeys::new(vec![key.public_key()]);
//! assert!(trusted.verify(object, &sig).is_ok());
//! assert!(trusted.verify(b"\x7fELF..,", &sig).is_err());
//! # Ok::<(), oxbpf_sign::SignError>(())
//! ```
//!
//! Design:
//!
//! - **What is signed**: the bytes `"oxbpf object signature v1\0"` followed
//!   by the whole object file. The prefix separates these signatures from
//!   any other use of the same key (a signature over some other message can
//!   never pass as an object signature); covering the whole file means that
//!   changing any byte — code, maps, BTF, padding — breaks the signature.
//! - **Algorithm**: pure ed25519 (RFC 8032) from `ed25519-dalek`, which
//!   rejects non-canonical and small-order signatures by its strict check
//!   ([`ed25519_dalek::VerifyingKey::verify_strict`]).
//! - **Files** are two lines of text, so they survive copy and paste and
//!   diff well: a header naming oxbpf, the algorithm and what the file holds,
//!   then lowercase hex. See [`SECRET_KEY_HEADER`], [`PUBLIC_KEY_HEADER`] and
//!   [`SIGNATURE_HEADER`]. Secret key files are written with mode 0600.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

/// The context every object signature covers before the object's bytes.
pub const OBJECT_CONTEXT: &[u8] = b"oxbpf object signature v1\0";
/// First line of a secret key file; the second is the 32-byte seed in hex.
pub const SECRET_KEY_HEADER: &str = "oxbpf ed25519 secret key v1";
/// First line of a public key file; the second is the 32-byte key in hex.
pub const PUBLIC_KEY_HEADER: &str = "oxbpf ed25519 public key v1";
/// First line of a signature file; the second is the 64-byte signature in hex.
pub const SIGNATURE_HEADER: &str = "oxbpf ed25519 signature v1";

/// Which kind of file a [`SignError::Malformed`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A secret key file.
    SecretKey,
    /// A public key file.
    PublicKey,
    /// A detached signature file.
    Signature,
}

impl FileKind {
    fn header(self) -> &'static str {
        match self {
            FileKind::SecretKey => SECRET_KEY_HEADER,
            FileKind::PublicKey => PUBLIC_KEY_HEADER,
            FileKind::Signature => SIGNATURE_HEADER,
        }
    }

    fn len(self) -> usize {
        match self {
            FileKind::SecretKey | FileKind::PublicKey => 32,
            FileKind::Signature => 64,
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::SecretKey => "secret key",
            FileKind::PublicKey => "public key",
            FileKind::Signature => "signature",
        })
    }
}

/// What is wrong with a key or signature file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// The first line is not the expected header.
    #[error("first line is {found:?}, expected {expected:?}")]
    Header {
        expected: &'static str,
        found: String,
    },
    /// The hex line is missing.
    #[error("no hex line after the header")]
    MissingData,
    /// The hex line has the wrong number of digits (a truncated file).
    #[error("hex line has {found} digits, expected {expected}")]
    Length { expected: usize, found: usize },
    /// A character of the hex line is not a lowercase or uppercase hex digit.
    #[error("character {position} of the hex line is not a hex digit")]
    Hex { position: usize },
    /// Non-empty lines follow the hex line.
    #[error("unexpected text after line 2")]
    Trailing,
    /// The 32 bytes are not a valid ed25519 public key (not a curve point).
    #[error("the bytes are not a valid ed25519 public key")]
    InvalidPublicKey,
}

/// Why signing or verifying failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The object has no detached signature next to it.
    #[error("{object} is unsigned: signature file {signature} does not exist")]
    MissingSignature { object: PathBuf, signature: PathBuf },
    /// A key or signature file could not be parsed.
    #[error("{kind} file {path}: {problem}")]
    Malformed {
        kind: FileKind,
        path: PathBuf,
        problem: Malformed,
    },
    /// The policy has no key to check against.
    #[error("signature required but no trusted key is configured")]
    NoTrustedKeys,
    /// The signature was made by no trusted key, or the object was altered.
    #[error(
        "signature {signature} does not match {object} under any of the {keys} trusted key(s): the object was altered or signed by another key"
    )]
    Mismatch {
        object: PathBuf,
        signature: PathBuf,
        keys: usize,
    },
    /// The operating system could not supply randomness for a new key.
    #[error("no randomness for a new key: {reason}")]
    Random { reason: String },
}

/// An ed25519 secret key (the 32-byte seed of RFC 8032 section 5.1.5).
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the seed.
        f.debug_struct("SecretKey")
            .field("public", &self.public_key())
            .finish()
    }
}

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<SecretKey, SignError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| SignError::Random {
            reason: e.to_string(),
        })?;
        Ok(SecretKey::from_seed(seed))
    }

    /// The key whose seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(SigningKey::from_bytes(&seed))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs the whole object file `object` (with [`OBJECT_CONTEXT`] first).
    pub fn sign_object(&self, object: &[u8]) -> Signature {
        Signature(self.0.sign(&object_message(object)))
    }

    /// The key file's text.
    pub fn to_text(&self) -> String {
        format!("{SECRET_KEY_HEADER}\n{}\n", hex(self.0.as_bytes()))
    }

    /// Parses a key file's text; `path` names the file in errors.
    pub fn from_text(text: &str, path: &Path) -> Result<SecretKey, SignError> {
        let seed = parse_file::<32>(text, path, FileKind::SecretKey)?;
        Ok(SecretKey::from_seed(seed))
    }

    /// Reads a secret key file.
    pub fn read(path: impl AsRef<Path>) -> Result<SecretKey, SignError> {
        let path = path.as_ref();
        SecretKey::from_text(&read_text(path)?, path)
    }

    /// Writes the key file at `path`, readable by its owner only (0600), and
    /// refuses to overwrite an existing file so a key is never lost by
    /// accident.
    pub fn write_new(&self, path: impl AsRef<Path>) -> Result<(), SignError> {
        let path = path.as_ref();
        let io = |source| SignError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(path).map_err(io)?;
        file.write_all(self.to_text().as_bytes()).map_err(io)
    }
}

/// An ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex(self.0.as_bytes()))
    }
}

impl PublicKey {
    /// The key's 32 bytes (RFC 8032 section 5.1.2 encoding).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The key file's text.
    pub fn to_text(&self) -> String {
        format!("{PUBLIC_KEY_HEADER}\n{}\n", hex(self.0.as_bytes()))
    }

    /// Parses a public key file's text; `path` names the file in errors.
    pub fn from_text(text: &str, path: &Path) -> Result<PublicKey, SignError> {
        let bytes = parse_file::<32>(text, path, FileKind::PublicKey)?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| SignError::Malformed {
                kind: FileKind::PublicKey,
                path: path.to_path_buf(),
                problem: Malformed::InvalidPublicKey,
            })
    }

    /// Reads a public key file.
    pub fn read(path: impl AsRef<Path>) -> Result<PublicKey, SignError> {
        let path = path.as_ref();
        PublicKey::from_text(&read_text(path)?, path)
    }

    /// Writes the public key file at `path`, replacing any file there.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), SignError> {
        write_file(path.as_ref(), &self.to_text())
    }
}

/// A detached ed25519 signature over an object file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(ed25519_dalek::Signature);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex(&self.0.to_bytes()))
    }
}

impl Signature {
    /// The signature file's text.
    pub fn to_text(&self) -> String {
        format!("{SIGNATURE_HEADER}\n{}\n", hex(&self.0.to_bytes()))
    }

    /// Parses a signature file's text; `path` names the file in errors.
    pub fn from_text(text: &str, path: &Path) -> Result<Signature, SignError> {
        let bytes = parse_file::<64>(text, path, FileKind::Signature)?;
        Ok(Signature(ed25519_dalek::Signature::from_bytes(&bytes)))
    }

    /// Reads a signature file.
    pub fn read(path: impl AsRef<Path>) -> Result<Signature, SignError> {
        let path = path.as_ref();
        Signature::from_text(&read_text(path)?, path)
    }

    /// Writes the signature file at `path`, replacing any file there.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), SignError> {
        write_file(path.as_ref(), &self.to_text())
    }
}

/// Where the detached signature of `object` lives: the same path with
/// `.sig` appended (`prog.o` → `prog.o.sig`).
pub fn signature_path(object: &Path) -> PathBuf {
    let mut s = object.as_os_str().to_os_string();
    s.push(".sig");
    PathBuf::from(s)
}

/// The public keys a loader trusts; an object must be signed by one of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
}

impl TrustedKeys {
    /// A policy trusting `keys`.
    pub fn new(keys: Vec<PublicKey>) -> TrustedKeys {
        TrustedKeys { keys }
    }

    /// Reads each public key file of `paths`.
    pub fn read<P: AsRef<Path>>(paths: &[P]) -> Result<TrustedKeys, SignError> {
        let keys = paths
            .iter()
            .map(PublicKey::read)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustedKeys { keys })
    }

    /// The trusted keys.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Checks `signature` over the object bytes `object`; returns the key
    /// that made it. Errors name the object and signature as `<memory>`.
    pub fn verify(&self, object: &[u8], signature: &Signature) -> Result<PublicKey, SignError> {
        let memory = Path::new("<memory>");
        self.verify_named(object, signature, memory, memory)
    }

    /// As [`TrustedKeys::verify`], naming the object and signature files in
    /// errors.
    pub fn verify_named(
        &self,
        object: &[u8],
        signature: &Signature,
        object_path: &Path,
        signature_path: &Path,
    ) -> Result<PublicKey, SignError> {
        if self.keys.is_empty() {
            return Err(SignError::NoTrustedKeys);
        }
        let message = object_message(object);
        self.keys
            .iter()
            .find(|k| k.0.verify_strict(&message, &signature.0).is_ok())
            .copied()
            .ok_or_else(|| SignError::Mismatch {
                object: object_path.to_path_buf(),
                signature: signature_path.to_path_buf(),
                keys: self.keys.len(),
            })
    }

    /// Reads the object at `object_path` and its detached signature
    /// ([`signature_path`]), checks the signature and returns the object's
    /// bytes — the very bytes that were checked, so the caller parses
    /// nothing the policy has not seen.
    pub fn read_verified(&self, object_path: &Path) -> Result<Vec<u8>, SignError> {
        let sig_path = signature_path(object_path);
        self.read_verified_with(object_path, &sig_path)
    }

    /// As [`TrustedKeys::read_verified`] with the signature at `sig_path`.
    pub fn read_verified_with(
        &self,
        object_path: &Path,
        sig_path: &Path,
    ) -> Result<Vec<u8>, SignError> {
        if self.keys.is_empty() {
            return Err(SignError::NoTrustedKeys);
        }
        let object = std::fs::read(object_path).map_err(|source| SignError::Io {
            path: object_path.to_path_buf(),
            source,
        })?;
        let text = match std::fs::read_to_string(sig_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SignError::MissingSignature {
                    object: object_path.to_path_buf(),
                    signature: sig_path.to_path_buf(),
                });
            }
            Err(source) => {
                return Err(SignError::Io {
                    path: sig_path.to_path_buf(),
                    source,
                });
            }
        };
        let signature = Signature::from_text(&text, sig_path)?;
        self.verify_named(&object, &signature, object_path, sig_path)?;
        Ok(object)
    }
}

fn object_message(object: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(OBJECT_CONTEXT.len() + object.len());
    m.extend_from_slice(OBJECT_CONTEXT);
    m.extend_from_slice(object);
    m
}

fn read_text(path: &Path) -> Result<String, SignError> {
    std::fs::read_to_string(path).map_err(|source| SignError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write_file(path: &Path, text: &str) -> Result<(), SignError> {
    std::fs::write(path, text).map_err(|source| SignError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

fn parse_file<const N: usize>(
    text: &str,
    path: &Path,
    kind: FileKind,
) -> Result<[u8; N], SignError> {
    debug_assert_eq!(kind.len(), N);
    debug_assert!(2 * N <= 128);
    parse_lines::<N>(text, kind).map_err(|problem| SignError::Malformed {
        kind,
        path: path.to_path_buf(),
        problem,
    })
}

fn parse_lines<const N: usize>(text: &str, kind: FileKind) -> Result<[u8; N], Malformed> {
    let mut lines = text.lines().map(str::trim_end);
    let header = lines.next().unwrap_or("");
    if header != kind.header() {
        return Err(Malformed::Header {
            expected: kind.header(),
            found: header.chars().take(64).collect(),
        });
    }
    let data = lines.next().ok_or(Malformed::MissingData)?.trim();
    if lines.any(|l| !l.trim().is_empty()) {
        return Err(Malformed::Trailing);
    }
    let digits = data.chars().count();
    if digits != 2 * N {
        return Err(Malformed::Length {
            expected: 2 * N,
            found: digits,
        });
    }
    // Digits are checked as characters, so a non-ASCII character is
    // reported at its position rather than split mid-byte.
    let mut nibbles = [0u8; 128];
    for (i, c) in data.chars().enumerate() {
        nibbles[i] = u8::try_from(c)
            .ok()
            .and_then(hex_digit)
            .ok_or(Malformed::Hex { position: i + 1 })?;
    }
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = (nibbles[2 * i] << 4) | nibbles[2 * i + 1];
    }
    Ok(out)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}
