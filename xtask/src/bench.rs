//! `cargo xtask bench`: the fan-out benchmark suite (being written).

pub fn main(_args: &[String]) -> Result<(), String> {
    Err("bench is not written yet".into())
}
