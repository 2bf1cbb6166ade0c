//! The bpf_conformance data-file format and a runner for it on any engine.
//!
//! A `.data` file has sections opened by `-- name` lines: `asm` (source),
//! `raw` (instruction words), `mem` (hex input bytes), `result` (expected
//! r0), `error` (the program must be rejected). `c` and `no register offset`
//! are ignored. The execution contract: r1 = address of a private copy of
//! the memory (0 if none), r2 = its length, r10 = stack top, helpers 0-5 of
//! the conformance table.
