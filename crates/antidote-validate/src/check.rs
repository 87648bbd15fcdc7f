//! Checks of new data against a baseline profile: schema, drift, label shift, duplicates, rules.
//!
//! Each check yields [`Anomaly`]s with a severity; the run fails when one is at
//! [`Severity::Error`]. Drift tests follow the defaults users know from Evidently: for numeric
//! columns the two-sample Kolmogorov-Smirnov test (p < 0.05) when either sample has at most
//! 1,000 values, otherwise the Wasserstein distance normalised by the baseline's standard
//! deviation (> 0.1); for categorical columns the chi-squared test (p < 0.05) on small samples,
//! otherwise the Jensen-Shannon distance (> 0.1); for text the Jensen-Shannon distance of the
//! token distributions, with the tokens that carry most of it. A drifted column is a warning;
//! when at least half of the compared columns drift, the dataset has drifted, which is an error.

use std::collections::{BTreeMap, BTreeSet};

use antidote_core::Severity;
use serde::{Deserialize, Serialize};

use crate::profile::{
    CategoricalStats, ColumnProfile, ColumnStats, NumericStats, Profile, TextStats,
};
use crate::rules::Rules;
use crate::stats;

/// Points of the quantile grids compared by the numeric drift tests.
const GRID: usize = 201;
/// Tokens compared by the text drift test: the most frequent of both sides.
const TEXT_VOCABULARY: usize = 2000;

/// Thresholds of the checks. Defaults follow Evidently and TFDV; all can be set in
/// `antidote.toml` under `[check]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Samples with at most this many values use the statistical tests (KS, chi-squared).
    pub small_sample: u64,
    /// p-value below which KS and chi-squared call a column drifted.
    pub p_value: f64,
    /// Normalised Wasserstein distance above which a numeric column drifted.
    pub wasserstein: f64,
    /// Jensen-Shannon distance above which a categorical or text column drifted.
    pub jensen_shannon: f64,
    /// Share of drifted columns at which the whole dataset counts as drifted (an error).
    pub drift_share: f64,
    /// L-infinity distance of label shares above which label shift is an error.
    pub label_shift: f64,
    /// Increase of the exact-duplicate rate above which it is an error.
    pub duplicate_rate_increase: f64,
    /// Increase of a column's missing share above which it is a warning.
    pub missing_increase: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            small_sample: 1000,
            p_value: 0.05,
            wasserstein: 0.1,
            jensen_shannon: 0.1,
            drift_share: 0.5,
            label_shift: 0.05,
            duplicate_rate_increase: 0.01,
            missing_increase: 0.05,
        }
    }
}

/// Something `check` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// The check, in kebab-case: `missing-column`, `drift`, `label-shift`, `new-label`, ...
    pub check: String,
    /// How much it matters.
    pub severity: Severity,
    /// The column it concerns, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The statistic measured, if any (`ks-p-value`, `wasserstein`, `jensen-shannon`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// Its value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The threshold it crossed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// One sentence for a person.
    pub message: String,
    /// Supporting detail (the tokens that carry text drift, the classes that moved).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

/// The drift measured on one column, drifted or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    /// The column.
    pub column: String,
    /// The statistic used.
    pub statistic: String,
    /// Its value.
    pub value: f64,
    /// The threshold.
    pub threshold: f64,
    /// Whether it drifted (p-values drift below the threshold, distances above).
    pub drifted: bool,
}

/// Everything `check` found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckReport {
    /// Records in the baseline.
    pub baseline_records: u64,
    /// Records in the current data.
    pub current_records: u64,
    /// Anomalies, worst first.
    pub anomalies: Vec<Anomaly>,
    /// Every column's drift statistic.
    pub drift: Vec<ColumnDrift>,
}

impl CheckReport {
    /// Whether no anomaly is at error severity.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.anomalies
            .iter()
            .all(|anomaly| anomaly.severity < Severity::Error)
    }

    /// Anomalies at `severity`.
    #[must_use]
    pub fn count(&self, severity: Severity) -> usize {
        self.anomalies
            .iter()
            .filter(|anomaly| anomaly.severity == severity)
            .count()
    }

    /// Adds the anomalies of the declarative `rules` on `current`, gives each check named in
    /// `severities` that severity (`drift = "error"` fails the run on any drifted column), and
    /// orders the anomalies worst first, keeping the order of equals.
    pub fn apply_rules(
        &mut self,
        current: &Profile,
        rules: &Rules,
        severities: &BTreeMap<String, Severity>,
    ) {
        self.anomalies.extend(rules.evaluate(current, &self.drift));
        for anomaly in &mut self.anomalies {
            if let Some(severity) = severities.get(&anomaly.check) {
                anomaly.severity = *severity;
            }
        }
        self.anomalies
            .sort_by_key(|anomaly| std::cmp::Reverse(anomaly.severity));
    }
}

fn anomaly(check: &str, severity: Severity, column: Option<&str>, message: String) -> Anomaly {
    Anomaly {
        check: check.to_owned(),
        severity,
        column: column.map(str::to_owned),
        statistic: None,
        value: None,
        threshold: None,
        message,
        details: serde_json::Value::Null,
    }
}

/// Compares `current` with `baseline`.
#[must_use]
pub fn check(baseline: &Profile, current: &Profile, thresholds: &Thresholds) -> CheckReport {
    let mut anomalies = Vec::new();
    let mut drift = Vec::new();
    schema_checks(baseline, current, &mut anomalies);
    label_checks(baseline, current, thresholds, &mut anomalies);
    duplicate_check(baseline, current, thresholds, &mut anomalies);

    for column in &current.columns {
        let Some(base) = baseline.column(&column.name) else {
            continue;
        };
        if base.kind != column.kind {
            continue;
        }
        if column.missing_share() > base.missing_share() + thresholds.missing_increase {
            anomalies.push(anomaly(
                "missing-values",
                Severity::Warning,
                Some(&column.name),
                format!(
                    "column `{}` is missing in {:.1}% of records (baseline {:.1}%)",
                    column.name,
                    100.0 * column.missing_share(),
                    100.0 * base.missing_share()
                ),
            ));
        }
        if column.mismatched > 0 && base.mismatched == 0 {
            anomalies.push(anomaly(
                "type-mismatch",
                Severity::Warning,
                Some(&column.name),
                format!(
                    "column `{}` has {} values that are not {}",
                    column.name, column.mismatched, column.kind
                ),
            ));
        }
        if let Some(measured) = column_drift(base, column, thresholds, &mut anomalies) {
            drift.push(measured);
        }
    }
    let drifted = drift.iter().filter(|column| column.drifted).count();
    if !drift.is_empty()
        && drifted as f64 / drift.len() as f64 >= thresholds.drift_share
        && drifted > 0
    {
        let mut dataset = anomaly(
            "dataset-drift",
            Severity::Error,
            None,
            format!("{drifted} of {} compared columns drifted", drift.len()),
        );
        dataset.statistic = Some("drifted-share".to_owned());
        dataset.value = Some(drifted as f64 / drift.len() as f64);
        dataset.threshold = Some(thresholds.drift_share);
        anomalies.push(dataset);
    }
    anomalies.sort_by_key(|anomaly| std::cmp::Reverse(anomaly.severity));
    CheckReport {
        baseline_records: baseline.record_count,
        current_records: current.record_count,
        anomalies,
        drift,
    }
}

fn schema_checks(baseline: &Profile, current: &Profile, anomalies: &mut Vec<Anomaly>) {
    for column in &baseline.schema.columns {
        match current.schema.column(&column.name) {
            None => anomalies.push(anomaly(
                "missing-column",
                Severity::Error,
                Some(&column.name),
                format!(
                    "column `{}` ({}, {}) is in the baseline but not in the data",
                    column.name, column.kind, column.role
                ),
            )),
            Some(now) if now.kind != column.kind => anomalies.push(anomaly(
                "retyped-column",
                Severity::Error,
                Some(&column.name),
                format!(
                    "column `{}` was {} in the baseline and is {} now",
                    column.name, column.kind, now.kind
                ),
            )),
            Some(now) if now.role != column.role => anomalies.push(anomaly(
                "role-changed",
                Severity::Warning,
                Some(&column.name),
                format!(
                    "column `{}` was the {} column in the baseline and is {} now",
                    column.name, column.role, now.role
                ),
            )),
            Some(_) => {}
        }
    }
    for column in &current.schema.columns {
        if baseline.schema.column(&column.name).is_none() {
            anomalies.push(anomaly(
                "new-column",
                Severity::Warning,
                Some(&column.name),
                format!(
                    "column `{}` ({}) is new: the baseline does not have it",
                    column.name, column.kind
                ),
            ));
        }
    }
}

fn label_checks(
    baseline: &Profile,
    current: &Profile,
    thresholds: &Thresholds,
    anomalies: &mut Vec<Anomaly>,
) {
    let (Some(base), Some(now)) = (&baseline.label, &current.label) else {
        return;
    };
    let base_shares = baseline.label_shares();
    let now_shares = current.label_shares();
    anomalies.extend(new_label_check(now, &base_shares));
    if current.record_count > 0 {
        anomalies.extend(missing_label_check(&base_shares, &now_shares));
    }
    anomalies.extend(label_shift_check(
        (base, &base_shares),
        (now, &now_shares),
        thresholds,
    ));
}

/// Label values of `now` that the baseline never saw: an error, with their counts.
fn new_label_check(now: &CategoricalStats, base_shares: &BTreeMap<String, f64>) -> Option<Anomaly> {
    let new_labels: Vec<(String, u64)> = now
        .counts
        .items()
        .into_iter()
        .filter(|(label, _)| !base_shares.contains_key(label))
        .collect();
    if new_labels.is_empty() {
        return None;
    }
    let listed: Vec<String> = new_labels
        .iter()
        .take(10)
        .map(|(label, count)| format!("`{label}` ({count})"))
        .collect();
    let mut found = anomaly(
        "new-label",
        Severity::Error,
        None,
        format!(
            "{} never seen in the baseline: {}",
            if new_labels.len() == 1 {
                "1 label value".to_owned()
            } else {
                format!("{} label values", new_labels.len())
            },
            listed.join(", ")
        ),
    );
    found.details = serde_json::json!(
        new_labels
            .iter()
            .map(|(label, count)| serde_json::json!({"label": label, "count": count}))
            .collect::<Vec<_>>()
    );
    Some(found)
}

/// Label values of the baseline absent now: a warning.
fn missing_label_check(
    base_shares: &BTreeMap<String, f64>,
    now_shares: &BTreeMap<String, f64>,
) -> Option<Anomaly> {
    let gone: Vec<&String> = base_shares
        .keys()
        .filter(|label| !now_shares.contains_key(*label))
        .collect();
    if gone.is_empty() {
        return None;
    }
    Some(anomaly(
        "missing-label",
        Severity::Warning,
        None,
        format!(
            "label values in the baseline but absent now: {}",
            gone.iter()
                .take(10)
                .map(|label| format!("`{label}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

/// The L-infinity distance of the label shares: an error above the threshold, naming the
/// classes that moved most.
fn label_shift_check(
    (base, base_shares): (&CategoricalStats, &BTreeMap<String, f64>),
    (now, now_shares): (&CategoricalStats, &BTreeMap<String, f64>),
    thresholds: &Thresholds,
) -> Option<Anomaly> {
    let labels: BTreeSet<&String> = base_shares.keys().chain(now_shares.keys()).collect();
    let p: Vec<f64> = labels
        .iter()
        .map(|label| base_shares.get(*label).copied().unwrap_or(0.0))
        .collect();
    let q: Vec<f64> = labels
        .iter()
        .map(|label| now_shares.get(*label).copied().unwrap_or(0.0))
        .collect();
    let distance = stats::l_infinity(&p, &q);
    if distance <= thresholds.label_shift {
        return None;
    }
    let mut moves: Vec<(&String, f64, f64)> = labels
        .iter()
        .zip(p.iter().zip(&q))
        .map(|(label, (before, after))| (*label, *before, *after))
        .collect();
    moves.sort_by(|a, b| (b.2 - b.1).abs().total_cmp(&(a.2 - a.1).abs()));
    let described: Vec<String> = moves
        .iter()
        .take(3)
        .map(|(label, before, after)| {
            format!("`{label}` {:.1}% -> {:.1}%", 100.0 * before, 100.0 * after)
        })
        .collect();
    let mut found = anomaly(
        "label-shift",
        Severity::Error,
        None,
        format!(
            "label shares moved: {} (entropy {:.3} -> {:.3} bits)",
            described.join(", "),
            base.entropy_bits(),
            now.entropy_bits()
        ),
    );
    found.statistic = Some("l-infinity".to_owned());
    found.value = Some(distance);
    found.threshold = Some(thresholds.label_shift);
    found.details = serde_json::json!(moves
        .iter()
        .map(|(label, before, after)| serde_json::json!({"label": label, "baseline_share": before, "share": after}))
        .collect::<Vec<_>>());
    Some(found)
}

fn duplicate_check(
    baseline: &Profile,
    current: &Profile,
    thresholds: &Thresholds,
    anomalies: &mut Vec<Anomaly>,
) {
    let (before, after) = (baseline.duplicate_rate(), current.duplicate_rate());
    if after > before + thresholds.duplicate_rate_increase {
        let mut found = anomaly(
            "duplicate-rate",
            Severity::Error,
            None,
            format!(
                "{:.2}% of records duplicate an earlier one (baseline {:.2}%): a flood of copies can outweigh clean data",
                100.0 * after,
                100.0 * before
            ),
        );
        found.statistic = Some("duplicate-rate".to_owned());
        found.value = Some(after);
        found.threshold = Some(before + thresholds.duplicate_rate_increase);
        anomalies.push(found);
    }
}

/// The drift of a numeric column, as `check` measures it: the two-sample Kolmogorov-Smirnov
/// p-value (`ks-p-value`) when either side has at most `thresholds.small_sample` values, else the
/// Wasserstein distance normalised by the baseline's standard deviation (`wasserstein`). `None`
/// when either side is empty.
#[must_use]
pub fn numeric_drift(
    column: &str,
    base: &NumericStats,
    now: &NumericStats,
    thresholds: &Thresholds,
) -> Option<ColumnDrift> {
    let (n_base, n_now) = (base.quantiles.count(), now.quantiles.count());
    if n_base == 0 || n_now == 0 {
        return None;
    }
    let (grid_base, grid_now) = (base.quantiles.grid(GRID), now.quantiles.grid(GRID));
    if n_base.min(n_now) <= thresholds.small_sample {
        let d = stats::ks_statistic(&grid_base, &grid_now);
        let p = stats::ks_p_value(d, n_base, n_now);
        Some(ColumnDrift {
            column: column.to_owned(),
            statistic: "ks-p-value".to_owned(),
            value: p,
            threshold: thresholds.p_value,
            drifted: p < thresholds.p_value,
        })
    } else {
        let distance = stats::normalized_wasserstein(&grid_base, &grid_now, base.moments.std());
        Some(ColumnDrift {
            column: column.to_owned(),
            statistic: "wasserstein".to_owned(),
            value: distance,
            threshold: thresholds.wasserstein,
            drifted: distance > thresholds.wasserstein,
        })
    }
}

fn categorical_drift(
    column: &str,
    base: &CategoricalStats,
    now: &CategoricalStats,
    thresholds: &Thresholds,
) -> Option<ColumnDrift> {
    let base_items = base.counts.items();
    let now_items = now.counts.items();
    if base_items.is_empty() || now_items.is_empty() {
        return None;
    }
    let categories: BTreeSet<&String> = base_items
        .iter()
        .chain(&now_items)
        .map(|(item, _)| item)
        .collect();
    let count_of = |items: &[(String, u64)], category: &String| {
        items
            .iter()
            .find(|(item, _)| item == category)
            .map_or(0, |(_, count)| *count)
    };
    let a: Vec<u64> = categories
        .iter()
        .map(|category| count_of(&base_items, category))
        .collect();
    let b: Vec<u64> = categories
        .iter()
        .map(|category| count_of(&now_items, category))
        .collect();
    if base.counts.total().min(now.counts.total()) <= thresholds.small_sample {
        let test = stats::chi_squared_two_sample(&a, &b);
        Some(ColumnDrift {
            column: column.to_owned(),
            statistic: "chi-squared-p-value".to_owned(),
            value: test.p_value,
            threshold: thresholds.p_value,
            drifted: test.p_value < thresholds.p_value,
        })
    } else {
        let p: Vec<f64> = a.iter().map(|count| *count as f64).collect();
        let q: Vec<f64> = b.iter().map(|count| *count as f64).collect();
        let distance = stats::jensen_shannon_distance(&p, &q);
        Some(ColumnDrift {
            column: column.to_owned(),
            statistic: "jensen-shannon".to_owned(),
            value: distance,
            threshold: thresholds.jensen_shannon,
            drifted: distance > thresholds.jensen_shannon,
        })
    }
}

/// Text drift: Jensen-Shannon distance of token distributions over the most frequent tokens of
/// both sides, and the tokens whose share grew most.
fn text_drift(
    column: &str,
    base: &TextStats,
    now: &TextStats,
    thresholds: &Thresholds,
) -> Option<(ColumnDrift, serde_json::Value)> {
    let base_items = base.token_counts.items();
    let now_items = now.token_counts.items();
    if base_items.is_empty() || now_items.is_empty() {
        return None;
    }
    let base_map: BTreeMap<&str, u64> = base_items
        .iter()
        .map(|(token, count)| (token.as_str(), *count))
        .collect();
    let now_map: BTreeMap<&str, u64> = now_items
        .iter()
        .map(|(token, count)| (token.as_str(), *count))
        .collect();
    let vocabulary: BTreeSet<&str> = base_items
        .iter()
        .take(TEXT_VOCABULARY)
        .chain(now_items.iter().take(TEXT_VOCABULARY))
        .map(|(token, _)| token.as_str())
        .collect();
    let vocabulary: Vec<&str> = vocabulary.into_iter().collect();
    // Everything outside the compared vocabulary goes to one "other" bucket on each side.
    let mut p: Vec<f64> = vocabulary
        .iter()
        .map(|token| base_map.get(token).copied().unwrap_or(0) as f64)
        .collect();
    let mut q: Vec<f64> = vocabulary
        .iter()
        .map(|token| now_map.get(token).copied().unwrap_or(0) as f64)
        .collect();
    p.push((base.token_counts.total() as f64 - p.iter().sum::<f64>()).max(0.0));
    q.push((now.token_counts.total() as f64 - q.iter().sum::<f64>()).max(0.0));
    let distance = stats::jensen_shannon_distance(&p, &q);
    let contributions = stats::jensen_shannon_contributions(&p, &q);
    let (p_total, q_total) = (
        p.iter().sum::<f64>().max(1.0),
        q.iter().sum::<f64>().max(1.0),
    );
    let mut carriers: Vec<(usize, f64)> = contributions
        .iter()
        .take(vocabulary.len())
        .enumerate()
        .filter(|(index, _)| q[*index] / q_total > p[*index] / p_total)
        .map(|(index, contribution)| (index, *contribution))
        .collect();
    carriers.sort_by(|a, b| b.1.total_cmp(&a.1));
    let details = serde_json::json!(
        carriers
            .iter()
            .take(10)
            .map(|(index, contribution)| serde_json::json!({
                "token": vocabulary[*index],
                "baseline_share": p[*index] / p_total,
                "share": q[*index] / q_total,
                "new": p[*index] == 0.0,
                "contribution": contribution,
            }))
            .collect::<Vec<_>>()
    );
    Some((
        ColumnDrift {
            column: column.to_owned(),
            statistic: "jensen-shannon".to_owned(),
            value: distance,
            threshold: thresholds.jensen_shannon,
            drifted: distance > thresholds.jensen_shannon,
        },
        details,
    ))
}

fn describe(drift: &ColumnDrift) -> String {
    let comparison = if drift.statistic.ends_with("p-value") {
        "<"
    } else {
        ">"
    };
    format!(
        "column `{}` drifted: {} {:.4} {comparison} {}",
        drift.column, drift.statistic, drift.value, drift.threshold
    )
}

fn column_drift(
    base: &ColumnProfile,
    now: &ColumnProfile,
    thresholds: &Thresholds,
    anomalies: &mut Vec<Anomaly>,
) -> Option<ColumnDrift> {
    let (measured, details) = match (&base.stats, &now.stats) {
        (ColumnStats::Numeric(a), ColumnStats::Numeric(b)) => (
            numeric_drift(&now.name, a, b, thresholds)?,
            serde_json::Value::Null,
        ),
        (ColumnStats::Categorical(a), ColumnStats::Categorical(b)) => (
            categorical_drift(&now.name, a, b, thresholds)?,
            serde_json::Value::Null,
        ),
        (ColumnStats::Text(a), ColumnStats::Text(b)) => text_drift(&now.name, a, b, thresholds)?,
        (ColumnStats::Image(a), ColumnStats::Image(b)) => {
            if a.channels.keys().ne(b.channels.keys()) {
                anomalies.push(anomaly(
                    "image-channels",
                    Severity::Error,
                    Some(&now.name),
                    format!(
                        "images in `{}` have {:?} channels, the baseline {:?}",
                        now.name,
                        b.channels.keys().collect::<Vec<_>>(),
                        a.channels.keys().collect::<Vec<_>>()
                    ),
                ));
            }
            if (a.width.min, a.width.max, a.height.min, a.height.max)
                != (b.width.min, b.width.max, b.height.min, b.height.max)
            {
                anomalies.push(anomaly(
                    "image-size",
                    Severity::Warning,
                    Some(&now.name),
                    format!(
                        "image sizes in `{}` changed: width {:?}..{:?}, height {:?}..{:?} (baseline width {:?}..{:?}, height {:?}..{:?})",
                        now.name, b.width.min, b.width.max, b.height.min, b.height.max, a.width.min, a.width.max, a.height.min, a.height.max
                    ),
                ));
            }
            let mut measured = numeric_drift(&now.name, &a.brightness, &b.brightness, thresholds)?;
            measured.statistic = format!("brightness-{}", measured.statistic);
            (measured, serde_json::Value::Null)
        }
        (ColumnStats::Vector(a), ColumnStats::Vector(b)) => {
            if a.dimensions.keys().ne(b.dimensions.keys()) {
                anomalies.push(anomaly(
                    "vector-dimensions",
                    Severity::Error,
                    Some(&now.name),
                    format!("vectors in `{}` changed dimension", now.name),
                ));
            }
            let mut measured = numeric_drift(&now.name, &a.norm, &b.norm, thresholds)?;
            measured.statistic = format!("norm-{}", measured.statistic);
            (measured, serde_json::Value::Null)
        }
        _ => return None,
    };
    if measured.drifted {
        let mut found = anomaly(
            "drift",
            Severity::Warning,
            Some(&now.name),
            describe(&measured),
        );
        found.statistic = Some(measured.statistic.clone());
        found.value = Some(measured.value);
        found.threshold = Some(measured.threshold);
        found.details = details;
        anomalies.push(found);
    } else if !details.is_null() {
        // Text that did not cross the threshold still names its top movers for the report.
        let mut found = anomaly(
            "text-shift",
            Severity::Info,
            Some(&now.name),
            format!(
                "column `{}`: jensen-shannon {:.4} <= {}",
                now.name, measured.value, measured.threshold
            ),
        );
        found.statistic = Some(measured.statistic.clone());
        found.value = Some(measured.value);
        found.threshold = Some(measured.threshold);
        found.details = details;
        anomalies.push(found);
    }
    Some(measured)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use antidote_core::NoProgress;
    use antidote_data::{ColumnKind, Value};

    use super::*;

    /// The profile of `rows` under `columns`, read from memory.
    pub(crate) fn profile_of(columns: &[(&str, ColumnKind)], rows: Vec<Vec<Value>>) -> Profile {
        let columns = columns
            .iter()
            .map(|(name, kind)| (Arc::from(*name), *kind))
            .collect();
        let dataset = antidote_data::from_rows(Path::new("memory"), columns, rows).unwrap();
        Profile::of_dataset(dataset, &NoProgress).unwrap()
    }

    pub(crate) fn text(value: &str) -> Value {
        Value::Text(value.to_owned())
    }

    /// `n` draws of a roughly standard normal variable plus `shift`: the sum of four uniforms
    /// from a fixed linear congruential generator (Irwin-Hall), centred and scaled to unit
    /// variance.
    fn normalish(n: usize, seed: u64, shift: f64) -> Vec<f64> {
        let mut state = seed;
        let mut uniform = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let sum: f64 = (0..4).map(|_| uniform()).sum();
                (sum - 2.0) * 3f64.sqrt() + shift
            })
            .collect()
    }

    /// Numeric columns named `names`, one sample each.
    fn numeric(names: &[&str], samples: &[Vec<f64>]) -> Profile {
        let columns: Vec<(&str, ColumnKind)> = names
            .iter()
            .map(|name| (*name, ColumnKind::Float))
            .collect();
        let rows = (0..samples[0].len())
            .map(|index| {
                samples
                    .iter()
                    .map(|sample| Value::Float(sample[index]))
                    .collect()
            })
            .collect();
        profile_of(&columns, rows)
    }

    /// A labelled dataset of `labels`; `x` is the record's index, so rows are unique and the
    /// numeric column is the same for datasets of the same size.
    fn labelled(labels: &[&str]) -> Profile {
        let rows = labels
            .iter()
            .enumerate()
            .map(|(index, label)| vec![text(label), Value::Float(index as f64)])
            .collect();
        profile_of(
            &[("label", ColumnKind::Categorical), ("x", ColumnKind::Float)],
            rows,
        )
    }

    /// `count` copies of each label, in order.
    fn labels<'a>(counts: &[(&'a str, usize)]) -> Vec<&'a str> {
        counts
            .iter()
            .flat_map(|(label, count)| std::iter::repeat_n(*label, *count))
            .collect()
    }

    fn found<'a>(report: &'a CheckReport, check: &str) -> Vec<&'a Anomaly> {
        report
            .anomalies
            .iter()
            .filter(|anomaly| anomaly.check == check)
            .collect()
    }

    fn only<'a>(report: &'a CheckReport, check: &str) -> &'a Anomaly {
        let found = found(report, check);
        assert_eq!(found.len(), 1, "one `{check}` in {:#?}", report.anomalies);
        found[0]
    }

    fn check_default(baseline: &Profile, current: &Profile) -> CheckReport {
        check(baseline, current, &Thresholds::default())
    }

    const MIXED: [(&str, ColumnKind); 4] = [
        ("label", ColumnKind::Categorical),
        ("x", ColumnKind::Float),
        ("color", ColumnKind::Categorical),
        ("text", ColumnKind::Text),
    ];

    fn mixed_rows(n: usize) -> Vec<Vec<Value>> {
        let colors = ["red", "green", "blue"];
        let words = ["the cat sat", "a dog barked", "birds sing at dawn"];
        normalish(n, 7, 0.0)
            .into_iter()
            .enumerate()
            .map(|(index, x)| {
                vec![
                    text(if index % 2 == 0 { "a" } else { "b" }),
                    Value::Float(x),
                    text(colors[index % 3]),
                    text(words[index % 3]),
                ]
            })
            .collect()
    }

    #[test]
    fn identical_data_passes_without_warnings() {
        let baseline = profile_of(&MIXED, mixed_rows(120));
        let current = profile_of(&MIXED, mixed_rows(120));
        let report = check_default(&baseline, &current);
        assert!(report.passed(), "{:#?}", report.anomalies);
        assert!(
            report
                .anomalies
                .iter()
                .all(|anomaly| anomaly.severity == Severity::Info),
            "{:#?}",
            report.anomalies
        );
        assert_eq!(
            (report.baseline_records, report.current_records),
            (120, 120)
        );
        let compared: Vec<&str> = report.drift.iter().map(|d| d.column.as_str()).collect();
        assert_eq!(compared, ["x", "color", "text"]);
        assert!(report.drift.iter().all(|column| !column.drifted));
    }

    #[test]
    fn a_column_missing_now_is_an_error() {
        let baseline = profile_of(&MIXED, mixed_rows(30));
        let rows = mixed_rows(30)
            .into_iter()
            .map(|row| row[..3].to_vec())
            .collect();
        let current = profile_of(&MIXED[..3], rows);
        let report = check_default(&baseline, &current);
        let missing = only(&report, "missing-column");
        assert_eq!(missing.severity, Severity::Error);
        assert_eq!(missing.column.as_deref(), Some("text"));
        assert_eq!(
            missing.message,
            "column `text` (text, text) is in the baseline but not in the data"
        );
        assert!(!report.passed());
    }

    #[test]
    fn a_new_column_is_a_warning() {
        let rows = |extra: bool| -> Vec<Vec<Value>> {
            (0..30)
                .map(|index| {
                    let mut row = vec![Value::Float(f64::from(index))];
                    if extra {
                        row.push(Value::Int(i64::from(index % 4)));
                    }
                    row
                })
                .collect()
        };
        let baseline = profile_of(&[("x", ColumnKind::Float)], rows(false));
        let current = profile_of(
            &[("x", ColumnKind::Float), ("z", ColumnKind::Integer)],
            rows(true),
        );
        let report = check_default(&baseline, &current);
        let new = only(&report, "new-column");
        assert_eq!(new.severity, Severity::Warning);
        assert_eq!(new.column.as_deref(), Some("z"));
        assert_eq!(
            new.message,
            "column `z` (integer) is new: the baseline does not have it"
        );
        assert!(report.passed(), "{:#?}", report.anomalies);
    }

    #[test]
    fn a_retyped_column_is_an_error() {
        let baseline = profile_of(
            &[("x", ColumnKind::Float)],
            (0..30)
                .map(|index| vec![Value::Float(f64::from(index))])
                .collect(),
        );
        let current = profile_of(
            &[("x", ColumnKind::Categorical)],
            (0..30)
                .map(|index| vec![text(&format!("v{index}"))])
                .collect(),
        );
        let report = check_default(&baseline, &current);
        let retyped = only(&report, "retyped-column");
        assert_eq!(retyped.severity, Severity::Error);
        assert_eq!(
            retyped.message,
            "column `x` was float in the baseline and is categorical now"
        );
        assert!(
            report.drift.is_empty(),
            "columns of different kinds are not compared"
        );
    }

    #[test]
    fn a_label_value_the_baseline_never_saw_is_an_error() {
        let baseline = labelled(&labels(&[("a", 50), ("b", 50)]));
        let current = labelled(&labels(&[("a", 47), ("b", 46), ("c", 7)]));
        let report = check_default(&baseline, &current);
        let new = only(&report, "new-label");
        assert_eq!(new.severity, Severity::Error);
        assert_eq!(
            new.message,
            "1 label value never seen in the baseline: `c` (7)"
        );
        assert_eq!(new.details, serde_json::json!([{"label": "c", "count": 7}]));

        let known = labelled(&labels(&[("b", 50), ("a", 50)]));
        let report = check_default(&baseline, &known);
        assert!(
            found(&report, "new-label").is_empty(),
            "{:#?}",
            report.anomalies
        );
    }

    #[test]
    fn label_shares_moving_more_than_the_threshold_is_an_error() {
        let baseline = labelled(&labels(&[("a", 50), ("b", 50)]));
        let current = labelled(&labels(&[("a", 60), ("b", 40)]));
        let report = check_default(&baseline, &current);
        let shift = only(&report, "label-shift");
        assert_eq!(shift.severity, Severity::Error);
        assert_eq!(shift.statistic.as_deref(), Some("l-infinity"));
        assert!((shift.value.unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(shift.threshold, Some(0.05));
        assert!(
            shift
                .message
                .starts_with("label shares moved: `a` 50.0% -> 60.0%"),
            "{}",
            shift.message
        );
        assert!(!report.passed());
    }

    #[test]
    fn label_shares_moving_less_than_the_threshold_is_fine() {
        let baseline = labelled(&labels(&[("a", 50), ("b", 50)]));
        let current = labelled(&labels(&[("a", 53), ("b", 47)]));
        let report = check_default(&baseline, &current);
        assert!(
            found(&report, "label-shift").is_empty(),
            "{:#?}",
            report.anomalies
        );
        assert!(report.passed(), "{:#?}", report.anomalies);
    }

    #[test]
    fn a_rising_duplicate_rate_is_an_error() {
        let rows = |duplicates: usize| -> Vec<Vec<Value>> {
            (0..200)
                .map(|index| {
                    vec![Value::Float(if index < duplicates {
                        0.0
                    } else {
                        index as f64
                    })]
                })
                .collect()
        };
        let baseline = profile_of(&[("x", ColumnKind::Float)], rows(0));
        // Five copies of the first record: 2.5% of records duplicate an earlier one.
        let flooded = profile_of(&[("x", ColumnKind::Float)], rows(6));
        let report = check_default(&baseline, &flooded);
        let duplicates = only(&report, "duplicate-rate");
        assert_eq!(duplicates.severity, Severity::Error);
        assert!((duplicates.value.unwrap() - 0.025).abs() < 1e-12);
        assert!(
            duplicates
                .message
                .starts_with("2.50% of records duplicate an earlier one (baseline 0.00%)"),
            "{}",
            duplicates.message
        );
        // One copy (0.5%) stays under the one-point threshold.
        let report = check_default(&baseline, &profile_of(&[("x", ColumnKind::Float)], rows(2)));
        assert!(found(&report, "duplicate-rate").is_empty());
    }

    #[test]
    fn numeric_drift_on_small_samples_uses_the_ks_test() {
        let baseline = numeric(&["x"], &[normalish(300, 1, 0.0)]);
        let shifted = numeric(&["x"], &[normalish(300, 1, 1.0)]);
        let report = check_default(&baseline, &shifted);
        let drift = only(&report, "drift");
        assert_eq!(drift.severity, Severity::Warning);
        assert_eq!(drift.column.as_deref(), Some("x"));
        assert_eq!(drift.statistic.as_deref(), Some("ks-p-value"));
        assert!(drift.value.unwrap() < 0.05, "{drift:?}");
        assert!(drift.message.starts_with("column `x` drifted: ks-p-value"));

        let copy = numeric(&["x"], &[normalish(300, 1, 0.0)]);
        let report = check_default(&baseline, &copy);
        assert!(
            found(&report, "drift").is_empty(),
            "{:#?}",
            report.anomalies
        );
        assert_eq!(report.drift[0].statistic, "ks-p-value");
        assert!(!report.drift[0].drifted);
    }

    #[test]
    fn numeric_drift_on_large_samples_uses_the_wasserstein_distance() {
        let baseline = numeric(&["x"], &[normalish(1500, 1, 0.0)]);
        let shifted = numeric(&["x"], &[normalish(1500, 1, 0.5)]);
        let report = check_default(&baseline, &shifted);
        let drift = only(&report, "drift");
        assert_eq!(drift.statistic.as_deref(), Some("wasserstein"));
        assert!(drift.value.unwrap() > 0.1, "{drift:?}");

        let copy = numeric(&["x"], &[normalish(1500, 1, 0.0)]);
        let report = check_default(&baseline, &copy);
        assert_eq!(report.drift[0].statistic, "wasserstein");
        assert!(!report.drift[0].drifted, "{:?}", report.drift);
    }

    /// A categorical column `color` of `n` values: red, green and blue in turn, except that
    /// every record whose index is divisible by `red_every` is red.
    fn colors(n: usize, red_every: usize) -> Profile {
        let colors = ["red", "green", "blue"];
        let rows = (0..n)
            .map(|index| {
                let color = if index % red_every == 0 {
                    "red"
                } else {
                    colors[index % 3]
                };
                vec![text(color)]
            })
            .collect();
        profile_of(&[("color", ColumnKind::Categorical)], rows)
    }

    #[test]
    fn categorical_drift_on_small_samples_uses_chi_squared() {
        let baseline = colors(300, usize::MAX);
        let report = check_default(&baseline, &colors(300, 2));
        let drift = only(&report, "drift");
        assert_eq!(drift.statistic.as_deref(), Some("chi-squared-p-value"));
        assert!(drift.value.unwrap() < 0.05, "{drift:?}");

        let report = check_default(&baseline, &colors(300, usize::MAX));
        assert_eq!(report.drift[0].statistic, "chi-squared-p-value");
        assert!(!report.drift[0].drifted, "{:?}", report.drift);
    }

    #[test]
    fn categorical_drift_on_large_samples_uses_jensen_shannon() {
        let baseline = colors(1200, usize::MAX);
        let report = check_default(&baseline, &colors(1200, 2));
        let drift = only(&report, "drift");
        assert_eq!(drift.statistic.as_deref(), Some("jensen-shannon"));
        assert!(drift.value.unwrap() > 0.1, "{drift:?}");

        let report = check_default(&baseline, &colors(1200, usize::MAX));
        assert_eq!(report.drift[0].statistic, "jensen-shannon");
        assert!(!report.drift[0].drifted, "{:?}", report.drift);
    }

    #[test]
    fn text_drift_names_the_injected_token_first() {
        let sentences = [
            "the cat sat on the mat",
            "a dog barked",
            "birds sing at dawn",
        ];
        let rows = |inject: bool| -> Vec<Vec<Value>> {
            (0..60)
                .map(|index| {
                    let sentence = sentences[index % 3];
                    vec![text(&if inject && index % 2 == 0 {
                        format!("{sentence} cerulean cerulean")
                    } else {
                        sentence.to_owned()
                    })]
                })
                .collect()
        };
        let baseline = profile_of(&[("text", ColumnKind::Text)], rows(false));
        let current = profile_of(&[("text", ColumnKind::Text)], rows(true));
        let report = check_default(&baseline, &current);
        let drift = only(&report, "drift");
        assert_eq!(drift.column.as_deref(), Some("text"));
        assert_eq!(drift.statistic.as_deref(), Some("jensen-shannon"));
        let carriers = drift.details.as_array().unwrap();
        assert_eq!(carriers[0]["token"], "cerulean", "{carriers:?}");
        assert_eq!(carriers[0]["new"], true);
        assert!(
            carriers
                .iter()
                .skip(1)
                .all(|carrier| carrier["token"] != "cerulean"),
            "{carriers:?}"
        );
    }

    #[test]
    fn dataset_drift_when_at_least_half_the_columns_drift() {
        let same = normalish(300, 2, 0.0);
        let baseline = numeric(&["x", "w"], &[normalish(300, 1, 0.0), same.clone()]);
        let current = numeric(&["x", "w"], &[normalish(300, 1, 1.0), same.clone()]);
        let report = check_default(&baseline, &current);
        let dataset = only(&report, "dataset-drift");
        assert_eq!(dataset.severity, Severity::Error);
        assert_eq!(dataset.message, "1 of 2 compared columns drifted");
        assert_eq!(dataset.value, Some(0.5));
        assert_eq!(
            report.anomalies[0].check, "dataset-drift",
            "errors sort before warnings"
        );

        let baseline = numeric(
            &["x", "v", "w"],
            &[normalish(300, 1, 0.0), same.clone(), same.clone()],
        );
        let current = numeric(
            &["x", "v", "w"],
            &[normalish(300, 1, 1.0), same.clone(), same],
        );
        let report = check_default(&baseline, &current);
        assert_eq!(found(&report, "drift").len(), 1);
        assert!(
            found(&report, "dataset-drift").is_empty(),
            "{:#?}",
            report.anomalies
        );
        assert!(report.passed());
    }

    #[test]
    fn thresholds_deserialise_and_reject_unknown_fields() {
        let thresholds: Thresholds =
            serde_json::from_str(r#"{"p_value": 0.01, "small_sample": 500}"#).unwrap();
        assert_eq!(
            thresholds,
            Thresholds {
                p_value: 0.01,
                small_sample: 500,
                ..Thresholds::default()
            }
        );
        let error = serde_json::from_str::<Thresholds>(r#"{"p_valeu": 0.01}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `p_valeu`"),
            "{error}"
        );
    }
}
