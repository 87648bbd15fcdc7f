//! Trigger search: backdoor triggers in text (tokens, phrases) and images (pixel patches), found
//! by their statistics and confirmed by their effect on the model.
//!
//! Mining is per modality (`text`, `image`): each proposes candidates that are rare overall
//! and tied to one label beyond chance, with a way to stamp them on a record, a control stamp of
//! as much natural content, and a way to remove them. This module runs the causal test on each
//! candidate with the [`Predictor`] trained on all the data, and turns the confirmed ones into
//! triggers, flags and sentences. See [`TriggerSearch`] for what it detects, its limits and its
//! references.
//!
#![doc = include_str!("method.md")]

mod image;
mod statistics;
mod text;

pub use text::words;

use antidote_core::SplitMix64;
use antidote_core::display::percent;
use antidote_core::math::jaccard;
use antidote_data::{Record, Value};
use rayon::prelude::*;

use crate::detector::{Detector, Need, ScanContext};
use crate::predictor::{PredictError, Predictor};
use antidote_core::{ProgressUnit, Trigger};
use antidote_learn::{
    LogisticRegression, RecordClassifier, RecordFeatures, RecordModel, WordPresence,
};

use crate::report::{DetectorId, DetectorReport, DiscoveredTrigger, Flag};
use crate::scan::ScanError;

/// Fewer records than this, among those the causal test stamps, make no verdict.
const MIN_TESTED_RECORDS: usize = 10;

#[doc = include_str!("explanation.md")]
#[expect(
    clippy::doc_markdown,
    reason = "the explanation is what `antidote explain` prints: venues, paper titles and algorithm names (NeurIPS, MinHash) stay plain text"
)]
#[derive(Debug, Clone, Copy)]
pub struct TriggerSearch;

impl TriggerSearch {
    /// The default parameters, to adjust and [`check`](TriggerSearchParams::check).
    #[must_use]
    pub fn params() -> TriggerSearchParams {
        TriggerSearchParams::default()
    }
}

/// The column trigger search reads, and how to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerColumn<'a> {
    /// A text column: tokens and phrases are searched.
    Text(&'a str),
    /// An image column: pixel patches are searched.
    Image(&'a str),
}

/// The default largest share of the image a patch's bounding box may cover: 1/8, so that the
/// catalogue's largest patch, 8x8 pixels on a 28x28 image (8.2%), is searched. Set on the
/// development data (Fashion-MNIST): the former 1/16 left every patch above 7x7 unsearched;
/// with 1/8, an 8x8 checkerboard on 2% of the first 3,000 training images is found and the
/// clean 3,000 give no confirmed patch (`tests/backdoors_redteam.rs`). Not yet measured on
/// all 60,000.
pub const MAX_PATCH_FRACTION: f64 = 0.125;

/// The lowest model accuracy the necessity test scales its bar by (see
/// [`TriggerSearchParams::class_accuracy`]): below it, the bar would sink so low that the
/// class's own records, which revert now and then when a model is this unsure, could pass it.
/// At 0.5 the bar is at least half of `min_revert_rate`. Set on the development data: the
/// built-in network trained on the drill's 2,597 fortunes scores 67% on the held-out 649, so
/// the bar there is about a third.
pub const MIN_REFERENCE_ACCURACY: f64 = 0.5;

/// Unchecked parameters of [`TriggerSearch`]; [`check`](Self::check) them to get something that
/// runs.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerSearchParams {
    min_support: usize,
    max_support_fraction: f64,
    min_purity: f64,
    false_discovery_rate: f64,
    max_ngram_words: usize,
    max_candidates: usize,
    sample_size: usize,
    min_flip_rate: f64,
    min_revert_rate: f64,
    significance: f64,
    pixel_tolerance: u8,
    max_patch_fraction: f64,
    class_accuracy: Option<Vec<f64>>,
}

impl Default for TriggerSearchParams {
    fn default() -> Self {
        Self {
            min_support: 5,
            max_support_fraction: 0.1,
            min_purity: 0.8,
            false_discovery_rate: 0.01,
            max_ngram_words: 4,
            max_candidates: 64,
            sample_size: 200,
            min_flip_rate: 0.3,
            min_revert_rate: 0.5,
            significance: 1e-3,
            pixel_tolerance: 8,
            max_patch_fraction: MAX_PATCH_FRACTION,
            class_accuracy: None,
        }
    }
}

impl TriggerSearchParams {
    /// The fewest records a feature must be in to be a candidate (default 5): a trigger the
    /// model learns is in more, and fewer cannot pass the enrichment test anyway.
    #[must_use]
    pub fn min_support(mut self, records: usize) -> Self {
        self.min_support = records;
        self
    }

    /// The largest share of the records a feature may be in and still count as rare, in
    /// `(0, 1]` (default 0.1). A trigger in more records than this is not searched.
    #[must_use]
    pub fn max_support_fraction(mut self, fraction: f64) -> Self {
        self.max_support_fraction = fraction;
        self
    }

    /// The least share of a candidate's records that carry its most common label, in `(0, 1]`
    /// (default 0.8, which leaves room for natural uses of a trigger word in other classes).
    #[must_use]
    pub fn min_purity(mut self, purity: f64) -> Self {
        self.min_purity = purity;
        self
    }

    /// The false discovery rate of the enrichment tests, in `(0, 1)` (default 0.01): the
    /// Benjamini-Hochberg procedure picks the p-value cutoff from the data at this rate.
    #[must_use]
    pub fn false_discovery_rate(mut self, rate: f64) -> Self {
        self.false_discovery_rate = rate;
        self
    }

    /// The longest word n-grams counted, from 1 to 4 (default 4). Longer trigger phrases are
    /// still found whole: overlapping n-grams are merged into phrases.
    #[must_use]
    pub fn max_ngram_words(mut self, words: usize) -> Self {
        self.max_ngram_words = words;
        self
    }

    /// The most candidates given the causal test, strongest first (default 64); each costs
    /// about three times `sample_size` predictions.
    #[must_use]
    pub fn max_candidates(mut self, candidates: usize) -> Self {
        self.max_candidates = candidates;
        self
    }

    /// How many records of other classes each candidate is stamped on, and how many of its
    /// carriers it is removed from, at most (default 200).
    #[must_use]
    pub fn sample_size(mut self, records: usize) -> Self {
        self.sample_size = records;
        self
    }

    /// The least share of stamped records whose prediction must flip to the target for a
    /// trigger to be confirmed, in `(0, 1]` (default 0.3). A backdoor learned by a deep network
    /// moves nearly every record; one learned by a linear model moves about half, since a
    /// single feature's weight cannot outweigh every record's own evidence.
    #[must_use]
    pub fn min_flip_rate(mut self, rate: f64) -> Self {
        self.min_flip_rate = rate;
        self
    }

    /// The share of a candidate's carriers labelled with its target (those the model also calls
    /// the target) that must stop being called the target once the candidate is removed from
    /// them, in `(0, 1)` (default 0.5): significantly more than this share must revert, by a
    /// one-sided binomial test at [`significance`](Self::significance). Poisoned records are
    /// records of other classes and revert; a class's own records carry its other cues and do
    /// not, and a handful of records cannot show it either way.
    #[must_use]
    pub fn min_revert_rate(mut self, rate: f64) -> Self {
        self.min_revert_rate = rate;
        self
    }

    /// The significance level of both halves of the causal test, in `(0, 1)` (default `1e-3`):
    /// the exact paired test of the trigger's flips against the control's, and the binomial test of
    /// the carriers' reverts.
    #[must_use]
    pub fn significance(mut self, p_value: f64) -> Self {
        self.significance = p_value;
        self
    }

    /// How far, in grey levels, a pixel may be from a patch's pattern and still match it
    /// (default 8): a stamped patch matches exactly, unless the images were re-encoded.
    #[must_use]
    pub fn pixel_tolerance(mut self, levels: u8) -> Self {
        self.pixel_tolerance = levels;
        self
    }

    /// The largest share of the image a patch's bounding box may cover, in `(0, 1]` (default
    /// [`MAX_PATCH_FRACTION`], 1/8). A group of pixels spread wider is a class's shape, not a
    /// stamped patch.
    #[must_use]
    pub fn max_patch_fraction(mut self, fraction: f64) -> Self {
        self.max_patch_fraction = fraction;
        self
    }

    /// Each class's out-of-sample accuracy (the share of its records a model that did not
    /// train on them calls by their label), by class index; by default none, which counts the
    /// model as always right.
    ///
    /// The necessity half of the causal test asks that significantly more than
    /// [`min_revert_rate`](Self::min_revert_rate) of the carriers leave the target once the
    /// candidate is removed. A carrier without its trigger is a record of its source class, and
    /// the model calls it that class at best as often as it gets that class right: on small data
    /// (a few thousand texts) that is 60-70%, and the bar of 50% then sits too close to the best
    /// a planted trigger can do for a few dozen carriers to clear it. With the accuracies given,
    /// the bar is `min_revert_rate` times the accuracy of the classes the carriers come from
    /// (the other classes, weighted by their size, since an attacker draws its records from
    /// them), never below [`MIN_REFERENCE_ACCURACY`] times `min_revert_rate`. A class's own
    /// records keep its other cues and stay, so the lower bar does not let them through.
    #[must_use]
    pub fn class_accuracy(mut self, accuracy: Vec<f64>) -> Self {
        self.class_accuracy = Some(accuracy);
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<TriggerSearchValidParams, TriggerSearchParamsError> {
        let unit = |value: f64| value > 0.0 && value <= 1.0;
        let open_unit = |value: f64| value > 0.0 && value < 1.0;
        if self.min_support < 2 {
            return Err(TriggerSearchParamsError::MinSupport {
                records: self.min_support,
            });
        }
        let fractions = [
            (
                "max_support_fraction",
                self.max_support_fraction,
                unit(self.max_support_fraction),
            ),
            ("min_purity", self.min_purity, unit(self.min_purity)),
            (
                "false_discovery_rate",
                self.false_discovery_rate,
                open_unit(self.false_discovery_rate),
            ),
            (
                "min_flip_rate",
                self.min_flip_rate,
                unit(self.min_flip_rate),
            ),
            (
                "min_revert_rate",
                self.min_revert_rate,
                open_unit(self.min_revert_rate),
            ),
            (
                "significance",
                self.significance,
                open_unit(self.significance),
            ),
            (
                "max_patch_fraction",
                self.max_patch_fraction,
                unit(self.max_patch_fraction),
            ),
        ];
        for (name, value, valid) in fractions {
            if !valid {
                return Err(TriggerSearchParamsError::Fraction { name, value });
            }
        }
        if let Some(accuracy) = &self.class_accuracy
            && let Some(&value) = accuracy.iter().find(|value| !(0.0..=1.0).contains(*value))
        {
            return Err(TriggerSearchParamsError::Fraction {
                name: "class_accuracy",
                value,
            });
        }
        if !(1..=4).contains(&self.max_ngram_words) {
            return Err(TriggerSearchParamsError::NgramWords {
                words: self.max_ngram_words,
            });
        }
        if self.max_candidates == 0 {
            return Err(TriggerSearchParamsError::MaxCandidates);
        }
        if self.sample_size < MIN_TESTED_RECORDS {
            return Err(TriggerSearchParamsError::SampleSize {
                records: self.sample_size,
            });
        }
        Ok(TriggerSearchValidParams { params: self })
    }
}

/// Invalid parameters of [`TriggerSearch`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TriggerSearchParamsError {
    /// The support floor is below 2.
    #[error("`min_support` must be at least `2`, not `{records}`")]
    MinSupport {
        /// The floor given.
        records: usize,
    },
    /// A share or probability is out of its range.
    #[error("`{name}` must be between `0` and `1`, not `{value}`")]
    Fraction {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// The n-gram length is not 1 to 4.
    #[error("`max_ngram_words` must be between `1` and `4`, not `{words}`")]
    NgramWords {
        /// The length given.
        words: usize,
    },
    /// No candidate would be tested.
    #[error("`max_candidates` must be at least `1`")]
    MaxCandidates,
    /// Too few records would be stamped to decide anything.
    #[error("`sample_size` must be at least `{MIN_TESTED_RECORDS}`, not `{records}`")]
    SampleSize {
        /// The size given.
        records: usize,
    },
}

/// Checked parameters of [`TriggerSearch`], ready to [`run`](Self::run).
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerSearchValidParams {
    params: TriggerSearchParams,
}

/// Input the detector cannot work with, or a model that failed it.
#[derive(Debug, thiserror::Error)]
pub enum TriggerSearchError {
    /// There are no records.
    #[error("there are no records to search")]
    NoRecords,
    /// The labels and the records differ in number.
    #[error("`{labels}` labels for `{records}` records")]
    LabelCount {
        /// Records given.
        records: usize,
        /// Labels given.
        labels: usize,
    },
    /// Fewer than two classes.
    #[error("trigger search needs at least `2` classes, not `{class_count}`")]
    TooFewClasses {
        /// The number of class names given.
        class_count: usize,
    },
    /// A label is not a class index.
    #[error("record `{record}` is labelled `{label}`, but the classes are `0` to `{max_class}`")]
    LabelOutOfRange {
        /// The record's position.
        record: usize,
        /// Its label.
        label: usize,
        /// The highest class index.
        max_class: usize,
    },
    /// The text column holds something that is not text.
    #[error("record `{id}`: column `{column}` holds {found}, not text")]
    NotText {
        /// The record's id.
        id: String,
        /// The column.
        column: String,
        /// What it holds.
        found: &'static str,
    },
    /// The image column holds something that is not an image.
    #[error("record `{id}`: column `{column}` holds {found}, not an image")]
    NotAnImage {
        /// The record's id.
        id: String,
        /// The column.
        column: String,
        /// What it holds.
        found: &'static str,
    },
    /// An image has another size than the first.
    #[error(
        "record `{id}`: column `{column}` holds a {found} image, but the first image is {expected} (width x height x channels)"
    )]
    ImageSize {
        /// The record's id.
        id: String,
        /// The column.
        column: String,
        /// The size of the first image.
        expected: String,
        /// The size of this one.
        found: String,
    },
    /// The model failed.
    #[error("the model could not predict the records stamped with {candidate}")]
    Predict {
        /// The candidate being tested.
        candidate: String,
        /// Why.
        #[source]
        source: PredictError,
    },
    /// The model returned the wrong number of predictions.
    #[error("the model returned `{found}` predictions for `{expected}` records")]
    PredictionCount {
        /// Records given to the model.
        expected: usize,
        /// Predictions returned.
        found: usize,
    },
    /// The model predicted a class that does not exist.
    #[error("the model predicted class `{class}`, but the classes are `0` to `{max_class}`")]
    PredictionOutOfRange {
        /// The predicted class.
        class: usize,
        /// The highest class index.
        max_class: usize,
    },
}

/// One candidate that was given the causal test, confirmed or not.
#[derive(Debug, Clone, PartialEq)]
pub struct TestedCandidate {
    /// The candidate as a trigger: its pattern, target, support, purity and measured flip rate,
    /// with `confirmed` saying whether the test confirmed it.
    pub trigger: DiscoveredTrigger,
    /// The share of the same records flipped to the target by the control stamp.
    pub control_rate: f64,
    /// How many records of other classes were stamped and counted (those the model did not
    /// already call the target).
    pub tested_records: usize,
    /// The p-value of the exact paired test of the trigger's flips against the control's.
    pub p_value: f64,
    /// The share of the carriers labelled (and predicted) as the target that the model stops
    /// calling the target once the candidate is removed from them.
    pub revert_rate: f64,
    /// How many carriers the removal was measured on.
    pub removal_tested_records: usize,
}

/// Everything a search found: the report `antidote scan` reads, and every candidate tested, for
/// a closer look.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerSearchOutcome {
    /// Confirmed triggers, the flags and scores of the records carrying them, and notes.
    pub report: DetectorReport,
    /// Every candidate given the causal test, strongest first.
    pub candidates: Vec<TestedCandidate>,
}

impl TriggerSearchValidParams {
    /// The parameters in force.
    #[must_use]
    pub fn params(&self) -> &TriggerSearchParams {
        &self.params
    }

    /// Searches `records` for backdoor triggers and flags the records that carry a confirmed
    /// one with its target label.
    ///
    /// `labels[r]` is record `r`'s class index into `class_names`; `column` names the text or
    /// image column; `predictor` is the model trained on all the data, which the causal test
    /// questions; `seed` fixes which records are stamped.
    ///
    /// The report lists the confirmed triggers; its score of a record is the confidence of the
    /// strongest confirmed trigger it carries with that trigger's target label, and 0 for every
    /// other record (there is no threshold: a record is flagged exactly when its score is not
    /// 0). Its notes say what was searched, and why each tested candidate was rejected.
    pub fn run<S: AsRef<str>>(
        &self,
        records: &[Record],
        labels: &[usize],
        class_names: &[S],
        column: TriggerColumn<'_>,
        predictor: &dyn Predictor,
        seed: u64,
    ) -> Result<DetectorReport, TriggerSearchError> {
        self.search(records, labels, class_names, column, predictor, seed)
            .map(|outcome| outcome.report)
    }

    /// [`run`](Self::run), also returning every candidate tested with its measurements.
    pub fn search<S: AsRef<str>>(
        &self,
        records: &[Record],
        labels: &[usize],
        class_names: &[S],
        column: TriggerColumn<'_>,
        predictor: &dyn Predictor,
        seed: u64,
    ) -> Result<TriggerSearchOutcome, TriggerSearchError> {
        validate(records, labels, class_names.len())?;
        let class_names: Vec<&str> = class_names.iter().map(AsRef::as_ref).collect();
        let data = Data {
            records,
            labels,
            class_names: &class_names,
        };
        let mined = match column {
            TriggerColumn::Text(column) => text::mine(&data, column, &self.params)?,
            TriggerColumn::Image(column) => image::mine(&data, column, &self.params)?,
        };
        self.confirm(&data, mined, predictor, seed)
    }

    /// Runs the causal test on the strongest candidates and writes the report.
    fn confirm(
        &self,
        data: &Data<'_>,
        mined: Mined<'_>,
        predictor: &dyn Predictor,
        seed: u64,
    ) -> Result<TriggerSearchOutcome, TriggerSearchError> {
        let Mined {
            mut candidates,
            mut notes,
        } = mined;
        let found = candidates.len();
        candidates.truncate(self.params.max_candidates);
        if found > candidates.len() {
            notes.push(format!(
                "tested the {} strongest of {found} candidates; the weaker ones were not tested",
                candidates.len()
            ));
        }
        // Every candidate is tested, then the first error in candidate order is the one reported:
        // rayon's collect into a `Result` returns whichever error a thread meets first.
        let outcomes = candidates
            .par_iter()
            .map(|candidate| self.causal_test(data, candidate, predictor, seed))
            .collect::<Vec<_>>()
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;

        let mut report = DetectorReport::new(DetectorId::TriggerSearch);
        report.scores = vec![0.0; data.records.len()];
        let mut evidence: Vec<Option<Flag>> = vec![None; data.records.len()];
        let mut tested = Vec::with_capacity(candidates.len());
        for (candidate, outcome) in candidates.iter().zip(&outcomes) {
            let confirmed = self.confirms(outcome);
            let target_name = data.class_names[candidate.target];
            if outcome.tested < MIN_TESTED_RECORDS {
                notes.push(format!(
                    "could not test {}: only {} records of other classes are not already \
                     predicted `{target_name}`",
                    candidate.name, outcome.tested
                ));
            } else if !confirmed {
                notes.push(format!(
                    "rejected {} ({} records, {} `{target_name}`): {}",
                    candidate.name,
                    candidate.carriers.len(),
                    percent(candidate.purity),
                    measurements(outcome, candidate, target_name),
                ));
            }
            let trigger = DiscoveredTrigger {
                pattern: candidate.pattern.clone(),
                target: Some(candidate.target),
                support: candidate.carriers.len(),
                purity: candidate.purity,
                flip_rate: Some(outcome.flip_rate()),
                confirmed,
                explanation: explain_trigger(data, candidate, outcome),
            };
            if confirmed {
                let confidence = confidence(outcome, candidate.purity);
                let sentence = format!(
                    "carries {}, found in {} records of which {} are labelled `{target_name}`; \
                     stamping it flips {} of other records to `{target_name}`",
                    candidate.name,
                    candidate.carriers.len(),
                    percent(candidate.purity),
                    percent(outcome.flip_rate()),
                );
                for &record in &candidate.carriers {
                    let record = record as usize;
                    if data.labels[record] != candidate.target {
                        continue;
                    }
                    let stronger = evidence[record]
                        .as_ref()
                        .is_none_or(|flag| confidence > flag.confidence);
                    if stronger {
                        evidence[record] = Some(Flag::new(record, confidence, sentence.clone()));
                        report.scores[record] = confidence;
                    }
                }
                report.triggers.push(trigger.clone());
            }
            tested.push(TestedCandidate {
                trigger,
                control_rate: outcome.control_rate(),
                tested_records: outcome.tested,
                p_value: outcome.ln_p_value.exp(),
                revert_rate: outcome.revert_rate(),
                removal_tested_records: outcome.removal_tested,
            });
        }
        report.flags = evidence.into_iter().flatten().collect();
        notes.push(format!(
            "gave {} candidates the causal test ({} records each at most); confirmed {} \
             triggers and flagged {} records",
            tested.len(),
            self.params.sample_size,
            report.triggers.len(),
            report.flags.len()
        ));
        report.notes = notes;
        Ok(TriggerSearchOutcome {
            report,
            candidates: tested,
        })
    }

    /// Sufficiency (a high flip rate, significantly above the control's) and necessity
    /// (significantly more than `min_revert_rate` of the carriers revert).
    fn confirms(&self, outcome: &CausalOutcome) -> bool {
        let level = self.params.significance.ln();
        outcome.tested >= MIN_TESTED_RECORDS
            && outcome.flip_rate() >= self.params.min_flip_rate
            && outcome.ln_p_value <= level
            && outcome.ln_revert_p_value(outcome.revert_bar) <= level
    }

    /// The share of carriers that must revert for target `target`: `min_revert_rate` times the
    /// size-weighted accuracy of the other classes (see [`TriggerSearchParams::class_accuracy`]).
    fn revert_bar(&self, data: &Data<'_>, target: usize) -> f64 {
        let Some(accuracy) = &self.params.class_accuracy else {
            return self.params.min_revert_rate;
        };
        let counts = data.class_counts();
        let (mut weighted, mut total) = (0.0, 0usize);
        for (class, &count) in counts.iter().enumerate() {
            if class != target
                && let Some(&value) = accuracy.get(class)
            {
                weighted += value * count as f64;
                total += count;
            }
        }
        let reference = if total == 0 {
            1.0
        } else {
            (weighted / total as f64).clamp(MIN_REFERENCE_ACCURACY, 1.0)
        };
        self.params.min_revert_rate * reference
    }

    /// The two halves of the causal test. Sufficiency: the candidate, and the control, are
    /// stamped on a seeded sample of records of other classes that do not carry it, and the
    /// flips to the target are counted. Necessity: the candidate is removed from a seeded
    /// sample of its carriers labelled with the target, and the predictions that leave the
    /// target are counted.
    fn causal_test(
        &self,
        data: &Data<'_>,
        candidate: &Candidate<'_>,
        predictor: &dyn Predictor,
        seed: u64,
    ) -> Result<CausalOutcome, TriggerSearchError> {
        let target = candidate.target;
        let pool: Vec<usize> = (0..data.records.len())
            .filter(|&record| {
                data.labels[record] != target
                    && candidate.stamp.applies(&data.records[record])
                    && candidate.carriers.binary_search(&(record as u32)).is_err()
            })
            .collect();
        let carriers: Vec<usize> = candidate
            .carriers
            .iter()
            .map(|&record| record as usize)
            .filter(|&record| data.labels[record] == target)
            .collect();
        let mut random = SplitMix64::derived(seed, &format!("trigger-search {}", candidate.name));
        let pick = |random: &mut SplitMix64, from: &[usize]| -> Vec<usize> {
            random
                .sample(from.len(), self.params.sample_size)
                .into_iter()
                .map(|slot| from[slot])
                .collect()
        };
        let others = pick(&mut random, &pool);
        let carriers = pick(&mut random, &carriers);

        let mut batch: Vec<Record> = Vec::with_capacity(3 * others.len() + 2 * carriers.len());
        batch.extend(others.iter().map(|&record| data.records[record].clone()));
        for &record in &others {
            batch.push(candidate.stamp.stamp(&data.records[record], &mut random));
        }
        for &record in &others {
            batch.push(candidate.stamp.control(&data.records[record], &mut random));
        }
        batch.extend(carriers.iter().map(|&record| data.records[record].clone()));
        batch.extend(
            carriers
                .iter()
                .map(|&record| candidate.stamp.remove(&data.records[record])),
        );
        let predictions =
            predict(predictor, &batch, data.class_names.len()).map_err(|error| match error {
                PredictFailure::Model(source) => TriggerSearchError::Predict {
                    candidate: candidate.name.clone(),
                    source,
                },
                PredictFailure::Invalid(error) => error,
            })?;
        let (before, rest) = predictions.split_at(others.len());
        let (stamped, rest) = rest.split_at(others.len());
        let (control, rest) = rest.split_at(others.len());
        let (carried, removed) = rest.split_at(carriers.len());

        let mut outcome = CausalOutcome {
            revert_bar: self.revert_bar(data, target),
            ..CausalOutcome::default()
        };
        for ((&before, &stamped), &control) in before.iter().zip(stamped).zip(control) {
            if before == target {
                continue;
            }
            outcome.tested += 1;
            let (flipped, control_flipped) = (stamped == target, control == target);
            outcome.flips += usize::from(flipped);
            outcome.control_flips += usize::from(control_flipped);
            outcome.only_stamped += usize::from(flipped && !control_flipped);
            outcome.only_control += usize::from(control_flipped && !flipped);
        }
        outcome.ln_p_value = statistics::ln_mcnemar_p_value(
            outcome.only_stamped as u64,
            outcome.only_control as u64,
        );
        for (&carried, &removed) in carried.iter().zip(removed) {
            if carried == target {
                outcome.removal_tested += 1;
                outcome.reverted += usize::from(removed != target);
            }
        }
        Ok(outcome)
    }
}

/// The records, labels and class names of one search.
struct Data<'a> {
    records: &'a [Record],
    labels: &'a [usize],
    class_names: &'a [&'a str],
}

impl Data<'_> {
    /// The number of records labelled with each class.
    fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.class_names.len()];
        for &label in self.labels {
            counts[label] += 1;
        }
        counts
    }
}

/// What a modality's mining proposes, strongest first, and what it has to say.
struct Mined<'a> {
    candidates: Vec<Candidate<'a>>,
    notes: Vec<String>,
}

/// A feature that is rare overall and tied to one label beyond chance.
struct Candidate<'a> {
    pattern: Trigger,
    /// How a sentence names it: "the token `cf`".
    name: String,
    target: usize,
    /// The records that carry it, in increasing order.
    carriers: Vec<u32>,
    /// The share of the carriers labelled `target`.
    purity: f64,
    stamp: Box<dyn Stamp + 'a>,
}

/// How a candidate, and its control, are put on a record, and how it is taken off.
trait Stamp: Sync {
    /// `record` with the candidate on it.
    fn stamp(&self, record: &Record, random: &mut SplitMix64) -> Record;

    /// `record` with as much natural content put on it the same way.
    fn control(&self, record: &Record, random: &mut SplitMix64) -> Record;

    /// What the control puts on records, for sentences.
    fn control_description(&self) -> &'static str;

    /// `record` without the candidate: a phrase cut out, a patch replaced by what is usually
    /// in its place.
    fn remove(&self, record: &Record) -> Record;

    /// Whether `record` can be stamped (an image stamp needs an image of the right size).
    fn applies(&self, _record: &Record) -> bool {
        true
    }
}

/// The counts of one causal test.
#[derive(Debug, Clone, Copy, Default)]
struct CausalOutcome {
    /// Stamped records the model did not already call the target.
    tested: usize,
    /// Of those, how many the stamp moved to the target.
    flips: usize,
    /// How many the control moved to the target.
    control_flips: usize,
    /// Moved by the stamp but not by the control.
    only_stamped: usize,
    /// Moved by the control but not by the stamp.
    only_control: usize,
    /// The log p-value of the exact paired test of `only_stamped` against `only_control`.
    ln_p_value: f64,
    /// Carriers labelled and predicted as the target, which the removal test looked at.
    removal_tested: usize,
    /// Of those, how many the model no longer calls the target once the candidate is removed.
    reverted: usize,
    /// The share of carriers that significantly more must revert: `min_revert_rate`, scaled by
    /// the model's accuracy on the carriers' source classes when it is known.
    revert_bar: f64,
}

impl CausalOutcome {
    fn flip_rate(&self) -> f64 {
        ratio(self.flips, self.tested)
    }

    fn control_rate(&self) -> f64 {
        ratio(self.control_flips, self.tested)
    }

    fn revert_rate(&self) -> f64 {
        ratio(self.reverted, self.removal_tested)
    }

    /// The log p-value of so many reverts if each carrier reverted with probability `share`
    /// (one-sided binomial test): small when significantly more than `share` of the carriers
    /// depend on the candidate.
    fn ln_revert_p_value(&self, share: f64) -> f64 {
        statistics::ln_binomial_upper_tail(self.reverted as u64, self.removal_tested as u64, share)
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// How sure a flag is: the geometric mean of the share of flips the trigger causes beyond the
/// control (`(flip - control) / (1 - control)`), the share of its carriers that revert without
/// it, and its purity.
fn confidence(outcome: &CausalOutcome, purity: f64) -> f64 {
    let control = outcome.control_rate();
    let effect = if control >= 1.0 {
        0.0
    } else {
        ((outcome.flip_rate() - control) / (1.0 - control)).clamp(0.0, 1.0)
    };
    (effect * outcome.revert_rate() * purity)
        .cbrt()
        .clamp(0.01, 1.0)
}

fn explain_trigger(data: &Data<'_>, candidate: &Candidate<'_>, outcome: &CausalOutcome) -> String {
    let target_name = data.class_names[candidate.target];
    let base_rate = ratio(data.class_counts()[candidate.target], data.records.len());
    format!(
        "{} is in {} records, {} labelled `{target_name}` (`{target_name}` is {} of the data); {}",
        capitalise(&candidate.name),
        candidate.carriers.len(),
        percent(candidate.purity),
        percent(base_rate),
        measurements(outcome, candidate, target_name),
    )
}

/// What the causal test measured, as a clause.
fn measurements(outcome: &CausalOutcome, candidate: &Candidate<'_>, target_name: &str) -> String {
    format!(
        "stamped on {} records of other classes it flips {} to `{target_name}`, against {} for \
         {}; removed from {} of its `{target_name}` records, it turns {} of them away from \
         `{target_name}`",
        outcome.tested,
        percent(outcome.flip_rate()),
        percent(outcome.control_rate()),
        candidate.stamp.control_description(),
        outcome.removal_tested,
        percent(outcome.revert_rate()),
    )
}

fn capitalise(text: &str) -> String {
    let mut characters = text.chars();
    characters.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(characters).collect()
    })
}

fn validate(
    records: &[Record],
    labels: &[usize],
    class_count: usize,
) -> Result<(), TriggerSearchError> {
    if records.is_empty() {
        return Err(TriggerSearchError::NoRecords);
    }
    if labels.len() != records.len() {
        return Err(TriggerSearchError::LabelCount {
            records: records.len(),
            labels: labels.len(),
        });
    }
    if class_count < 2 {
        return Err(TriggerSearchError::TooFewClasses { class_count });
    }
    if let Some((record, &label)) = labels
        .iter()
        .enumerate()
        .find(|(_, label)| **label >= class_count)
    {
        return Err(TriggerSearchError::LabelOutOfRange {
            record,
            label,
            max_class: class_count - 1,
        });
    }
    Ok(())
}

enum PredictFailure {
    Model(PredictError),
    Invalid(TriggerSearchError),
}

fn predict(
    predictor: &dyn Predictor,
    records: &[Record],
    class_count: usize,
) -> Result<Vec<usize>, PredictFailure> {
    let predictions = predictor.predict(records).map_err(PredictFailure::Model)?;
    if predictions.len() != records.len() {
        return Err(PredictFailure::Invalid(
            TriggerSearchError::PredictionCount {
                expected: records.len(),
                found: predictions.len(),
            },
        ));
    }
    if let Some(&class) = predictions.iter().find(|&&class| class >= class_count) {
        return Err(PredictFailure::Invalid(
            TriggerSearchError::PredictionOutOfRange {
                class,
                max_class: class_count - 1,
            },
        ));
    }
    Ok(predictions)
}

/// `record` with `column` set to `value` (added when the record lacks it).
fn with_field(record: &Record, column: &str, value: Value) -> Record {
    let mut record = record.clone();
    match record.fields.iter_mut().find(|(name, _)| &**name == column) {
        Some((_, slot)) => *slot = value,
        None => record.fields.push((column.into(), value)),
    }
    record
}

/// How a sentence names what a value is, for errors.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Int(_) | Value::Float(_) => "a number",
        Value::Text(_) => "text",
        Value::Image(_) => "an image",
        Value::List(_) => "a list",
        Value::Map(_) => "an object",
    }
}

/// The majority label of `carriers` (the lowest class on a tie), its share, and the log p-value
/// of so many carriers having it; see [`enrichment_of_counts`].
fn enrichment(
    carriers: &[u32],
    labels: &[usize],
    class_counts: &[usize],
    total: usize,
) -> (usize, f64, f64) {
    let mut counts = vec![0_u64; class_counts.len()];
    for &record in carriers {
        counts[labels[record as usize]] += 1;
    }
    enrichment_of_counts(&counts, class_counts, total)
}

/// Of a feature whose records have `label_counts[c]` records labelled `c`: the majority label
/// (the lowest class on a tie), its share, and the log p-value of at least that many when the
/// label covers `class_counts[label] / total` of the data (one-sided binomial test), times the
/// number of classes, since the label was picked as the most common and so every class was in
/// effect tested.
fn enrichment_of_counts(
    label_counts: &[u64],
    class_counts: &[usize],
    total: usize,
) -> (usize, f64, f64) {
    let (target, &count) = label_counts
        .iter()
        .enumerate()
        .max_by(|(a, x), (b, y)| x.cmp(y).then(b.cmp(a)))
        .expect("there are at least two classes");
    let support: u64 = label_counts.iter().sum();
    let base_rate = ratio(class_counts[target], total);
    let ln_p_value = statistics::ln_binomial_upper_tail(count, support, base_rate)
        + (class_counts.len() as f64).ln();
    (
        target,
        ratio(count as usize, support as usize),
        ln_p_value.min(0.0),
    )
}

/// The L2 penalty of trigger search's model in a scan: light, so that a trigger in 1% of the
/// records is learned.
const SCAN_MODEL_L2: f64 = 1e-4;

impl Detector for TriggerSearch {
    fn id(&self) -> DetectorId {
        DetectorId::TriggerSearch
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::Classes, Need::TriggerColumn]
    }

    fn explanation_markdown(&self) -> &'static str {
        include_str!("explanation.md")
    }

    /// Trigger search in the text or image column, questioning a model that can learn a
    /// trigger, trained on every record as the attacked model would be: for images the scan's
    /// network (logistic regression on the scan's features when it trained none), for text
    /// logistic regression on the presence of words.
    fn run(&self, context: &ScanContext<'_>) -> Result<DetectorReport, ScanError> {
        let (labels, learned) = context.classes();
        let (column, image) = context
            .trigger_column()
            .expect("checked by `Need::TriggerColumn`");
        context
            .progress
            .start("trigger search: train model", None, ProgressUnit::Records);
        let words = (!image).then(|| WordPresence::fit(context.records, column));
        let word_features = words.as_ref().map(|words| words.transform(context.records));
        let features = word_features.as_ref().unwrap_or(&learned.features);
        let model = match learned.network.as_ref().filter(|_| image) {
            Some(network) => RecordModel::Network(network),
            None => LogisticRegression::params()
                .l2(SCAN_MODEL_L2)
                .check()
                .expect("valid parameters")
                .fit(features, labels, learned.class_count)?
                .into(),
        };
        context.progress.finish();
        let classifier = RecordClassifier {
            features: words.as_ref().map_or(
                RecordFeatures::Featurizer(&learned.featurizer),
                RecordFeatures::Words,
            ),
            model,
        };
        let column = if image {
            TriggerColumn::Image(column)
        } else {
            TriggerColumn::Text(column)
        };
        // The scan does not scale the necessity bar by the model's accuracy
        // (`TriggerSearchParams::class_accuracy`): scaled, the bar confirmed Yogi Berra's name in
        // the clean fortunes (10 quotes, all `sports`, 9 of 10 revert), the natural cue the
        // necessity test exists to tell from a planted trigger.
        let params = TriggerSearch::params();
        Ok(context.stage(DetectorId::TriggerSearch, || {
            params
                .check()
                .expect("valid default parameters")
                .run(
                    context.records,
                    labels,
                    context.class_names,
                    column,
                    &classifier,
                    context.options.seed,
                )
                .unwrap_or_else(|error| {
                    DetectorReport::skipped(DetectorId::TriggerSearch, error.to_string())
                })
        }))
    }
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "the known answers are exact doubles")]
mod tests {
    use super::*;

    #[test]
    fn percentages_never_round_to_all_or_nothing() {
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.004), "0.4%");
        assert_eq!(percent(0.5), "50%");
        assert_ne!(percent(0.996), "100%");
        assert_eq!(percent(0.99999), ">99.9%");
        assert_eq!(percent(1.0), "100%");
    }

    #[test]
    fn confidence_grows_with_the_effect_over_the_control_the_reverts_and_the_purity() {
        let outcome = |flips, control_flips| CausalOutcome {
            tested: 100,
            flips,
            control_flips,
            removal_tested: 20,
            reverted: 19,
            ..CausalOutcome::default()
        };
        let strong = confidence(&outcome(97, 2), 1.0);
        assert!(strong > 0.95, "{strong}");
        assert!(confidence(&outcome(60, 2), 1.0) < strong);
        assert!(confidence(&outcome(97, 40), 1.0) < strong);
        assert!(confidence(&outcome(97, 2), 0.8) < strong);
        let mut held = outcome(97, 2);
        held.reverted = 10;
        assert!(confidence(&held, 1.0) < strong);
    }

    #[test]
    fn confirmation_needs_both_halves_of_the_causal_test() {
        let detector = TriggerSearch::params().check().unwrap();
        let outcome = |flips, only_control, reverted, removal_tested| {
            let mut outcome = CausalOutcome {
                tested: 200,
                flips,
                control_flips: only_control,
                only_stamped: flips,
                only_control,
                removal_tested,
                reverted,
                ln_p_value: 0.0,
                revert_bar: 0.5,
            };
            outcome.ln_p_value = statistics::ln_mcnemar_p_value(flips as u64, only_control as u64);
            outcome
        };
        assert!(detector.confirms(&outcome(100, 2, 32, 32)));
        // Flips little: a weak cue.
        assert!(!detector.confirms(&outcome(40, 2, 32, 32)));
        // Flips no more than the control.
        assert!(!detector.confirms(&outcome(100, 90, 32, 32)));
        // Its records hold without it: a class's own vocabulary.
        assert!(!detector.confirms(&outcome(140, 2, 10, 32)));
        // Nine of ten revert: too few records to show that most depend on it (p = 0.011).
        assert!(!detector.confirms(&outcome(100, 2, 9, 10)));
    }

    #[test]
    fn the_necessity_bar_follows_the_accuracy_on_the_source_classes() {
        let records: Vec<Record> = Vec::new();
        // Class 0 (the target) has 100 records, classes 1 and 2 have 300 and 100.
        let labels: Vec<usize> = (0..500)
            .map(|record| match record {
                0..100 => 0,
                100..400 => 1,
                _ => 2,
            })
            .collect();
        let names = ["a", "b", "c"];
        let data = Data {
            records: &records,
            labels: &labels,
            class_names: &names,
        };
        let bar = |accuracy: Option<Vec<f64>>| {
            let mut params = TriggerSearch::params();
            if let Some(accuracy) = accuracy {
                params = params.class_accuracy(accuracy);
            }
            params.check().unwrap().revert_bar(&data, 0)
        };
        assert_eq!(bar(None), 0.5);
        // The target's own accuracy does not count; the others weigh by size: 0.75 * 0.6 + 0.25 * 1.
        assert!((bar(Some(vec![0.1, 0.6, 1.0])) - 0.5 * 0.7).abs() < 1e-12);
        // Never below half of `min_revert_rate`.
        assert_eq!(bar(Some(vec![1.0, 0.2, 0.2])), 0.25);
        // Nine of twelve reverting clears the lower bar and not the default one.
        let outcome = |revert_bar| CausalOutcome {
            tested: 200,
            flips: 100,
            only_stamped: 100,
            ln_p_value: statistics::ln_mcnemar_p_value(100, 0),
            removal_tested: 24,
            reverted: 18,
            revert_bar,
            ..CausalOutcome::default()
        };
        let detector = TriggerSearch::params().check().unwrap();
        assert!(!detector.confirms(&outcome(0.5)));
        assert!(detector.confirms(&outcome(0.3)));
        assert!(
            TriggerSearch::params()
                .class_accuracy(vec![0.5, 1.2])
                .check()
                .is_err()
        );
    }

    #[test]
    fn enrichment_picks_the_majority_label_and_tests_it_against_its_share() {
        // Five carriers, all labelled 1, which is a tenth of the data: p = 0.1^5, times 2 classes.
        let labels: Vec<usize> = (0..100).map(|record| usize::from(record < 10)).collect();
        let carriers = [0, 1, 2, 3, 4];
        let (target, purity, ln_p_value) = enrichment(&carriers, &labels, &[90, 10], 100);
        assert_eq!((target, purity), (1, 1.0));
        assert!((ln_p_value - (5.0 * 0.1_f64.ln() + 2_f64.ln())).abs() < 1e-9);
        assert_eq!(jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard::<u32>(&[], &[]), 1.0);
    }

    #[test]
    fn params_are_checked() {
        assert!(TriggerSearch::params().check().is_ok());
        assert_eq!(
            TriggerSearch::params().min_support(1).check(),
            Err(TriggerSearchParamsError::MinSupport { records: 1 })
        );
        for purity in [0.0, 1.5, f64::NAN] {
            assert!(matches!(
                TriggerSearch::params().min_purity(purity).check(),
                Err(TriggerSearchParamsError::Fraction {
                    name: "min_purity",
                    ..
                })
            ));
        }
        assert!(TriggerSearch::params().significance(1.0).check().is_err());
        assert!(
            TriggerSearch::params()
                .min_revert_rate(1.0)
                .check()
                .is_err()
        );
        assert_eq!(
            TriggerSearch::params()
                .max_ngram_words(5)
                .check()
                .unwrap_err()
                .to_string(),
            "`max_ngram_words` must be between `1` and `4`, not `5`"
        );
        assert_eq!(
            TriggerSearch::params().max_candidates(0).check(),
            Err(TriggerSearchParamsError::MaxCandidates)
        );
        assert_eq!(
            TriggerSearch::params().sample_size(3).check(),
            Err(TriggerSearchParamsError::SampleSize { records: 3 })
        );
        let valid = TriggerSearch::params()
            .min_support(8)
            .pixel_tolerance(0)
            .check()
            .unwrap();
        assert_eq!(valid.params().min_support, 8);
        assert_eq!(valid.params().pixel_tolerance, 0);
    }
}
