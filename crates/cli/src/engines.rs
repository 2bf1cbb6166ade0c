//! The engines the command can run on, by name. The one place to add an
//! engine (jit, kernel) to every command.

use oxbpf_runtime::Engine;

/// Engine names accepted by `--engine`, with a one-line description.
pub const ENGINES: &[(&str, &str)] = &[
    ("interp", "reference interpreter"),
    (
        "interp-fast",
        "pre-decoded interpreter, checked against interp",
    ),
    ("jit", "x86-64 JIT compiler"),
    (
        "kernel",
        "the Linux kernel through bpf(2) and BPF_PROG_TEST_RUN (needs root or CAP_BPF)",
    ),
];

/// The engine called `name`, or `None` for an unknown name.
pub fn engine(name: &str) -> Option<Box<dyn Engine>> {
    match name {
        "interp" => Some(Box::new(oxbpf_interp::Interpreter)),
        "interp-fast" => Some(Box::new(oxbpf_interp::FastInterpreter)),
        "jit" => Some(Box::new(oxbpf_jit::Jit)),
        "kernel" => Some(Box::new(oxbpf_kernel::KernelEngine::new())),
        _ => None,
    }
}

/// The names, for clap's list of possible values.
pub fn names() -> Vec<&'static str> {
    ENGINES.iter().map(|(n, _)| *n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_engine_exists_under_its_own_name() {
        for (name, _) in ENGINES {
            let e = engine(name).unwrap_or_else(|| panic!("{name} listed but not built"));
            assert_eq!(e.name(), *name);
        }
        assert!(engine("nope").is_none());
    }
}
