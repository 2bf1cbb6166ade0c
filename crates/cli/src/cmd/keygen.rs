//! `oxbpf keygen --out KEY`: a new ed25519 key pair for signing objects.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use oxbpf_sign::SecretKey;

use crate::error::Result;

/// Arguments of `keygen`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  oxbpf keygen --out release.key
  oxbpf sign prog.o --key release.key
  oxbpf run prog.o --require-signature --trusted-key release.key.pub --data pkt.bin

Writes the secret key to KEY (mode 0600; an existing file is never
overwritten) and the public key to KEY.pub. Both are two lines of text: a
header (`oxbpf ed25519 secret key v1` or `oxbpf ed25519 public key v1`) and
the 32 bytes in hex (the RFC 8032 seed, or the public key). Keep KEY secret;
give KEY.pub to whoever loads your objects.

Prints `secret key: KEY`, `public key: KEY.pub` and the public key in hex.

Exit status: 0 written, 2 a file could not be written.")]
pub struct KeygenArgs {
    /// Secret key file to create; the public key goes to this path + `.pub`.
    #[arg(long, value_name = "KEY")]
    pub out: PathBuf,
}

/// `KEY` → `KEY.pub`.
fn pub_path(key: &Path) -> PathBuf {
    let mut s = key.as_os_str().to_os_string();
    s.push(".pub");
    PathBuf::from(s)
}

/// Runs `keygen`.
pub fn run(args: &KeygenArgs) -> Result<()> {
    let public_path = pub_path(&args.out);
    // Refuse before generating anything if the public key file would
    // silently replace another key's.
    if public_path.exists() {
        return Err(anyhow::anyhow!(
            "{} already exists; choose another --out or remove it",
            public_path.display()
        )
        .into());
    }
    let key = SecretKey::generate().context("cannot generate a key")?;
    key.write_new(&args.out)
        .context("cannot write the secret key")?;
    key.public_key()
        .write(&public_path)
        .context("cannot write the public key")?;
    println!("secret key: {}", args.out.display());
    println!("public key: {}", public_path.display());
    println!("ed25519: {}", super::hex(&key.public_key().to_bytes()));
    Ok(())
}
