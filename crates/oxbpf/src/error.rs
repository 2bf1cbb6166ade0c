//! The facade's error type.

use std::path::PathBuf;

use oxbpf_maps::MapError;
use oxbpf_runtime::context::CtxRewriteError;
use oxbpf_runtime::packet::PacketError;
use oxbpf_runtime::{EngineError, LoadError, Trapped};

/// Why loading, linking or running failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The object could not be parsed.
    #[error("object: {reason}")]
    Object { reason: String },
    /// A map could not be created or initialised.
    #[error("map {map}: {source}")]
    Map { map: String, source: MapError },
    /// A relocation names a map the object does not define.
    #[error("program {program}: insn {index}: relocation names map {map}, which does not exist")]
    UnknownMap {
        program: String,
        index: usize,
        map: usize,
    },
    /// A relocation does not sit on an `lddw`.
    #[error("program {program}: insn {index}: map relocation on an instruction that is not lddw")]
    RelocNotLddw { program: String, index: usize },
    /// A direct value access into a map that has no single value.
    #[error(
        "program {program}: insn {index}: direct value access into map {map}, which has no single value"
    )]
    NoDirectValue {
        program: String,
        index: usize,
        map: String,
    },
    /// Context accesses could not be rewritten.
    #[error("program {program}: {source}")]
    Context {
        program: String,
        source: CtxRewriteError,
    },
    /// The program's type has no such run (an XDP run of a tc program).
    #[error("program {program} is of type {kind:?}, which cannot take {run}")]
    WrongRun {
        program: String,
        kind: crate::ProgramKind,
        run: &'static str,
    },
    /// The runtime refused the program.
    #[error("program {program}: {source}")]
    Load { program: String, source: LoadError },
    /// The engine refused the program.
    #[error(transparent)]
    Engine {
        #[from]
        source: EngineError,
    },
    /// The input packet is unusable.
    #[error(transparent)]
    Packet {
        #[from]
        source: PacketError,
    },
    /// The run trapped.
    #[error("run trapped: {source}")]
    Trapped {
        #[from]
        source: Trapped,
    },
    /// The verifier rejected a program of the object (see
    /// [`Loader::verify`](crate::Loader::verify)).
    #[error("program {program} rejected by the verifier:\n{source}")]
    Verify {
        program: String,
        source: Box<oxbpf_verifier::VerifyError>,
    },
    /// Userspace XDP could not start (interface, sockets, steering).
    #[error("userspace xdp: {message}")]
    Userspace { message: String },
    /// No program or map of that name.
    #[error("no {what} named {name}")]
    NotFound { what: &'static str, name: String },
    /// A typed map handle does not fit the map.
    #[error("map {map}: {what} is {actual} bytes, the map has {expected}")]
    SizeMismatch {
        map: String,
        what: &'static str,
        expected: usize,
        actual: usize,
    },
    /// A typed handle of the wrong map type.
    #[error("map {map}: is a {kind} map, not {expected}")]
    WrongKind {
        map: String,
        kind: &'static str,
        expected: &'static str,
    },
    /// The signing policy refused the object.
    #[error(transparent)]
    Signature {
        #[from]
        source: oxbpf_sign::SignError,
    },
    /// The signing policy is set but the load has no signature to check.
    #[error(
        "a signature is required, but {what} carries none: load the file with load_file or use load_signed"
    )]
    SignatureUnavailable { what: &'static str },
}
