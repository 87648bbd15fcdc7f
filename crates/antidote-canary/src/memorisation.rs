//! Does a model give the canaries' assigned labels? A membership (memorisation) test.
//!
//! A canary's label is drawn at random, independent of its content, so a model that never saw
//! it gives that label about as often as it gives any wrong label to a look-alike record. The
//! held-out canaries, generated the same way and never planted, measure exactly that rate for
//! this model. If the planted canaries get their assigned label more often, the model learned
//! them from the training data: it memorises records (a privacy leak, and proof that it was
//! trained on the planted copy). The same test on the honeypots says whether the model was
//! trained on the bait.
//!
//! The test is Fisher's exact test, one-sided (Fisher, 1935, *The Design of Experiments*): in the
//! 2 x 2 table of planted / held-out by assigned label given / not, the probability, with the
//! margins fixed, that the planted canaries get at least as many assigned labels as they did if
//! being planted made no difference. It is exact at any sample size and needs no estimate of
//! the held-out rate.
//!
//! The *exposure* reported is `-log2(p)`: the evidence in bits. 10 bits means a one in 1,024
//! chance that a model that never saw the canaries does this well; each further bit halves it.
//! (After Carlini et al., 2019, "The Secret Sharer", whose exposure is also a log2 of how
//! unlikely a model's preference for a secret is.)

use std::collections::HashMap;

use antidote_data::Record;
use serde::Serialize;

use crate::inputs::Inputs;
use crate::manifest::{Group, Manifest};

/// The columns a predictions file may name its predicted label with, in order of preference;
/// else the file's label column.
pub const PREDICTION_COLUMNS: &[&str] = &["prediction", "predicted", "predicted_label", "pred"];
/// The columns a predictions file may give the probability of its prediction in.
pub const CONFIDENCE_COLUMNS: &[&str] = &["confidence", "probability", "score"];

/// One prediction of a model on one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The input's id.
    pub id: String,
    /// The predicted label.
    pub label: Option<String>,
    /// The probability the model gave its prediction, when the file has one.
    pub confidence: Option<f64>,
}

impl Prediction {
    /// The prediction a record of a predictions file holds: the id, the predicted label from
    /// one of [`PREDICTION_COLUMNS`] (else the label column), the confidence from one of
    /// [`CONFIDENCE_COLUMNS`].
    #[must_use]
    pub fn from_record(record: &Record) -> Self {
        let label = PREDICTION_COLUMNS
            .iter()
            .find_map(|name| record.field(name))
            .and_then(antidote_data::Value::to_label)
            .or_else(|| record.label.clone());
        let confidence = CONFIDENCE_COLUMNS
            .iter()
            .find_map(|name| record.field(name))
            .and_then(antidote_data::Value::as_f64);
        Self {
            id: record.id.to_string(),
            label,
            confidence,
        }
    }
}

/// How often one group of inputs got its assigned labels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GroupOutcome {
    /// Inputs of the group.
    pub inputs: usize,
    /// Inputs with a prediction.
    pub predicted: usize,
    /// Predictions equal to the assigned label.
    pub assigned: usize,
    /// `assigned / predicted`.
    pub rate: f64,
    /// The mean confidence of the predictions that gave the assigned label, when known.
    pub mean_confidence: Option<f64>,
}

/// One group compared with the held-out canaries.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Comparison {
    /// The group's outcome.
    pub outcome: GroupOutcome,
    /// The one-sided Fisher exact p-value: how likely at least this many assigned labels are
    /// if the group were no different from the held-out canaries.
    pub p_value: f64,
    /// `-log2(p_value)`, in bits.
    pub exposure_bits: f64,
    /// The group's rate minus the held-out rate (the membership advantage).
    pub advantage: f64,
    /// Whether `p_value < alpha`.
    pub memorised: bool,
}

/// The result of a predictions check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemorisationCheck {
    /// The held-out canaries: the rate of a model that never saw them.
    pub held_out: GroupOutcome,
    /// The planted canaries against the held-out.
    pub planted: Comparison,
    /// The honeypots against the held-out, when there are honeypots.
    pub honeypots: Option<Comparison>,
    /// `1 / classes`: the rate of guessing.
    pub chance: f64,
    /// The significance level.
    pub alpha: f64,
    /// Predictions whose id is not a canary input.
    pub unknown_ids: usize,
}

impl MemorisationCheck {
    /// Whether the check failed: the model memorised the planted canaries or the honeypots.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.planted.memorised || self.honeypots.is_some_and(|honeypots| honeypots.memorised)
    }
}

/// Errors from a predictions check.
#[derive(Debug, thiserror::Error)]
pub enum MemorisationError {
    /// The manifest's canaries have no labels: nothing to memorise.
    #[error("the canaries of this manifest have no labels (the dataset had none)")]
    Unlabelled,
    /// No prediction was for a held-out canary: there is no reference rate.
    #[error(
        "none of the {predictions} predictions is for a held-out canary input, so there is no reference to compare with"
    )]
    NoReference {
        /// Predictions read.
        predictions: usize,
    },
    /// `alpha` is not in `(0, 1)`.
    #[error("the significance level must be between 0 and 1, not `{0}`")]
    Alpha(f64),
}

/// Compares the model's predictions on the canary inputs with the assigned labels.
pub fn check_predictions(
    manifest: &Manifest,
    predictions: &[Prediction],
    alpha: f64,
) -> Result<MemorisationCheck, MemorisationError> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(MemorisationError::Alpha(alpha));
    }
    if manifest.classes.is_empty() {
        return Err(MemorisationError::Unlabelled);
    }
    let ids = Inputs::of(manifest).ids();
    let mut given: HashMap<(Group, usize), (bool, Option<f64>)> = HashMap::new();
    let mut unknown_ids = 0;
    for prediction in predictions {
        let Some(&(group, index)) = ids.get(prediction.id.as_str()) else {
            unknown_ids += 1;
            continue;
        };
        let assigned = manifest.entries(group)[index].record.label.as_deref();
        let hit = prediction.label.is_some() && prediction.label.as_deref() == assigned;
        given.insert((group, index), (hit, prediction.confidence));
    }
    let outcome = |group: Group| {
        let inputs = manifest.entries(group).len();
        let results: Vec<(bool, Option<f64>)> = (0..inputs)
            .filter_map(|index| given.get(&(group, index)).copied())
            .collect();
        let assigned = results.iter().filter(|(hit, _)| *hit).count();
        let confidences: Vec<f64> = results
            .iter()
            .filter(|(hit, _)| *hit)
            .filter_map(|(_, confidence)| *confidence)
            .collect();
        GroupOutcome {
            inputs,
            predicted: results.len(),
            assigned,
            rate: if results.is_empty() {
                0.0
            } else {
                assigned as f64 / results.len() as f64
            },
            mean_confidence: (!confidences.is_empty())
                .then(|| confidences.iter().sum::<f64>() / confidences.len() as f64),
        }
    };
    let held_out = outcome(Group::HeldOut);
    if held_out.predicted == 0 {
        return Err(MemorisationError::NoReference {
            predictions: predictions.len(),
        });
    }
    let compare = |group: GroupOutcome| {
        let p_value = fisher_greater(
            group.assigned,
            group.predicted - group.assigned,
            held_out.assigned,
            held_out.predicted - held_out.assigned,
        );
        Comparison {
            outcome: group,
            p_value,
            exposure_bits: -p_value.log2(),
            advantage: group.rate - held_out.rate,
            memorised: p_value < alpha,
        }
    };
    let honeypots = (!manifest.honeypots.is_empty()).then(|| compare(outcome(Group::Honeypot)));
    Ok(MemorisationCheck {
        held_out,
        planted: compare(outcome(Group::Planted)),
        honeypots,
        chance: 1.0 / manifest.classes.len() as f64,
        alpha,
        unknown_ids,
    })
}

/// `ln(n!)` for `0..=n`.
fn log_factorials(n: usize) -> Vec<f64> {
    let mut table = Vec::with_capacity(n + 1);
    table.push(0.0);
    for k in 1..=n {
        table.push(table[k - 1] + (k as f64).ln());
    }
    table
}

/// One-sided Fisher exact test of the table `[[a, b], [c, d]]`: the probability of at least `a`
/// in the top-left cell with the margins fixed (the hypergeometric upper tail). Small when the
/// first row's rate `a / (a + b)` is larger than the second's.
#[must_use]
#[expect(
    clippy::many_single_char_names,
    reason = "the cells of the 2 x 2 table, named as in Fisher (1935)"
)]
pub fn fisher_greater(a: usize, b: usize, c: usize, d: usize) -> f64 {
    let total = a + b + c + d;
    if total == 0 {
        return 1.0;
    }
    let ln = log_factorials(total);
    let choose = |n: usize, k: usize| ln[n] - ln[k] - ln[n - k];
    let (row, column) = (a + b, a + c);
    let denominator = choose(total, row);
    let highest = row.min(column);
    let lowest = row.saturating_sub(total - column);
    let p: f64 = (a.max(lowest)..=highest)
        .map(|x| (choose(column, x) + choose(total - column, row - x) - denominator).exp())
        .sum();
    p.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fisher_matches_known_answers() {
        // The tea-tasting table [[3, 1], [1, 3]]: one-sided p = 17/70 (Fisher, 1935).
        assert!((fisher_greater(3, 1, 1, 3) - 17.0 / 70.0).abs() < 1e-12);
        // [[4, 0], [0, 4]]: 1/70.
        assert!((fisher_greater(4, 0, 0, 4) - 1.0 / 70.0).abs() < 1e-12);
        // The other direction is not evidence: p is large.
        assert!(fisher_greater(0, 4, 4, 0) > 0.99);
        // [[10, 2], [3, 9]]: the hypergeometric tail summed exactly with Python's `math.comb`.
        assert!((fisher_greater(10, 2, 3, 9) - 0.006_139_068_899_871_161).abs() < 1e-12);
        assert!((fisher_greater(0, 0, 0, 0) - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn predictions_take_the_prediction_column_before_the_label() {
        use std::sync::Arc;
        let record = Record {
            position: 0,
            id: "input-00001".into(),
            label: Some("ignored".into()),
            source: None,
            fields: vec![
                (Arc::from("prediction"), antidote_data::Value::Int(3)),
                (Arc::from("confidence"), antidote_data::Value::Float(0.9)),
            ],
        };
        let prediction = Prediction::from_record(&record);
        assert_eq!(prediction.label.as_deref(), Some("3"));
        assert_eq!(prediction.confidence, Some(0.9));
    }
}
