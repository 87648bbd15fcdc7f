//! Small numeric helpers every layer needs, written once.

/// The index of the largest value; the first on ties, 0 for an empty slice. `NaN` never wins.
///
/// ```
/// use antidote_core::math::argmax;
///
/// assert_eq!(argmax(&[0.1_f32, 0.7, 0.2]), 1);
/// assert_eq!(argmax(&[0.5_f64, 0.5]), 0);
/// ```
#[must_use]
pub fn argmax<T: PartialOrd + Copy>(values: &[T]) -> usize {
    let mut best = 0;
    for (index, value) in values.iter().enumerate() {
        if *value > values[best] {
            best = index;
        }
    }
    best
}

/// The Jaccard index of two sorted sets without repeats: shared items over all items.
///
/// Two empty sets are identical, so their index is 1; callers that must not match empty
/// things (two texts with no words) check for emptiness first.
///
/// ```
/// use antidote_core::math::jaccard;
///
/// assert_eq!(jaccard(&[1_u64, 2, 3], &[2, 3, 4]), 0.5);
/// assert_eq!(jaccard::<u64>(&[], &[]), 1.0);
/// assert_eq!(jaccard(&[1_u32], &[]), 0.0);
/// ```
#[must_use]
pub fn jaccard<T: Ord>(first: &[T], second: &[T]) -> f64 {
    if first.is_empty() && second.is_empty() {
        return 1.0;
    }
    let (mut left, mut right, mut shared) = (0, 0, 0_usize);
    while left < first.len() && right < second.len() {
        match first[left].cmp(&second[right]) {
            std::cmp::Ordering::Less => left += 1,
            std::cmp::Ordering::Greater => right += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                left += 1;
                right += 1;
            }
        }
    }
    shared as f64 / (first.len() + second.len() - shared) as f64
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "exact known answers")]
mod tests {
    use super::*;

    #[test]
    fn argmax_skips_nan_and_keeps_the_first_tie() {
        assert_eq!(argmax(&[f32::NAN, 0.1, 0.3, 0.3]), 0);
        assert_eq!(argmax(&[0.1, f32::NAN, 0.3]), 2);
        assert_eq!(argmax::<f64>(&[]), 0);
    }

    #[test]
    fn jaccard_is_symmetric_and_bounded() {
        let first = [1_u32, 4, 9, 16];
        let second = [4_u32, 16, 25];
        assert_eq!(jaccard(&first, &second), jaccard(&second, &first));
        assert!((jaccard(&first, &second) - 2.0 / 5.0).abs() < 1e-12);
        assert_eq!(jaccard(&first, &first), 1.0);
    }
}
