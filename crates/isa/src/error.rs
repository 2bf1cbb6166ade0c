//! Errors of decoding and assembling.

use core::fmt;

/// Why a byte sequence is not a valid program. Every variant names the slot
/// index of the offending instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The program has no instructions.
    Empty,
    /// The byte length is not a multiple of 8.
    TrailingBytes { len: usize },
    /// The opcode byte is not an instruction of RFC 9669.
    UnknownOpcode { index: usize, opcode: u8 },
    /// A field the opcode does not use is not zero.
    ReservedField {
        index: usize,
        opcode: u8,
        field: &'static str,
        value: i64,
    },
    /// A register field names a register above r10.
    BadRegister {
        index: usize,
        field: &'static str,
        reg: u8,
    },
    /// A field holds a value the opcode does not allow (for example `end`
    /// with imm 17, or an `lddw` pseudo source above 6).
    BadField {
        index: usize,
        opcode: u8,
        field: &'static str,
        value: i64,
    },
    /// `lddw` at the last slot, without its second half.
    TruncatedLddw { index: usize },
    /// A jump or call leaves the program.
    JumpOutOfRange { index: usize, target: i64 },
    /// A jump or call lands on the second slot of an `lddw`.
    JumpIntoLddw { index: usize, target: usize },
}

impl DecodeError {
    /// The slot index of the offending instruction, if the error names one.
    pub fn index(&self) -> Option<usize> {
        match *self {
            DecodeError::Empty | DecodeError::TrailingBytes { .. } => None,
            DecodeError::UnknownOpcode { index, .. }
            | DecodeError::ReservedField { index, .. }
            | DecodeError::BadRegister { index, .. }
            | DecodeError::BadField { index, .. }
            | DecodeError::TruncatedLddw { index }
            | DecodeError::JumpOutOfRange { index, .. }
            | DecodeError::JumpIntoLddw { index, .. } => Some(index),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::Empty => write!(f, "program has no instructions"),
            DecodeError::TrailingBytes { len } => {
                write!(f, "program length {len} is not a multiple of 8 bytes")
            }
            DecodeError::UnknownOpcode { index, opcode } => {
                write!(f, "insn {index}: unknown opcode {opcode:#04x}")
            }
            DecodeError::ReservedField {
                index,
                opcode,
                field,
                value,
            } => write!(
                f,
                "insn {index}: opcode {opcode:#04x} requires field {field} to be 0, found {value}"
            ),
            DecodeError::BadRegister { index, field, reg } => {
                write!(
                    f,
                    "insn {index}: {field} register r{reg} does not exist (r0-r10)"
                )
            }
            DecodeError::BadField {
                index,
                opcode,
                field,
                value,
            } => write!(
                f,
                "insn {index}: opcode {opcode:#04x} does not allow {field} = {value}"
            ),
            DecodeError::TruncatedLddw { index } => {
                write!(f, "insn {index}: lddw is missing its second 8 bytes")
            }
            DecodeError::JumpOutOfRange { index, target } => {
                write!(
                    f,
                    "insn {index}: jump target {target} is outside the program"
                )
            }
            DecodeError::JumpIntoLddw { index, target } => write!(
                f,
                "insn {index}: jump target {target} is the second half of an lddw"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why assembly text is not a valid program. Lines and columns count from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AsmError {
    /// A syntax or operand error at a position in the source.
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// A jump or call names a label that is never defined.
    UndefinedLabel {
        line: usize,
        column: usize,
        label: String,
    },
    /// The same label is defined twice.
    DuplicateLabel { line: usize, label: String },
    /// The source contains no instructions.
    Empty,
    /// The assembled program is not valid bytecode.
    Decode(DecodeError),
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsmError::Syntax {
                line,
                column,
                message,
            } => write!(f, "line {line}, column {column}: {message}"),
            AsmError::UndefinedLabel {
                line,
                column,
                label,
            } => write!(f, "line {line}, column {column}: undefined label '{label}'"),
            AsmError::DuplicateLabel { line, label } => {
                write!(f, "line {line}: label '{label}' is already defined")
            }
            AsmError::Empty => write!(f, "no instructions in source"),
            AsmError::Decode(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for AsmError {}
