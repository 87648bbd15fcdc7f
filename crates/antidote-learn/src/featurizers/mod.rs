//! Featurizers: from records and their schema to a dense feature matrix.
//!
//! Each payload column becomes a block of features, chosen by its role and kind:
//!
//! | column | features | width |
//! |---|---|---|
//! | image (role or kind) | pixels / 255, channels interleaved as stored | width × height × channels |
//! | integer, float, boolean | standardised (mean and deviation learned in `fit`) | 1 |
//! | categorical | signed one-hot, hashed | `categorical_buckets` (2^10) |
//! | text (role or kind) | word 1-2-grams and character 3-5-grams, hashed, TF-IDF, L2 | `text_buckets` (2^14) |
//! | embedding role, vector kind | as given | the vector's length |
//!
//! The id, label and source are never features. Nested columns (chat transcripts, metadata) are
//! skipped and named in [`Featurizer::skipped_columns`].

mod categorical;
mod embedding;
mod image;
mod numeric;
mod text;

use std::borrow::Borrow;

use antidote_data::{Column, ColumnKind, Record, Role, Schema, Value};
use rayon::prelude::*;

use crate::features::{Encoding, FeatureBlock, Features};
use crate::hash::derive_seed;
use categorical::Categorical;
use embedding::{Embedding, VectorError, vector_len};
use image::{Pixels, PixelsError};
use numeric::{Numeric, NumericStats};
use text::{Text, TextHasher, TextStats, text_of};

/// Records featurized together, in parallel; large enough to keep two cores busy, small enough
/// that a streaming caller's memory stays bounded.
const CHUNK: usize = 1024;

/// The most buckets a hashed column may have: a dense row of this many `f32` is 4 MiB.
const MAX_BUCKETS: usize = 1 << 20;

/// Errors from checking [`FeaturizerParams`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeaturizerParamsError {
    /// A bucket count is zero or too large.
    #[error("`{name}` must be between 1 and {MAX_BUCKETS}, found `{value}`")]
    Buckets {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: usize,
    },
}

/// Errors from fitting a [`Featurizer`] or transforming records with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeaturizeError {
    /// No column can become features.
    #[error("no column can be featurized (columns: {columns})")]
    NothingToFeaturize {
        /// The schema's columns with their kinds and roles.
        columns: String,
    },
    /// An image column had no image while fitting, so its size is unknown.
    #[error("image column `{column}` has no image to learn the image size from")]
    NoImage {
        /// The column.
        column: String,
    },
    /// A vector column had no vector while fitting, so its length is unknown.
    #[error("vector column `{column}` has no vector to learn the length from")]
    NoVector {
        /// The column.
        column: String,
    },
    /// An image has another size than the first image of its column.
    #[error(
        "record `{id}`: column `{column}` holds a {found} image, but the images are {expected} (width x height x channels)"
    )]
    ImageSize {
        /// The record.
        id: String,
        /// The column.
        column: String,
        /// The size of the first image.
        expected: String,
        /// The size of this one.
        found: String,
    },
    /// An image column holds something else.
    #[error("record `{id}`: image column `{column}` holds a value that is not an image")]
    NotAnImage {
        /// The record.
        id: String,
        /// The column.
        column: String,
    },
    /// A vector has another length than the first vector of its column.
    #[error(
        "record `{id}`: column `{column}` holds a vector of {found} numbers, but the first had {expected}"
    )]
    VectorLength {
        /// The record.
        id: String,
        /// The column.
        column: String,
        /// The length of the first vector.
        expected: usize,
        /// The length of this one.
        found: usize,
    },
    /// A vector column holds something else.
    #[error(
        "record `{id}`: vector column `{column}` holds a value that is not a list of finite numbers"
    )]
    NotAVector {
        /// The record.
        id: String,
        /// The column.
        column: String,
    },
}

/// Hyperparameters of a [`Featurizer`]; [`FeaturizerParams::check`] validates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeaturizerParams {
    categorical_buckets: usize,
    text_buckets: usize,
    char_ngrams: bool,
    seed: u64,
}

/// Checked [`FeaturizerParams`], ready to [`fit`](FeaturizerValidParams::fit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeaturizerValidParams(FeaturizerParams);

impl Default for FeaturizerParams {
    fn default() -> Self {
        Self {
            categorical_buckets: 1 << 10,
            text_buckets: 1 << 14,
            char_ngrams: true,
            seed: 0,
        }
    }
}

impl FeaturizerParams {
    /// Buckets per categorical column (default 2^10).
    #[must_use]
    pub fn categorical_buckets(mut self, buckets: usize) -> Self {
        self.categorical_buckets = buckets;
        self
    }

    /// Buckets per text column (default 2^14).
    #[must_use]
    pub fn text_buckets(mut self, buckets: usize) -> Self {
        self.text_buckets = buckets;
        self
    }

    /// Whether text terms include the character 3- to 5-grams of each word (default `true`).
    ///
    /// Without them a text is its words and word pairs only: a model then learns a rare token
    /// such as `cf` from a handful of records, which the hundreds of character n-grams of a
    /// text otherwise drown. Trigger search questions such a model.
    #[must_use]
    pub fn char_ngrams(mut self, char_ngrams: bool) -> Self {
        self.char_ngrams = char_ngrams;
        self
    }

    /// The seed of the hash functions (default 0).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the parameters.
    pub fn check(self) -> Result<FeaturizerValidParams, FeaturizerParamsError> {
        for (name, value) in [
            ("categorical_buckets", self.categorical_buckets),
            ("text_buckets", self.text_buckets),
        ] {
            if value == 0 || value > MAX_BUCKETS {
                return Err(FeaturizerParamsError::Buckets { name, value });
            }
        }
        Ok(FeaturizerValidParams(self))
    }
}

/// What a column becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Numeric,
    Categorical,
    Text,
    Image,
    Embedding,
}

fn plan(column: &Column) -> Option<Plan> {
    match column.role {
        Role::Id | Role::Label | Role::Source => None,
        Role::Text => Some(Plan::Text),
        Role::Image => Some(Plan::Image),
        Role::Embedding => Some(Plan::Embedding),
        Role::Feature => match column.kind {
            ColumnKind::Integer | ColumnKind::Float | ColumnKind::Boolean => Some(Plan::Numeric),
            ColumnKind::Categorical => Some(Plan::Categorical),
            ColumnKind::Text => Some(Plan::Text),
            ColumnKind::Image => Some(Plan::Image),
            ColumnKind::Vector => Some(Plan::Embedding),
            ColumnKind::Nested | ColumnKind::Empty => None,
        },
    }
}

/// Statistics of one column gathered while fitting.
enum Accumulator {
    Numeric(NumericStats),
    Categorical,
    Text(TextHasher, TextStats),
    Image(Option<Pixels>),
    Embedding(Option<usize>),
}

/// A fitted column encoding.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Encoder {
    Numeric(Numeric),
    Categorical(Categorical),
    Text(Text),
    Pixels(Pixels),
    Embedding(Embedding),
}

impl Encoder {
    fn width(&self) -> usize {
        match self {
            Self::Numeric(_) => 1,
            Self::Categorical(categorical) => categorical.buckets,
            Self::Text(text) => text.hasher.buckets(),
            Self::Pixels(pixels) => pixels.len(),
            Self::Embedding(embedding) => embedding.len,
        }
    }

    fn encoding(&self) -> Encoding {
        match self {
            Self::Numeric(_) => Encoding::Standardized,
            Self::Categorical(_) => Encoding::HashedOneHot,
            Self::Text(_) => Encoding::TfIdf,
            Self::Pixels(pixels) => Encoding::Pixels {
                width: pixels.width,
                height: pixels.height,
                channels: pixels.channels,
            },
            Self::Embedding(_) => Encoding::Embedding,
        }
    }
}

/// A fitted featurizer: turns records into rows of a [`Features`] matrix.
///
/// Fitting reads the records once and learns what the encodings need: each numeric column's mean
/// and deviation, each text column's document frequencies, each image column's size and each
/// vector column's length. Transforming is deterministic and parallel, and gives every record the
/// same row whatever records come with it.
///
/// ```
/// use std::{path::Path, sync::Arc};
/// use antidote_data::{ColumnKind, Value, from_rows};
/// use antidote_learn::Featurizer;
///
/// let dataset = from_rows(
///     Path::new("memory"),
///     vec![(Arc::from("height"), ColumnKind::Float), (Arc::from("label"), ColumnKind::Integer)],
///     vec![
///         vec![Value::Float(1.0), Value::Int(0)],
///         vec![Value::Float(3.0), Value::Int(1)],
///     ],
/// )?;
/// let schema = dataset.schema().clone();
/// let records = dataset.collect::<Result<Vec<_>, _>>()?;
/// let featurizer = Featurizer::fit(&records, &schema)?;
/// let features = featurizer.transform(&records)?;
/// assert_eq!(features.data(), &[-1.0, 1.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Featurizer {
    columns: Vec<(String, usize, Encoder)>,
    blocks: Vec<FeatureBlock>,
    width: usize,
    skipped: Vec<String>,
}

static NULL: Value = Value::Null;

fn field<'a>(record: &'a Record, column: &str) -> &'a Value {
    record.field(column).unwrap_or(&NULL)
}

/// Takes the next chunk of records from a stream.
fn next_chunk<I: Iterator>(records: &mut I) -> Vec<I::Item> {
    records.by_ref().take(CHUNK).collect()
}

impl Featurizer {
    /// The default hyperparameters, to adjust and [`check`](FeaturizerParams::check).
    #[must_use]
    pub fn params() -> FeaturizerParams {
        FeaturizerParams::default()
    }

    /// Fits a featurizer with the default hyperparameters.
    pub fn fit<I>(records: I, schema: &Schema) -> Result<Self, FeaturizeError>
    where
        I: IntoIterator,
        I::Item: Borrow<Record> + Sync,
    {
        FeaturizerValidParams::default().fit(records, schema)
    }

    /// The number of features per record.
    #[must_use]
    pub fn width(&self) -> usize {
        self.width
    }

    /// Which dataset column each range of features encodes.
    #[must_use]
    pub fn blocks(&self) -> &[FeatureBlock] {
        &self.blocks
    }

    /// Payload columns that give no features (nested values, columns with no value).
    #[must_use]
    pub fn skipped_columns(&self) -> &[String] {
        &self.skipped
    }

    /// The features of `records`, one row each, in order.
    pub fn transform<I>(&self, records: I) -> Result<Features, FeaturizeError>
    where
        I: IntoIterator,
        I::Item: Borrow<Record> + Sync,
    {
        let mut records = records.into_iter();
        let mut data = Vec::with_capacity(records.size_hint().0.saturating_mul(self.width));
        let mut rows = 0;
        loop {
            let chunk = next_chunk(&mut records);
            if chunk.is_empty() {
                break;
            }
            let start = data.len();
            data.resize(start + chunk.len() * self.width, 0.0);
            let results: Vec<Result<(), FeaturizeError>> = data[start..]
                .par_chunks_mut(self.width)
                .zip(chunk.par_iter())
                .map(|(row, record)| self.encode(record.borrow(), row))
                .collect();
            if let Some(error) = results.into_iter().find_map(Result::err) {
                return Err(error);
            }
            rows += chunk.len();
        }
        Ok(Features::from_parts(
            rows,
            self.width,
            data,
            self.blocks.clone(),
        ))
    }

    /// Writes the features of `record` into `row` (zeros, `width` long).
    fn encode(&self, record: &Record, row: &mut [f32]) -> Result<(), FeaturizeError> {
        for (column, start, encoder) in &self.columns {
            let value = field(record, column);
            let out = &mut row[*start..*start + encoder.width()];
            match encoder {
                Encoder::Numeric(numeric) => out[0] = numeric.encode(value),
                Encoder::Categorical(categorical) => categorical.encode(value, out),
                Encoder::Text(text) => text.encode(value, out),
                Encoder::Pixels(pixels) => pixels
                    .encode(value, out)
                    .map_err(|error| pixels_error(record, column, *pixels, error))?,
                Encoder::Embedding(embedding) => embedding
                    .encode(value, out)
                    .map_err(|error| vector_error(record, column, embedding.len, error))?,
            }
        }
        Ok(())
    }
}

fn pixels_error(
    record: &Record,
    column: &str,
    expected: Pixels,
    error: PixelsError,
) -> FeaturizeError {
    match error {
        PixelsError::Size(found) => FeaturizeError::ImageSize {
            id: record.id.to_string(),
            column: column.to_owned(),
            expected: expected.to_string(),
            found: found.to_string(),
        },
        PixelsError::NotAnImage => FeaturizeError::NotAnImage {
            id: record.id.to_string(),
            column: column.to_owned(),
        },
    }
}

fn vector_error(
    record: &Record,
    column: &str,
    expected: usize,
    error: VectorError,
) -> FeaturizeError {
    match error {
        VectorError::Length(found) => FeaturizeError::VectorLength {
            id: record.id.to_string(),
            column: column.to_owned(),
            expected,
            found,
        },
        VectorError::NotAVector => FeaturizeError::NotAVector {
            id: record.id.to_string(),
            column: column.to_owned(),
        },
    }
}

impl FeaturizerValidParams {
    /// Learns the encodings of `schema`'s columns from `records`, in one pass.
    pub fn fit<I>(&self, records: I, schema: &Schema) -> Result<Featurizer, FeaturizeError>
    where
        I: IntoIterator,
        I::Item: Borrow<Record> + Sync,
    {
        let params = self.0;
        let mut planned: Vec<(&str, Accumulator)> = Vec::new();
        let mut skipped = Vec::new();
        for column in &schema.columns {
            let Some(plan) = plan(column) else {
                if column.role == Role::Feature {
                    skipped.push(column.name.clone());
                }
                continue;
            };
            let seed = derive_seed(params.seed, &column.name);
            let accumulator = match plan {
                Plan::Numeric => Accumulator::Numeric(NumericStats::default()),
                Plan::Categorical => Accumulator::Categorical,
                Plan::Text => Accumulator::Text(
                    TextHasher::new(params.text_buckets, seed, params.char_ngrams),
                    TextStats::new(params.text_buckets),
                ),
                Plan::Image => Accumulator::Image(None),
                Plan::Embedding => Accumulator::Embedding(None),
            };
            planned.push((&column.name, accumulator));
        }
        if planned.is_empty() {
            return Err(nothing_to_featurize(schema));
        }

        let mut records = records.into_iter();
        loop {
            let chunk = next_chunk(&mut records);
            if chunk.is_empty() {
                break;
            }
            for (column, accumulator) in &mut planned {
                observe(column, accumulator, &chunk)?;
            }
        }

        let mut columns = Vec::with_capacity(planned.len());
        let mut blocks = Vec::with_capacity(planned.len());
        let mut width = 0;
        for (column, accumulator) in planned {
            let encoder = match accumulator {
                Accumulator::Numeric(stats) => Encoder::Numeric(stats.finish()),
                Accumulator::Categorical => Encoder::Categorical(Categorical {
                    buckets: params.categorical_buckets,
                    seed: derive_seed(params.seed, column),
                }),
                Accumulator::Text(hasher, stats) => Encoder::Text(stats.finish(hasher)),
                Accumulator::Image(pixels) => {
                    Encoder::Pixels(pixels.ok_or_else(|| FeaturizeError::NoImage {
                        column: column.to_owned(),
                    })?)
                }
                Accumulator::Embedding(len) => Encoder::Embedding(Embedding {
                    len: len.ok_or_else(|| FeaturizeError::NoVector {
                        column: column.to_owned(),
                    })?,
                }),
            };
            blocks.push(FeatureBlock {
                column: column.to_owned(),
                encoding: encoder.encoding(),
                start: width,
                width: encoder.width(),
            });
            let start = width;
            width += encoder.width();
            columns.push((column.to_owned(), start, encoder));
        }
        if width == 0 {
            return Err(nothing_to_featurize(schema));
        }
        Ok(Featurizer {
            columns,
            blocks,
            width,
            skipped,
        })
    }

    /// Fits a featurizer on `records` and transforms them.
    pub fn fit_transform<R>(
        &self,
        records: &[R],
        schema: &Schema,
    ) -> Result<(Featurizer, Features), FeaturizeError>
    where
        R: Borrow<Record> + Sync,
    {
        let featurizer = self.fit(records.iter().map(Borrow::borrow), schema)?;
        let features = featurizer.transform(records.iter().map(Borrow::borrow))?;
        Ok((featurizer, features))
    }
}

fn nothing_to_featurize(schema: &Schema) -> FeaturizeError {
    FeaturizeError::NothingToFeaturize {
        columns: schema
            .columns
            .iter()
            .map(|column| format!("`{}` ({} {})", column.name, column.kind, column.role))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Adds one chunk of records to a column's statistics.
fn observe<R: Borrow<Record> + Sync>(
    column: &str,
    accumulator: &mut Accumulator,
    chunk: &[R],
) -> Result<(), FeaturizeError> {
    match accumulator {
        Accumulator::Numeric(stats) => {
            for record in chunk {
                stats.observe(field(record.borrow(), column));
            }
        }
        Accumulator::Categorical => {}
        Accumulator::Text(hasher, stats) => {
            let hasher = *hasher;
            let terms: Vec<Vec<(u32, f32)>> = chunk
                .par_iter()
                .map(|record| {
                    text_of(field(record.borrow(), column))
                        .map(|text| hasher.term_frequencies(&text))
                        .unwrap_or_default()
                })
                .collect();
            for terms in &terms {
                stats.observe(terms);
            }
        }
        Accumulator::Image(size) => {
            for record in chunk {
                let record = record.borrow();
                let value = field(record, column);
                match (*size, value) {
                    (None, Value::Image(image)) => {
                        let pixels = Pixels::of(image);
                        pixels
                            .check(value)
                            .map_err(|error| pixels_error(record, column, pixels, error))?;
                        *size = Some(pixels);
                    }
                    (Some(pixels), value) => pixels
                        .check(value)
                        .map_err(|error| pixels_error(record, column, pixels, error))?,
                    (None, Value::Null) => {}
                    (None, _) => {
                        return Err(FeaturizeError::NotAnImage {
                            id: record.id.to_string(),
                            column: column.to_owned(),
                        });
                    }
                }
            }
        }
        Accumulator::Embedding(len) => {
            for record in chunk {
                let record = record.borrow();
                let value = field(record, column);
                match (*len, value) {
                    (Some(expected), value) => Embedding { len: expected }
                        .check(value)
                        .map_err(|error| vector_error(record, column, expected, error))?,
                    (None, Value::Null) => {}
                    (None, value) => {
                        *len =
                            Some(vector_len(value).ok_or_else(|| FeaturizeError::NotAVector {
                                id: record.id.to_string(),
                                column: column.to_owned(),
                            })?);
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use antidote_data::{Image, from_rows};

    use super::*;

    fn dataset(columns: &[(&str, ColumnKind)], rows: Vec<Vec<Value>>) -> (Schema, Vec<Record>) {
        let columns = columns
            .iter()
            .map(|(name, kind)| (Arc::from(*name), *kind))
            .collect();
        let dataset = from_rows(Path::new("memory"), columns, rows).unwrap();
        let schema = dataset.schema().clone();
        (schema, dataset.map(Result::unwrap).collect())
    }

    fn grey(pixels: Vec<u8>) -> Value {
        Value::Image(Image {
            width: 2,
            height: 1,
            channels: 1,
            pixels,
        })
    }

    fn mixed() -> (Schema, Vec<Record>) {
        dataset(
            &[
                ("id", ColumnKind::Integer),
                ("label", ColumnKind::Categorical),
                ("age", ColumnKind::Float),
                ("colour", ColumnKind::Categorical),
                ("review", ColumnKind::Text),
                ("photo", ColumnKind::Image),
                ("embedding", ColumnKind::Vector),
                ("meta", ColumnKind::Nested),
            ],
            (0..5)
                .map(|i| {
                    vec![
                        Value::Int(i),
                        Value::Text(if i % 2 == 0 { "cat" } else { "dog" }.into()),
                        Value::Float(i as f64),
                        Value::Text(["red", "blue"][i as usize % 2].into()),
                        Value::Text(format!("review number {i} says good things")),
                        grey(vec![0, (i * 50) as u8]),
                        Value::List(vec![Value::Float(0.5), Value::Int(i)]),
                        Value::Map(vec![]),
                    ]
                })
                .collect(),
        )
    }

    #[test]
    fn every_kind_of_column_gets_its_block() {
        let (schema, records) = mixed();
        let params = Featurizer::params()
            .categorical_buckets(8)
            .text_buckets(64)
            .check()
            .unwrap();
        let (featurizer, features) = params.fit_transform(&records, &schema).unwrap();
        let blocks: Vec<(&str, Encoding, usize, usize)> = featurizer
            .blocks()
            .iter()
            .map(|block| {
                (
                    block.column.as_str(),
                    block.encoding,
                    block.start,
                    block.width,
                )
            })
            .collect();
        assert_eq!(
            blocks,
            [
                ("age", Encoding::Standardized, 0, 1),
                ("colour", Encoding::HashedOneHot, 1, 8),
                ("review", Encoding::TfIdf, 9, 64),
                (
                    "photo",
                    Encoding::Pixels {
                        width: 2,
                        height: 1,
                        channels: 1
                    },
                    73,
                    2
                ),
                ("embedding", Encoding::Embedding, 75, 2),
            ]
        );
        assert_eq!(featurizer.skipped_columns(), ["meta"]);
        assert_eq!((features.rows(), features.columns()), (5, 77));
        let row = features.row(4);
        // Age 4 of 0..=4: mean 2, population deviation sqrt(2).
        assert!((row[0] - 2.0 / 2f32.sqrt()).abs() < 1e-6);
        assert_eq!(
            row[1..9]
                .iter()
                .filter(|v| (v.abs() - 1.0).abs() < f32::EPSILON)
                .count(),
            1
        );
        let text_length: f32 = row[9..73].iter().map(|v| v * v).sum();
        assert!((text_length - 1.0).abs() < 1e-5);
        assert_eq!(&row[73..75], &[0.0, 200.0 / 255.0]);
        assert_eq!(&row[75..77], &[0.5, 4.0]);
        assert_eq!(features.blocks(), featurizer.blocks());
    }

    #[test]
    fn transform_is_deterministic_and_row_by_row() {
        // More records than one parallel chunk, so rows cross chunk boundaries.
        let rows = (0..2 * CHUNK + 17)
            .map(|i| {
                vec![
                    Value::Text(format!("text {} and {}", i % 7, i % 11)),
                    Value::Int(i64::try_from(i % 13).unwrap()),
                ]
            })
            .collect();
        let (schema, records) = dataset(
            &[("body", ColumnKind::Text), ("count", ColumnKind::Integer)],
            rows,
        );
        let featurizer = Featurizer::fit(&records, &schema).unwrap();
        let features = featurizer.transform(&records).unwrap();
        assert_eq!(features, featurizer.transform(&records).unwrap());
        assert_eq!(featurizer, Featurizer::fit(&records, &schema).unwrap());
        let some = [5, CHUNK + 3, 2 * CHUNK + 16];
        let subset: Vec<&Record> = some.iter().map(|&row| &records[row]).collect();
        assert_eq!(
            featurizer.transform(subset).unwrap(),
            features.select_rows(&some),
            "a record's features do not depend on the records around it"
        );
        // Owned records stream as well as borrowed ones.
        assert_eq!(featurizer.transform(records).unwrap(), features);
    }

    #[test]
    fn the_seed_changes_hashed_features_only() {
        let (schema, records) = mixed();
        let with_seed = |seed| {
            Featurizer::params()
                .seed(seed)
                .check()
                .unwrap()
                .fit_transform(&records, &schema)
                .unwrap()
                .1
        };
        let (a, b) = (with_seed(1), with_seed(2));
        let column = |features: &Features, range: std::ops::Range<usize>| {
            (0..features.rows())
                .flat_map(|row| features.row(row)[range.clone()].to_vec())
                .collect::<Vec<f32>>()
        };
        assert_eq!(column(&a, 0..1), column(&b, 0..1));
        assert_ne!(column(&a, 1..1 + 1024), column(&b, 1..1 + 1024));
    }

    #[test]
    fn bad_values_name_the_record_and_column() {
        let (schema, records) = dataset(
            &[("photo", ColumnKind::Image)],
            vec![
                vec![grey(vec![1, 2])],
                vec![Value::Null],
                vec![Value::Image(Image {
                    width: 1,
                    height: 1,
                    channels: 3,
                    pixels: vec![1, 2, 3],
                })],
            ],
        );
        let error = Featurizer::fit(&records, &schema).unwrap_err();
        assert_eq!(
            error.to_string(),
            "record `2`: column `photo` holds a 1x1x3 image, but the images are 2x1x1 (width x height x channels)"
        );
        let featurizer = Featurizer::fit(&records[..2], &schema).unwrap();
        assert!(featurizer.transform(&records).is_err());
        assert_eq!(
            featurizer.transform(&records[..2]).unwrap().data(),
            &[1.0 / 255.0, 2.0 / 255.0, 0.0, 0.0],
            "a missing image is black"
        );

        let (schema, records) = dataset(
            &[("vector", ColumnKind::Vector)],
            vec![
                vec![Value::List(vec![Value::Int(1)])],
                vec![Value::List(vec![Value::Int(1), Value::Int(2)])],
            ],
        );
        assert_eq!(
            Featurizer::fit(&records, &schema).unwrap_err().to_string(),
            "record `1`: column `vector` holds a vector of 2 numbers, but the first had 1"
        );

        let (schema, records) =
            dataset(&[("label", ColumnKind::Integer)], vec![vec![Value::Int(1)]]);
        assert_eq!(
            Featurizer::fit(&records, &schema).unwrap_err().to_string(),
            "no column can be featurized (columns: `label` (integer label))"
        );
        let (schema, records) = dataset(&[("photo", ColumnKind::Image)], vec![vec![Value::Null]]);
        assert_eq!(
            Featurizer::fit(&records, &schema).unwrap_err().to_string(),
            "image column `photo` has no image to learn the image size from"
        );
    }

    #[test]
    fn params_are_checked() {
        assert_eq!(
            Featurizer::params()
                .text_buckets(0)
                .check()
                .unwrap_err()
                .to_string(),
            "`text_buckets` must be between 1 and 1048576, found `0`"
        );
        assert!(
            Featurizer::params()
                .categorical_buckets(1 << 21)
                .check()
                .is_err()
        );
        assert!(Featurizer::params().text_buckets(1 << 20).check().is_ok());
    }
}
