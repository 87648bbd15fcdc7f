//! Golden-set accuracy against a baseline model, overall and per class.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::Thresholds;

/// Accuracy on one class of the golden set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassAccuracy {
    /// The class.
    pub class: String,
    /// Golden records of the class.
    pub records: usize,
    /// The candidate's accuracy on them.
    pub accuracy: f64,
    /// The baseline's, when there is a baseline.
    pub baseline: Option<f64>,
    /// `accuracy - baseline` (negative is a drop).
    pub delta: Option<f64>,
    /// Whether the class has enough records for its drop to count
    /// ([`Thresholds::min_class_records`]).
    pub judged: bool,
    /// Whether this class fails the gate.
    pub failed: bool,
}

/// The accuracy check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyCheck {
    /// Golden records.
    pub records: usize,
    /// The candidate's accuracy.
    pub accuracy: f64,
    /// The baseline's accuracy, when there is a baseline.
    pub baseline: Option<f64>,
    /// `accuracy - baseline`.
    pub delta: Option<f64>,
    /// Whether the overall drop exceeds [`Thresholds::max_accuracy_drop`].
    pub overall_failed: bool,
    /// Per class, in the golden set's class order.
    pub classes: Vec<ClassAccuracy>,
    /// Whether the check fails the gate (overall or any judged class).
    pub failed: bool,
}

impl AccuracyCheck {
    /// Compares `candidate` and `baseline` predictions with the golden `labels`; `classes` in report order.
    ///
    /// The rule: the gate fails when the overall accuracy drops by more than
    /// `max_accuracy_drop`, or when the accuracy of a class with at least `min_class_records`
    /// golden records drops by more than `max_class_accuracy_drop`. Smaller classes are
    /// reported and never fail: with 10 records one error moves a class by 10 points.
    #[must_use]
    pub fn new(
        classes: &[String],
        labels: &[String],
        candidate: &[String],
        baseline: Option<&[String]>,
        thresholds: &Thresholds,
    ) -> Self {
        let hit = |predicted: &[String], row: usize| predicted[row] == labels[row];
        let share = |count: usize, total: usize| count as f64 / total.max(1) as f64;
        let mut rows_by_class: HashMap<&str, Vec<usize>> = HashMap::new();
        for (row, label) in labels.iter().enumerate() {
            rows_by_class.entry(label).or_default().push(row);
        }
        let accuracy_of = |predicted: &[String], rows: &mut dyn Iterator<Item = usize>| {
            let mut total = 0;
            let mut correct = 0;
            for row in rows {
                total += 1;
                correct += usize::from(hit(predicted, row));
            }
            share(correct, total)
        };
        let accuracy = accuracy_of(candidate, &mut (0..labels.len()));
        let baseline_accuracy =
            baseline.map(|baseline| accuracy_of(baseline, &mut (0..labels.len())));
        let delta = baseline_accuracy.map(|baseline| accuracy - baseline);
        let overall_failed =
            delta.is_some_and(|delta| -delta > thresholds.max_accuracy_drop + 1e-12);
        let classes: Vec<ClassAccuracy> = classes
            .iter()
            .filter_map(|class| Some((class, rows_by_class.get(class.as_str())?)))
            .map(|(class, rows)| {
                let accuracy = accuracy_of(candidate, &mut rows.iter().copied());
                let baseline =
                    baseline.map(|baseline| accuracy_of(baseline, &mut rows.iter().copied()));
                let delta = baseline.map(|baseline| accuracy - baseline);
                let judged = rows.len() >= thresholds.min_class_records;
                ClassAccuracy {
                    class: class.clone(),
                    records: rows.len(),
                    accuracy,
                    baseline,
                    delta,
                    judged,
                    failed: judged
                        && delta.is_some_and(|delta| {
                            -delta > thresholds.max_class_accuracy_drop + 1e-12
                        }),
                }
            })
            .collect();
        let failed = overall_failed || classes.iter().any(|class| class.failed);
        Self {
            records: labels.len(),
            accuracy,
            baseline: baseline_accuracy,
            delta,
            overall_failed,
            classes,
            failed,
        }
    }
}
