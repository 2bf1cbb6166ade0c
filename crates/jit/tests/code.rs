//! The generated code itself: its memory protection and its listing.

use std::sync::Arc;

use oxbpf_isa::Reg;
use oxbpf_isa::asm::assemble;
use oxbpf_jit::{Jit, disassemble_jit};
use oxbpf_runtime::{Executable, Program, RunState, helpers::conformance};

fn program(src: &str) -> Program {
    let insns = assemble(src).unwrap();
    Program::checked(insns, Arc::new(conformance::table()), &[Reg::R1, Reg::R2]).unwrap()
}

/// The protection string (`r-xp`, ...) of the mapping holding `addr`, from
/// /proc/self/maps.
fn protection(addr: usize) -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let range = f.next().unwrap();
        let perms = f.next().unwrap();
        let (lo, hi) = range.split_once('-').unwrap();
        let lo = usize::from_str_radix(lo, 16).unwrap();
        let hi = usize::from_str_radix(hi, 16).unwrap();
        if (lo..hi).contains(&addr) {
            return perms.to_string();
        }
    }
    panic!("{addr:#x} is in no mapping");
}

#[test]
fn code_is_executable_and_never_writable() {
    let exe = Jit.compile(&program("mov %r0, 42\nexit")).unwrap();
    let code = exe.code_range();
    assert!(!code.is_empty());
    assert_eq!(protection(code.start), "r-xp");
    assert_eq!(protection(code.end - 1), "r-xp");
    // And it runs from there.
    assert_eq!(exe.run(&mut RunState::new(), [0; 5]), Ok(42));
}

#[test]
fn listing_maps_each_instruction_to_its_machine_code() {
    let p = program("mov %r0, %r1\nxor %r0, %r2\nlddw %r9, 0x1122334455667788\nexit");
    let l = disassemble_jit(&p).unwrap();
    // One entry per instruction; the second slot of lddw has none.
    let slots: Vec<usize> = l.insns.iter().map(|i| i.slot).collect();
    assert_eq!(slots, [0, 1, 2, 4]);
    assert_eq!(l.insns[0].text, "mov %r0, %r1");
    assert_eq!(l.insns[3].text, "exit");
    // The register mapping: r0 = rax, r1 = rdi, r2 = rsi, r9 = r15. The
    // first instruction of a block starts with the budget charge (r9).
    let text =
        |i: usize| -> Vec<String> { l.insns[i].x86.iter().map(|x| x.text.clone()).collect() };
    let first = text(0);
    assert_eq!(first.len(), 3, "{first:?}");
    assert_eq!(first[0], "sub r9,4"); // one block of 4 instructions
    assert!(first[1].starts_with("jb "), "{first:?}");
    assert_eq!(first[2], "mov rax,rdi");
    assert_eq!(text(1), ["xor rax,rsi"]);
    assert_eq!(text(2), ["mov r15,1122334455667788h"]);
    assert_eq!(text(3), ["ret"]);
    // Offsets grow and bytes decode to the listed length.
    let mut last = 0;
    for line in l.insns.iter().flat_map(|i| &i.x86) {
        assert!(line.offset >= last);
        last = line.offset + line.bytes.len();
    }
    assert!(last <= l.code_len);
    assert!(!l.prologue.is_empty());
    assert!(!l.out_of_line.is_empty());
}

#[test]
fn address_arithmetic_becomes_one_lea() {
    // r3 = r10 - 256 + r1: the two adds are absorbed by the mov's lea and
    // list no code of their own.
    let p = program("mov %r3, %r10\nadd %r3, -256\nadd %r3, %r1\nmov %r0, %r3\nexit");
    let l = disassemble_jit(&p).unwrap();
    let text =
        |i: usize| -> Vec<String> { l.insns[i].x86.iter().map(|x| x.text.clone()).collect() };
    let first = text(0);
    assert_eq!(first.last().unwrap(), "lea rdx,[rbp+rdi-100h]", "{first:?}");
    assert!(text(1).is_empty());
    assert!(text(2).is_empty());
    assert_eq!(l.insns[1].fused_into, Some(0));
    assert_eq!(l.insns[2].fused_into, Some(0));
    assert_eq!(l.insns[3].fused_into, None);
    assert_eq!(text(3), ["mov rax,rdx"]);
}
