//! livedash server library. The binary `livedash` is a thin CLI over it.

pub mod aggregate;
pub mod events;
pub mod generator;
pub mod system;
