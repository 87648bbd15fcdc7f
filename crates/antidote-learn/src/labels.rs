//! The mapping between label strings and class indices.

use std::collections::HashMap;

use antidote_data::Record;

/// The classes of a dataset, sorted, each with its index `0..len()`.
///
/// Labels sort as numbers when every label is an integer (`2` before `10`, as
/// scikit-learn's `LabelEncoder` orders integer labels) and as strings otherwise, so the same
/// set of labels always gets the same indices.
///
/// ```
/// use antidote_learn::LabelIndex;
///
/// let index = LabelIndex::from_labels(["cat", "dog", "cat", "ant"]);
/// assert_eq!(index.labels(), ["ant", "cat", "dog"]);
/// assert_eq!(index.index("dog"), Some(2));
/// assert_eq!(LabelIndex::from_labels(["10", "9", "-1"]).labels(), ["-1", "9", "10"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelIndex {
    labels: Vec<String>,
    indices: HashMap<String, usize>,
}

/// A record whose label cannot be turned into a class index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// The record has no label.
    #[error("record `{id}` has no label")]
    Missing {
        /// The record's id.
        id: String,
    },
    /// The record's label is not one of the known classes.
    #[error("record `{id}` has label `{label}`, which is not one of the {classes} known classes")]
    Unknown {
        /// The record's id.
        id: String,
        /// Its label.
        label: String,
        /// How many classes are known.
        classes: usize,
    },
}

impl LabelIndex {
    /// The index of the distinct `labels`.
    pub fn from_labels<I, S>(labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut distinct: Vec<String> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for label in labels {
            let label = label.as_ref();
            if !seen.contains_key(label) {
                seen.insert(label.to_owned(), 0);
                distinct.push(label.to_owned());
            }
        }
        let integers: Option<Vec<i64>> = distinct.iter().map(|label| label.parse().ok()).collect();
        match integers {
            Some(integers) => {
                let mut pairs: Vec<(i64, String)> = integers.into_iter().zip(distinct).collect();
                // Equal integers with different spellings (`1`, `01`) keep a fixed order.
                pairs.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
                distinct = pairs.into_iter().map(|(_, label)| label).collect();
            }
            None => distinct.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes())),
        }
        let indices = distinct
            .iter()
            .enumerate()
            .map(|(index, label)| (label.clone(), index))
            .collect();
        Self {
            labels: distinct,
            indices,
        }
    }

    /// The index of the labels of `records`; records without a label are ignored.
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a Record>) -> Self {
        Self::from_labels(
            records
                .into_iter()
                .filter_map(|record| record.label.as_deref()),
        )
    }

    /// The number of classes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no classes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The labels, in index order.
    #[must_use]
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The index of `label`, if it is a known class.
    #[must_use]
    pub fn index(&self, label: &str) -> Option<usize> {
        self.indices.get(label).copied()
    }

    /// The label of class `index`, if there is one.
    #[must_use]
    pub fn label(&self, index: usize) -> Option<&str> {
        self.labels.get(index).map(String::as_str)
    }

    /// The class index of every record, in order.
    pub fn encode<'a>(
        &self,
        records: impl IntoIterator<Item = &'a Record>,
    ) -> Result<Vec<usize>, LabelError> {
        records
            .into_iter()
            .map(|record| {
                let label = record.label.as_deref().ok_or_else(|| LabelError::Missing {
                    id: record.id.to_string(),
                })?;
                self.index(label).ok_or_else(|| LabelError::Unknown {
                    id: record.id.to_string(),
                    label: label.to_owned(),
                    classes: self.len(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, label: Option<&str>) -> Record {
        Record {
            position: 0,
            id: id.into(),
            label: label.map(str::to_owned),
            source: None,
            fields: Vec::new(),
        }
    }

    #[test]
    fn strings_sort_bytewise_and_integers_numerically() {
        let index = LabelIndex::from_labels(["b", "a", "B", "b"]);
        assert_eq!(index.labels(), ["B", "a", "b"]);
        let index = LabelIndex::from_labels(["10", "2", "1", "2"]);
        assert_eq!(index.labels(), ["1", "2", "10"]);
        assert_eq!(index.index("10"), Some(2));
        assert_eq!(index.label(0), Some("1"));
        assert_eq!(index.label(3), None);
        // One non-integer makes every label a string.
        let index = LabelIndex::from_labels(["10", "2", "x"]);
        assert_eq!(index.labels(), ["10", "2", "x"]);
    }

    #[test]
    fn encodes_records_and_names_the_bad_one() {
        let records = [record("r0", Some("dog")), record("r1", Some("cat"))];
        let index = LabelIndex::from_records(&records);
        assert_eq!(index.encode(&records).unwrap(), vec![1, 0]);
        let error = index.encode(&[record("r2", None)]).unwrap_err().to_string();
        assert_eq!(error, "record `r2` has no label");
        let error = index
            .encode(&[record("r3", Some("emu"))])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "record `r3` has label `emu`, which is not one of the 2 known classes"
        );
    }
}
