//! Helper implementations, one module per environment.

pub mod conformance;
pub mod kernel;
