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
//! about 2.7) and, when a [`Reclassifier`] is available, a model trained
//! without the group calls at least 70% of it another class (Chen et al. 2018's exclusionary
//! reclassification) and what the group shares carries records of other classes over to its label
//! ([`Reclassifier::transfer`]).

use crate::detector::{Detector, Need, ScanContext};
use crate::predictor::LinearReclassifier;
use crate::scan::ScanError;
use serde::Serialize;

use super::geometry::{Candidate, ClassCloud, Split, judge};
use crate::{DetectorId, DetectorReport, Reclassifier};

#[doc = include_str!("spectral.md")]
#[expect(
    clippy::doc_markdown,
    reason = "the explanation is what `antidote explain` prints: venues, paper titles and algorithm names (NeurIPS, MinHash) stay plain text"
)]
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
            max_group_share: 0.5,
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

    /// The largest share of a class the candidate group may hold (default 0.5: any smaller side).
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

impl Detector for SpectralSignatures {
    fn id(&self) -> DetectorId {
        DetectorId::SpectralSignatures
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::Classes, Need::BackdoorRepresentation]
    }

    fn explanation_markdown(&self) -> &'static str {
        include_str!("spectral.md")
    }

    fn run(&self, context: &ScanContext<'_>) -> Result<DetectorReport, ScanError> {
        let (labels, learned) = context.classes();
        let reclassifier = LinearReclassifier::new(learned, labels, context.options.seed);
        Ok(context.stage(DetectorId::SpectralSignatures, || {
            SpectralSignatures::params()
                .check()
                .expect("valid default parameters")
                .run(
                    &learned.representation,
                    learned.width,
                    labels,
                    context.class_names,
                    Some(&reclassifier),
                )
        }))
    }
}
