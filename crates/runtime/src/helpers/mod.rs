//! Helper implementations, one module per environment.

pub mod conformance;
pub mod kernel;
pub mod kernel_calls;
pub mod kernel_maps;
