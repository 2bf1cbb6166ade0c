//! The generators are deterministic per seed and stay inside the ISA's
//! coverage names; the engines' lockstep tests check the rest (validity,
//! termination, coverage thresholds) by running the programs.

use oxbpf_isa::Insn;
use oxbpf_testgen::{Rng, all_keys, flat, generate, key};

#[test]
fn same_seed_same_programs() {
    let (mut a, mut b) = (Rng::new(42), Rng::new(42));
    for _ in 0..50 {
        assert_eq!(generate(&mut a, false).insns, generate(&mut b, false).insns);
        assert_eq!(flat::generate(&mut a).insns, flat::generate(&mut b).insns);
    }
    let (mut c, mut d) = (Rng::new(1), Rng::new(2));
    assert_ne!(generate(&mut c, false).insns, generate(&mut d, false).insns);
}

#[test]
fn every_generated_instruction_has_a_known_coverage_key() {
    let keys = all_keys();
    let mut rng = Rng::new(7);
    for verified in [false, true] {
        for _ in 0..200 {
            let g = generate(&mut rng, verified);
            for i in &g.insns {
                if let Some(k) = key(i) {
                    assert!(keys.contains(&k), "{k} not in all_keys");
                }
            }
            assert!(matches!(g.insns.last(), Some(Insn::Exit)));
        }
    }
    for _ in 0..200 {
        let g = flat::generate(&mut rng);
        assert_eq!(g.mem.len(), flat::MEM_LEN);
        for k in g.insns.iter().filter_map(key) {
            assert!(keys.contains(&k), "{k} not in all_keys");
        }
    }
}

#[test]
fn verified_programs_never_write_r10() {
    // Verified programs never write r10 (the frame pointer stays the
    // kernel's read-only one).
    let mut rng = Rng::new(9);
    for _ in 0..500 {
        let g = generate(&mut rng, true);
        assert!(
            !g.insns
                .iter()
                .any(|i| matches!(i, Insn::Alu { dst, .. } if dst.index() == 10)),
            "verified program writes r10"
        );
    }
}
