//! The built-in theLook generator as a [`Source`]: the default, pulled on
//! each tick (see [`crate::generator`] for its distributions).

use super::Source;
use crate::generator::Generator;
use livedash_shared::OrderRecord;

/// The generator, started at a given time.
pub struct GeneratorSource {
    generator: Generator,
}

impl GeneratorSource {
    /// A generator seeded with `seed`, producing `orders_per_sec` on
    /// average, whose clock starts at `now_ms`.
    pub fn new(seed: u64, orders_per_sec: f64, now_ms: u64) -> Self {
        let mut generator = Generator::new(seed, orders_per_sec);
        generator.generate(now_ms);
        GeneratorSource { generator }
    }
}

impl Source for GeneratorSource {
    fn poll(&mut self, now_ms: u64) -> Vec<OrderRecord> {
        self.generator.generate(now_ms)
    }

    fn continue_after(&mut self, order_id: u64, item_id: u64) {
        self.generator.continue_after(order_id, item_id);
    }
}
