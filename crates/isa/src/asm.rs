//! The assembler for the bpf_conformance text dialect.
//!
//! One instruction per line, `#` starts a comment, `name:` defines a label
//! (an instruction may follow it on the same line). Operands are separated by
//! commas:
//!
//! ```text
//! mov32 %r0, 1            add %r1, %r2          neg %r3
//! movsx1664 %r0, %r1      sdiv32 %r0, -3        le16 %r0 / be64 / bswap32
//! ldxw %r1, [%r1+4]       ldxsb %r0, [%r10-1]   stdw [%r10-8], 0x11
//! stxb [%r1], %r2         lock fetch add32 [%r10-8], %r1
//! lock xchg [%r1], %r2    lock cmpxchg [%r1+8], %r2
//! lddw %r0, 0x1122334455667788
//! lddw %r1, map_fd 3      lddw %r1, map_value 3, 16      lddw %r2, func f
//! ja done / ja +2         ja32 far / gotol far  jeq32 %r1, %r2, -3
//! call 5 / call %r2       call local f          call runtime 1234
//! ldabsw 12               ldindh %r1, 2         exit
//! ```
//!
//! Immediates are decimal (range of `i32`) or hex (any 32-bit pattern, so
//! `0xffffffff` is -1), with a sign allowed; offsets likewise for 16 bits.
//! Jump targets are labels or signed offsets `+N` / `-N`. As in the
//! bpf_conformance assembler, the first `exit` instruction is also the
//! label `exit` unless a label of that name is defined.
//!
//! The assembled program is checked like decoded bytecode (every jump and
//! local call must land on an instruction of the program), and errors name
//! the line and column of the fault.

use std::collections::HashMap;

use crate::decode::{check_targets, decode_each};
use crate::encode::encode;
use crate::{
    AluOp, AsmError, AtomicOp, CallTarget, DecodeError, Endian, Insn, JmpCond, LddwSrc, Operand,
    Reg, Size, Width,
};

/// Assembles source text into a slot-indexed program.
///
/// ```
/// use oxbpf_isa::{asm::assemble, Insn};
/// let p = assemble("mov32 %r0, 1\nexit").unwrap();
/// assert_eq!(p.len(), 2);
/// assert_eq!(p[1], Insn::Exit);
/// assert!(assemble("mov32 %r0, %r11").is_err());
/// ```
pub fn assemble(source: &str) -> Result<Vec<Insn>, AsmError> {
    let mut asm = Assembler::default();
    for (n, text) in source.lines().enumerate() {
        asm.line(n + 1, text)?;
    }
    asm.finish()
}

/// Assembles like [`assemble`] but leaves out the check of where jumps and
/// calls lead, so that a verifier can report a jump out of the program or
/// into an `lddw` itself (every instruction is still checked on its own).
pub fn assemble_unchecked(source: &str) -> Result<Vec<Insn>, AsmError> {
    let mut asm = Assembler {
        unchecked_targets: true,
        ..Assembler::default()
    };
    for (n, text) in source.lines().enumerate() {
        asm.line(n + 1, text)?;
    }
    asm.finish()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ident,
    Reg,
    Num,
    Comma,
    Open,
    Close,
    Colon,
    Plus,
    Minus,
}

#[derive(Clone, Copy, Debug)]
struct Tok<'a> {
    kind: Kind,
    text: &'a str,
    /// Byte offset in the line, to quote operands as written.
    pos: usize,
    col: usize,
}

/// A reference to a label, resolved once all lines are read.
#[derive(Debug)]
struct Fixup {
    label: String,
    col: usize,
}

#[derive(Debug)]
struct Pending {
    insn: Insn,
    line: usize,
    col: usize,
    /// Column of the jump target operand, for errors about where it leads.
    target_col: Option<usize>,
    fixup: Option<Fixup>,
}

#[derive(Debug, Default)]
struct Assembler {
    insns: Vec<Pending>,
    /// Label name to slot.
    labels: HashMap<String, usize>,
    /// Slot of the first `exit`, the implicit `exit` label.
    first_exit: Option<usize>,
    slots: usize,
    /// Skip [`check_targets`] (see [`assemble_unchecked`]).
    unchecked_targets: bool,
}

fn syntax(line: usize, column: usize, message: impl Into<String>) -> AsmError {
    AsmError::Syntax {
        line,
        column,
        message: message.into(),
    }
}

/// Splits a line (comment already removed) into tokens.
fn lex(line: usize, text: &str) -> Result<Vec<Tok<'_>>, AsmError> {
    let bytes = text.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    while i < bytes.len() {
        let b = bytes[i];
        let col = text[..i].chars().count() + 1;
        let start = i;
        let kind = match b {
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b',' => Kind::Comma,
            b'[' => Kind::Open,
            b']' => Kind::Close,
            b':' => Kind::Colon,
            b'+' => Kind::Plus,
            b'-' => Kind::Minus,
            b'%' => {
                i += 1;
                while i < bytes.len() && word(bytes[i]) {
                    i += 1;
                }
                toks.push(Tok {
                    kind: Kind::Reg,
                    text: &text[start..i],
                    pos: start,
                    col,
                });
                continue;
            }
            b if b.is_ascii_digit() || b.is_ascii_alphabetic() || b == b'_' || b == b'.' => {
                while i < bytes.len() && word(bytes[i]) {
                    i += 1;
                }
                let kind = if b.is_ascii_digit() {
                    Kind::Num
                } else {
                    Kind::Ident
                };
                toks.push(Tok {
                    kind,
                    text: &text[start..i],
                    pos: start,
                    col,
                });
                continue;
            }
            _ => {
                let c = text[i..].chars().next().unwrap_or('?');
                return Err(syntax(line, col, format!("unexpected character '{c}'")));
            }
        };
        i += 1;
        toks.push(Tok {
            kind,
            text: &text[start..i],
            pos: start,
            col,
        });
    }
    Ok(toks)
}

/// The shape of an instruction as named by its mnemonic.
#[derive(Clone, Copy, Debug)]
enum Form {
    Alu(AluOp, Width),
    End(Endian, u8),
    Ja { wide: bool },
    Jmp(JmpCond, Width),
    Call,
    Exit,
    Load(Size, bool),
    Store(Size),
    StoreX(Size),
    Lddw,
    LdAbs(Size),
    LdInd(Size),
}

fn size_suffix(s: &str) -> Option<Size> {
    Some(match s {
        "b" => Size::B,
        "h" => Size::H,
        "w" => Size::W,
        "dw" => Size::DW,
        _ => return None,
    })
}

fn alu_op(stem: &str) -> Option<AluOp> {
    Some(match stem {
        "add" => AluOp::Add,
        "sub" => AluOp::Sub,
        "mul" => AluOp::Mul,
        "div" => AluOp::Div,
        "sdiv" => AluOp::SDiv,
        "or" => AluOp::Or,
        "and" => AluOp::And,
        "lsh" => AluOp::Lsh,
        "rsh" => AluOp::Rsh,
        "neg" => AluOp::Neg,
        "mod" => AluOp::Mod,
        "smod" => AluOp::SMod,
        "xor" => AluOp::Xor,
        "mov" => AluOp::Mov,
        "arsh" => AluOp::Arsh,
        _ => return None,
    })
}

fn jmp_cond(stem: &str) -> Option<JmpCond> {
    Some(match stem {
        "jeq" => JmpCond::Eq,
        "jgt" => JmpCond::Gt,
        "jge" => JmpCond::Ge,
        "jset" => JmpCond::Set,
        "jne" => JmpCond::Ne,
        "jsgt" => JmpCond::Sgt,
        "jsge" => JmpCond::Sge,
        "jlt" => JmpCond::Lt,
        "jle" => JmpCond::Le,
        "jslt" => JmpCond::Slt,
        "jsle" => JmpCond::Sle,
        _ => return None,
    })
}

fn form(m: &str) -> Option<Form> {
    // movsx names carry source and class width: movsx<from><class>.
    let movsx = match m {
        "movsx832" => Some((AluOp::MovSx8, Width::W32)),
        "movsx1632" => Some((AluOp::MovSx16, Width::W32)),
        "movsx864" => Some((AluOp::MovSx8, Width::W64)),
        "movsx1664" => Some((AluOp::MovSx16, Width::W64)),
        "movsx3264" => Some((AluOp::MovSx32, Width::W64)),
        _ => None,
    };
    if let Some((op, w)) = movsx {
        return Some(Form::Alu(op, w));
    }
    let (stem, width) = match m.strip_suffix("32") {
        Some(stem) => (stem, Width::W32),
        None => (m, Width::W64),
    };
    if let Some(op) = alu_op(stem) {
        return Some(Form::Alu(op, width));
    }
    if let Some(cond) = jmp_cond(stem) {
        return Some(Form::Jmp(cond, width));
    }
    for (prefix, kind) in [
        ("le", Endian::ToLe),
        ("be", Endian::ToBe),
        ("bswap", Endian::Swap),
        ("swap", Endian::Swap),
    ] {
        if let Some(bits) = m.strip_prefix(prefix) {
            return match bits {
                "16" => Some(Form::End(kind, 16)),
                "32" => Some(Form::End(kind, 32)),
                "64" => Some(Form::End(kind, 64)),
                _ => None,
            };
        }
    }
    if let Some(s) = m.strip_prefix("ldxs") {
        return size_suffix(s)
            .filter(|s| *s != Size::DW)
            .map(|s| Form::Load(s, true));
    }
    if let Some(s) = m.strip_prefix("ldx") {
        return size_suffix(s).map(|s| Form::Load(s, false));
    }
    if let Some(s) = m.strip_prefix("stx") {
        return size_suffix(s).map(Form::StoreX);
    }
    if let Some(s) = m.strip_prefix("ldabs") {
        return size_suffix(s).filter(|s| *s != Size::DW).map(Form::LdAbs);
    }
    if let Some(s) = m.strip_prefix("ldind") {
        return size_suffix(s).filter(|s| *s != Size::DW).map(Form::LdInd);
    }
    Some(match m {
        "ja" => Form::Ja { wide: false },
        "ja32" | "gotol" => Form::Ja { wide: true },
        "call" => Form::Call,
        "exit" => Form::Exit,
        "lddw" => Form::Lddw,
        _ => match m.strip_prefix("st").and_then(size_suffix) {
            Some(s) => Form::Store(s),
            None => return None,
        },
    })
}

fn atomic_op(m: &str) -> Option<(AtomicOp, Size)> {
    let (stem, size) = match m.strip_suffix("32") {
        Some(stem) => (stem, Size::W),
        None => (m, Size::DW),
    };
    let op = match stem {
        "add" => AtomicOp::Add,
        "or" => AtomicOp::Or,
        "and" => AtomicOp::And,
        "xor" => AtomicOp::Xor,
        "xchg" => AtomicOp::Xchg,
        "cmpxchg" => AtomicOp::CmpXchg,
        _ => return None,
    };
    Some((op, size))
}

/// A number's magnitude as written, and whether it was hex.
fn number(tok: &Tok<'_>) -> Result<(u128, bool), String> {
    let t = tok.text;
    let (digits, radix) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(d) => (d, 16),
        None => (t, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(format!("invalid number '{t}'"));
    }
    let mut v: u128 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix).unwrap_or(0) as u128;
        v = v
            .checked_mul(radix as u128)
            .and_then(|v| v.checked_add(d))
            .ok_or_else(|| format!("number '{t}' is too large"))?;
    }
    Ok((v, radix == 16))
}

/// Operand parsing for one line.
struct LineCx<'a> {
    line: usize,
    /// The line without its comment.
    code: &'a str,
    mnemonic: &'a str,
    /// Column just past the last token, for "missing operand" errors.
    end_col: usize,
}

/// A parsed signed number: sign, magnitude, hex, column.
struct Signed {
    neg: bool,
    mag: u128,
    hex: bool,
    col: usize,
    text: String,
}

impl LineCx<'_> {
    fn err(&self, col: usize, msg: impl Into<String>) -> AsmError {
        syntax(self.line, col, msg)
    }

    fn col_of(&self, group: &[Tok<'_>]) -> usize {
        group.first().map_or(self.end_col, |t| t.col)
    }

    /// An operand as written, quoted, for error messages.
    fn found(&self, group: &[Tok<'_>]) -> String {
        match (group.first(), group.last()) {
            (Some(a), Some(b)) => {
                let text = self.code.get(a.pos..b.pos + b.text.len()).unwrap_or(a.text);
                format!("'{text}'")
            }
            _ => "nothing".to_string(),
        }
    }

    fn expect_count(
        &self,
        groups: &[&[Tok<'_>]],
        want: &[usize],
        col: usize,
    ) -> Result<(), AsmError> {
        if want.contains(&groups.len()) {
            return Ok(());
        }
        let expected = match want {
            [n] => n.to_string(),
            [a, b] => format!("{a} or {b}"),
            _ => format!("{want:?}"),
        };
        Err(self.err(
            col,
            format!(
                "wrong number of operands for '{}': expected {expected}, found {}",
                self.mnemonic,
                groups.len()
            ),
        ))
    }

    fn reg(&self, group: &[Tok<'_>]) -> Result<Reg, AsmError> {
        match group {
            [t] if t.kind == Kind::Reg => self.reg_tok(t),
            _ => Err(self.err(
                self.col_of(group),
                format!("expected a register, found {}", self.found(group)),
            )),
        }
    }

    fn reg_tok(&self, t: &Tok<'_>) -> Result<Reg, AsmError> {
        t.text
            .strip_prefix("%r")
            .filter(|n| n == &"0" || !n.starts_with('0'))
            .and_then(|n| n.parse::<u8>().ok())
            .and_then(Reg::new)
            .ok_or_else(|| {
                self.err(
                    t.col,
                    format!("invalid register '{}' (registers are %r0 to %r10)", t.text),
                )
            })
    }

    /// `[+|-]number` filling the whole group.
    fn signed(&self, group: &[Tok<'_>], what: &str) -> Result<Signed, AsmError> {
        let (neg, rest) = match group.first().map(|t| t.kind) {
            Some(Kind::Minus) => (true, &group[1..]),
            Some(Kind::Plus) => (false, &group[1..]),
            _ => (false, group),
        };
        match rest {
            [t] if t.kind == Kind::Num => {
                let (mag, hex) = number(t).map_err(|m| self.err(t.col, m))?;
                let col = self.col_of(group);
                let text = format!("{}{}", if neg { "-" } else { "" }, t.text);
                Ok(Signed {
                    neg,
                    mag,
                    hex,
                    col,
                    text,
                })
            }
            _ => Err(self.err(
                self.col_of(group),
                format!("expected {what}, found {}", self.found(group)),
            )),
        }
    }

    /// A value of `bits` bits: decimal within the signed range, hex up to
    /// the full unsigned pattern (as the suite's assembler reads them).
    fn fixed(&self, n: &Signed, bits: u32, what: &str) -> Result<i64, AsmError> {
        let half = 1u128 << (bits - 1);
        let ok = if n.neg {
            n.mag <= half
        } else if n.hex {
            n.mag < half << 1
        } else {
            n.mag < half
        };
        if !ok {
            return Err(self.err(
                n.col,
                format!("{what} {} is out of {bits}-bit range", n.text),
            ));
        }
        let v = n.mag as i128;
        let v = if n.neg { -v } else { v };
        // Wrap hex patterns above the signed maximum to their signed value.
        let v = if v >= half as i128 {
            v - (half << 1) as i128
        } else {
            v
        };
        Ok(v as i64)
    }

    fn imm32(&self, group: &[Tok<'_>]) -> Result<i32, AsmError> {
        let n = self.signed(group, "an immediate")?;
        Ok(self.fixed(&n, 32, "immediate")? as i32)
    }

    fn imm64(&self, group: &[Tok<'_>]) -> Result<u64, AsmError> {
        let n = self.signed(group, "an immediate")?;
        let ok = if n.neg {
            n.mag <= 1 << 63
        } else {
            n.mag <= u64::MAX as u128
        };
        if !ok {
            return Err(self.err(
                n.col,
                format!("immediate {} is out of 64-bit range", n.text),
            ));
        }
        Ok(if n.neg {
            (n.mag as u64).wrapping_neg()
        } else {
            n.mag as u64
        })
    }

    fn operand(&self, group: &[Tok<'_>]) -> Result<Operand, AsmError> {
        match group.first() {
            Some(t) if t.kind == Kind::Reg => Ok(Operand::Reg(self.reg(group)?)),
            _ => Ok(Operand::Imm(self.imm32(group)?)),
        }
    }

    /// `[%rN]`, `[%rN+off]`, `[%rN-off]`.
    fn mem(&self, group: &[Tok<'_>]) -> Result<(Reg, i16), AsmError> {
        let bad = || {
            self.err(
                self.col_of(group),
                format!(
                    "expected a memory operand like [%r1+8], found {}",
                    self.found(group)
                ),
            )
        };
        let [open, base, inner @ .., close] = group else {
            return Err(bad());
        };
        if open.kind != Kind::Open || close.kind != Kind::Close || base.kind != Kind::Reg {
            return Err(bad());
        }
        let base = self.reg_tok(base)?;
        if inner.is_empty() {
            return Ok((base, 0));
        }
        if !matches!(inner[0].kind, Kind::Plus | Kind::Minus) {
            return Err(bad());
        }
        let n = self.signed(inner, "an offset")?;
        Ok((base, self.fixed(&n, 16, "offset")? as i16))
    }

    /// A jump target: a label (returned for later resolution) or a signed
    /// offset of 16 bits, or 32 when `wide`.
    fn target(&self, group: &[Tok<'_>], wide: bool) -> Result<(i32, Option<Fixup>), AsmError> {
        match group {
            [t] if t.kind == Kind::Ident => Ok((
                0,
                Some(Fixup {
                    label: t.text.to_string(),
                    col: t.col,
                }),
            )),
            [t, ..] if matches!(t.kind, Kind::Plus | Kind::Minus) => {
                let n = self.signed(group, "a jump offset")?;
                let bits = if wide { 32 } else { 16 };
                Ok((self.fixed(&n, bits, "jump offset")? as i32, None))
            }
            _ => Err(self.err(
                self.col_of(group),
                format!(
                    "expected a label or a signed offset such as +2, found {}",
                    self.found(group)
                ),
            )),
        }
    }
}

impl Assembler {
    fn line(&mut self, line: usize, text: &str) -> Result<(), AsmError> {
        let code = match text.find('#') {
            Some(i) => &text[..i],
            None => text,
        };
        let toks = lex(line, code)?;
        let mut toks: &[Tok<'_>] = &toks;
        if let [name, colon, rest @ ..] = toks
            && name.kind == Kind::Ident
            && colon.kind == Kind::Colon
        {
            if self.labels.contains_key(name.text) {
                return Err(AsmError::DuplicateLabel {
                    line,
                    label: name.text.to_string(),
                });
            }
            self.labels.insert(name.text.to_string(), self.slots);
            toks = rest;
        }
        let Some((m, rest)) = toks.split_first() else {
            return Ok(());
        };
        if m.kind != Kind::Ident {
            return Err(syntax(
                line,
                m.col,
                format!("expected a mnemonic or a label, found '{}'", m.text),
            ));
        }
        let end_col = code.chars().count() + 1;
        let cx = LineCx {
            line,
            code,
            mnemonic: m.text,
            end_col,
        };
        let pending = if m.text == "lock" {
            self.lock(&cx, m, rest)?
        } else {
            let form = form(m.text)
                .ok_or_else(|| syntax(line, m.col, format!("unknown mnemonic '{}'", m.text)))?;
            let groups = split_operands(&cx, rest)?;
            self.insn(&cx, m, form, &groups)?
        };
        if matches!(pending.insn, Insn::Exit) && self.first_exit.is_none() {
            self.first_exit = Some(self.slots);
        }
        self.slots += pending.insn.slots();
        self.insns.push(pending);
        Ok(())
    }

    /// `lock [fetch] op[32] [%rD+off], %rS`.
    fn lock(&self, cx: &LineCx<'_>, m: &Tok<'_>, rest: &[Tok<'_>]) -> Result<Pending, AsmError> {
        let (fetch, rest) = match rest.first() {
            Some(t) if t.kind == Kind::Ident && t.text == "fetch" => (true, &rest[1..]),
            _ => (false, rest),
        };
        let Some((op_tok, rest)) = rest.split_first() else {
            return Err(cx.err(
                cx.end_col,
                "wrong number of operands for 'lock': expected an atomic operation \
                 (add, or, and, xor, xchg, cmpxchg) and 2 operands, found none",
            ));
        };
        let Some((op, size)) = (op_tok.kind == Kind::Ident)
            .then(|| atomic_op(op_tok.text))
            .flatten()
        else {
            return Err(cx.err(
                op_tok.col,
                format!(
                    "unknown atomic operation '{}' (expected add, or, and, xor, xchg, \
                     cmpxchg, optionally with suffix 32)",
                    op_tok.text
                ),
            ));
        };
        let cx = LineCx {
            mnemonic: &format!("lock {}", op_tok.text),
            ..*cx
        };
        let groups = split_operands(&cx, rest)?;
        cx.expect_count(&groups, &[2], op_tok.col)?;
        let (dst, off) = cx.mem(groups[0])?;
        let src = cx.reg(groups[1])?;
        // xchg and cmpxchg always return the old value (RFC 9669 §5.3).
        let fetch = fetch || matches!(op, AtomicOp::Xchg | AtomicOp::CmpXchg);
        Ok(Pending {
            insn: Insn::Atomic {
                size,
                op,
                fetch,
                dst,
                src,
                off,
            },
            line: cx.line,
            col: m.col,
            target_col: None,
            fixup: None,
        })
    }

    fn insn(
        &self,
        cx: &LineCx<'_>,
        m: &Tok<'_>,
        form: Form,
        g: &[&[Tok<'_>]],
    ) -> Result<Pending, AsmError> {
        let count = |n: &[usize]| cx.expect_count(g, n, m.col);
        let mut target_col = None;
        let mut fixup = None;
        let insn = match form {
            Form::Alu(AluOp::Neg, width) => {
                count(&[1])?;
                Insn::Alu {
                    width,
                    op: AluOp::Neg,
                    dst: cx.reg(g[0])?,
                    src: Operand::Imm(0),
                }
            }
            Form::Alu(op, width) => {
                count(&[2])?;
                let dst = cx.reg(g[0])?;
                let src = if matches!(op, AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32) {
                    Operand::Reg(cx.reg(g[1])?)
                } else {
                    cx.operand(g[1])?
                };
                Insn::Alu {
                    width,
                    op,
                    dst,
                    src,
                }
            }
            Form::End(kind, bits) => {
                count(&[1])?;
                Insn::End {
                    kind,
                    bits,
                    dst: cx.reg(g[0])?,
                }
            }
            Form::Ja { wide } => {
                count(&[1])?;
                target_col = Some(cx.col_of(g[0]));
                let (off, f) = cx.target(g[0], wide)?;
                fixup = f;
                Insn::Ja { off, wide }
            }
            Form::Jmp(cond, width) => {
                count(&[3])?;
                let dst = cx.reg(g[0])?;
                let src = cx.operand(g[1])?;
                target_col = Some(cx.col_of(g[2]));
                let (off, f) = cx.target(g[2], false)?;
                fixup = f;
                Insn::Jmp {
                    width,
                    cond,
                    dst,
                    src,
                    off: off as i16,
                }
            }
            Form::Call => {
                count(&[1])?;
                let group = g[0];
                let (mode, value) = match group.first() {
                    Some(t) if t.kind == Kind::Ident && group.len() > 1 => (t.text, &group[1..]),
                    _ => ("helper", group),
                };
                let target = match mode {
                    "helper" => match value.first() {
                        Some(t) if t.kind == Kind::Reg => CallTarget::Reg(cx.reg(value)?),
                        Some(t) if t.kind == Kind::Ident => {
                            return Err(cx.err(
                                t.col,
                                format!(
                                    "expected a helper id, a register, 'local LABEL' or \
                                     'runtime ID' after call, found '{}'",
                                    t.text
                                ),
                            ));
                        }
                        _ => CallTarget::Helper(cx.imm32(value)?),
                    },
                    "local" => {
                        target_col = Some(cx.col_of(value));
                        let (off, f) = cx.target(value, true)?;
                        fixup = f;
                        CallTarget::Local(off)
                    }
                    "runtime" | "kfunc" => CallTarget::Kfunc(cx.imm32(value)?),
                    other => {
                        return Err(cx.err(
                            group[0].col,
                            format!(
                                "unknown call kind '{other}' (expected helper, local or runtime)"
                            ),
                        ));
                    }
                };
                Insn::Call(target)
            }
            Form::Exit => {
                count(&[0])?;
                Insn::Exit
            }
            Form::Load(size, signed) => {
                count(&[2])?;
                let dst = cx.reg(g[0])?;
                let (src, off) = cx.mem(g[1])?;
                Insn::Load {
                    size,
                    signed,
                    dst,
                    src,
                    off,
                }
            }
            Form::Store(size) => {
                count(&[2])?;
                let (dst, off) = cx.mem(g[0])?;
                Insn::Store {
                    size,
                    dst,
                    off,
                    src: Operand::Imm(cx.imm32(g[1])?),
                }
            }
            Form::StoreX(size) => {
                count(&[2])?;
                let (dst, off) = cx.mem(g[0])?;
                Insn::Store {
                    size,
                    dst,
                    off,
                    src: Operand::Reg(cx.reg(g[1])?),
                }
            }
            Form::Lddw => {
                let kind = g.get(1).and_then(|v| match v.first() {
                    Some(t) if t.kind == Kind::Ident => Some(*t),
                    _ => None,
                });
                match kind {
                    None => {
                        count(&[2])?;
                        Insn::Lddw {
                            dst: cx.reg(g[0])?,
                            src: LddwSrc::Imm,
                            imm: cx.imm64(g[1])?,
                        }
                    }
                    Some(k) => {
                        count(&[2, 3])?;
                        let dst = cx.reg(g[0])?;
                        let src = match k.text {
                            "map_fd" => LddwSrc::MapFd,
                            "map_value" => LddwSrc::MapValue,
                            "btf_id" => LddwSrc::BtfId,
                            "func" => LddwSrc::Func,
                            "map_idx" => LddwSrc::MapIdx,
                            "map_idx_value" => LddwSrc::MapIdxValue,
                            other => {
                                return Err(cx.err(
                                    k.col,
                                    format!(
                                        "unknown lddw source '{other}' (expected an immediate, \
                                         map_fd, map_value, btf_id, func, map_idx or \
                                         map_idx_value)"
                                    ),
                                ));
                            }
                        };
                        let value = &g[1][1..];
                        let lo = if src == LddwSrc::Func {
                            target_col = Some(cx.col_of(value));
                            let (off, f) = cx.target(value, true)?;
                            fixup = f;
                            off
                        } else {
                            cx.imm32(value)?
                        };
                        let hi = match g.get(2) {
                            Some(v) => cx.imm32(v)?,
                            None => 0,
                        };
                        Insn::Lddw {
                            dst,
                            src,
                            imm: (lo as u32 as u64) | ((hi as u32 as u64) << 32),
                        }
                    }
                }
            }
            Form::LdAbs(size) => {
                count(&[1])?;
                Insn::LdPacket {
                    size,
                    src: None,
                    imm: cx.imm32(g[0])?,
                }
            }
            Form::LdInd(size) => {
                count(&[2])?;
                Insn::LdPacket {
                    size,
                    src: Some(cx.reg(g[0])?),
                    imm: cx.imm32(g[1])?,
                }
            }
        };
        Ok(Pending {
            insn,
            line: cx.line,
            col: m.col,
            target_col,
            fixup,
        })
    }

    fn finish(mut self) -> Result<Vec<Insn>, AsmError> {
        if self.insns.is_empty() {
            return Err(AsmError::Empty);
        }
        let mut slot = 0;
        let mut out = Vec::with_capacity(self.slots);
        let mut slot_of_pending = Vec::with_capacity(self.insns.len());
        for p in &mut self.insns {
            if let Some(fx) = &p.fixup {
                let target = match self.labels.get(&fx.label) {
                    Some(t) => *t,
                    None if fx.label == "exit" && self.first_exit.is_some() => {
                        self.first_exit.unwrap_or(0)
                    }
                    None => {
                        return Err(AsmError::UndefinedLabel {
                            line: p.line,
                            column: fx.col,
                            label: fx.label.clone(),
                        });
                    }
                };
                let off = target as i64 - slot as i64 - 1;
                patch(&mut p.insn, off).map_err(|bits| {
                    syntax(
                        p.line,
                        fx.col,
                        format!(
                            "label '{}' is {off} slots away, beyond the {bits}-bit offset range",
                            fx.label
                        ),
                    )
                })?;
            }
            slot_of_pending.push(slot);
            out.push(p.insn);
            if matches!(p.insn, Insn::Lddw { .. }) {
                out.push(Insn::LddwHi);
            }
            slot += p.insn.slots();
        }
        // Check the result exactly as bytecode would be checked, so that
        // assembled and decoded programs obey the same rules.
        let unchecked = self.unchecked_targets;
        let checked = decode_each(&encode(&out)).and_then(|insns| {
            if !unchecked {
                check_targets(&insns)?;
            }
            Ok(insns)
        });
        checked.map_err(|e| self.locate(&slot_of_pending, e))
    }

    /// Turns a decode error into one naming the source line.
    fn locate(&self, slots: &[usize], e: DecodeError) -> AsmError {
        let Some(index) = e.index() else {
            return AsmError::Decode(e);
        };
        let Some(i) = slots.iter().position(|s| *s == index) else {
            return AsmError::Decode(e);
        };
        let p = &self.insns[i];
        let col = match e {
            DecodeError::JumpOutOfRange { .. } | DecodeError::JumpIntoLddw { .. } => {
                p.target_col.unwrap_or(p.col)
            }
            _ => p.col,
        };
        syntax(p.line, col, e.to_string())
    }
}

/// Sets a resolved relative target; on overflow returns the field width.
fn patch(insn: &mut Insn, off: i64) -> Result<(), u32> {
    match insn {
        Insn::Jmp { off: o, .. } => *o = i16::try_from(off).map_err(|_| 16u32)?,
        Insn::Ja { off: o, wide: true } => *o = i32::try_from(off).map_err(|_| 32u32)?,
        Insn::Ja {
            off: o,
            wide: false,
        } => *o = i16::try_from(off).map_err(|_| 16u32)? as i32,
        Insn::Call(CallTarget::Local(o)) => *o = i32::try_from(off).map_err(|_| 32u32)?,
        Insn::Lddw { imm, .. } => {
            let lo = i32::try_from(off).map_err(|_| 32u32)?;
            *imm = (*imm & 0xffff_ffff_0000_0000) | lo as u32 as u64;
        }
        _ => {}
    }
    Ok(())
}

/// Splits the operand tokens at commas. An empty operand is an error.
fn split_operands<'t, 'a>(
    cx: &LineCx<'_>,
    toks: &'t [Tok<'a>],
) -> Result<Vec<&'t [Tok<'a>]>, AsmError> {
    if toks.is_empty() {
        return Ok(Vec::new());
    }
    let mut groups = Vec::new();
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        if t.kind == Kind::Comma {
            if i == start {
                return Err(cx.err(t.col, "missing operand before ','"));
            }
            groups.push(&toks[start..i]);
            start = i + 1;
        }
    }
    if start == toks.len() {
        return Err(cx.err(cx.end_col, "missing operand after ','"));
    }
    groups.push(&toks[start..]);
    Ok(groups)
}
