//! Coverage keys: one name per distinct opcode form, so a sweep can
//! count what its programs executed and a test can demand every form.

use oxbpf_isa::{CallTarget, Insn, Operand, Width};

/// The coverage key of an instruction: one per distinct opcode form
/// (class, operation, size, source kind).
pub fn key(insn: &Insn) -> Option<String> {
    Some(match *insn {
        Insn::Alu { width, op, src, .. } => format!(
            "{}-{op:?}-{}",
            if width == Width::W64 {
                "alu64"
            } else {
                "alu32"
            },
            if matches!(src, Operand::Reg(_)) {
                "reg"
            } else {
                "imm"
            }
        ),
        Insn::End { kind, bits, .. } => format!("end-{kind:?}-{bits}"),
        Insn::Ja { wide, .. } => if wide { "gotol" } else { "ja" }.to_string(),
        Insn::Jmp {
            width, cond, src, ..
        } => format!(
            "{}-{cond:?}-{}",
            if width == Width::W64 { "jmp" } else { "jmp32" },
            if matches!(src, Operand::Reg(_)) {
                "reg"
            } else {
                "imm"
            }
        ),
        Insn::Call(CallTarget::Helper(_)) => "call-helper".into(),
        Insn::Call(CallTarget::Reg(_)) => "callx".into(),
        Insn::Call(CallTarget::Local(_)) => "call-local".into(),
        Insn::Call(CallTarget::Kfunc(_)) => "call-kfunc".into(),
        Insn::Exit => "exit".into(),
        Insn::Load { size, signed, .. } => {
            format!("ldx-{size:?}-{}", if signed { "s" } else { "u" })
        }
        Insn::Store { size, src, .. } => match src {
            Operand::Reg(_) => format!("stx-{size:?}"),
            Operand::Imm(_) => format!("st-{size:?}"),
        },
        Insn::Atomic {
            size, op, fetch, ..
        } => format!(
            "atomic-{size:?}-{op:?}-{}",
            if fetch { "fetch" } else { "nofetch" }
        ),
        Insn::Lddw { .. } => "lddw".into(),
        Insn::LddwHi => return None,
        Insn::LdPacket { size, src, .. } => {
            format!("{}-{size:?}", if src.is_some() { "ldind" } else { "ldabs" })
        }
    })
}

/// Every key the ISA has (apart from kfunc calls and `lddw` pseudo
/// sources, which only exist with the kernel or an object loader), built
/// from the specification rather than from the generator.
pub fn all_keys() -> Vec<String> {
    let mut keys = Vec::new();
    for w in ["alu64", "alu32"] {
        for op in [
            "Add", "Sub", "Mul", "Div", "SDiv", "Or", "And", "Lsh", "Rsh", "Mod", "SMod", "Xor",
            "Mov", "Arsh",
        ] {
            keys.push(format!("{w}-{op}-reg"));
            keys.push(format!("{w}-{op}-imm"));
        }
        keys.push(format!("{w}-Neg-imm"));
        keys.push(format!("{w}-MovSx8-reg"));
        keys.push(format!("{w}-MovSx16-reg"));
    }
    keys.push("alu64-MovSx32-reg".into());
    for kind in ["ToLe", "ToBe", "Swap"] {
        for bits in [16, 32, 64] {
            keys.push(format!("end-{kind}-{bits}"));
        }
    }
    keys.push("ja".into());
    keys.push("gotol".into());
    for w in ["jmp", "jmp32"] {
        for c in [
            "Eq", "Gt", "Ge", "Set", "Ne", "Sgt", "Sge", "Lt", "Le", "Slt", "Sle",
        ] {
            keys.push(format!("{w}-{c}-reg"));
            keys.push(format!("{w}-{c}-imm"));
        }
    }
    for k in ["call-helper", "callx", "call-local", "exit", "lddw"] {
        keys.push(k.into());
    }
    for s in ["B", "H", "W", "DW"] {
        keys.push(format!("ldx-{s}-u"));
        keys.push(format!("stx-{s}"));
        keys.push(format!("st-{s}"));
        if s != "DW" {
            keys.push(format!("ldx-{s}-s"));
            keys.push(format!("ldabs-{s}"));
            keys.push(format!("ldind-{s}"));
        }
    }
    for s in ["W", "DW"] {
        for op in ["Add", "Or", "And", "Xor"] {
            keys.push(format!("atomic-{s}-{op}-fetch"));
            keys.push(format!("atomic-{s}-{op}-nofetch"));
        }
        keys.push(format!("atomic-{s}-Xchg-fetch"));
        keys.push(format!("atomic-{s}-CmpXchg-fetch"));
    }
    keys
}
