//! Spectral signatures (Tran, Li and Madry, 2018), with a verdict per class.
//!
//! Inside the target class of a backdoor, the poisoned records are represented by the trigger,
//! not by their content: they shift the class's mean, and the top principal direction of the
//! centred representation points from the clean records to them. Projected on that direction,
//! a poisoned class splits into two groups; a clean class does not.
//!
//! The paper removes the 1.5·ε highest-scoring records of every class for an assumed poison
//! rate ε, so it removes records from clean classes too. Here nothing is assumed: the
//! projections are split in two by exact one-dimensional 2-means, the smaller side is the
//! candidate group, and the class is suspicious only when the two sides are well separated
//! (in units of their pooled standard deviation; one normal population split in two gives
//! about 2.7) and, when a [`Reclassifier`](crate::Reclassifier) is available, a model trained
//! without the group calls at least 70% of it another class (Chen et al. 2018's exclusionary
//! reclassification).

use serde::Serialize;

use super::geometry::{Candidate, ClassCloud, Split, judge};
use crate::{DetectorId, DetectorReport, Reclassifier};

/// What `antidote explain spectral-signatures` prints.
pub const EXPLANATION: &str = "\
Spectral signatures: backdoors, per class.

What it looks for: inside one class, a group of records that the network represents \
differently from the rest, as a backdoor's poisoned records are (they carry the trigger, and \
the network learned to recognise the trigger rather than their content).

How: for each class, the network's penultimate activations are centred and projected on their \
top principal direction. The projections are split in two by exact 1-D 2-means; the smaller \
side is a candidate when the two sides are far apart (at least 3 pooled standard deviations by \
default; one normal population split in two is 2.7 apart) and holds at most 35% of the class \
(a backdoor in 5% of Fashion-MNIST is 33% of its target class; natural sub-groups of clean \
Fashion-MNIST classes that are reclassified as a neighbouring class hold 41%). The candidate is \
confirmed by \
exclusionary reclassification: a model trained without the group calls at least 70% of it another \
class, as it would call a shirt with a trigger patch a shirt. Each record's score is its robust \
z-score along the direction, towards the smaller side.

Limits: needs a representation in which the backdoor is visible (a network trained on the \
poisoned data); a class that is poisoned very lightly (a handful of records) or whose poison is \
spread along many directions may not separate. A natural sub-group of a class separates too; \
the reclassification is what keeps it from being flagged.

References: Tran, Li and Madry (2018), \"Spectral Signatures in Backdoor Attacks\", NeurIPS; \
Chen et al. (2018), \"Detecting Backdoor Attacks on Deep Neural Networks by Activation \
Clustering\", section 4.2 (exclusionary reclassification).";

/// Spectral signatures with a per-class verdict.
#[derive(Debug, Clone, Copy)]
pub struct SpectralSignatures;

impl SpectralSignatures {
    /// The default parameters, to adjust and [`check`](SpectralSignaturesParams::check).
    #[must_use]
    pub fn params() -> SpectralSignaturesParams {
        SpectralSignaturesParams::default()
    }
}

/// The parameters of [`SpectralSignatures`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpectralSignaturesParams {
    min_separation: f64,
    strong_separation: f64,
    max_group_share: f64,
    min_class_records: usize,
}

impl Default for SpectralSignaturesParams {
    fn default() -> Self {
        Self {
            min_separation: 3.0,
            strong_separation: 8.0,
            max_group_share: 0.35,
            min_class_records: 20,
        }
    }
}

/// Why parameters were refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpectralSignaturesParamsError {
    /// A separation that is not positive, or a strong one below the minimum.
    #[error("separations must be positive and `strong` at least `min` (got {min} and {strong})")]
    Separation {
        /// The minimum given.
        min: f64,
        /// The strong separation given.
        strong: f64,
    },
    /// A group share outside `(0, 0.5]`.
    #[error("the largest group share must be in (0, 0.5], got {0}")]
    GroupShare(f64),
}

impl SpectralSignaturesParams {
    /// The separation (in pooled standard deviations) a class's two sides need to be a candidate.
    #[must_use]
    pub fn min_separation(mut self, separation: f64) -> Self {
        self.min_separation = separation;
        self
    }

    /// The separation that flags a class without a reclassifier.
    #[must_use]
    pub fn strong_separation(mut self, separation: f64) -> Self {
        self.strong_separation = separation;
        self
    }

    /// The largest share of a class the candidate group may hold (default 0.35).
    #[must_use]
    pub fn max_group_share(mut self, share: f64) -> Self {
        self.max_group_share = share;
        self
    }

    /// Classes with fewer records are not examined.
    #[must_use]
    pub fn min_class_records(mut self, count: usize) -> Self {
        self.min_class_records = count;
        self
    }

    /// Checks the parameters.
    pub fn check(self) -> Result<SpectralSignaturesValidParams, SpectralSignaturesParamsError> {
        if !(self.min_separation > 0.0 && self.strong_separation >= self.min_separation) {
            return Err(SpectralSignaturesParamsError::Separation {
                min: self.min_separation,
                strong: self.strong_separation,
            });
        }
        if !(self.max_group_share > 0.0 && self.max_group_share <= 0.5) {
            return Err(SpectralSignaturesParamsError::GroupShare(
                self.max_group_share,
            ));
        }
        Ok(SpectralSignaturesValidParams(self))
    }
}

/// Checked parameters of [`SpectralSignatures`]; the type that runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralSignaturesValidParams(SpectralSignaturesParams);

impl SpectralSignaturesValidParams {
    /// Examines every class of a row-major representation (`labels.len()` rows of `width`).
    ///
    /// # Panics
    ///
    /// If the representation does not hold `labels.len() * width` values.
    #[must_use]
    pub fn run(
        &self,
        representation: &[f32],
        width: usize,
        labels: &[usize],
        class_names: &[String],
        reclassifier: Option<&dyn Reclassifier>,
    ) -> DetectorReport {
        assert_eq!(
            representation.len(),
            labels.len() * width,
            "representation shape"
        );
        let params = &self.0;
        let mut report = DetectorReport::new(DetectorId::SpectralSignatures);
        report.scores = vec![0.0; labels.len()];
        let class_count = labels.iter().max().map_or(0, |max| max + 1);
        let mut candidates = Vec::new();
        for class in 0..class_count {
            let cloud = ClassCloud::of_class(representation, width, labels, class);
            if cloud.len() < params.min_class_records {
                if !cloud.indices.is_empty() {
                    report.notes.push(format!(
                        "`{}` has {} records, fewer than the {} examined",
                        class_names.get(class).map_or("?", String::as_str),
                        cloud.len(),
                        params.min_class_records
                    ));
                }
                continue;
            }
            let Some((direction, _)) = cloud.principal_directions(1).into_iter().next() else {
                continue;
            };
            let projections = cloud.project(&direction);
            let Some(split) = Split::of(&projections) else {
                continue;
            };
            // The candidate is the smaller side; orient scores towards it.
            let high_is_small = split.high_count <= split.low_count;
            let sign = if high_is_small { 1.0 } else { -1.0 };
            let (centre, scale) = crate::stats::median_and_mad(&projections);
            for (position, &index) in cloud.indices.iter().enumerate() {
                report.scores[index] = if scale > 0.0 {
                    sign * (projections[position] - centre) / scale
                } else {
                    0.0
                };
            }
            let group: Vec<usize> = cloud
                .indices
                .iter()
                .zip(&projections)
                .filter(|&(_, &value)| (value >= split.cut) == high_is_small)
                .map(|(&index, _)| index)
                .collect();
            let share = group.len() as f64 / cloud.len() as f64;
            candidates.push(Candidate {
                class,
                class_size: cloud.len(),
                statistic: split.separation,
                passes_floor: split.separation >= params.min_separation
                    && share <= params.max_group_share,
                strong: split.separation >= params.strong_separation,
                description: format!(
                    "form a separate group along the top principal direction ({:.1} standard deviations apart)",
                    split.separation
                ),
                group,
            });
        }
        judge(candidates, reclassifier, class_names, &mut report);
        report
    }
}
