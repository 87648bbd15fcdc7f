//! Small numeric helpers shared by the detectors.

/// Below this length a block is summed with eight interleaved accumulators; above it, the slice
/// is halved.
const PAIRWISE_BLOCK: usize = 128;

/// The sum of `values` in the order numpy's `add.reduce` uses for a contiguous array: pairwise
/// summation over blocks of at most 128 values, each summed with eight interleaved accumulators.
///
/// Detectors that promise the same answer as a Python reference implementation need the same
/// rounding, and a plain left-to-right sum can differ from numpy's in the last bit, which is
/// enough to move a value across a threshold. See Higham (1993), "The accuracy of floating point
/// summation", SIAM J. Sci. Comput. 14(4), for why pairwise summation is used at all.
pub(crate) fn pairwise_sum(values: &[f64]) -> f64 {
    let count = values.len();
    if count < 8 {
        values.iter().fold(0.0, |total, value| total + value)
    } else if count <= PAIRWISE_BLOCK {
        let mut lanes = [0.0; 8];
        lanes.copy_from_slice(&values[..8]);
        let whole = count - count % 8;
        for chunk in values[8..whole].chunks_exact(8) {
            for (lane, value) in lanes.iter_mut().zip(chunk) {
                *lane += value;
            }
        }
        let mut total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
            + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
        for value in &values[whole..] {
            total += value;
        }
        total
    } else {
        // Halve, keeping the first part a multiple of the eight lanes.
        let mut half = count / 2;
        half -= half % 8;
        pairwise_sum(&values[..half]) + pairwise_sum(&values[half..])
    }
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "the known answers are exact doubles")]
mod tests {
    use super::*;

    fn sequential_sum(values: &[f64]) -> f64 {
        values.iter().fold(0.0, |total, value| total + value)
    }

    // Expected values are numpy 2.4's `np.sum` on the same arrays, printed with `float.hex`.

    #[test]
    fn ten_tenths_sum_to_exactly_one_as_in_numpy() {
        let values = [0.1; 10];
        assert_eq!(pairwise_sum(&values), 1.0);
        assert_eq!(sequential_sum(&values), 0.999_999_999_999_999_9);
    }

    #[test]
    fn a_thousand_tenths_match_numpy_to_the_bit() {
        // 0x1.9000000000001p+6
        let numpy = f64::from_bits(0x4059_0000_0000_0001);
        assert_eq!(pairwise_sum(&[0.1; 1000]), numpy);
        assert_ne!(sequential_sum(&[0.1; 1000]), numpy);
    }

    #[test]
    fn small_values_beside_a_large_one_match_numpy() {
        let mut values = [1.0; 10];
        values[0] = 1e16;
        // 0x1.1c37937e08004p+53
        assert_eq!(pairwise_sum(&values), f64::from_bits(0x4341_c379_37e0_8004));
    }

    #[test]
    fn short_and_empty_slices_sum_left_to_right() {
        assert_eq!(pairwise_sum(&[]), 0.0);
        assert_eq!(pairwise_sum(&[0.25, 0.5, 0.125]), 0.875);
    }
}

/// The median of `values` (the mean of the two middle values for an even count); `NaN` for none.
pub(crate) use antidote_core::math::median;

/// The median absolute deviation from the median, scaled by 1.4826 so that it estimates the
/// standard deviation of normal data (Rousseeuw and Croux, 1993). Returns `(median, scale)`.
pub(crate) fn median_and_mad(values: &[f64]) -> (f64, f64) {
    let centre = median(values);
    let deviations: Vec<f64> = values.iter().map(|value| (value - centre).abs()).collect();
    (centre, 1.4826 * median(&deviations))
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "the medians of these values are exact")]
mod robust_tests {
    use super::*;

    #[test]
    fn median_and_mad_of_known_values() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        // Deviations from 3: 2, 1, 0, 1, 97 -> median 1.
        let (centre, scale) = median_and_mad(&[1.0, 2.0, 3.0, 4.0, 100.0]);
        assert_eq!(centre, 3.0);
        assert!((scale - 1.4826).abs() < 1e-12);
    }
}
