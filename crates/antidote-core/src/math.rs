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

/// The median of `values` (the mean of the two middle values for an even count); `NaN` for
/// none. `NaN` values sort last.
///
/// ```
/// use antidote_core::math::median;
///
/// assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
/// assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
/// ```
#[must_use]
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        f64::midpoint(sorted[middle - 1], sorted[middle])
    }
}

/// Modified z-scores (Iglewicz and Hoaglin 1993, "How to Detect and Handle Outliers"):
/// `0.6745 (x - median) / MAD`, signed. When more than half the values are equal (MAD 0), the
/// mean absolute deviation times 1.2533 is the scale; when every value is equal, every score is
/// 0. Scores above 3.5 in absolute value are the customary outliers.
///
/// ```
/// use antidote_core::math::robust_z_scores;
///
/// let scores = robust_z_scores(&[1.0, 2.0, 3.0, 4.0, 100.0]);
/// assert!(scores[4] > 3.5 && scores[2] == 0.0);
/// ```
#[must_use]
pub fn robust_z_scores(values: &[f64]) -> Vec<f64> {
    let centre = median(values);
    let deviations: Vec<f64> = values.iter().map(|value| (value - centre).abs()).collect();
    let mad = median(&deviations);
    let scale = if mad > 0.0 {
        mad / 0.6745
    } else {
        1.2533 * deviations.iter().sum::<f64>() / deviations.len().max(1) as f64
    };
    values
        .iter()
        .map(|value| {
            if scale > 0.0 {
                (value - centre) / scale
            } else {
                0.0
            }
        })
        .collect()
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
