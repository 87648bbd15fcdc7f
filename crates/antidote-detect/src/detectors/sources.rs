//! Source trust: contributors whose records are flagged far more often than the rest.
//!
//! A malicious annotator, vendor or federated client contributes many poisoned records, so its
//! share of records flagged by the other detectors stands out. For each source with `n`
//! records of which `k` are flagged, a one-sided test asks how likely `k` or more flags are if
//! the source were an honest one like the others: `P(X >= k)` where `X` counts the flags of `n`
//! records flagged at the rate `p` of the rest of the dataset (the other sources and the records
//! without a source). Testing against the rest rather than the whole dataset keeps a large
//! poisoned source from raising the rate it is compared with.
//!
//! Honest sources differ too: a careful annotator of easy records collects fewer flags than a
//! hurried one of hard records. A plain binomial test (every honest source at exactly `p`)
//! reads that spread as evidence: in a simulation of 40 honest annotators whose background
//! flag rates vary from 3% to 8%, it named one of them in 5% of datasets even at a family-wise
//! level of 0.001. So the spread of the sources' flagged shares beyond what chance gives is
//! estimated robustly (the MAD of the shares, squared, minus the median binomial variance, so
//! that a few poisoned sources barely move it), and when it is positive the test uses the
//! beta-binomial distribution with that between-source variance: the binomial of a rate that
//! itself varies from source to source (Williams, 1975, "The analysis of binary responses from
//! toxicological experiments involving reproduction and teratogenicity", Biometrics 31). With
//! no spread it is the binomial test, computed by statrs as a regularised incomplete beta
//! function so that tiny p-values keep their digits.
//!
//! With many sources, some would pass a 1% test by chance, so the p-values are corrected for
//! the number of sources by Holm's step-down procedure (Holm, 1979, "A simple sequentially
//! rejective multiple test procedure", Scandinavian Journal of Statistics 6(2)), which keeps the
//! family-wise error rate at [`SourceTrustParams::significance`] while rejecting at least as
//! much as Bonferroni's correction. A significant source is distrusted only when its flagged
//! share is also at least [`SourceTrustParams::min_ratio`] times the rest's: a source with
//! half the dataset can be significantly above the rest by a hair, and that is not worth
//! naming. A rate of 0 in the rest is replaced by half a flag (`0.5 / (n_rest + 1)`), so that one
//! flag in a clean dataset does not give a p-value of 0.
//!
//! Records of a distrusted source are flagged with confidence 0.6: worth a look, not proof,
//! since a careful annotator of a hard class also collects flags.
//!
//! Limits: only as good as the flags it counts; a poisoned source that poisons a few of its
//! records (or whose poison the other detectors miss) does not stand out, and a source with
//! few records cannot reach significance. When more than half the sources are poisoned, they
//! set the spread honest sources are expected to have.

use std::collections::BTreeMap;

use antidote_core::display::percent;
use serde::Serialize;
use statrs::distribution::{Binomial, DiscreteCDF};
use statrs::function::beta::ln_beta;
use statrs::function::factorial::ln_binomial;

use crate::stats::{median, median_and_mad};

use crate::detector::{Detector, Need, ScanContext};
use crate::scan::ScanError;
use crate::{DetectorId, DetectorReport, Flag, SourceVerdict};

/// The confidence of a flag on a record of a distrusted source.
const SOURCE_CONFIDENCE: f64 = 0.6;

/// Below this many sources, their spread says too little and the test is binomial.
const MIN_SOURCES_FOR_SPREAD: usize = 5;

#[doc = include_str!("sources.md")]
#[derive(Debug, Clone, Copy)]
pub struct SourceTrust;

impl SourceTrust {
    /// The default parameters, to adjust and [`check`](SourceTrustParams::check).
    #[must_use]
    pub fn params() -> SourceTrustParams {
        SourceTrustParams::default()
    }
}

/// Unchecked parameters of [`SourceTrust`]; [`check`](Self::check) them to get something that
/// runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceTrustParams {
    significance: f64,
    min_ratio: f64,
}

impl Default for SourceTrustParams {
    fn default() -> Self {
        Self {
            significance: 1e-3,
            min_ratio: 2.0,
        }
    }
}

impl SourceTrustParams {
    /// The family-wise error rate over all sources, in `(0, 1)` (default 0.001): the chance
    /// that a dataset where every source is flagged at the same rate has one named anyway.
    #[must_use]
    pub fn significance(mut self, level: f64) -> Self {
        self.significance = level;
        self
    }

    /// How many times the rest's flagged share a source's share must at least be, at least 1
    /// (default 2).
    #[must_use]
    pub fn min_ratio(mut self, ratio: f64) -> Self {
        self.min_ratio = ratio;
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<SourceTrustValidParams, SourceTrustParamsError> {
        if !(self.significance > 0.0 && self.significance < 1.0) {
            return Err(SourceTrustParamsError::Significance {
                level: self.significance,
            });
        }
        if !(self.min_ratio >= 1.0 && self.min_ratio.is_finite()) {
            return Err(SourceTrustParamsError::MinRatio {
                ratio: self.min_ratio,
            });
        }
        Ok(SourceTrustValidParams { params: self })
    }
}

/// Invalid parameters of [`SourceTrust`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceTrustParamsError {
    /// The significance level is not in `(0, 1)`.
    #[error("the significance level must be between `0` and `1`, not `{level}`")]
    Significance {
        /// The level given.
        level: f64,
    },
    /// The ratio is below 1 or not finite.
    #[error("the minimum ratio must be a finite number of at least `1`, not `{ratio}`")]
    MinRatio {
        /// The ratio given.
        ratio: f64,
    },
}

/// Checked parameters of [`SourceTrust`], ready to [`run`](Self::run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceTrustValidParams {
    params: SourceTrustParams,
}

/// Input the detector cannot work with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceTrustError {
    /// The flags do not match the sources one to one.
    #[error("expected one flag per record (`{records}`), found `{flags}`")]
    FlagCount {
        /// The number of sources given (one per record).
        records: usize,
        /// The number of flags.
        flags: usize,
    },
}

/// One source's counts and test.
struct Tally {
    source: String,
    records: Vec<usize>,
    flagged: usize,
    rest_share: f64,
    p_value: f64,
}

impl SourceTrustValidParams {
    /// The family-wise significance level.
    #[must_use]
    pub fn significance(&self) -> f64 {
        self.params.significance
    }

    /// The minimum ratio of a distrusted source's flagged share to the rest's.
    #[must_use]
    pub fn min_ratio(&self) -> f64 {
        self.params.min_ratio
    }

    /// Tests every source's flagged share against the rest's.
    ///
    /// `sources[r]` is record `r`'s source, if it has one, and `flagged[r]` whether another
    /// detector flagged it (the union of their flags). The report holds a verdict for every
    /// source, by increasing p-value, and flags every record of a distrusted source.
    pub fn run(
        &self,
        sources: &[Option<String>],
        flagged: &[bool],
    ) -> Result<DetectorReport, SourceTrustError> {
        if sources.len() != flagged.len() {
            return Err(SourceTrustError::FlagCount {
                records: sources.len(),
                flags: flagged.len(),
            });
        }
        let mut report = DetectorReport::new(DetectorId::SourceTrust);
        report.scores = vec![0.0; sources.len()];
        let mut by_source: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (record, source) in sources.iter().enumerate() {
            if let Some(source) = source {
                by_source.entry(source).or_default().push(record);
            }
        }
        if by_source.is_empty() {
            report
                .notes
                .push("no record names its source, so no source was tested".to_owned());
            return Ok(report);
        }
        let total_records = sources.len();
        let total_flagged = flagged.iter().filter(|&&flag| flag).count();
        if by_source.len() == 1
            && by_source
                .values()
                .all(|records| records.len() == total_records)
        {
            report.notes.push(
                "every record comes from one source, which has no rest to be compared with"
                    .to_owned(),
            );
            return Ok(report);
        }
        let spread = between_source_variance(&by_source, flagged, total_flagged, total_records);
        let tallies = tally(by_source, flagged, total_flagged, total_records, spread);

        let adjusted = holm(
            &tallies
                .iter()
                .map(|tally| tally.p_value)
                .collect::<Vec<_>>(),
        );
        let source_count = tallies.len();
        let mut distrusted = 0;
        for (tally, adjusted) in tallies.iter().zip(adjusted) {
            let share = tally.flagged as f64 / tally.records.len() as f64;
            let significant = adjusted <= self.params.significance;
            let large = share >= self.params.min_ratio * tally.rest_share;
            let suspicious = significant && large;
            let score = -adjusted.max(f64::MIN_POSITIVE).log10();
            let explanation = explain(tally, share, adjusted, significant, large, self);
            if suspicious {
                distrusted += 1;
                for &record in &tally.records {
                    report
                        .flags
                        .push(Flag::new(record, SOURCE_CONFIDENCE, explanation.clone()));
                }
            }
            for &record in &tally.records {
                report.scores[record] = score;
            }
            report.sources.push(SourceVerdict {
                source: tally.source.clone(),
                records: tally.records.len(),
                flagged: tally.flagged,
                p_value: tally.p_value,
                suspicious,
                explanation,
            });
        }
        report.flags.sort_by_key(|flag| flag.index);
        report.notes.push(format!(
            "{distrusted} of {source_count} sources are distrusted; {total_flagged} of \
             {total_records} records ({}) were flagged by other detectors",
            percent(total_flagged as f64 / total_records as f64)
        ));
        report.notes.push(if spread > 0.0 {
            format!(
                "sources' flagged shares vary by {} points beyond chance, so the tests are \
                 beta-binomial",
                format_points(spread.sqrt())
            )
        } else {
            "sources' flagged shares vary no more than chance, so the tests are binomial".to_owned()
        });
        report.notes.push(format!(
            "a record's score is -log10 of its source's Holm-corrected p-value; a source is \
             distrusted at a corrected p-value of at most {} with a flagged share at least {} \
             times the rest's",
            self.params.significance, self.params.min_ratio
        ));
        Ok(report)
    }
}

/// Each source's counts and test, by increasing p-value (then by name, so that the order is
/// fixed).
fn tally(
    by_source: BTreeMap<&str, Vec<usize>>,
    flagged: &[bool],
    total_flagged: usize,
    total_records: usize,
    spread: f64,
) -> Vec<Tally> {
    let mut tallies: Vec<Tally> = by_source
        .into_iter()
        .map(|(source, records)| {
            let own_flagged = records.iter().filter(|&&record| flagged[record]).count();
            let rest_records = total_records - records.len();
            let rest_flagged = total_flagged - own_flagged;
            let rest_share = if rest_flagged == 0 {
                0.5 / (rest_records as f64 + 1.0)
            } else {
                rest_flagged as f64 / rest_records as f64
            };
            let p_value = upper_tail(own_flagged, records.len(), rest_share, spread);
            Tally {
                source: source.to_owned(),
                records,
                flagged: own_flagged,
                rest_share,
                p_value,
            }
        })
        .collect();
    tallies.sort_by(|a, b| {
        a.p_value
            .total_cmp(&b.p_value)
            .then_with(|| a.source.cmp(&b.source))
    });
    tallies
}

/// The variance of honest sources' true flag rates beyond the binomial's: the squared
/// MAD-scaled spread of the sources' flagged shares minus the median of their binomial
/// variances at the dataset's share, floored at 0. Robust, so that a few poisoned sources
/// barely move it; 0 with fewer than [`MIN_SOURCES_FOR_SPREAD`] sources.
fn between_source_variance(
    by_source: &BTreeMap<&str, Vec<usize>>,
    flagged: &[bool],
    total_flagged: usize,
    total_records: usize,
) -> f64 {
    if by_source.len() < MIN_SOURCES_FOR_SPREAD {
        return 0.0;
    }
    let share = total_flagged as f64 / total_records as f64;
    let shares: Vec<f64> = by_source
        .values()
        .map(|records| {
            records.iter().filter(|&&record| flagged[record]).count() as f64 / records.len() as f64
        })
        .collect();
    let chance: Vec<f64> = by_source
        .values()
        .map(|records| share * (1.0 - share) / records.len() as f64)
        .collect();
    let (_, spread) = median_and_mad(&shares);
    (spread * spread - median(&chance)).max(0.0)
}

/// `P(X >= flagged)` for the flags `X` of `records` records of an honest source: binomial at
/// `share` when honest sources do not vary (`variance` 0), else beta-binomial with mean `share`
/// and between-source variance `variance`.
fn upper_tail(flagged: usize, records: usize, share: f64, variance: f64) -> f64 {
    if flagged == 0 {
        return 1.0;
    }
    let share = share.clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON);
    if variance <= 0.0 {
        return match Binomial::new(share, records as u64) {
            // `sf(k - 1)` is `P(X > k - 1)`, the regularised incomplete beta `I_p(k, n - k + 1)`.
            Ok(distribution) => distribution.sf(flagged as u64 - 1),
            Err(_) => 1.0,
        };
    }
    // A beta distribution of rates with this mean and variance: `α + β = p(1 - p)/v - 1`.
    let concentration = (share * (1.0 - share) / variance - 1.0).max(1e-6);
    let (alpha, beta) = (share * concentration, (1.0 - share) * concentration);
    let normaliser = ln_beta(alpha, beta);
    let mode = records as f64 * share;
    let mut total = 0.0f64;
    for count in flagged..=records {
        let term = (ln_binomial(records as u64, count as u64)
            + ln_beta(count as f64 + alpha, (records - count) as f64 + beta)
            - normaliser)
            .exp();
        total += term;
        // Past the mode the terms only fall; stop once they no longer count.
        if count as f64 > mode + 1.0 && term <= total * 1e-17 {
            break;
        }
    }
    total.min(1.0)
}

/// Holm's step-down adjusted p-values of p-values sorted in increasing order: the `i`-th
/// (from 0) is `max_{j <= i} min(1, (m - j) p_j)`.
fn holm(sorted: &[f64]) -> Vec<f64> {
    let count = sorted.len();
    let mut running = 0.0f64;
    sorted
        .iter()
        .enumerate()
        .map(|(rank, &p_value)| {
            running = running.max(((count - rank) as f64 * p_value).min(1.0));
            running
        })
        .collect()
}

fn explain(
    tally: &Tally,
    share: f64,
    adjusted: f64,
    significant: bool,
    large: bool,
    params: &SourceTrustValidParams,
) -> String {
    let head = format!(
        "source `{}` had {} of {} records flagged ({}) against {} in the rest of the dataset \
         (p = {}",
        tally.source,
        tally.flagged,
        tally.records.len(),
        percent(share),
        percent(tally.rest_share),
        format_p(tally.p_value),
    );
    let tail = match (significant, large) {
        (true, true) => "), so it is distrusted".to_owned(),
        (true, false) => format!(
            "), significant but less than {} times the rest's share",
            params.params.min_ratio
        ),
        (false, _) => format!(
            ", {} after correcting for the number of sources), within chance",
            format_p(adjusted)
        ),
    };
    head + &tail
}

/// A share as percentage points with one decimal.
fn format_points(share: f64) -> String {
    format!("{:.1}", share * 100.0)
}

/// A p-value with two significant digits, in scientific notation below 0.001.
fn format_p(p_value: f64) -> String {
    if p_value == 0.0 {
        "<1e-300".to_owned()
    } else if p_value < 1e-3 {
        format!("{p_value:.0e}")
    } else {
        format!("{p_value:.2}")
    }
}

impl Detector for SourceTrust {
    fn id(&self) -> DetectorId {
        DetectorId::SourceTrust
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::Sources]
    }

    fn explanation_markdown(&self) -> &'static str {
        include_str!("sources.md")
    }

    /// Source trust over the union of the flags of every detector that ran before.
    fn run(&self, context: &ScanContext<'_>) -> Result<DetectorReport, ScanError> {
        let sources: Vec<Option<String>> = context
            .records
            .iter()
            .map(|record| record.source.clone())
            .collect();
        let mut flagged = vec![false; context.records.len()];
        for flag in context.earlier.iter().flat_map(|report| &report.flags) {
            flagged[flag.index] = true;
        }
        Ok(context.stage(DetectorId::SourceTrust, || {
            SourceTrust::params()
                .check()
                .expect("valid default parameters")
                .run(&sources, &flagged)
                .unwrap_or_else(|error| {
                    DetectorReport::skipped(DetectorId::SourceTrust, error.to_string())
                })
        }))
    }
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "the known answers are exact")]
mod tests {
    use super::*;

    fn detector() -> SourceTrustValidParams {
        SourceTrust::params().check().unwrap()
    }

    #[test]
    fn binomial_tail_of_known_values() {
        // P(X >= 3) for X ~ Binomial(3, 0.5) is 1/8; P(X >= 1) for Binomial(10, 0.1) is
        // 1 - 0.9^10.
        assert!((upper_tail(3, 3, 0.5, 0.0) - 0.125).abs() < 1e-12);
        assert!((upper_tail(1, 10, 0.1, 0.0) - (1.0 - 0.9f64.powi(10))).abs() < 1e-12);
        assert_eq!(upper_tail(0, 10, 0.1, 0.0), 1.0);
        // 50 of 50 at 6%: 0.06^50, far below what `1 - cdf` could show.
        let tiny = upper_tail(50, 50, 0.06, 0.0);
        assert!((tiny / 0.06f64.powi(50) - 1.0).abs() < 1e-9, "{tiny}");
    }

    #[test]
    fn beta_binomial_tail_of_known_values() {
        // Mean 1/2 and variance 1/12 is the uniform distribution of rates (α = β = 1), under
        // which every count of 0..=n is equally likely: P(X >= 7) for n = 9 is 3/10.
        assert!((upper_tail(7, 9, 0.5, 1.0 / 12.0) - 0.3).abs() < 1e-12);
        // A tiny between-source variance gives the binomial back.
        let binomial = upper_tail(12, 100, 0.06, 0.0);
        let nearly = upper_tail(12, 100, 0.06, 1e-9);
        assert!(
            (nearly / binomial - 1.0).abs() < 1e-3,
            "{nearly} {binomial}"
        );
        // A variance makes the same excess less surprising.
        assert!(upper_tail(12, 100, 0.06, 2e-4) > 2.0 * binomial);
    }

    #[test]
    fn holm_adjusts_step_down_and_stays_monotone() {
        let adjusted = holm(&[0.01, 0.02, 0.03, 0.5]);
        let expected = [0.04, 0.06, 0.06, 0.5];
        for (value, expected) in adjusted.iter().zip(expected) {
            assert!((value - expected).abs() < 1e-12, "{adjusted:?}");
        }
        assert_eq!(holm(&[0.6, 0.7]), [1.0, 1.0]);
    }

    #[test]
    fn a_source_with_most_records_flagged_is_named() {
        let mut sources = Vec::new();
        let mut flagged = Vec::new();
        for annotator in 0..10 {
            for record in 0..100 {
                sources.push(Some(format!("a{annotator}")));
                flagged.push(if annotator == 7 {
                    record % 10 < 8
                } else {
                    record % 20 == 0
                });
            }
        }
        let report = detector().run(&sources, &flagged).unwrap();
        assert_eq!(report.detector, DetectorId::SourceTrust);
        let named: Vec<&str> = report
            .sources
            .iter()
            .filter(|verdict| verdict.suspicious)
            .map(|verdict| verdict.source.as_str())
            .collect();
        assert_eq!(named, ["a7"]);
        assert_eq!(report.sources[0].source, "a7");
        assert_eq!(report.sources.len(), 10);
        assert!(
            report
                .sources
                .windows(2)
                .all(|pair| pair[0].p_value <= pair[1].p_value)
        );
        assert_eq!(report.flagged_indices(), (700..800).collect::<Vec<_>>());
        assert_eq!(report.flags[0].confidence, 0.6);
        assert!(
            report.flags[0].evidence.starts_with(
                "source `a7` had 80 of 100 records flagged (80%) against 5% in the rest of the \
                 dataset (p = "
            ),
            "{}",
            report.flags[0].evidence
        );
        assert!(report.sources[1].explanation.ends_with("within chance"));
    }

    #[test]
    fn a_large_source_with_a_small_excess_is_not_named() {
        // `big` holds 90% of 20,000 records, flagged at 6% against 4% elsewhere: highly
        // significant, but not twice the rest's share.
        let mut sources = Vec::new();
        let mut flagged = Vec::new();
        for record in 0..20_000 {
            let big = record < 18_000;
            sources.push(Some(if big { "big" } else { "small" }.to_owned()));
            flagged.push(if big {
                record % 50 < 3
            } else {
                record % 25 == 0
            });
        }
        let report = detector().run(&sources, &flagged).unwrap();
        let big = report
            .sources
            .iter()
            .find(|verdict| verdict.source == "big")
            .unwrap();
        assert!(big.p_value < 1e-6, "{big:?}");
        assert!(!big.suspicious);
        assert!(
            big.explanation
                .ends_with("significant but less than 2 times the rest's share"),
            "{}",
            big.explanation
        );
        assert!(report.flags.is_empty());
    }

    #[test]
    fn records_without_a_source_count_in_the_rest_only() {
        let sources = vec![None; 4];
        let report = detector().run(&sources, &[true; 4]).unwrap();
        assert!(report.sources.is_empty());
        assert_eq!(
            report.notes,
            ["no record names its source, so no source was tested"]
        );
        assert_eq!(
            detector().run(&sources, &[true; 3]),
            Err(SourceTrustError::FlagCount {
                records: 4,
                flags: 3
            })
        );
    }

    #[test]
    fn shares_and_p_values_read_well() {
        assert_eq!(percent(0.06), "6%");
        assert_eq!(percent(0.055), "5.5%");
        assert_eq!(percent(0.82), "82%");
        assert_eq!(percent(0.0004), "0.04%");
        assert_eq!(format_p(1.2e-30), "1e-30");
        assert_eq!(format_p(0.25), "0.25");
    }

    #[test]
    fn params_are_checked() {
        for level in [0.0, 1.0, f64::NAN] {
            assert!(SourceTrust::params().significance(level).check().is_err());
        }
        assert_eq!(
            SourceTrust::params()
                .min_ratio(0.5)
                .check()
                .unwrap_err()
                .to_string(),
            "the minimum ratio must be a finite number of at least `1`, not `0.5`"
        );
        let valid = SourceTrust::params()
            .significance(0.01)
            .min_ratio(3.0)
            .check()
            .unwrap();
        assert_eq!((valid.significance(), valid.min_ratio()), (0.01, 3.0));
    }
}
