//! Deterministic randomness for the sample district: seeded streams and
//! weighted choice.
//!
//! Every generator stage draws from its own stream derived from the seed, so
//! adding a draw to one stage never shifts the output of another.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator used everywhere in `demo` (portable and reproducible).
pub(crate) type DemoRng = ChaCha8Rng;

/// Stream numbers; one per independent stage.
pub(crate) mod stream {
    pub(crate) const POPULATION: u64 = 1;
    pub(crate) const RECORDS: u64 = 100;
    pub(crate) const PRESENTATION: u64 = 200;
}

/// An RNG for `stream` of `seed`, independent of every other stream.
pub(crate) fn stream_rng(seed: u64, stream: u64) -> DemoRng {
    ChaCha8Rng::seed_from_u64(splitmix64(seed ^ splitmix64(stream)))
}

/// SplitMix64 finalizer: spreads nearby seeds/stream numbers apart.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// True with probability `p` (clamped to 0..=1, never panics).
pub(crate) fn chance(rng: &mut DemoRng, p: f64) -> bool {
    p > 0.0 && (p >= 1.0 || rng.random::<f64>() < p)
}

/// A uniformly chosen element of a non-empty slice.
pub(crate) fn pick<'a, T>(rng: &mut DemoRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A table of weights to draw indices from, in O(log n) per draw.
#[derive(Debug, Clone)]
pub(crate) struct Weighted {
    cumulative: Vec<u64>,
}

impl Weighted {
    /// Builds the table; weights of zero are never drawn. At least one weight
    /// must be positive.
    pub(crate) fn new(weights: impl IntoIterator<Item = u64>) -> Self {
        let mut total = 0u64;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect::<Vec<_>>();
        debug_assert!(total > 0, "weighted table without weight");
        Self { cumulative }
    }

    /// Builds the table from the weights of `(item, weight)` pairs.
    pub(crate) fn of<T>(table: &[(T, u32)]) -> Self {
        Self::new(table.iter().map(|(_, w)| u64::from(*w)))
    }

    /// Draws an index with probability proportional to its weight.
    pub(crate) fn sample(&self, rng: &mut DemoRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0);
        if total == 0 {
            return 0;
        }
        let x = rng.random_range(0..total);
        self.cumulative.partition_point(|&c| c <= x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_never_draws_zero_weight() {
        let table = Weighted::new([0, 5, 0, 5]);
        let mut rng = stream_rng(1, 1);
        for _ in 0..1000 {
            let i = table.sample(&mut rng);
            assert!(i == 1 || i == 3);
        }
    }

    #[test]
    fn streams_differ_and_repeat() {
        let a: u64 = stream_rng(7, 1).random();
        let b: u64 = stream_rng(7, 2).random();
        let c: u64 = stream_rng(7, 1).random();
        assert_ne!(a, b);
        assert_eq!(a, c);
    }
}
