//! Declarative rules from `antidote.toml`, checked against a profile.
//!
//! ```toml
//! [rules]
//! allowed_labels = ["cat", "dog"]   # any other label value is an error
//! min_records = 1000
//! max_class_share = 0.5             # no class may hold more than half the records
//! max_missing = 0.1                 # no column may be missing in more than 10% of records
//!
//! [rules.columns.age]
//! min = 0
//! max = 120
//! max_missing = 0.0
//! max_drift = 0.2                   # for distance statistics (Wasserstein, Jensen-Shannon)
//! ```

use std::collections::BTreeMap;

use antidote_core::Severity;
use serde::{Deserialize, Serialize};

use crate::check::{Anomaly, ColumnDrift};
use crate::profile::{ColumnStats, Profile};

/// Rules for one column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColumnRules {
    /// Smallest allowed value (numeric columns).
    pub min: Option<f64>,
    /// Largest allowed value (numeric columns).
    pub max: Option<f64>,
    /// Largest allowed share of records without a value.
    pub max_missing: Option<f64>,
    /// Largest allowed drift distance against the baseline.
    pub max_drift: Option<f64>,
}

/// The `[rules]` table of `antidote.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// The only label values allowed.
    pub allowed_labels: Option<Vec<String>>,
    /// The fewest records a dataset may have.
    pub min_records: Option<u64>,
    /// The largest share of records one class may hold.
    pub max_class_share: Option<f64>,
    /// The largest share of records any column may be missing in.
    pub max_missing: Option<f64>,
    /// Rules per column, by name.
    pub columns: BTreeMap<String, ColumnRules>,
}

fn violation(column: Option<&str>, value: f64, threshold: f64, message: String) -> Anomaly {
    Anomaly {
        check: "rule".to_owned(),
        severity: Severity::Error,
        column: column.map(str::to_owned),
        statistic: None,
        value: Some(value),
        threshold: Some(threshold),
        message,
        details: serde_json::Value::Null,
    }
}

impl Rules {
    /// Whether no rule is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Every rule `profile` breaks; `drift` is the drift measured against the baseline, if any.
    #[must_use]
    pub fn evaluate(&self, profile: &Profile, drift: &[ColumnDrift]) -> Vec<Anomaly> {
        let mut found = Vec::new();
        if let Some(min_records) = self.min_records {
            if profile.record_count < min_records {
                found.push(violation(
                    None,
                    profile.record_count as f64,
                    min_records as f64,
                    format!(
                        "the dataset has {} records, fewer than the {min_records} required",
                        profile.record_count
                    ),
                ));
            }
        }
        let shares = profile.label_shares();
        if let Some(allowed) = &self.allowed_labels {
            let unexpected: Vec<&String> = shares
                .keys()
                .filter(|label| !allowed.contains(label))
                .collect();
            if !unexpected.is_empty() {
                let mut anomaly = violation(
                    None,
                    unexpected.len() as f64,
                    0.0,
                    format!(
                        "label values outside `allowed_labels`: {}",
                        unexpected
                            .iter()
                            .take(10)
                            .map(|label| format!("`{label}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                anomaly.value = None;
                anomaly.threshold = None;
                found.push(anomaly);
            }
        }
        if let Some(limit) = self.max_class_share {
            for (label, share) in &shares {
                if *share > limit {
                    found.push(violation(
                        None,
                        *share,
                        limit,
                        format!("class `{label}` holds {:.1}% of records, more than `max_class_share` {:.1}%", 100.0 * share, 100.0 * limit),
                    ));
                }
            }
        }
        for column in &profile.columns {
            let rules = self.columns.get(&column.name);
            let max_missing = rules
                .and_then(|rules| rules.max_missing)
                .or(self.max_missing);
            if let Some(limit) = max_missing {
                if column.missing_share() > limit {
                    found.push(violation(
                        Some(&column.name),
                        column.missing_share(),
                        limit,
                        format!(
                            "column `{}` is missing in {:.1}% of records, more than {:.1}%",
                            column.name,
                            100.0 * column.missing_share(),
                            100.0 * limit
                        ),
                    ));
                }
            }
            let Some(rules) = rules else { continue };
            if let ColumnStats::Numeric(stats) = &column.stats {
                if let (Some(min), Some(seen)) = (rules.min, stats.min) {
                    if seen < min {
                        found.push(violation(
                            Some(&column.name),
                            seen,
                            min,
                            format!(
                                "column `{}` has values below {min} (smallest {seen})",
                                column.name
                            ),
                        ));
                    }
                }
                if let (Some(max), Some(seen)) = (rules.max, stats.max) {
                    if seen > max {
                        found.push(violation(
                            Some(&column.name),
                            seen,
                            max,
                            format!(
                                "column `{}` has values above {max} (largest {seen})",
                                column.name
                            ),
                        ));
                    }
                }
            }
            if let Some(limit) = rules.max_drift {
                let measured = drift.iter().find(|measured| {
                    measured.column == column.name && !measured.statistic.ends_with("p-value")
                });
                if let Some(measured) = measured.filter(|measured| measured.value > limit) {
                    found.push(violation(
                        Some(&column.name),
                        measured.value,
                        limit,
                        format!(
                            "column `{}` drifted by {} {:.4}, more than `max_drift` {limit}",
                            column.name, measured.statistic, measured.value
                        ),
                    ));
                }
            }
        }
        for name in self.columns.keys() {
            if profile.column(name).is_none() {
                let mut anomaly = violation(
                    Some(name),
                    0.0,
                    0.0,
                    format!(
                        "`antidote.toml` has rules for column `{name}`, which the dataset does not have"
                    ),
                );
                anomaly.severity = Severity::Warning;
                anomaly.value = None;
                anomaly.threshold = None;
                found.push(anomaly);
            }
        }
        found
    }
}
