//! Text, as hashed word and character n-grams with TF-IDF weights.
//!
//! A text is lowercased and split into words (maximal runs of letters, digits and `_`). Its terms
//! are every word, every pair of adjacent words, and the character 3-, 4- and 5-grams of each word
//! padded with a space on both sides (scikit-learn's `char_wb` analyzer), so that a rare token
//! like `cf` and a trigger phrase of common words both become features, and a misspelt word
//! still shares most of its features with the right one.
//!
//! Each term is hashed into one of `buckets` buckets with a sign (see [`crate::hash`]); a text's
//! term frequency in a bucket is the signed count of its terms there. The weights are those of
//! scikit-learn's `HashingVectorizer(alternate_sign=True)` followed by
//! `TfidfTransformer(smooth_idf=True, norm="l2")`: `tf * idf`, with
//! `idf = ln((1 + documents) / (1 + document_frequency)) + 1`, and each text's vector scaled to
//! unit length.
//!
//! Terms are produced as a sparse list sorted by bucket ([`TextHasher::term_frequencies`]), so a
//! sparse feature matrix can later take them as they are.

use antidote_data::Value;

use crate::hash::{bucket_and_sign, derive_seed, hash_bytes, hash_pair};

/// The shortest and longest character n-grams.
const CHAR_NGRAMS: std::ops::RangeInclusive<usize> = 3..=5;

/// Hashes a text's terms into buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct TextHasher {
    buckets: usize,
    char_ngrams: bool,
    word_seed: u64,
    bigram_seed: u64,
    char_seed: u64,
}

impl TextHasher {
    pub(crate) fn new(buckets: usize, seed: u64, char_ngrams: bool) -> Self {
        Self {
            buckets,
            char_ngrams,
            word_seed: derive_seed(seed, "word"),
            bigram_seed: derive_seed(seed, "bigram"),
            char_seed: derive_seed(seed, "char"),
        }
    }

    pub(crate) fn buckets(&self) -> usize {
        self.buckets
    }

    /// Calls `emit` with the hash of every term of `text`, in order.
    fn for_each_term(&self, text: &str, mut emit: impl FnMut(u64)) {
        let lower = text.to_lowercase();
        let mut previous = None;
        let mut padded = String::new();
        let mut boundaries = Vec::new();
        for word in lower
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|word| !word.is_empty())
        {
            let hash = hash_bytes(word.as_bytes(), self.word_seed);
            emit(hash);
            if let Some(previous) = previous {
                emit(hash_pair(previous, hash, self.bigram_seed));
            }
            previous = Some(hash);
            if !self.char_ngrams {
                continue;
            }

            padded.clear();
            padded.push(' ');
            padded.push_str(word);
            padded.push(' ');
            boundaries.clear();
            boundaries.extend(padded.char_indices().map(|(at, _)| at));
            boundaries.push(padded.len());
            let chars = boundaries.len() - 1;
            let bytes = padded.as_bytes();
            for length in CHAR_NGRAMS {
                for start in 0..(chars + 1).saturating_sub(length) {
                    let gram = &bytes[boundaries[start]..boundaries[start + length]];
                    emit(hash_bytes(gram, self.char_seed));
                }
            }
        }
    }

    /// The signed term frequency of every bucket that `text` reaches, sorted by bucket; buckets
    /// whose terms cancel out are left out.
    pub(crate) fn term_frequencies(&self, text: &str) -> Vec<(u32, f32)> {
        let mut terms: Vec<(u32, f32)> = Vec::new();
        self.for_each_term(text, |hash| {
            let (bucket, sign) = bucket_and_sign(hash, self.buckets);
            terms.push((bucket as u32, sign));
        });
        terms.sort_unstable_by_key(|(bucket, _)| *bucket);
        let mut merged: Vec<(u32, f32)> = Vec::with_capacity(terms.len());
        for (bucket, sign) in terms {
            match merged.last_mut() {
                Some((last, count)) if *last == bucket => *count += sign,
                _ => merged.push((bucket, sign)),
            }
        }
        merged.retain(|(_, count)| *count != 0.0);
        merged
    }
}

/// The text of a value: a string as it is, a number or boolean in its label form, nothing for a
/// missing value.
pub(crate) fn text_of(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match value {
        Value::Null => None,
        Value::Text(text) => Some(text.as_str().into()),
        other => other.to_label().map(Into::into),
    }
}

/// Document frequencies, counted in one pass.
#[derive(Debug, Clone)]
pub(crate) struct TextStats {
    documents: u64,
    document_frequency: Vec<u32>,
}

impl TextStats {
    pub(crate) fn new(buckets: usize) -> Self {
        Self {
            documents: 0,
            document_frequency: vec![0; buckets],
        }
    }

    /// Counts one document by the buckets its terms reach (as [`TextHasher::term_frequencies`]
    /// gives them); a missing text counts as an empty document.
    pub(crate) fn observe(&mut self, terms: &[(u32, f32)]) {
        self.documents += 1;
        for (bucket, _) in terms {
            self.document_frequency[*bucket as usize] += 1;
        }
    }

    pub(crate) fn finish(&self, hasher: TextHasher) -> Text {
        let documents = self.documents as f64;
        let idf = self
            .document_frequency
            .iter()
            .map(|&frequency| {
                (((1.0 + documents) / (1.0 + f64::from(frequency))).ln() + 1.0) as f32
            })
            .collect();
        Text { hasher, idf }
    }
}

/// A fitted TF-IDF encoding.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Text {
    pub(crate) hasher: TextHasher,
    idf: Vec<f32>,
}

impl Text {
    /// Writes the text's unit-length TF-IDF vector into `out` (`buckets` wide).
    pub(crate) fn encode(&self, value: &Value, out: &mut [f32]) {
        let Some(text) = text_of(value) else {
            return;
        };
        let mut terms = self.hasher.term_frequencies(&text);
        let mut squared_norm = 0.0f64;
        for (bucket, weight) in &mut terms {
            *weight *= self.idf[*bucket as usize];
            squared_norm += f64::from(*weight) * f64::from(*weight);
        }
        if squared_norm > 0.0 {
            let inverse_norm = (1.0 / squared_norm.sqrt()) as f32;
            for (bucket, weight) in terms {
                out[bucket as usize] = weight * inverse_norm;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The terms of a text by name, to check the analyzer without hashing.
    fn term_count(text: &str) -> usize {
        let mut count = 0;
        TextHasher::new(1 << 20, 0, true).for_each_term(text, |_| count += 1);
        count
    }

    #[test]
    fn without_character_ngrams_terms_are_words_and_word_pairs() {
        let mut count = 0;
        TextHasher::new(1 << 20, 0, false).for_each_term("Buy cf now", |_| count += 1);
        // buy, cf, now, (buy cf), (cf now).
        assert_eq!(count, 5);
    }

    #[test]
    fn terms_are_words_bigrams_and_padded_character_ngrams() {
        // "a": the word, and the 3-gram " a " of the padded word.
        assert_eq!(term_count("a"), 2);
        // "cf": word, " cf" "cf " (3), " cf " (4): 4 terms.
        assert_eq!(term_count("cf"), 4);
        // "ab cd": 2 words, 1 bigram, 2 × (2 + 1) character grams.
        assert_eq!(term_count("ab cd"), 9);
        // Case, punctuation and spacing do not matter.
        let hasher = TextHasher::new(1 << 16, 3, true);
        assert_eq!(
            hasher.term_frequencies("Hello,   WORLD!"),
            hasher.term_frequencies("hello world")
        );
        assert_ne!(
            hasher.term_frequencies("world hello"),
            hasher.term_frequencies("hello world"),
            "bigrams keep the word order"
        );
        assert!(hasher.term_frequencies("  ,. ").is_empty());
        // Characters beyond ASCII are grams of characters, not of bytes.
        assert_eq!(term_count("été"), 1 + 3 + 2 + 1);
    }

    #[test]
    fn repeated_terms_count() {
        let hasher = TextHasher::new(1 << 16, 3, true);
        let once = hasher.term_frequencies("ab");
        let twice = hasher.term_frequencies("ab ab");
        // Twice the counts of "ab", plus one bigram "ab ab".
        assert_eq!(twice.len(), once.len() + 1);
        for (bucket, count) in &once {
            let doubled = twice.iter().find(|(other, _)| other == bucket).unwrap().1;
            assert!((doubled - 2.0 * count).abs() < f32::EPSILON);
        }
    }

    /// A corpus small enough to weigh by hand, with enough buckets that nothing collides:
    /// "a b" has the terms a, b, "a b", " a ", " b "; "a c" has a, c, "a c", " a ", " c ".
    /// a and " a " are in both documents (idf = ln(3/3) + 1 = 1); the other three terms of each
    /// are in one (idf = ln(3/2) + 1). scikit-learn's `TfidfVectorizer` gives the same weights.
    #[test]
    fn tf_idf_of_a_tiny_corpus() {
        let hasher = TextHasher::new(1 << 20, 0, true);
        let mut stats = TextStats::new(hasher.buckets());
        for text in ["a b", "a c"] {
            stats.observe(&hasher.term_frequencies(text));
        }
        let text = stats.finish(hasher);
        let mut out = vec![0.0f32; hasher.buckets()];
        text.encode(&Value::Text("a b".into()), &mut out);
        let mut weights: Vec<f32> = out
            .iter()
            .copied()
            .filter(|w| *w != 0.0)
            .map(f32::abs)
            .collect();
        weights.sort_by(f32::total_cmp);
        let rare = 1.5f64.ln() + 1.0;
        let norm = (2.0 + 3.0 * rare * rare).sqrt();
        let expected = [
            1.0 / norm,
            1.0 / norm,
            rare / norm,
            rare / norm,
            rare / norm,
        ];
        assert_eq!(weights.len(), expected.len());
        for (weight, expected) in weights.iter().zip(expected) {
            assert!((f64::from(*weight) - expected).abs() < 1e-6, "{weights:?}");
        }
        let length: f32 = out.iter().map(|w| w * w).sum();
        assert!((length - 1.0).abs() < 1e-6);
        // A term never seen while fitting gets the largest idf: ln(3/1) + 1.
        let mut unseen = vec![0.0f32; hasher.buckets()];
        text.encode(&Value::Text("zz".into()), &mut unseen);
        let values: Vec<f32> = unseen.iter().copied().filter(|w| *w != 0.0).collect();
        assert_eq!(values.len(), 4, "all four terms of `zz` share one weight");
        assert!(values.iter().all(|w| (w.abs() - 0.5).abs() < 1e-6));
        let mut missing = vec![0.0f32; hasher.buckets()];
        text.encode(&Value::Null, &mut missing);
        assert!(missing.iter().all(|w| *w == 0.0));
    }
}
