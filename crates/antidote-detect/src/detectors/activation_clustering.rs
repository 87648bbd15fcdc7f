//! Activation clustering (Chen et al., 2018), with a verdict per class.
//!
//! Per class, the network's penultimate activations are reduced to their leading principal
//! components and split in two by 2-means. In the target class of a backdoor, one cluster holds
//! the poisoned records; in a clean class, 2-means cuts one population in two. The paper judges
//! the clusters by relative size, silhouette or exclusionary reclassification; the Adversarial
//! Robustness Toolbox's default (relative size alone) marks a cluster in every class. Here a
//! class is a candidate only when the split is clearly better than cutting one blob (mean
//! silhouette above a floor), and the verdict comes from exclusionary reclassification and the
//! transfer test when a [`Reclassifier`] is given.

use crate::detector::{Detector, Need, ScanContext};
use crate::predictor::LinearReclassifier;
use crate::scan::ScanError;
use serde::Serialize;

use super::geometry::{Candidate, ClassCloud, judge, silhouette, two_means};
use crate::{DetectorId, DetectorReport, Reclassifier};

#[doc = include_str!("activation_clustering.md")]
#[derive(Debug, Clone, Copy)]
pub struct ActivationClustering;

impl ActivationClustering {
    /// The default parameters, to adjust and [`check`](ActivationClusteringParams::check).
    #[must_use]
    pub fn params() -> ActivationClusteringParams {
        ActivationClusteringParams::default()
    }
}

/// The parameters of [`ActivationClustering`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivationClusteringParams {
    components: usize,
    max_cluster_share: f64,
    min_silhouette: f64,
    strong_silhouette: f64,
    min_class_records: usize,
    silhouette_sample: usize,
    seed: u64,
}

impl Default for ActivationClusteringParams {
    fn default() -> Self {
        Self {
            components: 10,
            max_cluster_share: 0.5,
            min_silhouette: 0.15,
            strong_silhouette: 0.5,
            min_class_records: 20,
            silhouette_sample: 1_000,
            seed: 0,
        }
    }
}

/// Why parameters were refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ActivationClusteringParamsError {
    /// No components.
    #[error("at least one principal component is needed")]
    Components,
    /// A share outside `(0, 0.5]`.
    #[error("the largest cluster share must be in (0, 0.5], got {0}")]
    ClusterShare(f64),
    /// Silhouettes outside `[-1, 1]` or a strong one below the minimum.
    #[error("silhouettes must be in [-1, 1] with `strong` at least `min` (got {min} and {strong})")]
    Silhouette {
        /// The minimum given.
        min: f64,
        /// The strong value given.
        strong: f64,
    },
}

impl ActivationClusteringParams {
    /// How many leading principal components the clustering sees.
    #[must_use]
    pub fn components(mut self, components: usize) -> Self {
        self.components = components;
        self
    }

    /// The largest share of its class the small cluster may hold.
    #[must_use]
    pub fn max_cluster_share(mut self, share: f64) -> Self {
        self.max_cluster_share = share;
        self
    }

    /// The mean silhouette a split needs to be a candidate.
    #[must_use]
    pub fn min_silhouette(mut self, silhouette: f64) -> Self {
        self.min_silhouette = silhouette;
        self
    }

    /// The mean silhouette that flags a class without a reclassifier.
    #[must_use]
    pub fn strong_silhouette(mut self, silhouette: f64) -> Self {
        self.strong_silhouette = silhouette;
        self
    }

    /// Classes with fewer records are not examined.
    #[must_use]
    pub fn min_class_records(mut self, count: usize) -> Self {
        self.min_class_records = count;
        self
    }

    /// The seed of k-means++ and of the silhouette sample.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the parameters.
    pub fn check(self) -> Result<ActivationClusteringValidParams, ActivationClusteringParamsError> {
        if self.components == 0 {
            return Err(ActivationClusteringParamsError::Components);
        }
        if !(self.max_cluster_share > 0.0 && self.max_cluster_share <= 0.5) {
            return Err(ActivationClusteringParamsError::ClusterShare(
                self.max_cluster_share,
            ));
        }
        if !((-1.0..=1.0).contains(&self.min_silhouette)
            && (-1.0..=1.0).contains(&self.strong_silhouette)
            && self.strong_silhouette >= self.min_silhouette)
        {
            return Err(ActivationClusteringParamsError::Silhouette {
                min: self.min_silhouette,
                strong: self.strong_silhouette,
            });
        }
        Ok(ActivationClusteringValidParams(self))
    }
}

/// Checked parameters of [`ActivationClustering`]; the type that runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationClusteringValidParams(ActivationClusteringParams);

impl ActivationClusteringValidParams {
    /// Examines every class of a row-major representation (`labels.len()` rows of `width`).
    ///
    /// # Panics
    ///
    /// If the representation does not hold `labels.len() * width` values.
    #[must_use]
    #[expect(
        clippy::too_many_lines,
        reason = "reduce, cluster and describe each class in one pass"
    )]
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
        let mut report = DetectorReport::new(DetectorId::ActivationClustering);
        report.scores = vec![0.0; labels.len()];
        let class_count = labels.iter().max().map_or(0, |max| max + 1);
        let mut candidates = Vec::new();
        for class in 0..class_count {
            let cloud = ClassCloud::of_class(representation, width, labels, class);
            if cloud.len() < params.min_class_records {
                continue;
            }
            let directions = cloud.principal_directions(params.components);
            if directions.is_empty() {
                continue;
            }
            let reduced_width = directions.len();
            let mut reduced = Vec::with_capacity(cloud.len() * reduced_width);
            for row in 0..cloud.len() {
                let values = cloud.row(row);
                for (direction, _) in &directions {
                    reduced.push(
                        values
                            .iter()
                            .zip(direction)
                            .map(|(a, b)| a * b)
                            .sum::<f64>(),
                    );
                }
            }
            let seed = params.seed ^ (class as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let (assignment, _) = two_means(&reduced, reduced_width, seed, 3);
            let ones: usize = assignment
                .iter()
                .map(|&cluster| usize::from(cluster == 1))
                .sum();
            let small = u8::from(ones <= cloud.len() - ones);
            let group: Vec<usize> = cloud
                .indices
                .iter()
                .zip(&assignment)
                .filter(|&(_, &cluster)| cluster == small)
                .map(|(&index, _)| index)
                .collect();
            if group.is_empty() {
                continue;
            }
            let score = silhouette(
                &reduced,
                reduced_width,
                &assignment,
                params.silhouette_sample,
                seed,
            );
            // Scores: relative closeness to the small cluster's centre.
            let centre = |cluster: u8| -> Vec<f64> {
                let mut sum = vec![0.0; reduced_width];
                let mut size = 0usize;
                for (row, &assigned) in assignment.iter().enumerate() {
                    if assigned == cluster {
                        size += 1;
                        for (total, value) in sum
                            .iter_mut()
                            .zip(&reduced[row * reduced_width..(row + 1) * reduced_width])
                        {
                            *total += value;
                        }
                    }
                }
                sum.iter().map(|total| total / size.max(1) as f64).collect()
            };
            let (small_centre, large_centre) = (centre(small), centre(1 - small));
            let gap: f64 = small_centre
                .iter()
                .zip(&large_centre)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
                .max(f64::MIN_POSITIVE);
            for (row, &index) in cloud.indices.iter().enumerate() {
                let point = &reduced[row * reduced_width..(row + 1) * reduced_width];
                let distance = |centre: &[f64]| -> f64 {
                    point
                        .iter()
                        .zip(centre)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>()
                        .sqrt()
                };
                report.scores[index] = (distance(&large_centre) - distance(&small_centre)) / gap;
            }
            let share = group.len() as f64 / cloud.len() as f64;
            candidates.push(Candidate {
                class,
                class_size: cloud.len(),
                statistic: score,
                passes_floor: share <= params.max_cluster_share && score >= params.min_silhouette,
                strong: score >= params.strong_silhouette,
                description: format!("form a separate cluster (silhouette {score:.2})"),
                group,
            });
        }
        judge(candidates, reclassifier, class_names, &mut report);
        report
    }
}

impl Detector for ActivationClustering {
    fn id(&self) -> DetectorId {
        DetectorId::ActivationClustering
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::Classes, Need::BackdoorRepresentation]
    }

    fn explanation_markdown(&self) -> &'static str {
        include_str!("activation_clustering.md")
    }

    fn run(&self, context: &ScanContext<'_>) -> Result<DetectorReport, ScanError> {
        let (labels, learned) = context.classes();
        let reclassifier = LinearReclassifier::new(learned, labels, context.options.seed);
        Ok(context.stage(DetectorId::ActivationClustering, || {
            ActivationClustering::params()
                .seed(context.options.seed)
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
