//! Precision, recall and F1 of a set of flagged records against the truth.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// How a set of flagged records compares with the poisoned ones.
///
/// Precision is undefined when nothing was flagged, recall when nothing was poisoned; both are
/// `None` then, and F1 with them, so that a table never shows a made-up zero or one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Flagged and poisoned.
    pub true_positives: usize,
    /// Flagged but clean.
    pub false_positives: usize,
    /// Poisoned but not flagged.
    pub false_negatives: usize,
    /// `tp / (tp + fp)`.
    pub precision: Option<f64>,
    /// `tp / (tp + fn)`.
    pub recall: Option<f64>,
    /// The harmonic mean of precision and recall.
    pub f1: Option<f64>,
}

impl Score {
    /// Scores `flagged` ids against the `poisoned` ids. Repeated ids count once.
    #[must_use]
    pub fn of<'a>(
        flagged: impl IntoIterator<Item = &'a str>,
        poisoned: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let poisoned: HashSet<&str> = poisoned.into_iter().collect();
        let flagged: HashSet<&str> = flagged.into_iter().collect();
        let true_positives = flagged.intersection(&poisoned).count();
        Self::from_counts(
            true_positives,
            flagged.len() - true_positives,
            poisoned.len() - true_positives,
        )
    }

    /// The score of known counts.
    #[must_use]
    pub fn from_counts(
        true_positives: usize,
        false_positives: usize,
        false_negatives: usize,
    ) -> Self {
        let ratio = |part: usize, whole: usize| (whole > 0).then(|| part as f64 / whole as f64);
        let precision = ratio(true_positives, true_positives + false_positives);
        let recall = ratio(true_positives, true_positives + false_negatives);
        let f1 = match (precision, recall) {
            (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
            (Some(_), Some(_)) => Some(0.0),
            _ => None,
        };
        Self {
            true_positives,
            false_positives,
            false_negatives,
            precision,
            recall,
            f1,
        }
    }

    /// How many records were flagged.
    #[must_use]
    pub fn flagged(&self) -> usize {
        self.true_positives + self.false_positives
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_made_case_gives_the_textbook_numbers() {
        // 10 poisoned (p0..p9), 8 flagged: 6 of the poisoned and 2 clean ones, one twice.
        let poisoned: Vec<String> = (0..10).map(|index| format!("p{index}")).collect();
        let flagged = ["p0", "p1", "p2", "p3", "p4", "p5", "c1", "c2", "c2"];
        let score = Score::of(flagged, poisoned.iter().map(String::as_str));
        assert_eq!(
            (
                score.true_positives,
                score.false_positives,
                score.false_negatives
            ),
            (6, 2, 4)
        );
        assert_eq!(score.flagged(), 8);
        assert_eq!(score.precision, Some(0.75));
        assert_eq!(score.recall, Some(0.6));
        let f1 = score.f1.unwrap();
        assert!((f1 - 2.0 * 0.75 * 0.6 / 1.35).abs() < 1e-12, "{f1}");
    }

    #[test]
    fn undefined_ratios_stay_undefined() {
        let nothing_flagged = Score::of([], ["a", "b"]);
        assert_eq!(nothing_flagged.precision, None);
        assert_eq!(nothing_flagged.recall, Some(0.0));
        assert_eq!(nothing_flagged.f1, None);
        let nothing_poisoned = Score::of(["a"], []);
        assert_eq!(nothing_poisoned.precision, Some(0.0));
        assert_eq!(nothing_poisoned.recall, None);
        let all_wrong = Score::of(["a"], ["b"]);
        assert_eq!(all_wrong.f1, Some(0.0));
    }
}
