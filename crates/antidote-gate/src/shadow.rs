//! Shadow replay: recorded production inputs through the candidate and the serving model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Disagreement on the inputs the serving model put in one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShadowClass {
    /// The class the serving (baseline) model answered.
    pub class: String,
    /// Inputs it put there.
    pub records: usize,
    /// Of those, how many the candidate answers differently.
    pub disagreements: usize,
    /// `disagreements / records`.
    pub share: f64,
    /// Where the candidate sends them instead, most frequent first (class, count).
    pub moved_to: Vec<(String, usize)>,
}

/// The shadow replay. It informs the release and does not fail the gate: production inputs
/// have no labels, so a disagreement may be the candidate's fix as well as its fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShadowReport {
    /// Inputs replayed.
    pub records: usize,
    /// Inputs the two models answer differently.
    pub disagreements: usize,
    /// `disagreements / records`.
    pub share: f64,
    /// Per class of the serving model, in `classes` order then any other class.
    pub classes: Vec<ShadowClass>,
}

impl ShadowReport {
    /// Compares the candidate's answers with the serving model's.
    #[must_use]
    pub fn new(classes: &[String], candidate: &[String], serving: &[String]) -> Self {
        let mut by_class: BTreeMap<&str, (usize, BTreeMap<&str, usize>)> = BTreeMap::new();
        for (candidate, serving) in candidate.iter().zip(serving) {
            let entry = by_class.entry(serving).or_default();
            entry.0 += 1;
            if candidate != serving {
                *entry.1.entry(candidate).or_default() += 1;
            }
        }
        let rank = |class: &str| {
            classes
                .iter()
                .position(|known| known == class)
                .unwrap_or(classes.len())
        };
        let mut rows: Vec<ShadowClass> = by_class
            .into_iter()
            .map(|(class, (records, moved))| {
                let disagreements = moved.values().sum();
                let mut moved_to: Vec<(String, usize)> = moved
                    .into_iter()
                    .map(|(class, count)| (class.to_owned(), count))
                    .collect();
                moved_to.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                ShadowClass {
                    class: class.to_owned(),
                    records,
                    disagreements,
                    share: disagreements as f64 / records as f64,
                    moved_to,
                }
            })
            .collect();
        rows.sort_by_key(|row| rank(&row.class));
        let disagreements = rows.iter().map(|row| row.disagreements).sum();
        Self {
            records: candidate.len(),
            disagreements,
            share: disagreements as f64 / candidate.len().max(1) as f64,
            classes: rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disagreement_is_counted_by_the_serving_class() {
        let text = |items: &[&str]| {
            items
                .iter()
                .map(|&item| item.to_owned())
                .collect::<Vec<_>>()
        };
        let report = ShadowReport::new(
            &text(&["a", "b"]),
            &text(&["a", "b", "b", "a", "b"]),
            &text(&["a", "a", "a", "a", "b"]),
        );
        assert_eq!(report.records, 5);
        assert_eq!(report.disagreements, 2);
        assert_eq!(report.classes[0].class, "a");
        assert_eq!(report.classes[0].disagreements, 2);
        assert_eq!(report.classes[0].moved_to, [("b".to_owned(), 2)]);
        assert_eq!(report.classes[1].disagreements, 0);
    }
}
