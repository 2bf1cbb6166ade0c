//! Errors of reading data files and directories.

use std::path::PathBuf;

/// A `.data` file that cannot be read or does not follow the format. Every
/// variant names the file, and the line where the line is known.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The file cannot be read.
    #[error("{}: cannot read: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// A `-- name` line names no section of the format.
    #[error("{}:{line}: unknown section '-- {name}'", path.display())]
    UnknownSection {
        path: PathBuf,
        line: usize,
        name: String,
    },
    /// A section is opened a second time.
    #[error("{}:{line}: section '-- {name}' appears twice", path.display())]
    DuplicateSection {
        path: PathBuf,
        line: usize,
        name: String,
    },
    /// A line that is not a comment comes before the first section.
    #[error("{}:{line}: text before the first section", path.display())]
    TextOutsideSection { path: PathBuf, line: usize },
    /// A `-- raw` token is neither a `0x` 64-bit word nor one of 8 bytes.
    #[error("{}:{line}: bad token '{token}' in -- raw", path.display())]
    BadRawToken {
        path: PathBuf,
        line: usize,
        token: String,
    },
    /// A `-- mem` token is not a hex byte.
    #[error("{}:{line}: bad byte '{token}' in -- mem", path.display())]
    BadMemByte {
        path: PathBuf,
        line: usize,
        token: String,
    },
    /// A `-- result` token is not a number.
    #[error("{}:{line}: bad value '{token}' in -- result", path.display())]
    BadResult {
        path: PathBuf,
        line: usize,
        token: String,
    },
    /// `-- result` holds more than one value.
    #[error("{}:{line}: second value in -- result (first on line {first_line})", path.display())]
    ExtraResult {
        path: PathBuf,
        line: usize,
        first_line: usize,
    },
}

/// A directory of data files that cannot be listed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DirError {
    /// The directory cannot be read.
    #[error("{}: cannot list directory: {message}", path.display())]
    Read { path: PathBuf, message: String },
    /// The directory holds no `.data` file.
    #[error("{}: no .data files", path.display())]
    NoDataFiles { path: PathBuf },
}
