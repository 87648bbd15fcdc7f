//! The feature matrix that featurizers produce and learners read.

use std::fmt;

/// A dense feature matrix: `rows` records by `columns` features, row-major, `f32`.
///
/// Each record's features are one contiguous row, so a learner can hand the matrix to a BLAS-like
/// kernel as it is and a detector can take a record's representation as a slice
/// ([`Features::row`]). [`Features::blocks`] says which dataset column each range of features
/// came from and how it was encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    rows: usize,
    columns: usize,
    data: Vec<f32>,
    blocks: Vec<FeatureBlock>,
}

/// A contiguous range of feature columns that encode one dataset column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeatureBlock {
    /// The dataset column the features come from.
    pub column: String,
    /// How it was encoded.
    pub encoding: Encoding,
    /// The first feature column of the block.
    pub start: usize,
    /// How many feature columns the block has.
    pub width: usize,
}

/// How a dataset column became features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// One number, standardised to zero mean and unit variance (missing values become 0).
    Standardized,
    /// A category hashed into signed one-hot buckets.
    HashedOneHot,
    /// Word unigrams and bigrams and character 3- to 5-grams, hashed into buckets, TF-IDF
    /// weighted and L2-normalised.
    TfIdf,
    /// Pixels divided by 255, row-major with channels interleaved.
    Pixels {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Channels per pixel.
        channels: u8,
    },
    /// A vector supplied by the user, as given.
    Embedding,
    /// Features supplied directly as a matrix ([`Features::from_row_major`]).
    Raw,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Standardized => f.write_str("standardized"),
            Self::HashedOneHot => f.write_str("hashed one-hot"),
            Self::TfIdf => f.write_str("tf-idf"),
            Self::Pixels {
                width,
                height,
                channels,
            } => write!(f, "pixels {width}x{height}x{channels}"),
            Self::Embedding => f.write_str("embedding"),
            Self::Raw => f.write_str("raw"),
        }
    }
}

/// A matrix whose data does not have `rows * columns` values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {rows}x{columns} matrix needs {expected} values, found {found}")]
pub struct ShapeError {
    /// Rows asked for.
    pub rows: usize,
    /// Columns asked for.
    pub columns: usize,
    /// `rows * columns`.
    pub expected: usize,
    /// Values given.
    pub found: usize,
}

impl Features {
    /// A matrix from row-major data, with one block of [`Encoding::Raw`] features named `column`.
    pub fn from_row_major(
        rows: usize,
        columns: usize,
        data: Vec<f32>,
        column: &str,
    ) -> Result<Self, ShapeError> {
        let blocks = vec![FeatureBlock {
            column: column.to_owned(),
            encoding: Encoding::Raw,
            start: 0,
            width: columns,
        }];
        Self::with_blocks(rows, columns, data, blocks)
    }

    /// A matrix from row-major data and the blocks that describe its columns.
    pub(crate) fn with_blocks(
        rows: usize,
        columns: usize,
        data: Vec<f32>,
        blocks: Vec<FeatureBlock>,
    ) -> Result<Self, ShapeError> {
        let expected = rows.saturating_mul(columns);
        if data.len() != expected {
            return Err(ShapeError {
                rows,
                columns,
                expected,
                found: data.len(),
            });
        }
        Ok(Self {
            rows,
            columns,
            data,
            blocks,
        })
    }

    /// A matrix whose shape the caller has made right.
    pub(crate) fn from_parts(
        rows: usize,
        columns: usize,
        data: Vec<f32>,
        blocks: Vec<FeatureBlock>,
    ) -> Self {
        debug_assert_eq!(data.len(), rows * columns);
        Self {
            rows,
            columns,
            data,
            blocks,
        }
    }

    /// The number of records.
    #[must_use]
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The number of features per record.
    #[must_use]
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// All values, row-major.
    #[must_use]
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The values, row-major, giving up the description.
    #[must_use]
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// The features of record `row`.
    ///
    /// # Panics
    ///
    /// If `row` is not less than [`Features::rows`].
    #[must_use]
    pub fn row(&self, row: usize) -> &[f32] {
        assert!(row < self.rows, "row {row} of {} rows", self.rows);
        &self.data[row * self.columns..(row + 1) * self.columns]
    }

    /// Which dataset column each range of feature columns encodes, in column order.
    #[must_use]
    pub fn blocks(&self) -> &[FeatureBlock] {
        &self.blocks
    }

    /// A copy in which each value is `map(column, value)`.
    #[must_use]
    pub fn map_by_column(&self, map: impl Fn(usize, f32) -> f32) -> Features {
        let columns = self.columns.max(1);
        Features {
            rows: self.rows,
            columns: self.columns,
            data: self
                .data
                .iter()
                .enumerate()
                .map(|(position, &value)| map(position % columns, value))
                .collect(),
            blocks: self.blocks.clone(),
        }
    }

    /// The matrix of the records `rows`, in that order (a record may repeat).
    ///
    /// # Panics
    ///
    /// If a row index is not less than [`Features::rows`].
    #[must_use]
    pub fn select_rows(&self, rows: &[usize]) -> Features {
        let mut data = Vec::with_capacity(rows.len() * self.columns);
        for &row in rows {
            data.extend_from_slice(self.row(row));
        }
        Features {
            rows: rows.len(),
            columns: self.columns,
            data,
            blocks: self.blocks.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_is_checked_and_rows_are_slices() {
        let error = Features::from_row_major(2, 3, vec![0.0; 5], "x").unwrap_err();
        assert_eq!(error.to_string(), "a 2x3 matrix needs 6 values, found 5");
        let features = Features::from_row_major(2, 2, vec![1.0, 2.0, 3.0, 4.0], "x").unwrap();
        assert_eq!(features.row(1), &[3.0, 4.0]);
        let selected = features.select_rows(&[1, 1, 0]);
        assert_eq!(selected.data(), &[3.0, 4.0, 3.0, 4.0, 1.0, 2.0]);
        assert_eq!(selected.blocks()[0].encoding, Encoding::Raw);
        let shifted = features.map_by_column(|column, value| value + column as f32);
        assert_eq!(shifted.data(), &[1.0, 3.0, 3.0, 5.0]);
    }
}
