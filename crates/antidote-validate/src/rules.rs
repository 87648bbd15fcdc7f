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

use antidote_core::display::percent;
use std::collections::BTreeMap;

use antidote_core::Severity;
use serde::{Deserialize, Serialize};

use crate::check::{Anomaly, ColumnDrift};
use crate::profile::{ColumnProfile, ColumnStats, NumericStats, Profile};

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
        found.extend(self.record_count_rule(profile));
        self.label_rules(profile, &mut found);
        for column in &profile.columns {
            self.column_rules(column, drift, &mut found);
        }
        found.extend(self.rules_for_absent_columns(profile));
        found
    }

    /// `min_records`.
    fn record_count_rule(&self, profile: &Profile) -> Option<Anomaly> {
        let min_records = self.min_records?;
        (profile.record_count < min_records).then(|| {
            violation(
                None,
                profile.record_count as f64,
                min_records as f64,
                format!(
                    "the dataset has {} records, fewer than the {min_records} required",
                    profile.record_count
                ),
            )
        })
    }

    /// `allowed_labels` and `max_class_share`.
    fn label_rules(&self, profile: &Profile, found: &mut Vec<Anomaly>) {
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
                        format!(
                            "class `{label}` holds {} of records, more than `max_class_share` {}",
                            percent(*share),
                            percent(limit)
                        ),
                    ));
                }
            }
        }
    }

    /// `max_missing` (the column's own, else the global one), then the column's range and
    /// drift rules.
    fn column_rules(
        &self,
        column: &ColumnProfile,
        drift: &[ColumnDrift],
        found: &mut Vec<Anomaly>,
    ) {
        let rules = self.columns.get(&column.name);
        let max_missing = rules
            .and_then(|rules| rules.max_missing)
            .or(self.max_missing);
        if let Some(limit) = max_missing
            && column.missing_share() > limit
        {
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
        let Some(rules) = rules else { return };
        if let ColumnStats::Numeric(stats) = &column.stats {
            found.extend(range_rules(&column.name, rules, stats));
        }
        found.extend(drift_rule(&column.name, rules, drift));
    }

    /// Rules for columns the dataset does not have: a warning each, as the name may be a typo.
    fn rules_for_absent_columns(&self, profile: &Profile) -> Vec<Anomaly> {
        self.columns
            .keys()
            .filter(|name| profile.column(name).is_none())
            .map(|name| {
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
                anomaly
            })
            .collect()
    }
}

/// `min` and `max` of a numeric column.
fn range_rules(name: &str, rules: &ColumnRules, stats: &NumericStats) -> Vec<Anomaly> {
    let mut found = Vec::new();
    if let (Some(min), Some(seen)) = (rules.min, stats.min)
        && seen < min
    {
        found.push(violation(
            Some(name),
            seen,
            min,
            format!("column `{name}` has values below {min} (smallest {seen})"),
        ));
    }
    if let (Some(max), Some(seen)) = (rules.max, stats.max)
        && seen > max
    {
        found.push(violation(
            Some(name),
            seen,
            max,
            format!("column `{name}` has values above {max} (largest {seen})"),
        ));
    }
    found
}

/// `max_drift`, against the column's distance statistic (p-values do not count).
fn drift_rule(name: &str, rules: &ColumnRules, drift: &[ColumnDrift]) -> Option<Anomaly> {
    let limit = rules.max_drift?;
    let measured = drift
        .iter()
        .find(|measured| measured.column == name && !measured.statistic.ends_with("p-value"))?;
    (measured.value > limit).then(|| {
        violation(
            Some(name),
            measured.value,
            limit,
            format!(
                "column `{name}` drifted by {} {:.4}, more than `max_drift` {limit}",
                measured.statistic, measured.value
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use antidote_data::{ColumnKind, Value};

    use super::*;
    use crate::check::tests::{profile_of, text};

    /// Ten records: labels `a` (5), `b` (3) and `c` (2); `x` from 0 to 9, missing in records 3
    /// and 7 (20%); `w` always present.
    fn profile() -> Profile {
        let labels = ["a", "a", "a", "a", "a", "b", "b", "b", "c", "c"];
        let rows = (0..10)
            .zip(labels)
            .map(|(index, label)| {
                let x = if index == 3 || index == 7 {
                    Value::Null
                } else {
                    Value::Float(f64::from(index))
                };
                vec![text(label), x, Value::Int(i64::from(index))]
            })
            .collect();
        profile_of(
            &[
                ("label", ColumnKind::Categorical),
                ("x", ColumnKind::Float),
                ("w", ColumnKind::Integer),
            ],
            rows,
        )
    }

    fn column(name: &str, rules: ColumnRules) -> BTreeMap<String, ColumnRules> {
        BTreeMap::from([(name.to_owned(), rules)])
    }

    fn messages(rules: &Rules, drift: &[ColumnDrift]) -> Vec<String> {
        let found = rules.evaluate(&profile(), drift);
        assert!(
            found.iter().all(|anomaly| anomaly.check == "rule"),
            "{found:#?}"
        );
        found.into_iter().map(|anomaly| anomaly.message).collect()
    }

    fn drift(column: &str, statistic: &str, value: f64) -> ColumnDrift {
        ColumnDrift {
            column: column.to_owned(),
            statistic: statistic.to_owned(),
            value,
            threshold: 0.1,
            drifted: value > 0.1,
        }
    }

    #[test]
    fn no_rules_find_nothing() {
        assert!(Rules::default().is_empty());
        assert!(Rules::default().evaluate(&profile(), &[]).is_empty());
    }

    #[test]
    fn allowed_labels() {
        let broken = Rules {
            allowed_labels: Some(vec!["a".to_owned(), "b".to_owned()]),
            ..Rules::default()
        };
        assert!(!broken.is_empty());
        let found = broken.evaluate(&profile(), &[]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(
            found[0].message,
            "label values outside `allowed_labels`: `c`"
        );
        let respected = Rules {
            allowed_labels: Some(vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]),
            ..Rules::default()
        };
        assert!(messages(&respected, &[]).is_empty());
    }

    #[test]
    fn min_records() {
        let rules = |min_records| Rules {
            min_records: Some(min_records),
            ..Rules::default()
        };
        let found = rules(11).evaluate(&profile(), &[]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(
            (found[0].value, found[0].threshold),
            (Some(10.0), Some(11.0))
        );
        assert_eq!(
            found[0].message,
            "the dataset has 10 records, fewer than the 11 required"
        );
        assert!(messages(&rules(10), &[]).is_empty());
    }

    #[test]
    fn max_class_share() {
        let rules = |share| Rules {
            max_class_share: Some(share),
            ..Rules::default()
        };
        assert_eq!(
            messages(&rules(0.4), &[]),
            ["class `a` holds 50% of records, more than `max_class_share` 40%"]
        );
        assert_eq!(messages(&rules(0.25), &[]).len(), 2, "`a` and `b`");
        assert!(messages(&rules(0.5), &[]).is_empty());
    }

    #[test]
    fn max_missing_for_every_column() {
        let rules = |limit| Rules {
            max_missing: Some(limit),
            ..Rules::default()
        };
        let found = rules(0.1).evaluate(&profile(), &[]);
        assert_eq!(found.len(), 1, "only `x` misses values: {found:#?}");
        assert_eq!(found[0].column.as_deref(), Some("x"));
        assert_eq!(
            found[0].message,
            "column `x` is missing in 20.0% of records, more than 10.0%"
        );
        assert!(messages(&rules(0.2), &[]).is_empty());
    }

    #[test]
    fn max_missing_per_column_overrides_the_global_limit() {
        let per_column = |limit| ColumnRules {
            max_missing: Some(limit),
            ..ColumnRules::default()
        };
        let strict = Rules {
            columns: column("x", per_column(0.1)),
            ..Rules::default()
        };
        assert_eq!(
            messages(&strict, &[]),
            ["column `x` is missing in 20.0% of records, more than 10.0%"]
        );
        let lenient = Rules {
            max_missing: Some(0.1),
            columns: column("x", per_column(0.3)),
            ..Rules::default()
        };
        assert!(messages(&lenient, &[]).is_empty());
    }

    #[test]
    fn value_range() {
        let rules = |min, max| Rules {
            columns: column(
                "x",
                ColumnRules {
                    min: Some(min),
                    max: Some(max),
                    ..ColumnRules::default()
                },
            ),
            ..Rules::default()
        };
        assert_eq!(
            messages(&rules(1.0, 8.0), &[]),
            [
                "column `x` has values below 1 (smallest 0)",
                "column `x` has values above 8 (largest 9)",
            ]
        );
        assert_eq!(messages(&rules(0.0, 8.5), &[]).len(), 1);
        assert!(messages(&rules(0.0, 9.0), &[]).is_empty());
    }

    #[test]
    fn max_drift_on_distance_statistics() {
        let rules = |limit| Rules {
            columns: column(
                "x",
                ColumnRules {
                    max_drift: Some(limit),
                    ..ColumnRules::default()
                },
            ),
            ..Rules::default()
        };
        let measured = [
            drift("w", "wasserstein", 0.9),
            drift("x", "wasserstein", 0.3),
        ];
        let found = rules(0.2).evaluate(&profile(), &measured);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].column.as_deref(), Some("x"));
        assert_eq!(found[0].value, Some(0.3));
        assert_eq!(
            found[0].message,
            "column `x` drifted by wasserstein 0.3000, more than `max_drift` 0.2"
        );
        assert!(messages(&rules(0.4), &measured).is_empty());
        assert!(
            messages(&rules(0.2), &[drift("x", "ks-p-value", 0.3)]).is_empty(),
            "p-values are not distances"
        );
        assert!(messages(&rules(0.2), &[]).is_empty(), "nothing measured");
    }

    #[test]
    fn rules_for_a_column_the_dataset_lacks_are_a_warning() {
        let rules = Rules {
            columns: column(
                "age",
                ColumnRules {
                    min: Some(0.0),
                    ..ColumnRules::default()
                },
            ),
            ..Rules::default()
        };
        let found = rules.evaluate(&profile(), &[]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].severity, Severity::Warning);
        assert_eq!(found[0].column.as_deref(), Some("age"));
        assert_eq!(
            found[0].message,
            "`antidote.toml` has rules for column `age`, which the dataset does not have"
        );
        let present = Rules {
            columns: column(
                "w",
                ColumnRules {
                    min: Some(0.0),
                    ..ColumnRules::default()
                },
            ),
            ..Rules::default()
        };
        assert!(messages(&present, &[]).is_empty());
    }
}
