//! Dataset profiles: what a dataset looks like, in one streaming pass, mergeable.
//!
//! A [`Profile`] holds, per column, statistics that fit its kind: moments and a quantile sketch
//! for numbers, counts and a distinct-count sketch for categories, length and token statistics
//! for text, size, brightness and a mean image for images, norms for vectors. It also holds the
//! label distribution and the exact-duplicate rate.
//!
//! Profiles are mergeable: profiling shards and merging the results gives the profile of the
//! whole, exactly for counts and moments, within sketch error for quantiles and distinct counts.
//! The profiler itself profiles batches in parallel and merges them.

use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use antidote_core::display::escape_control;
use antidote_core::words::lower_words;
use antidote_core::{Progress, ProgressUnit};
use antidote_data::output::{AtomicFile, OutputError};
use antidote_data::{ColumnKind, Dataset, Format, Record, Role, Schema, Value};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::sketch::{Counts, Distinct, Quantiles};
use crate::stats::Moments;

/// The profile format version this build writes and reads.
pub const PROFILE_VERSION: u32 = 1;

/// Distinct categories counted exactly before switching to a frequent-items sketch.
const CATEGORY_LIMIT: usize = 1000;
/// Distinct tokens counted exactly before switching to a frequent-items sketch.
const TOKEN_LIMIT: usize = 50_000;
/// Labels counted exactly (a classification task with more classes is unusual).
const LABEL_LIMIT: usize = 100_000;
/// Record hashes kept for exact duplicate counting; beyond it the rate comes from a sketch.
const EXACT_DUPLICATE_LIMIT: usize = 2_000_000;
/// Largest image (pixels times channels) for which the mean image is kept.
const MEAN_IMAGE_LIMIT: usize = 512 * 512 * 3;
/// Records profiled per parallel batch.
const BATCH: usize = 4096;

/// Numbers: moments, extremes and a quantile sketch.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NumericStats {
    /// Count, mean and sum of squared deviations.
    pub moments: Moments,
    /// Smallest value.
    pub min: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
    /// Quantile sketch.
    pub quantiles: Quantiles,
    /// Percentiles and a histogram for people and reports, derived from the sketch when the
    /// profile is written (not read back: merging recomputes it).
    #[serde(default, skip_deserializing)]
    pub summary: NumericSummary,
}

/// Percentiles and a histogram of a numeric column, derived from its sketch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NumericSummary {
    /// `p01`, `p05`, `p25`, `p50`, `p75`, `p95`, `p99`.
    pub percentiles: BTreeMap<String, f64>,
    /// Equal-width bins from the minimum to the maximum, with estimated counts.
    pub histogram: Vec<HistogramBin>,
}

/// One histogram bin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistogramBin {
    /// Lower edge (inclusive for the first bin, exclusive otherwise).
    pub low: f64,
    /// Upper edge (inclusive).
    pub high: f64,
    /// Values in the bin, estimated from the sketch.
    pub count: u64,
}

/// Bins of the histograms in a profile's summaries.
const HISTOGRAM_BINS: usize = 20;

impl NumericStats {
    /// A histogram of `bins` equal-width bins between the minimum and the maximum, with counts
    /// estimated from the quantile sketch (within its rank error).
    #[must_use]
    pub fn histogram(&self, bins: usize) -> Vec<HistogramBin> {
        let (Some(min), Some(max)) = (self.min, self.max) else {
            return Vec::new();
        };
        let total = self.quantiles.count();
        if bins == 0 || total == 0 {
            return Vec::new();
        }
        if max <= min {
            return vec![HistogramBin {
                low: min,
                high: max,
                count: total,
            }];
        }
        self.quantiles
            .histogram(min, max, bins)
            .into_iter()
            .map(|(low, high, share)| HistogramBin {
                low,
                high,
                count: (share * total as f64).round() as u64,
            })
            .collect()
    }

    fn summarize(&mut self) {
        let mut percentiles = BTreeMap::new();
        for (name, rank) in [
            ("p01", 0.01),
            ("p05", 0.05),
            ("p25", 0.25),
            ("p50", 0.5),
            ("p75", 0.75),
            ("p95", 0.95),
            ("p99", 0.99),
        ] {
            if let Some(value) = self.quantiles.quantile(rank) {
                percentiles.insert(name.to_owned(), value);
            }
        }
        self.summary = NumericSummary {
            percentiles,
            histogram: self.histogram(HISTOGRAM_BINS),
        };
    }

    /// Adds a value; NaN is ignored.
    pub fn add(&mut self, value: f64) {
        if value.is_nan() {
            return;
        }
        self.moments.add(value);
        self.min = Some(self.min.map_or(value, |min| min.min(value)));
        self.max = Some(self.max.map_or(value, |max| max.max(value)));
        self.quantiles.add(value);
    }

    fn merge(&mut self, other: &Self) {
        self.moments.merge(&other.moments);
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.quantiles.merge(&other.quantiles);
    }
}

/// Categories: counts and a distinct-count estimate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CategoricalStats {
    /// Counts per category (exact up to a bound, then heavy hitters).
    pub counts: Counts,
    /// Distinct categories.
    pub distinct: Distinct,
}

impl CategoricalStats {
    fn with_limit(limit: usize) -> Self {
        Self {
            counts: Counts::with_limit(limit),
            distinct: Distinct::default(),
        }
    }

    fn add(&mut self, value: &str) {
        self.counts.add(value, 1);
        self.distinct.add(value);
    }

    fn merge(&mut self, other: &Self) {
        self.counts.merge(&other.counts);
        self.distinct.merge(&other.distinct);
    }

    /// Shannon entropy of the category distribution, in bits.
    #[must_use]
    pub fn entropy_bits(&self) -> f64 {
        let weights: Vec<f64> = self
            .counts
            .items()
            .iter()
            .map(|(_, count)| *count as f64)
            .collect();
        crate::stats::entropy_bits(&weights)
    }
}

/// Free text: lengths, token counts and token frequencies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextStats {
    /// Length in characters.
    pub chars: Quantiles,
    /// Length in tokens.
    pub tokens: Quantiles,
    /// Token frequencies.
    pub token_counts: Counts,
    /// Distinct tokens.
    pub distinct_tokens: Distinct,
}

impl Default for TextStats {
    fn default() -> Self {
        Self {
            chars: Quantiles::default(),
            tokens: Quantiles::default(),
            token_counts: Counts::with_limit(TOKEN_LIMIT),
            distinct_tokens: Distinct::default(),
        }
    }
}

impl TextStats {
    fn add(&mut self, text: &str) {
        self.chars.add(text.chars().count() as f64);
        let mut count = 0u64;
        for token in lower_words(text) {
            count += 1;
            self.distinct_tokens.add(&token);
            self.token_counts.add(&token, 1);
        }
        self.tokens.add(count as f64);
    }

    fn merge(&mut self, other: &Self) {
        self.chars.merge(&other.chars);
        self.tokens.merge(&other.tokens);
        self.token_counts.merge(&other.token_counts);
        self.distinct_tokens.merge(&other.distinct_tokens);
    }
}

/// Images: sizes, channel statistics, brightness and the mean image.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageStats {
    /// Widths.
    pub width: NumericStats,
    /// Heights.
    pub height: NumericStats,
    /// Images per channel count.
    pub channels: BTreeMap<u8, u64>,
    /// Mean pixel value of each image (0 to 255), over all channels.
    pub brightness: NumericStats,
    /// Sum and sum of squares of each channel's pixel values, per channel.
    pub channel_sums: Vec<(f64, f64, u64)>,
    /// The mean image, while every image has the same size.
    pub mean_image: Option<MeanImage>,
}

/// The per-pixel mean and variance of images of one size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeanImage {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Channels.
    pub channels: u8,
    /// Images summed.
    pub count: u64,
    /// Per-pixel sums.
    pub sum: Vec<f64>,
    /// Per-pixel sums of squares.
    pub sum_squares: Vec<f64>,
    /// Whether images of another size were seen (the mean covers only this size).
    pub mixed_sizes: bool,
}

impl MeanImage {
    /// The mean value of each pixel.
    #[must_use]
    pub fn mean(&self) -> Vec<f64> {
        let count = self.count.max(1) as f64;
        self.sum.iter().map(|sum| sum / count).collect()
    }
}

impl ImageStats {
    fn add(&mut self, image: &antidote_data::Image) {
        self.width.add(f64::from(image.width));
        self.height.add(f64::from(image.height));
        *self.channels.entry(image.channels).or_default() += 1;
        let channels = usize::from(image.channels.max(1));
        if self.channel_sums.len() < channels {
            self.channel_sums.resize(channels, (0.0, 0.0, 0));
        }
        let mut total = 0u64;
        let mut per_channel = vec![(0u64, 0u64); channels];
        for (index, pixel) in image.pixels.iter().enumerate() {
            let value = u64::from(*pixel);
            total += value;
            let channel = &mut per_channel[index % channels];
            channel.0 += value;
            channel.1 += value * value;
        }
        let pixels_per_channel = (image.pixels.len() / channels) as u64;
        for (sums, (sum, squares)) in self.channel_sums.iter_mut().zip(per_channel) {
            sums.0 += sum as f64;
            sums.1 += squares as f64;
            sums.2 += pixels_per_channel;
        }
        if !image.pixels.is_empty() {
            self.brightness
                .add(total as f64 / image.pixels.len() as f64);
        }
        self.add_to_mean(image);
    }

    fn add_to_mean(&mut self, image: &antidote_data::Image) {
        if image.pixels.len() > MEAN_IMAGE_LIMIT {
            return;
        }
        let mean = self.mean_image.get_or_insert_with(|| MeanImage {
            width: image.width,
            height: image.height,
            channels: image.channels,
            count: 0,
            sum: vec![0.0; image.pixels.len()],
            sum_squares: vec![0.0; image.pixels.len()],
            mixed_sizes: false,
        });
        if (mean.width, mean.height, mean.channels) != (image.width, image.height, image.channels) {
            mean.mixed_sizes = true;
            return;
        }
        mean.count += 1;
        for ((sum, squares), pixel) in mean
            .sum
            .iter_mut()
            .zip(mean.sum_squares.iter_mut())
            .zip(&image.pixels)
        {
            let value = f64::from(*pixel);
            *sum += value;
            *squares += value * value;
        }
    }

    fn merge(&mut self, other: &Self) {
        self.width.merge(&other.width);
        self.height.merge(&other.height);
        for (channels, count) in &other.channels {
            *self.channels.entry(*channels).or_default() += count;
        }
        if self.channel_sums.len() < other.channel_sums.len() {
            self.channel_sums
                .resize(other.channel_sums.len(), (0.0, 0.0, 0));
        }
        for (own, theirs) in self.channel_sums.iter_mut().zip(&other.channel_sums) {
            own.0 += theirs.0;
            own.1 += theirs.1;
            own.2 += theirs.2;
        }
        self.brightness.merge(&other.brightness);
        match (&mut self.mean_image, &other.mean_image) {
            (None, Some(theirs)) => self.mean_image = Some(theirs.clone()),
            (Some(own), Some(theirs)) => {
                if (own.width, own.height, own.channels)
                    == (theirs.width, theirs.height, theirs.channels)
                {
                    own.count += theirs.count;
                    own.mixed_sizes |= theirs.mixed_sizes;
                    for (a, b) in own.sum.iter_mut().zip(&theirs.sum) {
                        *a += b;
                    }
                    for (a, b) in own.sum_squares.iter_mut().zip(&theirs.sum_squares) {
                        *a += b;
                    }
                } else {
                    own.mixed_sizes = true;
                }
            }
            _ => {}
        }
    }

    /// Mean and standard deviation of each channel.
    #[must_use]
    pub fn channel_mean_std(&self) -> Vec<(f64, f64)> {
        self.channel_sums
            .iter()
            .map(|(sum, squares, count)| {
                let count = (*count).max(1) as f64;
                let mean = sum / count;
                (mean, (squares / count - mean * mean).max(0.0).sqrt())
            })
            .collect()
    }
}

/// Vectors (embeddings): dimensions and norms.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VectorStats {
    /// Vectors per dimension.
    pub dimensions: BTreeMap<usize, u64>,
    /// Euclidean norms.
    pub norm: NumericStats,
}

/// The statistics of one column, by kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[expect(
    clippy::large_enum_variant,
    reason = "one value per column: boxing would buy nothing"
)]
pub enum ColumnStats {
    /// Numbers and booleans.
    Numeric(NumericStats),
    /// Categories.
    Categorical(CategoricalStats),
    /// Free text.
    Text(TextStats),
    /// Images.
    Image(ImageStats),
    /// Vectors.
    Vector(VectorStats),
    /// Ids: distinct count only.
    Identifier {
        /// Distinct ids.
        distinct: Distinct,
    },
    /// Nested values: counted only.
    Other,
}

impl ColumnStats {
    fn for_column(kind: ColumnKind, role: Role) -> Self {
        if role == Role::Id {
            return Self::Identifier {
                distinct: Distinct::default(),
            };
        }
        match kind {
            ColumnKind::Integer | ColumnKind::Float | ColumnKind::Boolean => {
                Self::Numeric(NumericStats::default())
            }
            ColumnKind::Categorical => {
                Self::Categorical(CategoricalStats::with_limit(CATEGORY_LIMIT))
            }
            ColumnKind::Text => Self::Text(TextStats::default()),
            ColumnKind::Image => Self::Image(ImageStats::default()),
            ColumnKind::Vector => Self::Vector(VectorStats::default()),
            ColumnKind::Nested | ColumnKind::Empty => Self::Other,
        }
    }

    /// Adds a present value; returns `false` when it does not fit the column's kind.
    fn add(&mut self, value: &Value) -> bool {
        match (self, value) {
            (Self::Numeric(stats), value) => match value.as_f64() {
                Some(number) => {
                    stats.add(number);
                    true
                }
                None => false,
            },
            (Self::Categorical(stats), value) => {
                stats.add(&value.to_label().unwrap_or_default());
                true
            }
            (Self::Text(stats), Value::Text(text)) => {
                stats.add(text);
                true
            }
            (Self::Image(stats), Value::Image(image)) => {
                stats.add(image);
                true
            }
            (Self::Vector(stats), Value::List(items)) => {
                *stats.dimensions.entry(items.len()).or_default() += 1;
                let norm = items
                    .iter()
                    .filter_map(Value::as_f64)
                    .map(|x| x * x)
                    .sum::<f64>()
                    .sqrt();
                stats.norm.add(norm);
                true
            }
            (Self::Identifier { distinct }, value) => {
                distinct.add(value.to_label().unwrap_or_default());
                true
            }
            (Self::Other, _) => true,
            _ => false,
        }
    }

    fn merge(&mut self, other: &Self) {
        match (self, other) {
            (Self::Numeric(a), Self::Numeric(b)) => a.merge(b),
            (Self::Categorical(a), Self::Categorical(b)) => a.merge(b),
            (Self::Text(a), Self::Text(b)) => a.merge(b),
            (Self::Image(a), Self::Image(b)) => a.merge(b),
            (Self::Vector(a), Self::Vector(b)) => {
                for (dimension, count) in &b.dimensions {
                    *a.dimensions.entry(*dimension).or_default() += count;
                }
                a.norm.merge(&b.norm);
            }
            (Self::Identifier { distinct: a }, Self::Identifier { distinct: b }) => a.merge(b),
            _ => {}
        }
    }
}

/// The profile of one column.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Column name.
    pub name: String,
    /// Its kind.
    pub kind: ColumnKind,
    /// Its role.
    pub role: Role,
    /// Records with a value.
    pub present: u64,
    /// Records without one.
    pub missing: u64,
    /// Values that do not fit the kind (a word in a numeric column).
    pub mismatched: u64,
    /// Statistics by kind.
    pub stats: ColumnStats,
}

impl ColumnProfile {
    /// One line about the column for a terminal: the statistics that fit its kind, with
    /// values from the data made safe to print.
    #[must_use]
    pub fn summary(&self) -> String {
        match &self.stats {
            ColumnStats::Numeric(stats) => format!(
                "mean {:.4}, std {:.4}, min {}, median {}, max {}",
                stats.moments.mean,
                stats.moments.std(),
                stats
                    .min
                    .map_or_else(|| "-".to_owned(), |value| format!("{value}")),
                stats
                    .quantiles
                    .quantile(0.5)
                    .map_or_else(|| "-".to_owned(), |value| format!("{value}")),
                stats
                    .max
                    .map_or_else(|| "-".to_owned(), |value| format!("{value}")),
            ),
            ColumnStats::Categorical(stats) => {
                let top: Vec<String> = stats
                    .counts
                    .items()
                    .iter()
                    .take(3)
                    .map(|(item, count)| format!("`{}` {count}", escape_control(item)))
                    .collect();
                format!(
                    "~{:.0} distinct; top {}",
                    stats.distinct.estimate(),
                    top.join(", ")
                )
            }
            ColumnStats::Text(stats) => format!(
                "median {} chars, {} tokens; ~{:.0} distinct tokens",
                stats.chars.quantile(0.5).unwrap_or(0.0),
                stats.tokens.quantile(0.5).unwrap_or(0.0),
                stats.distinct_tokens.estimate()
            ),
            ColumnStats::Image(stats) => {
                let channels: Vec<String> =
                    stats.channels.keys().map(ToString::to_string).collect();
                format!(
                    "{}x{} to {}x{}, {} channel(s), mean brightness {:.1}",
                    stats.width.min.unwrap_or(0.0),
                    stats.height.min.unwrap_or(0.0),
                    stats.width.max.unwrap_or(0.0),
                    stats.height.max.unwrap_or(0.0),
                    channels.join("/"),
                    stats.brightness.moments.mean
                )
            }
            ColumnStats::Vector(stats) => format!(
                "dimensions {:?}, mean norm {:.4}",
                stats.dimensions.keys().collect::<Vec<_>>(),
                stats.norm.moments.mean
            ),
            ColumnStats::Identifier { distinct } => format!("~{:.0} distinct", distinct.estimate()),
            ColumnStats::Other => String::new(),
        }
    }

    /// The share of records without a value.
    #[must_use]
    pub fn missing_share(&self) -> f64 {
        let total = self.present + self.missing;
        if total == 0 {
            0.0
        } else {
            self.missing as f64 / total as f64
        }
    }
}

/// Exact-duplicate statistics, by record content hash.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DuplicateStats {
    /// Records whose content hash was already seen, when counted exactly.
    pub exact_duplicates: Option<u64>,
    /// Distinct content hashes (sketch), for merged profiles.
    pub distinct: Distinct,
    /// Hashes seen so far, while profiling.
    #[serde(skip)]
    hashes: Option<HashSet<u64>>,
}

impl DuplicateStats {
    fn start() -> Self {
        Self {
            exact_duplicates: Some(0),
            distinct: Distinct::default(),
            hashes: Some(HashSet::new()),
        }
    }

    fn add(&mut self, hash: u64) {
        self.distinct.add(hash);
        if let Some(hashes) = &mut self.hashes {
            if !hashes.insert(hash)
                && let Some(duplicates) = &mut self.exact_duplicates
            {
                *duplicates += 1;
            }
            if hashes.len() > EXACT_DUPLICATE_LIMIT {
                self.hashes = None;
                self.exact_duplicates = None;
            }
        }
    }

    fn merge(&mut self, other: &Self) {
        self.distinct.merge(&other.distinct);
        if let (Some(own), Some(theirs)) = (&mut self.hashes, &other.hashes) {
            let before = own.len() + theirs.len();
            own.extend(theirs.iter().copied());
            let collisions = (before - own.len()) as u64;
            self.exact_duplicates = match (self.exact_duplicates, other.exact_duplicates) {
                (Some(a), Some(b)) => Some(a + b + collisions),
                _ => None,
            };
            if own.len() > EXACT_DUPLICATE_LIMIT {
                self.hashes = None;
                self.exact_duplicates = None;
            }
        } else {
            self.hashes = None;
            self.exact_duplicates = None;
        }
    }

    /// The share of records that duplicate an earlier one: exact when counted exactly,
    /// estimated from the distinct-count sketch otherwise.
    #[must_use]
    pub fn rate(&self, records: u64) -> f64 {
        if records == 0 {
            return 0.0;
        }
        match self.exact_duplicates {
            Some(duplicates) => duplicates as f64 / records as f64,
            None => (1.0 - self.distinct.estimate() / records as f64).max(0.0),
        }
    }
}

/// The profile of a dataset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    /// Format version ([`PROFILE_VERSION`]).
    pub version: u32,
    /// The antidote version that wrote it.
    pub tool: String,
    /// What was profiled (paths; several after a merge).
    pub sources: Vec<String>,
    /// The format it was read as, when all sources agree.
    pub format: Option<Format>,
    /// Columns, kinds and roles.
    pub schema: Schema,
    /// Records profiled.
    pub record_count: u64,
    /// Malformed records skipped.
    pub skipped: u64,
    /// One profile per column that is not the label.
    pub columns: Vec<ColumnProfile>,
    /// The label distribution, when the dataset has labels.
    pub label: Option<CategoricalStats>,
    /// Records without a label, when the dataset has labels.
    pub unlabelled: u64,
    /// Exact duplicates.
    pub duplicates: DuplicateStats,
}

/// Errors from profiling and merging.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The dataset could not be read.
    #[error(transparent)]
    Read(#[from] antidote_data::ReadError),
    /// Two profiles of different columns cannot be merged.
    #[error("cannot merge profiles with different schemas: {0}")]
    SchemaMismatch(String),
}

/// Errors from reading a profile file.
#[derive(Debug, thiserror::Error)]
pub enum ReadProfileError {
    /// There is no file at the path.
    #[error("profile `{path}` does not exist")]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// The file could not be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file is not profile JSON.
    #[error("`{path}` line {line}: not a valid antidote profile: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line the parser stopped at.
        line: usize,
        /// The parser's reason.
        reason: serde_json::Error,
    },
    /// The profile was written in another format version.
    #[error(
        "`{path}` has profile format version {version}, this antidote reads version {PROFILE_VERSION}"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
}

impl Profile {
    /// Reads a profile written by [`Profile::write`], checking its format version.
    pub fn read(path: &Path) -> Result<Self, ReadProfileError> {
        if !path.is_file() {
            return Err(ReadProfileError::Missing {
                path: path.to_owned(),
            });
        }
        let text = fs_err::read_to_string(path)?;
        let profile: Self =
            serde_json::from_str(&text).map_err(|reason| ReadProfileError::Invalid {
                path: path.to_owned(),
                line: reason.line(),
                reason,
            })?;
        if profile.version != PROFILE_VERSION {
            return Err(ReadProfileError::Version {
                path: path.to_owned(),
                version: profile.version,
            });
        }
        Ok(profile)
    }

    /// Writes the profile as pretty JSON, atomically.
    pub fn write(&self, path: &Path) -> Result<(), OutputError> {
        let mut file = AtomicFile::create(path)?;
        serde_json::to_writer_pretty(&mut file, self).map_err(|error| OutputError::Io {
            path: path.to_owned(),
            source: error.into(),
        })?;
        file.write_all(b"\n").map_err(|source| OutputError::Io {
            path: path.to_owned(),
            source,
        })?;
        file.commit()
    }

    /// An empty profile for datasets with `schema`.
    #[must_use]
    pub fn empty(schema: &Schema) -> Self {
        let has_label = schema.column_with_role(Role::Label).is_some();
        Self {
            version: PROFILE_VERSION,
            tool: format!("antidote {}", env!("CARGO_PKG_VERSION")),
            sources: Vec::new(),
            format: None,
            schema: schema.clone(),
            record_count: 0,
            skipped: 0,
            columns: schema
                .columns
                .iter()
                .filter(|column| column.role != Role::Label)
                .map(|column| ColumnProfile {
                    name: column.name.clone(),
                    kind: column.kind,
                    role: column.role,
                    present: 0,
                    missing: 0,
                    mismatched: 0,
                    stats: ColumnStats::for_column(column.kind, column.role),
                })
                .collect(),
            label: has_label.then(|| CategoricalStats::with_limit(LABEL_LIMIT)),
            unlabelled: 0,
            duplicates: DuplicateStats::start(),
        }
    }

    /// Adds one record.
    pub fn add(&mut self, record: &Record) {
        self.record_count += 1;
        let hash = record.content_hash();
        let mut head = [0u8; 8];
        head.copy_from_slice(&hash.as_bytes()[..8]);
        self.duplicates.add(u64::from_le_bytes(head));
        if let Some(label_stats) = &mut self.label {
            match &record.label {
                Some(label) => label_stats.add(label),
                None => self.unlabelled += 1,
            }
        }
        for column in &mut self.columns {
            let value = match column.role {
                Role::Id => Some(Value::Text(record.id.to_string())),
                Role::Source => record.source.clone().map(Value::Text),
                _ => record.field(&column.name).cloned(),
            };
            match value {
                None | Some(Value::Null) => column.missing += 1,
                Some(value) => {
                    column.present += 1;
                    if !column.stats.add(&value) {
                        column.mismatched += 1;
                    }
                }
            }
        }
    }

    /// Adds another profile of the same columns: the result profiles both datasets.
    pub fn merge(&mut self, other: &Self) -> Result<(), ProfileError> {
        let names = |profile: &Self| {
            profile
                .columns
                .iter()
                .map(|column| column.name.clone())
                .collect::<Vec<_>>()
        };
        if names(self) != names(other) {
            return Err(ProfileError::SchemaMismatch(format!(
                "columns `{}` and `{}`",
                names(self).join("`, `"),
                names(other).join("`, `")
            )));
        }
        self.merge_same_schema(other);
        Ok(())
    }

    /// Adds another profile of the same columns, which the caller has made sure of: partials of
    /// one dataset, or a profile whose columns [`Profile::merge`] has compared.
    fn merge_same_schema(&mut self, other: &Self) {
        self.record_count += other.record_count;
        self.skipped += other.skipped;
        for source in &other.sources {
            if !self.sources.contains(source) {
                self.sources.push(source.clone());
            }
        }
        if self.format != other.format {
            self.format = None;
        }
        for (own, theirs) in self.columns.iter_mut().zip(&other.columns) {
            own.present += theirs.present;
            own.missing += theirs.missing;
            own.mismatched += theirs.mismatched;
            own.stats.merge(&theirs.stats);
        }
        match (&mut self.label, &other.label) {
            (Some(own), Some(theirs)) => own.merge(theirs),
            (None, Some(theirs)) => self.label = Some(theirs.clone()),
            _ => {}
        }
        self.unlabelled += other.unlabelled;
        self.duplicates.merge(&other.duplicates);
    }

    /// Fills the derived summaries (percentiles, histograms) for people and reports; call it
    /// before writing a profile.
    pub fn summarize(&mut self) {
        for column in &mut self.columns {
            match &mut column.stats {
                ColumnStats::Numeric(stats) => stats.summarize(),
                ColumnStats::Image(stats) => {
                    stats.width.summarize();
                    stats.height.summarize();
                    stats.brightness.summarize();
                }
                ColumnStats::Vector(stats) => stats.norm.summarize(),
                _ => {}
            }
        }
    }

    /// The column called `name`.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|column| column.name == name)
    }

    /// The share of records that duplicate an earlier one.
    #[must_use]
    pub fn duplicate_rate(&self) -> f64 {
        self.duplicates.rate(self.record_count)
    }

    /// Each label's share of the labelled records.
    #[must_use]
    pub fn label_shares(&self) -> BTreeMap<String, f64> {
        let Some(label) = &self.label else {
            return BTreeMap::new();
        };
        label.counts.shares()
    }

    /// The whole state of a partial profile, for an engine to move partials between processes:
    /// the profile as JSON, then the record hashes kept for exact-duplicate counting (which a
    /// written profile leaves out), so that merged partials count duplicates as one pass does.
    /// The layout is the JSON's length (8 bytes, little-endian), the JSON, then the hashes
    /// (8 bytes each, little-endian), none when counting is no longer exact.
    ///
    /// # Panics
    ///
    /// Never: a profile always serialises (it is written as JSON by [`Profile::write`]).
    #[must_use]
    pub fn to_partial_bytes(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("a profile serialises");
        let hashes = self.duplicates.hashes.as_ref();
        let mut bytes = Vec::with_capacity(8 + json.len() + 8 * hashes.map_or(0, HashSet::len));
        bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&json);
        for hash in hashes.into_iter().flatten() {
            bytes.extend_from_slice(&hash.to_le_bytes());
        }
        bytes
    }

    /// The partial [`to_partial_bytes`](Self::to_partial_bytes) wrote; `None` when `bytes` is
    /// not one.
    #[must_use]
    pub fn from_partial_bytes(bytes: &[u8]) -> Option<Self> {
        let (length, rest) = bytes.split_at_checked(8)?;
        let length = usize::try_from(u64::from_le_bytes(length.try_into().ok()?)).ok()?;
        let (json, hashes) = rest.split_at_checked(length)?;
        let mut profile: Self = serde_json::from_slice(json).ok()?;
        if hashes.len() % 8 != 0 {
            return None;
        }
        if profile.duplicates.exact_duplicates.is_some() {
            profile.duplicates.hashes = Some(
                hashes
                    .chunks_exact(8)
                    .map(|hash| {
                        let mut word = [0u8; 8];
                        word.copy_from_slice(hash);
                        u64::from_le_bytes(word)
                    })
                    .collect(),
            );
        } else if !hashes.is_empty() {
            return None;
        }
        Some(profile)
    }

    /// Profiles a dataset in one streaming pass, batches in parallel.
    pub fn of_dataset(mut dataset: Dataset, progress: &dyn Progress) -> Result<Self, ProfileError> {
        let schema = dataset.schema().clone();
        let mut profile = Self::empty(&schema);
        profile.sources = vec![dataset.path().display().to_string()];
        profile.format = Some(dataset.format());
        progress.start(
            &format!("profiling `{}`", dataset.path().display()),
            None,
            ProgressUnit::Records,
        );
        let mut batch = Vec::with_capacity(BATCH);
        while dataset.next_batch(BATCH, &mut batch)? > 0 {
            let partial = batch
                .par_chunks(BATCH.div_ceil(rayon::current_num_threads().max(1)))
                .map(|chunk| {
                    let mut partial = Self::empty(&schema);
                    for record in chunk {
                        partial.add(record);
                    }
                    partial
                })
                .reduce_with(|mut a, b| {
                    a.merge_same_schema(&b);
                    a
                });
            if let Some(partial) = partial {
                profile.merge_same_schema(&partial);
            }
            progress.advance(batch.len() as u64);
        }
        progress.finish();
        profile.skipped = dataset.skipped();
        Ok(profile)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use antidote_core::NoProgress;

    use super::*;

    fn dataset(rows: Vec<Vec<Value>>) -> Dataset {
        antidote_data::from_rows(
            Path::new("memory"),
            vec![
                (Arc::from("label"), ColumnKind::Categorical),
                (Arc::from("x"), ColumnKind::Float),
                (Arc::from("text"), ColumnKind::Text),
            ],
            rows,
        )
        .unwrap()
    }

    fn row(label: &str, x: f64, text: &str) -> Vec<Value> {
        vec![
            Value::Text(label.into()),
            Value::Float(x),
            Value::Text(text.into()),
        ]
    }

    #[test]
    fn profiles_numbers_labels_text_and_duplicates() {
        let rows = vec![
            row("cat", 1.0, "the cat sat"),
            row("cat", 2.0, "the cat sat"),
            row("dog", 3.0, "a dog barked loudly"),
            row("cat", 1.0, "the cat sat"),
        ];
        let profile = Profile::of_dataset(dataset(rows), &NoProgress).unwrap();
        assert_eq!(profile.record_count, 4);
        assert!((profile.label_shares()["cat"] - 0.75).abs() < 1e-12);
        let ColumnStats::Numeric(x) = &profile.column("x").unwrap().stats else {
            panic!("numeric")
        };
        assert_eq!(x.moments.count, 4);
        assert!((x.moments.mean - 1.75).abs() < 1e-12);
        assert_eq!((x.min, x.max), (Some(1.0), Some(3.0)));
        let ColumnStats::Text(text) = &profile.column("text").unwrap().stats else {
            panic!("text")
        };
        assert_eq!(text.token_counts.get("cat"), 3);
        assert_eq!(
            profile.duplicates.exact_duplicates,
            Some(1),
            "row 4 repeats row 1"
        );
        assert!((profile.duplicate_rate() - 0.25).abs() < 1e-12);
    }

    #[test]
    fn summaries_hold_percentiles_and_a_histogram_that_counts_every_value() {
        let rows: Vec<Vec<Value>> = (0..1000)
            .map(|index| row("a", f64::from(index % 100), "t"))
            .collect();
        let mut profile = Profile::of_dataset(dataset(rows), &NoProgress).unwrap();
        profile.summarize();
        let ColumnStats::Numeric(x) = &profile.column("x").unwrap().stats else {
            panic!("numeric")
        };
        let total: u64 = x.summary.histogram.iter().map(|bin| bin.count).sum();
        assert_eq!(x.summary.histogram.len(), 20);
        assert!((999..=1001).contains(&total), "{total}");
        let first = x.summary.histogram[0];
        assert!((first.low - 0.0).abs() < 1e-12 && (first.high - 4.95).abs() < 1e-9);
        // Five values of ten copies each. The sketch compacts 1000 values at random (KLL), so
        // each bin edge is known to about 1.3% of the ranks (13 values) at 99% confidence.
        assert!(
            (50 - 26..=50 + 26).contains(&first.count),
            "five values of ten copies each: {}",
            first.count
        );
        let median = x.summary.percentiles["p50"];
        assert!((45.0..=55.0).contains(&median), "{median}");
        let json = serde_json::to_string(&profile).unwrap();
        assert!(json.contains("\"histogram\""));
        let back: Profile = serde_json::from_str(&json).unwrap();
        let ColumnStats::Numeric(read) = &back.column("x").unwrap().stats else {
            panic!("numeric")
        };
        assert!(
            read.summary.histogram.is_empty(),
            "summaries are derived, not read back"
        );
    }

    #[test]
    fn merged_shard_profiles_equal_the_whole() {
        let rows: Vec<Vec<Value>> = (0..3000)
            .map(|index| {
                row(
                    if index % 3 == 0 { "a" } else { "b" },
                    f64::from(index % 97),
                    &format!("token{} word", index % 50),
                )
            })
            .collect();
        let whole = Profile::of_dataset(dataset(rows.clone()), &NoProgress).unwrap();
        let mut first = Profile::of_dataset(dataset(rows[..1234].to_vec()), &NoProgress).unwrap();
        let second = Profile::of_dataset(dataset(rows[1234..].to_vec()), &NoProgress).unwrap();
        first.merge(&second).unwrap();
        assert_eq!(first.record_count, whole.record_count);
        assert_eq!(first.label_shares(), whole.label_shares());
        let numeric = |profile: &Profile| match &profile.column("x").unwrap().stats {
            ColumnStats::Numeric(stats) => stats.clone(),
            _ => panic!("numeric"),
        };
        let (merged, direct) = (numeric(&first), numeric(&whole));
        assert_eq!(merged.moments.count, direct.moments.count);
        assert!((merged.moments.mean - direct.moments.mean).abs() < 1e-9);
        assert!((merged.moments.m2 - direct.moments.m2).abs() < 1e-6 * direct.moments.m2);
        let (a, b) = (
            merged.quantiles.quantile(0.5).unwrap(),
            direct.quantiles.quantile(0.5).unwrap(),
        );
        assert!(
            (a - b).abs() <= 3.0,
            "medians {a} and {b} agree within sketch error"
        );
        assert_eq!(
            first.duplicates.exact_duplicates,
            whole.duplicates.exact_duplicates
        );
        let text = |profile: &Profile| match &profile.column("text").unwrap().stats {
            ColumnStats::Text(stats) => stats.token_counts.get("token7"),
            _ => panic!("text"),
        };
        assert_eq!(text(&first), text(&whole));
    }

    #[test]
    fn partials_moved_as_bytes_still_count_duplicates_exactly() {
        // Every record repeats one in the other shard.
        let rows: Vec<Vec<Value>> = (0..400)
            .map(|index| row("a", f64::from(index % 200), "t"))
            .collect();
        let whole = Profile::of_dataset(dataset(rows.clone()), &NoProgress).unwrap();
        assert_eq!(whole.duplicates.exact_duplicates, Some(200));
        let shard = |range: std::ops::Range<usize>| {
            let partial = Profile::of_dataset(dataset(rows[range].to_vec()), &NoProgress).unwrap();
            Profile::from_partial_bytes(&partial.to_partial_bytes()).unwrap()
        };
        let mut merged = shard(0..200);
        merged.merge(&shard(200..400)).unwrap();
        assert_eq!(merged.duplicates.exact_duplicates, Some(200));
        assert_eq!(merged.record_count, 400);
        // Through the written JSON, the hashes are gone and the count is no longer exact.
        let written = |range: std::ops::Range<usize>| {
            let partial = Profile::of_dataset(dataset(rows[range].to_vec()), &NoProgress).unwrap();
            serde_json::from_str::<Profile>(&serde_json::to_string(&partial).unwrap()).unwrap()
        };
        let mut read = written(0..200);
        read.merge(&written(200..400)).unwrap();
        assert_eq!(read.duplicates.exact_duplicates, None);
        // Malformed partials are refused.
        let bytes = shard(0..10).to_partial_bytes();
        assert!(Profile::from_partial_bytes(&bytes[..bytes.len() - 3]).is_none());
        assert!(Profile::from_partial_bytes(&bytes[..4]).is_none());
    }
}
