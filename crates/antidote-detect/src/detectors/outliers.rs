//! Per-class outliers by k-nearest-neighbour distance in representation space.
//!
//! An attacker who injects off-distribution records (noise, images of another domain, text in
//! another language, inverted or corrupted copies) gives them a label, but they do not look
//! like the records of that class. For each record, the mean Euclidean distance to its `k`
//! nearest neighbours of the same class (Ramaswamy, Rastogi and Shim, 2000, "Efficient
//! algorithms for mining outliers from large data sets", SIGMOD, use the k-th distance; the mean
//! of the `k` is Angiulli and Pizzuti's (2002) smoother variant) measures how far it is from its
//! class. Densities differ between classes (a class of plain T-shirts is tighter than a class
//! of bags), so the score is a robust z within the class: the log of the distance, minus the
//! class's median log distance, over the class's MAD-scaled spread. The log makes the
//! right-skewed distances near-symmetric, so the median and MAD describe the bulk.
//!
//! Distances are Euclidean after each column is divided by its standard deviation over the
//! dataset (floored at a quarter of the median column's, so that a blank border pixel or a dead
//! unit does not blow up). Without it the representation's units decide which columns count;
//! with it, a record that is busy where real records are quiet stands out: on Fashion-MNIST
//! pixels, uniform noise images score a z of about 3 in raw pixels, no further out than the
//! rarest genuine shirts, and above 4.3 once columns are scaled.
//!
//! They come from blocked matrix products, `|a - b|² = |a|² + |b|² - 2 a·b`, with faer. A class
//! larger than [`OutliersParams::reference_records`] is compared against a seeded sample of
//! that many of its records, so the cost is `O(records · reference)` rather than quadratic;
//! every record of the class is scored against the same sample, so the z-scores stay
//! comparable.
//!
//! The threshold, 4 robust spreads above the class's median log distance, was chosen by
//! measuring: on Fashion-MNIST pixels it flags 0.53% of the first 3,000 clean training images,
//! 0.43% of 10,000 and 0.28% of all 60,000, while every injected uniform-noise, inverted or
//! striped image scores at least 4.3. (Iglewicz and Hoaglin's cut-off of 3.5 for modified
//! z-scores flags 0.57-1.2%.) The confidence of a flag is `z / (2 (z + 4))`: 0.25 at the
//! threshold, 0.375 at three times it, never 0.5. Being unusual is a reason to look, not proof of
//! poisoning: an outlier alone stays below the default quarantine score, and adds to what other
//! detectors say about the same record.
//!
//! Limits: a tight cluster of more than `k` injected records in one class is its own
//! neighbourhood and hides (activation clustering and spectral signatures look for such
//! clusters); poison that looks like its class (backdoors with small triggers, clean-label
//! attacks) is not an outlier; genuinely unusual clean records (a rare style of shoe) are.

use antidote_core::SplitMix64;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;
use serde::Serialize;

use crate::detector::{Detector, Need, ScanContext};
use crate::scan::ScanError;
use crate::stats::{median, median_and_mad};
use crate::{DetectorId, DetectorReport, Flag};

/// Query rows per block: the unit of parallel work, fixed so that results do not depend on the
/// thread count.
const BLOCK_ROWS: usize = 256;

/// The smallest spread of log distances, so that a class of identical records (spread 0)
/// does not turn every rounding difference into an outlier.
const MIN_SPREAD: f64 = 1e-6;

#[doc = include_str!("outliers.md")]
#[derive(Debug, Clone, Copy)]
pub struct Outliers;

impl Outliers {
    /// The default parameters, to adjust and [`check`](OutliersParams::check).
    #[must_use]
    pub fn params() -> OutliersParams {
        OutliersParams::default()
    }
}

/// Unchecked parameters of [`Outliers`]; [`check`](Self::check) them to get something that
/// runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutliersParams {
    neighbours: usize,
    standardize: bool,
    threshold: f64,
    reference_records: usize,
    min_class_records: usize,
    seed: u64,
}

impl Default for OutliersParams {
    fn default() -> Self {
        Self {
            neighbours: 10,
            standardize: true,
            threshold: 4.0,
            reference_records: 2000,
            min_class_records: 20,
            seed: 0,
        }
    }
}

impl OutliersParams {
    /// How many nearest neighbours of the same class a record's distance averages over
    /// (default 10). More neighbours smooth the score and let a larger injected cluster still
    /// stand out; fewer react to finer structure.
    #[must_use]
    pub fn neighbours(mut self, count: usize) -> Self {
        self.neighbours = count;
        self
    }

    /// Whether distances are measured after scaling each column by its standard deviation over
    /// the dataset, floored at a quarter of the median column's (default true). Without it,
    /// the representation's units decide which columns count.
    #[must_use]
    pub fn standardize(mut self, standardize: bool) -> Self {
        self.standardize = standardize;
        self
    }

    /// The robust z-score at or above which a record is flagged, positive (default 4).
    #[must_use]
    pub fn threshold(mut self, z: f64) -> Self {
        self.threshold = z;
        self
    }

    /// The largest number of records of a class every record is compared with (default 2000);
    /// a larger class is compared with a seeded sample of this size. Must exceed the number of
    /// neighbours.
    #[must_use]
    pub fn reference_records(mut self, count: usize) -> Self {
        self.reference_records = count;
        self
    }

    /// Classes with fewer records than this are not scored (default 20): their median and
    /// spread say too little.
    #[must_use]
    pub fn min_class_records(mut self, count: usize) -> Self {
        self.min_class_records = count;
        self
    }

    /// The seed of the reference samples (default 0).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<OutliersValidParams, OutliersParamsError> {
        if self.neighbours == 0 {
            return Err(OutliersParamsError::Neighbours);
        }
        if !(self.threshold > 0.0 && self.threshold.is_finite()) {
            return Err(OutliersParamsError::Threshold {
                threshold: self.threshold,
            });
        }
        if self.reference_records <= self.neighbours {
            return Err(OutliersParamsError::ReferenceRecords {
                reference: self.reference_records,
                neighbours: self.neighbours,
            });
        }
        Ok(OutliersValidParams { params: self })
    }
}

/// Invalid parameters of [`Outliers`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutliersParamsError {
    /// No neighbours.
    #[error("the distance needs at least `1` neighbour")]
    Neighbours,
    /// The threshold is not a positive number.
    #[error("the threshold must be a positive number, not `{threshold}`")]
    Threshold {
        /// The threshold given.
        threshold: f64,
    },
    /// The reference sample cannot hold the neighbours.
    #[error(
        "the reference sample (`{reference}` records) must be larger than the number of neighbours (`{neighbours}`)"
    )]
    ReferenceRecords {
        /// The reference size given.
        reference: usize,
        /// The number of neighbours.
        neighbours: usize,
    },
}

/// Checked parameters of [`Outliers`], ready to [`run`](Self::run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutliersValidParams {
    params: OutliersParams,
}

/// Input the detector cannot work with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutliersError {
    /// The representation does not hold one row of `width` per label.
    #[error("expected `{records}` rows of `{width}` values (`{expected}` values), found `{found}`")]
    Shape {
        /// The number of labels.
        records: usize,
        /// The width given.
        width: usize,
        /// `records * width`.
        expected: usize,
        /// The number of values given.
        found: usize,
    },
    /// A representation of no columns.
    #[error("the representation has no columns")]
    NoColumns,
    /// A value is not finite.
    #[error("record `{record}` has a value that is not finite (`{value}`)")]
    NotFinite {
        /// The record's position.
        record: usize,
        /// The value.
        value: f32,
    },
}

/// The scores of one class.
struct ClassScores {
    class: usize,
    members: Vec<usize>,
    log_distances: Vec<f64>,
}

impl OutliersValidParams {
    /// The number of neighbours.
    #[must_use]
    pub fn neighbours(&self) -> usize {
        self.params.neighbours
    }

    /// The z-score threshold.
    #[must_use]
    pub fn threshold(&self) -> f64 {
        self.params.threshold
    }

    /// Scores every record by its class-relative k-nearest-neighbour distance and flags those
    /// above the threshold.
    ///
    /// `representation` is row-major, `width` values per record (normalised pixels, a
    /// network's penultimate activations, an embedding); `labels[r]` is record `r`'s class and
    /// `class_names[c]` names class `c` in explanations.
    pub fn run(
        &self,
        representation: &[f32],
        width: usize,
        labels: &[usize],
        class_names: &[String],
    ) -> Result<DetectorReport, OutliersError> {
        validate(representation, width, labels)?;
        let class_count = labels.iter().max().map_or(0, |&max| max + 1);
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); class_count];
        for (record, &label) in labels.iter().enumerate() {
            members[label].push(record);
        }
        let scales = if self.params.standardize {
            column_scales(representation, width)
        } else {
            vec![1.0; width]
        };
        let norms: Vec<f32> = representation
            .par_chunks(width)
            .map(|row| {
                row.iter()
                    .zip(&scales)
                    .map(|(value, scale)| (value * scale) * (value * scale))
                    .sum()
            })
            .collect();

        let mut report = DetectorReport::new(DetectorId::Outliers);
        report.scores = vec![0.0; labels.len()];
        report.threshold = Some(self.params.threshold);
        let name = |class: usize| {
            class_names
                .get(class)
                .map_or_else(|| class.to_string(), Clone::clone)
        };
        let mut skipped = Vec::new();
        let mut flagged_per_class = Vec::new();
        for (class, members) in members.into_iter().enumerate() {
            if members.is_empty() {
                continue;
            }
            if members.len()
                < self
                    .params
                    .min_class_records
                    .max(self.params.neighbours + 1)
            {
                skipped.push(format!("`{}` ({})", name(class), members.len()));
                continue;
            }
            let scores = self.score_class(representation, &scales, &norms, class, members);
            let flagged = self.flag_class(&scores, &name, &mut report);
            flagged_per_class.push((class, flagged, scores.members.len()));
        }
        report.flags.sort_by_key(|flag| flag.index);

        let total: usize = flagged_per_class
            .iter()
            .map(|(_, flagged, _)| flagged)
            .sum();
        report.notes.push(format!(
            "{total} of {} records are more than {} robust spreads from their class's median \
             log distance to its {} nearest neighbours",
            labels.len(),
            self.params.threshold,
            self.params.neighbours
        ));
        let busiest: Vec<String> = flagged_per_class
            .iter()
            .filter(|(_, flagged, _)| *flagged > 0)
            .map(|&(class, flagged, size)| format!("`{}` {flagged} of {size}", name(class)))
            .collect();
        if !busiest.is_empty() {
            report
                .notes
                .push(format!("flagged per class: {}", busiest.join(", ")));
        }
        if !skipped.is_empty() {
            report.notes.push(format!(
                "classes with fewer than {} records were not scored: {}",
                self.params
                    .min_class_records
                    .max(self.params.neighbours + 1),
                skipped.join(", ")
            ));
        }
        Ok(report)
    }

    /// The log mean k-nearest-neighbour distance of every member of one class.
    fn score_class(
        &self,
        representation: &[f32],
        scales: &[f32],
        norms: &[f32],
        class: usize,
        members: Vec<usize>,
    ) -> ClassScores {
        let reference: Vec<usize> = if members.len() > self.params.reference_records {
            let mut random = SplitMix64::derived(
                self.params.seed ^ (class as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                "outliers/reference",
            );
            random
                .sample(members.len(), self.params.reference_records)
                .into_iter()
                .map(|slot| members[slot])
                .collect()
        } else {
            members.clone()
        };
        let width = scales.len();
        let reference_rows = gather(representation, scales, &reference);
        let reference_norms: Vec<f32> = reference.iter().map(|&record| norms[record]).collect();
        let neighbours = self.params.neighbours;

        let nearest: Vec<f64> = members
            .par_chunks(BLOCK_ROWS)
            .flat_map_iter(|block| {
                let queries = gather(representation, scales, block);
                let mut products = vec![0.0f32; block.len() * reference.len()];
                matmul(
                    MatMut::from_row_major_slice_mut(&mut products, block.len(), reference.len()),
                    Accum::Replace,
                    MatRef::from_row_major_slice(&queries, block.len(), width),
                    MatRef::from_row_major_slice(&reference_rows, reference.len(), width)
                        .transpose(),
                    1.0,
                    Par::Seq,
                );
                block
                    .iter()
                    .zip(products.chunks_exact(reference.len()))
                    .map(|(&record, row)| {
                        // The record itself, when it is in the reference, is not its own neighbour.
                        let squared = row
                            .iter()
                            .zip(&reference_norms)
                            .zip(&reference)
                            .filter(|&(_, &other)| other != record)
                            .map(|((&product, &norm), _)| {
                                (norms[record] + norm - 2.0 * product).max(0.0)
                            });
                        mean_of_smallest_roots(squared, neighbours)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let log_distances: Vec<f64> = nearest
            .iter()
            .map(|&distance| distance.max(f64::MIN_POSITIVE).ln())
            .collect();
        ClassScores {
            class,
            members,
            log_distances,
        }
    }

    /// Turns one class's log distances into z-scores and flags; returns how many it flagged.
    fn flag_class(
        &self,
        scores: &ClassScores,
        name: &dyn Fn(usize) -> String,
        report: &mut DetectorReport,
    ) -> usize {
        let (centre, spread) = median_and_mad(&scores.log_distances);
        let spread = spread.max(MIN_SPREAD);
        let threshold = self.params.threshold;
        let class = name(scores.class);
        let mut flagged = 0;
        for (&record, &log_distance) in scores.members.iter().zip(&scores.log_distances) {
            let z = (log_distance - centre) / spread;
            report.scores[record] = z;
            if z < threshold {
                continue;
            }
            flagged += 1;
            report.flags.push(Flag::new(
                record,
                z / (2.0 * (z + threshold)),
                format!(
                    "labelled `{class}` but its {} nearest `{class}` records are {:.1} times \
                     farther away than is typical for `{class}` (robust z = {z:.1})",
                    self.params.neighbours,
                    (log_distance - centre).exp(),
                ),
            ));
        }
        flagged
    }
}

fn validate(representation: &[f32], width: usize, labels: &[usize]) -> Result<(), OutliersError> {
    if width == 0 {
        return Err(OutliersError::NoColumns);
    }
    let expected = labels.len().checked_mul(width);
    if expected != Some(representation.len()) {
        return Err(OutliersError::Shape {
            records: labels.len(),
            width,
            expected: expected.unwrap_or(usize::MAX),
            found: representation.len(),
        });
    }
    if let Some(position) = representation.iter().position(|value| !value.is_finite()) {
        return Err(OutliersError::NotFinite {
            record: position / width,
            value: representation[position],
        });
    }
    Ok(())
}

/// The rows `indices` of a row-major matrix of `scales.len()` columns, packed, each column
/// multiplied by its scale.
fn gather(matrix: &[f32], scales: &[f32], indices: &[usize]) -> Vec<f32> {
    let width = scales.len();
    let mut rows = Vec::with_capacity(indices.len() * width);
    for &index in indices {
        rows.extend(
            matrix[index * width..(index + 1) * width]
                .iter()
                .zip(scales)
                .map(|(value, scale)| value * scale),
        );
    }
    rows
}

/// One over each column's standard deviation, the deviation floored at a quarter of the median
/// column's (and at a tiny positive number), so that a constant or nearly constant column (a
/// blank image border, a dead unit) does not blow up.
fn column_scales(matrix: &[f32], width: usize) -> Vec<f32> {
    let rows = (matrix.len() / width).max(1) as f64;
    // Sums in fixed-size blocks of rows, added in order: the same result on any thread count.
    let (sums, squares) = matrix
        .par_chunks(BLOCK_ROWS * width)
        .map(|block| {
            let mut sums = vec![0.0f64; width];
            let mut squares = vec![0.0f64; width];
            for row in block.chunks_exact(width) {
                for ((sum, square), &value) in sums.iter_mut().zip(&mut squares).zip(row) {
                    *sum += f64::from(value);
                    *square += f64::from(value) * f64::from(value);
                }
            }
            (sums, squares)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .fold(
            (vec![0.0f64; width], vec![0.0f64; width]),
            |(mut sums, mut squares), (block_sums, block_squares)| {
                for (total, value) in sums.iter_mut().zip(block_sums) {
                    *total += value;
                }
                for (total, value) in squares.iter_mut().zip(block_squares) {
                    *total += value;
                }
                (sums, squares)
            },
        );
    let deviations: Vec<f64> = sums
        .iter()
        .zip(&squares)
        .map(|(sum, square)| {
            let mean = sum / rows;
            (square / rows - mean * mean).max(0.0).sqrt()
        })
        .collect();
    let floor = (0.25 * median(&deviations)).max(1e-12);
    deviations
        .iter()
        .map(|deviation| (1.0 / deviation.max(floor)) as f32)
        .collect()
}

/// The mean of the square roots of the `count` smallest values (of all, when there are fewer).
fn mean_of_smallest_roots(values: impl Iterator<Item = f32>, count: usize) -> f64 {
    // An insertion buffer: `count` is small, and most values fail the first comparison.
    let mut smallest: Vec<f32> = Vec::with_capacity(count + 1);
    for value in values {
        if smallest.len() == count {
            if value >= smallest[count - 1] {
                continue;
            }
            smallest.pop();
        }
        let at = smallest.partition_point(|&kept| kept <= value);
        smallest.insert(at, value);
    }
    if smallest.is_empty() {
        return 0.0;
    }
    smallest
        .iter()
        .map(|&value| f64::from(value).sqrt())
        .sum::<f64>()
        / smallest.len() as f64
}

impl Detector for Outliers {
    fn id(&self) -> DetectorId {
        DetectorId::Outliers
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::Classes]
    }

    fn explanation_markdown(&self) -> &'static str {
        include_str!("outliers.md")
    }

    fn run(&self, context: &ScanContext<'_>) -> Result<DetectorReport, ScanError> {
        let (labels, learned) = context.classes();
        Ok(context.stage(DetectorId::Outliers, || {
            Outliers::params()
                .seed(context.options.seed)
                .check()
                .expect("valid default parameters")
                .run(
                    &learned.representation,
                    learned.width,
                    labels,
                    context.class_names,
                )
                .unwrap_or_else(|error| {
                    DetectorReport::skipped(DetectorId::Outliers, error.to_string())
                })
        }))
    }
}

#[cfg(test)]
#[expect(clippy::float_cmp, reason = "the known answers are exact")]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["circle", "line"].map(String::from).to_vec()
    }

    /// Two well-separated Gaussian classes of 200 records in 8 dimensions.
    fn two_classes(random: &mut SplitMix64) -> (Vec<f32>, Vec<usize>) {
        let mut representation = Vec::new();
        let mut labels = Vec::new();
        for record in 0..400 {
            let class = record % 2;
            for column in 0..8 {
                let centre = if column == class { 10.0 } else { 0.0 };
                representation.push((centre + random.normal()) as f32);
            }
            labels.push(class);
        }
        (representation, labels)
    }

    #[test]
    fn smallest_roots_keep_the_k_smallest() {
        let values = [16.0, 1.0, 9.0, 4.0, 25.0, 0.0];
        assert!((mean_of_smallest_roots(values.into_iter(), 3) - 1.0).abs() < 1e-12);
        assert!((mean_of_smallest_roots([4.0].into_iter(), 3) - 2.0).abs() < 1e-12);
        assert_eq!(mean_of_smallest_roots(std::iter::empty(), 3), 0.0);
    }

    #[test]
    fn a_far_record_is_flagged_in_its_class() {
        let mut random = SplitMix64::new(9);
        let (mut representation, labels) = two_classes(&mut random);
        // Record 7 (`line`) moved far from both classes.
        for value in &mut representation[7 * 8..8 * 8] {
            *value = 40.0;
        }
        let report = Outliers::params()
            .check()
            .unwrap()
            .run(&representation, 8, &labels, &names())
            .unwrap();
        assert_eq!(report.flagged_indices(), [7]);
        let flag = &report.flags[0];
        assert!(flag.confidence > 0.4 && flag.confidence < 0.5, "{flag:?}");
        assert!(
            flag.evidence
                .starts_with("labelled `line` but its 10 nearest `line` records are "),
            "{}",
            flag.evidence
        );
        assert_eq!(report.threshold, Some(4.0));
        assert_eq!(report.scores.len(), 400);
    }

    #[test]
    fn a_sampled_reference_gives_the_same_verdicts() {
        let mut random = SplitMix64::new(2);
        let (mut representation, labels) = two_classes(&mut random);
        for value in &mut representation[10 * 8..11 * 8] {
            *value = -30.0;
        }
        let detector = Outliers::params().reference_records(60).check().unwrap();
        let report = detector.run(&representation, 8, &labels, &names()).unwrap();
        assert!(report.flagged_indices().contains(&10));
        // Deterministic.
        assert_eq!(
            report,
            detector.run(&representation, 8, &labels, &names()).unwrap()
        );
    }

    #[test]
    fn the_result_does_not_depend_on_the_thread_count() {
        let mut random = SplitMix64::new(6);
        let (representation, labels) = two_classes(&mut random);
        let detector = Outliers::params().reference_records(150).check().unwrap();
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| detector.run(&representation, 8, &labels, &names()).unwrap())
        };
        let single = on(1);
        assert_eq!(single, on(2));
        assert_eq!(single, on(7));
    }

    #[test]
    fn small_classes_are_skipped_with_a_note() {
        let representation = vec![0.5f32; 30 * 2];
        let mut labels = vec![0; 30];
        labels[29] = 1;
        let report = Outliers::params()
            .check()
            .unwrap()
            .run(&representation, 2, &labels, &names())
            .unwrap();
        assert!(report.flags.is_empty());
        assert!(report.notes[1].contains("`line` (1)"), "{:?}", report.notes);
    }

    #[test]
    fn params_and_inputs_are_checked() {
        assert_eq!(
            Outliers::params().neighbours(0).check(),
            Err(OutliersParamsError::Neighbours)
        );
        assert!(Outliers::params().threshold(-1.0).check().is_err());
        assert_eq!(
            Outliers::params()
                .reference_records(10)
                .check()
                .unwrap_err()
                .to_string(),
            "the reference sample (`10` records) must be larger than the number of neighbours (`10`)"
        );
        let detector = Outliers::params().check().unwrap();
        assert_eq!(
            detector.run(&[0.0; 5], 2, &[0, 1, 0], &names()),
            Err(OutliersError::Shape {
                records: 3,
                width: 2,
                expected: 6,
                found: 5
            })
        );
        assert_eq!(
            detector.run(&[], 0, &[], &names()),
            Err(OutliersError::NoColumns)
        );
        assert!(matches!(
            detector.run(&[0.0, f32::NAN], 1, &[0, 0], &names()),
            Err(OutliersError::NotFinite { record: 1, .. })
        ));
    }
}
