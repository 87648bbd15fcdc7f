//! The one pseudorandom generator antidote uses, so that folds, poisoning attacks, network
//! initialisation and detector sampling are reproducible from a seed and never change with a
//! dependency's version.

/// `SplitMix64` (Steele, Lea & Flood, 2014, "Fast splittable pseudorandom number generators").
///
/// ```
/// use antidote_core::SplitMix64;
///
/// let mut first = SplitMix64::new(7);
/// let mut second = SplitMix64::new(7);
/// assert_eq!(first.next_u64(), second.next_u64());
/// let mut order: Vec<usize> = (0..10).collect();
/// first.shuffle(&mut order);
/// order.sort_unstable();
/// assert_eq!(order, (0..10).collect::<Vec<_>>());
/// ```
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator whose output is fixed by `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A generator for one named purpose, derived from `seed`, so that two uses of one seed
    /// (`"folds"`, `"init"`) do not draw the same numbers.
    #[must_use]
    pub fn derived(seed: u64, purpose: &str) -> Self {
        let mut state = seed ^ 0x5851_F42D_4C95_7F2D;
        for byte in purpose.bytes() {
            state = Self(state ^ u64::from(byte)).next_u64();
        }
        Self(state)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` by multiply-shift (Lemire, 2019, "Fast random integer generation in
    /// an interval"), without the rejection step: the bias is below `bound / 2^64`.
    pub fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next_u64()) * bound as u128) >> 64) as usize
    }

    /// A uniform number in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1_u64 << 53) as f64)
    }

    /// A standard normal number (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Shuffles `items` in place (Fisher-Yates; Knuth, TAOCP vol. 2, section 3.4.2, algorithm P).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for last in (1..items.len()).rev() {
            let other = self.below(last + 1);
            items.swap(last, other);
        }
    }

    /// `count` distinct indices of `0..total`, in increasing order (all of them when `count`
    /// is at least `total`).
    pub fn sample(&mut self, total: usize, count: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..total).collect();
        let take = count.min(total);
        for position in 0..take {
            let other = position + self.below(total - position);
            all.swap(position, other);
        }
        all.truncate(take);
        all.sort_unstable();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_output() {
        // The first outputs for seed 1234567 of the reference C implementation
        // (https://prng.di.unimi.it/splitmix64.c).
        let mut random = SplitMix64::new(1_234_567);
        assert_eq!(
            [random.next_u64(), random.next_u64(), random.next_u64()],
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423
            ]
        );
    }

    #[test]
    fn samples_are_distinct_sorted_and_in_range() {
        let mut random = SplitMix64::derived(3, "sample");
        let picked = random.sample(100, 30);
        assert_eq!(picked.len(), 30);
        assert!(picked.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(picked.iter().all(|&index| index < 100));
        assert_eq!(random.sample(5, 10), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn normals_have_unit_variance() {
        let mut random = SplitMix64::new(11);
        let values: Vec<f64> = (0..20_000).map(|_| random.normal()).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((variance - 1.0).abs() < 0.05, "{variance}");
    }
}
