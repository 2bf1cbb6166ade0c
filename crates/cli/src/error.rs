//! Errors of the command and the exit status each maps to.

use std::fmt;

/// Exit status 1: the input was well-formed but the program or a check
/// failed (trap, load-time rejection, conformance failure).
pub const EXIT_FAILED: u8 = 1;
/// Exit status 2: usage error or malformed input (unreadable file, bad
/// assembly, bytes the decoder refuses, bad hex). Clap's own usage errors
/// exit 2 as well.
pub const EXIT_MALFORMED: u8 = 2;

/// An error with the exit status it ends the command with.
pub struct CliError {
    pub code: u8,
    pub error: anyhow::Error,
}

impl CliError {
    /// The program or a check failed: exit 1.
    pub fn failed(error: impl Into<anyhow::Error>) -> CliError {
        CliError {
            code: EXIT_FAILED,
            error: error.into(),
        }
    }

    /// Usage error or malformed input: exit 2.
    pub fn malformed(error: impl Into<anyhow::Error>) -> CliError {
        CliError {
            code: EXIT_MALFORMED,
            error: error.into(),
        }
    }
}

/// Anything not classified otherwise (mostly I/O on the user's files) is
/// malformed input.
impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> CliError {
        CliError::malformed(error)
    }
}

impl fmt::Debug for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {}: {:#}", self.code, self.error)
    }
}

/// Result of a command.
pub type Result<T> = std::result::Result<T, CliError>;
