//! The check report as a page: a [`CheckReport`] with its two profiles, turned into the
//! document model of `antidote-report` for `antidote check --report`.
//!
//! The page says whether to train (the verdict), the numbers that decide it, every anomaly worst
//! first, the label shares before and after, and the drift of each column with overlaid
//! distributions estimated from the profiles' sketches.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use antidote_core::Severity;
use antidote_core::display::{percent, plural};
use antidote_report::{
    BarItem, Bars, Bin, Block, Cell, Distribution, Emphasis, Metric, Provenance, Report, Section,
    Series, Table, Token, Tokens, Verdict,
};

use crate::check::{Anomaly, CheckReport, ColumnDrift, Thresholds};
use crate::profile::{CategoricalStats, ColumnProfile, ColumnStats, Profile};
use crate::sketch::Quantiles;
use crate::stats;

/// Equal-width bins of the overlaid distributions.
const HISTOGRAM_BINS: usize = 30;
/// Columns that get a chart in the report, worst first; the drift table lists every column.
const CHARTED_COLUMNS: usize = 24;
/// Label values in the label chart: those that moved most.
const CHARTED_LABELS: usize = 30;
/// Categories in the chart of a categorical column: those that moved most.
const CHARTED_CATEGORIES: usize = 12;

/// What the check report shows: the result of a check and the two profiles it compared.
#[derive(Debug, Clone, Copy)]
pub struct CheckPage<'a> {
    /// The check's result, anomalies worst first.
    pub report: &'a CheckReport,
    /// The baseline profile.
    pub baseline: &'a Profile,
    /// The profile of the checked data.
    pub current: &'a Profile,
    /// The thresholds the check used.
    pub thresholds: &'a Thresholds,
    /// The checked data, as the user named it.
    pub data: &'a str,
    /// The baseline profile's path, as the user named it.
    pub baseline_path: &'a str,
}

impl CheckPage<'_> {
    /// The report document, with `provenance` as its footer.
    #[must_use]
    pub fn document(&self, provenance: Provenance) -> Report {
        let mut sections = vec![anomalies_section(self.report)];
        sections.extend(labels_section(self.baseline, self.current, self.thresholds));
        sections.push(drift_section(self.report, self.baseline, self.current));
        Report {
            title: "antidote check".to_owned(),
            subtitle: Some(format!(
                "`{}` against the baseline `{}`",
                self.data, self.baseline_path
            )),
            verdict: Verdict {
                passed: self.report.passed(),
                headline: headline(self.report),
            },
            metrics: metrics(self.report, self.baseline, self.current, self.thresholds),
            sections,
            provenance,
        }
    }
}

/// One sentence: train or not, and why.
fn headline(report: &CheckReport) -> String {
    let errors: Vec<&Anomaly> = report
        .anomalies
        .iter()
        .filter(|anomaly| anomaly.severity == Severity::Error)
        .collect();
    if errors.is_empty() {
        let warnings = report.count(Severity::Warning) as u64;
        return if warnings == 0 {
            "Train: no anomaly at error severity".to_owned()
        } else {
            format!(
                "Train: no anomaly at error severity ({} worth a look)",
                plural(warnings, "warning")
            )
        };
    }
    let mut reasons: Vec<(&str, u64)> = Vec::new();
    for anomaly in &errors {
        match reasons
            .iter_mut()
            .find(|(check, _)| *check == anomaly.check)
        {
            Some((_, count)) => *count += 1,
            None => reasons.push((&anomaly.check, 1)),
        }
    }
    let reasons: Vec<String> = reasons
        .iter()
        .map(|(check, count)| reason(check, *count))
        .collect();
    format!(
        "Do not train: {} \u{2014} {}",
        plural(errors.len() as u64, "error"),
        and_list(&reasons)
    )
}

/// What `count` errors of `check` mean, in a few words.
fn reason(check: &str, count: u64) -> String {
    let counted = |one: &str, noun: &str| {
        if count == 1 {
            one.to_owned()
        } else {
            format!("{count} {noun}")
        }
    };
    match check {
        "missing-column" => counted("a missing column", "missing columns"),
        "retyped-column" => counted("a retyped column", "retyped columns"),
        "role-changed" => counted("a column in another role", "columns in another role"),
        "new-column" => counted("a new column", "new columns"),
        "new-label" => "label values never seen in the baseline".to_owned(),
        "missing-label" => "label values gone".to_owned(),
        "label-shift" => "label shift".to_owned(),
        "duplicate-rate" => "a duplicate flood".to_owned(),
        "missing-values" => counted(
            "more missing values in a column",
            "columns with more missing values",
        ),
        "type-mismatch" => counted(
            "values of the wrong type in a column",
            "columns with values of the wrong type",
        ),
        "drift" => counted("a drifted column", "drifted columns"),
        "dataset-drift" => "dataset drift".to_owned(),
        "image-channels" => "changed image channels".to_owned(),
        "image-size" => "changed image sizes".to_owned(),
        "vector-dimensions" => "changed vector dimensions".to_owned(),
        "rule" => counted("a failed rule", "failed rules"),
        other => format!("`{other}`"),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [head @ .., last] => format!("{} and {last}", head.join(", ")),
    }
}

/// A statistic as a person reads it: four decimals, or scientific notation when tiny.
fn statistic(value: f64) -> String {
    if value != 0.0 && value.abs() < 1e-3 {
        format!("{value:.2e}")
    } else {
        format!("{value:.4}")
    }
}

/// How far past its threshold a column is: above 1 it drifted. P-values drift below their
/// threshold, distances above.
fn drift_score(drift: &ColumnDrift) -> f64 {
    if drift.statistic.ends_with("p-value") {
        drift.threshold / drift.value.max(f64::MIN_POSITIVE)
    } else if drift.threshold > 0.0 {
        drift.value / drift.threshold
    } else {
        drift.value
    }
}

/// `< 0.05` or `> 0.1`: the side of the threshold that is drift.
fn drift_threshold(drift: &ColumnDrift) -> String {
    let comparison = if drift.statistic.ends_with("p-value") {
        "<"
    } else {
        ">"
    };
    format!("{comparison} {}", drift.threshold)
}

fn metrics(
    report: &CheckReport,
    baseline: &Profile,
    current: &Profile,
    thresholds: &Thresholds,
) -> Vec<Metric> {
    let errors = report.count(Severity::Error);
    let warnings = report.count(Severity::Warning);
    let drifted = report.drift.iter().filter(|column| column.drifted).count();
    let has = |check: &str| {
        report
            .anomalies
            .iter()
            .any(|anomaly| anomaly.check == check)
    };
    let mut metrics = vec![
        Metric::new("Records", report.current_records.to_string())
            .with_detail(format!("baseline {}", report.baseline_records)),
        Metric::new("Errors", errors.to_string()).with_emphasis(Some(if errors > 0 {
            Emphasis::Bad
        } else {
            Emphasis::Good
        })),
        Metric::new("Warnings", warnings.to_string())
            .with_emphasis((warnings > 0).then_some(Emphasis::Warn)),
        Metric::new(
            "Columns drifted",
            format!("{drifted} of {}", report.drift.len()),
        )
        .with_detail("compared with the baseline")
        .with_emphasis((drifted > 0).then_some(Emphasis::Warn)),
        Metric::new("Duplicate rate", percent(current.duplicate_rate()))
            .with_detail(format!("baseline {}", percent(baseline.duplicate_rate())))
            .with_emphasis(has("duplicate-rate").then_some(Emphasis::Bad)),
    ];
    if let Some(distance) = label_distance(baseline, current) {
        metrics.push(
            Metric::new("Label shift", statistic(distance))
                .with_detail(format!(
                    "L-infinity; error above {}",
                    thresholds.label_shift
                ))
                .with_emphasis(has("label-shift").then_some(Emphasis::Bad)),
        );
    }
    metrics
}

fn anomalies_section(report: &CheckReport) -> Section {
    let about = "Every check compares the data with the baseline profile: the schema, label values \
        and shares, the duplicate rate, missing values, drift per column and the rules of \
        `antidote.toml`. An anomaly at error severity fails the run; warnings are worth a look; \
        infos are for the record. Worst first.";
    let blocks = if report.anomalies.is_empty() {
        vec![Block::paragraph(
            "No anomaly: the data looks like the baseline on every check.",
        )]
    } else {
        let number = |value: Option<f64>| Cell::number(value.map(statistic).unwrap_or_default());
        let rows = report
            .anomalies
            .iter()
            .map(|anomaly| {
                vec![
                    Cell::text(anomaly.severity.to_string())
                        .with_emphasis(Emphasis::for_severity(anomaly.severity)),
                    Cell::code(&anomaly.check),
                    anomaly
                        .column
                        .as_ref()
                        .map_or_else(|| Cell::text(""), Cell::code),
                    Cell::code(anomaly.statistic.clone().unwrap_or_default()),
                    number(anomaly.value),
                    number(anomaly.threshold),
                    Cell::text(&anomaly.message),
                ]
            })
            .collect();
        vec![Block::Table(Table {
            caption: None,
            headers: [
                "severity",
                "check",
                "column",
                "statistic",
                "value",
                "threshold",
                "message",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows,
        })]
    };
    Section {
        title: "Anomalies".to_owned(),
        about: about.to_owned(),
        blocks,
    }
}

/// The L-infinity distance of the label shares, when both sides have labels.
fn label_distance(baseline: &Profile, current: &Profile) -> Option<f64> {
    baseline.label.as_ref()?;
    current.label.as_ref()?;
    let (before, after) = (baseline.label_shares(), current.label_shares());
    let labels: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let share =
        |shares: &BTreeMap<String, f64>, label: &String| shares.get(label).copied().unwrap_or(0.0);
    let p: Vec<f64> = labels.iter().map(|label| share(&before, label)).collect();
    let q: Vec<f64> = labels.iter().map(|label| share(&after, label)).collect();
    Some(stats::l_infinity(&p, &q))
}

fn labels_section(
    baseline: &Profile,
    current: &Profile,
    thresholds: &Thresholds,
) -> Option<Section> {
    let (Some(before), Some(after)) = (&baseline.label, &current.label) else {
        return None;
    };
    let distance = label_distance(baseline, current)?;
    let mut caption = format!(
        "L-infinity distance {} ({} above {}); entropy {:.3} -> {:.3} bits",
        statistic(distance),
        if distance > thresholds.label_shift {
            "label shift: it is"
        } else {
            "no label shift: it would be"
        },
        thresholds.label_shift,
        before.entropy_bits(),
        after.entropy_bits()
    );
    let (bars, shown, total) = share_bars(
        "Share of records per label",
        &baseline.label_shares(),
        &current.label_shares(),
        CHARTED_LABELS,
    );
    if shown < total {
        let _ = write!(caption, "; the {shown} labels that moved most of {total}");
    }
    Some(Section {
        title: "Labels".to_owned(),
        about: "The share of records per label value, in the baseline and now. Many poisoning \
            attacks change the class balance: a flood of one class, relabelled records, a label \
            value the baseline never had. Label shift is the largest change of any one share \
            (L-infinity distance); above the threshold it is an error. Labels that moved most come \
            first; the baseline is hatched."
            .to_owned(),
        blocks: vec![Block::Bars(Bars {
            caption: Some(caption),
            ..bars
        })],
    })
}

/// Bars of the shares that moved most, baseline over current; also how many are shown of how
/// many.
fn share_bars(
    title: &str,
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    limit: usize,
) -> (Bars, usize, usize) {
    let values: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let mut moves: Vec<(&String, f64, f64)> = values
        .into_iter()
        .map(|value| {
            (
                value,
                before.get(value).copied().unwrap_or(0.0),
                after.get(value).copied().unwrap_or(0.0),
            )
        })
        .collect();
    let total = moves.len();
    // Stable: equal moves keep the order of the values.
    moves.sort_by(|a, b| (b.2 - b.1).abs().total_cmp(&(a.2 - a.1).abs()));
    moves.truncate(limit);
    let items = moves
        .iter()
        .map(|(value, base, now)| BarItem {
            label: if before.contains_key(*value) {
                (*value).clone()
            } else {
                format!("(new) {value}")
            },
            values: vec![*base, *now],
        })
        .collect();
    let bars = Bars {
        title: title.to_owned(),
        caption: None,
        series: vec!["baseline".to_owned(), "current".to_owned()],
        items,
    };
    (bars, moves.len(), total)
}

fn drift_section(report: &CheckReport, baseline: &Profile, current: &Profile) -> Section {
    let about = "Each column of the data against the same column of the baseline, with the \
        statistic that fits it: the Kolmogorov-Smirnov p-value on small samples, else the \
        Wasserstein distance in baseline standard deviations, for numbers, image brightness and \
        vector norms; the chi-squared p-value on small samples, else the Jensen-Shannon \
        distance, for categories; the Jensen-Shannon distance of token distributions for text. A \
        p-value drifts below its threshold, a distance above it. Worst first. The charts overlay \
        the baseline (hatched) and the current data (dashed) as shares of values in equal-width \
        bins, estimated from the profiles' quantile sketches.";
    let mut columns: Vec<&ColumnDrift> = report.drift.iter().collect();
    columns.sort_by(|a, b| drift_score(b).total_cmp(&drift_score(a)));
    if columns.is_empty() {
        return Section {
            title: "Drift per column".to_owned(),
            about: about.to_owned(),
            blocks: vec![Block::paragraph(
                "No column could be compared: none is in both the baseline and the data with the same kind and values on both sides.",
            )],
        };
    }
    let kind = |name: &str| {
        current
            .column(name)
            .map(|column| column.kind.to_string())
            .unwrap_or_default()
    };
    let rows = columns
        .iter()
        .map(|drift| {
            vec![
                Cell::code(&drift.column),
                Cell::text(kind(&drift.column)),
                Cell::code(&drift.statistic),
                Cell::number(statistic(drift.value)),
                Cell::number(drift_threshold(drift)),
                if drift.drifted {
                    Cell::text("DRIFTED").with_emphasis(Some(Emphasis::Warn))
                } else {
                    Cell::text("stable").with_emphasis(Some(Emphasis::Good))
                },
            ]
        })
        .collect();
    let mut blocks = vec![Block::Table(Table {
        caption: None,
        headers: [
            "column",
            "kind",
            "statistic",
            "value",
            "threshold",
            "result",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    })];
    for drift in columns.iter().take(CHARTED_COLUMNS) {
        if let (Some(base), Some(now)) = (
            baseline.column(&drift.column),
            current.column(&drift.column),
        ) {
            blocks.extend(column_blocks(drift, base, now, report));
        }
    }
    if columns.len() > CHARTED_COLUMNS {
        blocks.push(Block::paragraph(format!(
            "Charts for the {CHARTED_COLUMNS} worst of {} columns; the table lists all of them.",
            columns.len()
        )));
    }
    Section {
        title: "Drift per column".to_owned(),
        about: about.to_owned(),
        blocks,
    }
}

/// The charts of one compared column.
fn column_blocks(
    drift: &ColumnDrift,
    base: &ColumnProfile,
    now: &ColumnProfile,
    report: &CheckReport,
) -> Vec<Block> {
    let name = &drift.column;
    let caption = format!(
        "{} {} (drift {}): {}",
        drift.statistic,
        statistic(drift.value),
        drift_threshold(drift),
        if drift.drifted { "DRIFTED" } else { "stable" }
    );
    match (&base.stats, &now.stats) {
        (ColumnStats::Numeric(a), ColumnStats::Numeric(b)) => overlaid(
            format!("`{name}`"),
            name,
            &a.quantiles,
            &b.quantiles,
            caption,
        )
        .into_iter()
        .collect(),
        (ColumnStats::Image(a), ColumnStats::Image(b)) => overlaid(
            format!("`{name}`: brightness"),
            "mean pixel value of each image (0 to 255)",
            &a.brightness.quantiles,
            &b.brightness.quantiles,
            caption,
        )
        .into_iter()
        .collect(),
        (ColumnStats::Vector(a), ColumnStats::Vector(b)) => overlaid(
            format!("`{name}`: norm"),
            "Euclidean norm of each vector",
            &a.norm.quantiles,
            &b.norm.quantiles,
            caption,
        )
        .into_iter()
        .collect(),
        (ColumnStats::Categorical(a), ColumnStats::Categorical(b)) => {
            vec![category_bars(name, a, b, caption)]
        }
        (ColumnStats::Text(a), ColumnStats::Text(b)) => {
            let mut blocks: Vec<Block> = overlaid(
                format!("`{name}`: tokens per record"),
                "tokens per record",
                &a.tokens,
                &b.tokens,
                format!("The drift statistic compares token distributions: {caption}"),
            )
            .into_iter()
            .collect();
            blocks.extend(token_block(report, name));
            blocks
        }
        _ => Vec::new(),
    }
}

fn category_bars(name: &str, a: &CategoricalStats, b: &CategoricalStats, caption: String) -> Block {
    let shares = |stats: &CategoricalStats| stats.counts.shares();
    let (bars, shown, total) = share_bars(
        &format!("`{name}`"),
        &shares(a),
        &shares(b),
        CHARTED_CATEGORIES,
    );
    let caption = if shown < total {
        format!("{caption}; the {shown} values that moved most of {total}")
    } else {
        caption
    };
    Block::Bars(Bars {
        caption: Some(caption),
        ..bars
    })
}

/// The tokens that grew most in a text column, from the details of its drift anomaly.
fn token_block(report: &CheckReport, column: &str) -> Option<Block> {
    let details = report
        .anomalies
        .iter()
        .find(|anomaly| {
            anomaly.column.as_deref() == Some(column)
                && matches!(anomaly.check.as_str(), "drift" | "text-shift")
                && anomaly.details.is_array()
        })?
        .details
        .as_array()?;
    let tokens: Vec<Token> = details
        .iter()
        .filter_map(|token| {
            Some(Token {
                text: token["token"].as_str()?.to_owned(),
                baseline_share: token["baseline_share"].as_f64().unwrap_or(0.0),
                share: token["share"].as_f64().unwrap_or(0.0),
                new: token["new"].as_bool().unwrap_or(false),
            })
        })
        .collect();
    if tokens.is_empty() {
        return None;
    }
    Some(Block::Tokens(Tokens {
        title: format!("`{column}`: tokens that grew most"),
        caption: Some(
            "Shares of all tokens, ordered by their part in the Jensen-Shannon distance. A token \
             marked new never occurs in the baseline: an injected phrase or backdoor trigger \
             shows up here."
                .to_owned(),
        ),
        tokens,
    }))
}

/// Baseline and current histograms of one quantity over a shared range, from their sketches.
///
/// The range runs from the smaller minimum to the larger maximum, unless a few outliers would
/// squeeze everything else into a bin or two: then it covers the middle 99% of both sides and the
/// end bins count the tails.
fn overlaid(
    title: String,
    x_label: &str,
    baseline: &Quantiles,
    current: &Quantiles,
    caption: String,
) -> Option<Block> {
    let sides = [baseline, current];
    let lowest = |rank: f64| {
        sides
            .iter()
            .filter_map(|side| side.quantile(rank))
            .fold(f64::INFINITY, f64::min)
    };
    let highest = |rank: f64| {
        sides
            .iter()
            .filter_map(|side| side.quantile(rank))
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let (low, high) = (lowest(0.0), highest(1.0));
    if !(low.is_finite() && high.is_finite()) {
        return None;
    }
    let (inner_low, inner_high) = (lowest(0.005), highest(0.995));
    let clipped = inner_high > inner_low && (inner_high - inner_low) * 5.0 < high - low;
    let (low, high) = if clipped {
        (inner_low, inner_high)
    } else {
        (low, high)
    };
    // Counts, lengths and flags get bins centred on whole numbers; equal-width bins would leave
    // every other bin empty.
    let integral = sides
        .iter()
        .filter(|side| side.count() > 0)
        .all(|side| side.grid(101).iter().all(|value| value.fract() == 0.0));
    let (low, high, bins) = if integral {
        let values = high - low + 1.0;
        let width = (values / HISTOGRAM_BINS as f64).ceil().max(1.0);
        let bins = (values / width).ceil().max(1.0);
        (low - 0.5, low - 0.5 + width * bins, bins as usize)
    } else if high > low {
        (low, high, HISTOGRAM_BINS)
    } else {
        (low - 0.5, high + 0.5, HISTOGRAM_BINS)
    };
    let series = [("baseline", baseline), ("current", current)]
        .into_iter()
        .filter(|(_, side)| side.count() > 0)
        .map(|(name, side)| Series {
            name: name.to_owned(),
            bins: histogram(side, low, high, bins),
        })
        .collect();
    let caption = if clipped {
        format!(
            "{caption}; values below {} and above {} are counted in the end bins",
            statistic(inner_low),
            statistic(inner_high)
        )
    } else {
        caption
    };
    Some(Block::Distribution(Distribution {
        title,
        caption: Some(caption),
        x_label: x_label.to_owned(),
        series,
        marker: None,
    }))
}

/// `bins` equal-width bins from `low` to `high` with the share of the sketch's values in each
/// (tails in the end bins).
fn histogram(quantiles: &Quantiles, low: f64, high: f64, bins: usize) -> Vec<Bin> {
    quantiles
        .histogram(low, high, bins)
        .into_iter()
        .map(|(low, high, share)| Bin { low, high, share })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sketch(values: impl IntoIterator<Item = f64>) -> Quantiles {
        let mut quantiles = Quantiles::default();
        for value in values {
            quantiles.add(value);
        }
        quantiles
    }

    #[test]
    fn a_histogram_of_a_uniform_sample_is_flat_and_adds_up_to_one() {
        let uniform = sketch((0..1000).map(f64::from));
        let bins = histogram(&uniform, 0.0, 1000.0, 10);
        assert_eq!(bins.len(), 10);
        assert!((bins[0].low - 0.0).abs() < 1e-12 && (bins[9].high - 1000.0).abs() < 1e-12);
        let total: f64 = bins.iter().map(|bin| bin.share).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        for bin in &bins {
            assert!((bin.share - 0.1).abs() < 0.02, "{bins:?}");
        }
    }

    #[test]
    fn values_outside_the_range_count_in_the_end_bins() {
        let sample = sketch((0..100).map(f64::from));
        let bins = histogram(&sample, 25.0, 75.0, 5);
        assert!((bins[0].share - 0.36).abs() < 0.02, "{bins:?}");
        assert!((bins[4].share - 0.34).abs() < 0.02, "{bins:?}");
        let total: f64 = bins.iter().map(|bin| bin.share).sum();
        assert!((total - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_headline_names_the_errors() {
        let anomaly = |check: &str, severity: Severity| Anomaly {
            check: check.to_owned(),
            severity,
            column: None,
            statistic: None,
            value: None,
            threshold: None,
            message: String::new(),
            details: serde_json::Value::Null,
        };
        let mut report = CheckReport {
            baseline_records: 10,
            current_records: 10,
            anomalies: vec![
                anomaly("label-shift", Severity::Error),
                anomaly("duplicate-rate", Severity::Error),
                anomaly("drift", Severity::Warning),
            ],
            drift: Vec::new(),
        };
        assert_eq!(
            headline(&report),
            "Do not train: 2 errors \u{2014} label shift and a duplicate flood"
        );
        report.anomalies.push(anomaly("rule", Severity::Error));
        report.anomalies.push(anomaly("rule", Severity::Error));
        assert_eq!(
            headline(&report),
            "Do not train: 4 errors \u{2014} label shift, a duplicate flood and 2 failed rules"
        );
        report
            .anomalies
            .retain(|anomaly| anomaly.severity < Severity::Error);
        assert_eq!(
            headline(&report),
            "Train: no anomaly at error severity (1 warning worth a look)"
        );
        report.anomalies.clear();
        assert_eq!(headline(&report), "Train: no anomaly at error severity");
    }
}
