//! `oxbpf sign FILE.o --key KEY` and `oxbpf verify-signature FILE.o
//! --trusted-key PUB`: detached ed25519 signatures over object files.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use oxbpf_sign::{SecretKey, SignError, Signature, TrustedKeys, signature_path};

use crate::cmd::hex;
use crate::error::{CliError, Result};

/// Arguments of `sign`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  oxbpf sign prog.o --key release.key
  oxbpf sign prog.o --key release.key --out signed/prog.o.sig

Signs the whole file: the signature covers the bytes `oxbpf object
signature v1` and a NUL, then every byte of FILE, so changing any byte of
the object breaks it. The signature is written as two lines of text (header
`oxbpf ed25519 signature v1`, then 64 bytes in hex) to FILE.sig, where
`oxbpf run --require-signature` and the library's
`Loader::require_signature` look for it.

Prints `signature: FILE.sig`.

Exit status: 0 signed, 2 unreadable or malformed key, unreadable object.")]
pub struct SignArgs {
    /// Object file to sign.
    pub file: PathBuf,
    /// Secret key file (from `oxbpf keygen`).
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Signature file to write (default FILE.sig).
    #[arg(long, value_name = "SIG")]
    pub out: Option<PathBuf>,
}

/// Arguments of `verify-signature`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  oxbpf verify-signature prog.o --trusted-key release.key.pub
  oxbpf verify-signature prog.o --trusted-key a.pub --trusted-key b.pub --signature prog.sig

Checks FILE against its detached signature (FILE.sig unless --signature)
and the trusted public keys; prints `ok: signed by <public key hex>`.

Exit status: 0 valid, 1 missing signature, altered object or untrusted
signer, 2 malformed key or signature file.")]
pub struct VerifyArgs {
    /// Object file to check.
    pub file: PathBuf,
    /// Trusted public key file (repeat for several).
    #[arg(long = "trusted-key", value_name = "PUB", required = true)]
    pub trusted_keys: Vec<PathBuf>,
    /// Signature file (default FILE.sig).
    #[arg(long, value_name = "SIG")]
    pub signature: Option<PathBuf>,
}

/// Maps a signing error to its exit status: the check failing (missing
/// signature, mismatch) is 1, broken inputs are 2.
pub fn sign_error(e: SignError) -> CliError {
    match e {
        SignError::MissingSignature { .. } | SignError::Mismatch { .. } => {
            CliError::failed(anyhow::Error::new(e).context("signature check failed"))
        }
        other => CliError::malformed(anyhow::Error::new(other)),
    }
}

/// Reads the trusted public key files (malformed ones exit 2).
pub fn trusted_keys(paths: &[PathBuf]) -> Result<TrustedKeys> {
    TrustedKeys::read(paths).map_err(|e| CliError::malformed(anyhow::Error::new(e)))
}

/// Runs `sign`.
pub fn run(args: &SignArgs) -> Result<()> {
    let key = SecretKey::read(&args.key).map_err(|e| CliError::malformed(anyhow::Error::new(e)))?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| signature_path(&args.file));
    key.sign_object(&bytes)
        .write(&out)
        .map_err(|e| CliError::malformed(anyhow::Error::new(e)))?;
    println!("signature: {}", out.display());
    Ok(())
}

/// Runs `verify-signature`.
pub fn verify(args: &VerifyArgs) -> Result<()> {
    let trusted = trusted_keys(&args.trusted_keys)?;
    let sig_path = args
        .signature
        .clone()
        .unwrap_or_else(|| signature_path(&args.file));
    let bytes = trusted
        .read_verified_with(&args.file, &sig_path)
        .map_err(sign_error)?;
    // read_verified_with checked it; find the signer to print it.
    let sig = Signature::read(&sig_path).map_err(sign_error)?;
    let signer = trusted.verify(&bytes, &sig).map_err(sign_error)?;
    println!("ok: signed by {}", hex(&signer.to_bytes()));
    Ok(())
}
