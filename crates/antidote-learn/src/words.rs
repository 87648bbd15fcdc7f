//! Text as the presence of words, the features a bag-of-words model (the kind text backdoors are
//! aimed at) reads.

use std::collections::{BTreeSet, HashMap};

use antidote_core::words::lower_words;
use antidote_data::{Record, Value};

use crate::Features;

/// Text as the presence of words: 1 when the word is in the text, 0 otherwise, over the words
/// of at least two records, the most frequent first, as many as 1 GiB of features allows (at
/// least 1,024, at most 16,384). Words are [`antidote_core::words`]: lower-cased runs of letters
/// and digits.
///
/// Not the [`Featurizer`](crate::Featurizer)'s TF-IDF features: there a two-letter token is one
/// of hundreds of character n-grams and its weight shrinks with the length of the text, so a
/// model hardly learns `cf` from 1% of the records and stamping it moves no prediction. A
/// trigger is a word that is either there or not.
///
/// ```
/// use std::sync::Arc;
/// use antidote_core::RecordId;
/// use antidote_data::{Record, Value};
/// use antidote_learn::WordPresence;
///
/// let record = |text: &str| Record {
///     position: 0,
///     id: RecordId(text.to_owned()),
///     label: None,
///     source: None,
///     fields: vec![(Arc::from("text"), Value::Text(text.to_owned()))],
/// };
/// let records = [record("a cat"), record("a dog"), record("the cat")];
/// let words = WordPresence::fit(&records, "text");
/// // `a` and `cat` are in two records each; `dog` and `the` in one.
/// assert_eq!(words.len(), 2);
/// let features = words.transform(&[record("A CAT!")]);
/// assert_eq!(features.data(), [1.0, 1.0]);
/// ```
#[derive(Debug, Clone)]
pub struct WordPresence {
    column: String,
    vocabulary: HashMap<String, usize>,
}

impl WordPresence {
    /// The vocabulary of `column` over `records`.
    #[must_use]
    pub fn fit(records: &[Record], column: &str) -> Self {
        let mut frequency: HashMap<String, usize> = HashMap::new();
        for record in records {
            let words: BTreeSet<String> = lower_words(text_field(record, column)).collect();
            for word in words {
                *frequency.entry(word).or_default() += 1;
            }
        }
        let mut words: Vec<(String, usize)> = frequency
            .into_iter()
            .filter(|(_, count)| *count >= 2)
            .collect();
        words.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let width = ((1_usize << 28) / records.len().max(1)).clamp(1 << 10, 1 << 14);
        words.truncate(width);
        Self {
            column: column.to_owned(),
            vocabulary: words
                .into_iter()
                .enumerate()
                .map(|(index, (word, _))| (word, index))
                .collect(),
        }
    }

    /// The number of words in the vocabulary.
    #[must_use]
    pub fn len(&self) -> usize {
        self.vocabulary.len()
    }

    /// Whether no word is in at least two records.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.vocabulary.is_empty()
    }

    /// The features of `records`: one row each, one column per vocabulary word (at least one
    /// column, all zero, when the vocabulary is empty).
    ///
    /// # Panics
    ///
    /// Never: the matrix has one row of `width` values per record by construction.
    #[must_use]
    pub fn transform(&self, records: &[Record]) -> Features {
        let width = self.vocabulary.len().max(1);
        let mut data = vec![0.0_f32; records.len() * width];
        for (row, record) in data.chunks_exact_mut(width).zip(records) {
            for word in lower_words(text_field(record, &self.column)) {
                if let Some(&index) = self.vocabulary.get(&word) {
                    row[index] = 1.0;
                }
            }
        }
        Features::from_row_major(records.len(), width, data, &self.column)
            .expect("one row of `width` values per record")
    }
}

fn text_field<'a>(record: &'a Record, column: &str) -> &'a str {
    record.field(column).and_then(Value::as_text).unwrap_or("")
}
