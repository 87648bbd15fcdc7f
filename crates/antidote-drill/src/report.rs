//! `drill.json`: every control and exercise of a drill, and the totals a person reads first.

use serde::Serialize;

use crate::plan::Plan;
use crate::{Control, Exercise, LayerKind, Outcome};

/// A dataset a drill ran on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillDataset {
    /// Its name.
    pub name: String,
    /// Its records.
    pub records: usize,
    /// The licence of an embedded dataset.
    pub licence: Option<&'static str>,
}

impl From<&Plan> for DrillDataset {
    fn from(plan: &Plan) -> Self {
        Self {
            name: plan.data.name.clone(),
            records: plan.data.dataset.records.len(),
            licence: plan.licence,
        }
    }
}

/// An exercise the attack could not run on its dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedExercise {
    /// The dataset.
    pub dataset: String,
    /// The attack and rate.
    pub exercise: Exercise,
    /// Why the attack could not run.
    pub reason: String,
}

/// Everything a drill measured: the content of `drill.json`.
#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    /// The version of antidote that ran it.
    pub antidote: String,
    /// The seed.
    pub seed: u64,
    /// Whether the built-in model was trained before and after the quarantine.
    pub train: bool,
    /// The datasets.
    pub datasets: Vec<DrillDataset>,
    /// The scan of each clean dataset.
    pub controls: Vec<Control>,
    /// The exercises that ran.
    pub exercises: Vec<Outcome>,
    /// The exercises that could not run.
    pub skipped: Vec<SkippedExercise>,
    /// Seconds the drill took.
    pub seconds: f64,
}

/// What a drill caught over all its exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Exercises run.
    pub exercises: usize,
    /// Exercises on which `diff` raised the alarm.
    pub diff_alarms: usize,
    /// Exercises on which `check` raised the alarm.
    pub check_alarms: usize,
    /// Exercises on which `scan` said not to train.
    pub scan_alarms: usize,
    /// Planted triggers the scan named.
    pub triggers_named: usize,
    /// Triggers planted.
    pub triggers_planted: usize,
    /// Poisoned records the scan quarantined.
    pub poisoned_quarantined: usize,
    /// Poisoned records the scan flagged in either tier.
    pub poisoned_flagged: usize,
    /// Poisoned records.
    pub poisoned: usize,
}

impl DrillReport {
    /// The report as a JSON value, keys in alphabetical order (as `drill.json` writes them).
    ///
    /// # Errors
    ///
    /// Never in practice: every field is plain data with string keys.
    pub fn to_json(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::to_value(self)
    }

    /// The totals over every exercise.
    #[must_use]
    pub fn totals(&self) -> Totals {
        let outcomes = &self.exercises;
        let alarms = |layer: LayerKind| {
            outcomes
                .iter()
                .filter(|outcome| outcome.layer(layer).is_some_and(|result| result.alarm))
                .count()
        };
        Totals {
            exercises: outcomes.len(),
            diff_alarms: alarms(LayerKind::Diff),
            check_alarms: alarms(LayerKind::Check),
            scan_alarms: alarms(LayerKind::Scan),
            triggers_named: outcomes
                .iter()
                .filter(|outcome| {
                    outcome
                        .trigger
                        .as_ref()
                        .is_some_and(|trigger| trigger.found.is_some())
                })
                .count(),
            triggers_planted: outcomes
                .iter()
                .filter(|outcome| outcome.trigger.is_some())
                .count(),
            poisoned_quarantined: outcomes
                .iter()
                .filter_map(|outcome| outcome.layer(LayerKind::Quarantine)?.score)
                .map(|score| score.true_positives)
                .sum(),
            poisoned_flagged: outcomes
                .iter()
                .filter_map(|outcome| outcome.layer(LayerKind::Scan)?.score)
                .map(|score| score.true_positives)
                .sum(),
            poisoned: outcomes.iter().map(|outcome| outcome.poisoned).sum(),
        }
    }
}
