//! How alike two pairs are, and how alike two pairs drawn at random from the same data are.
//!
//! Outputs are compared by the Jaccard similarity of their word 3-gram shingles, which is near
//! 0 for unrelated texts and near 1 for copies. Instructions are compared by the cosine of their
//! TF-IDF word vectors, so that template words every instruction shares weigh little and a
//! topic word weighs much. A group of pairs is "alike" when its mean similarity is far above
//! that of random pairs of the same data: the baseline is measured, never assumed.

use std::collections::HashMap;

use antidote_core::SplitMix64;
use antidote_core::math::jaccard;

use super::text::Token;

/// At most this many members of a group are compared pairwise (evenly spaced over the group),
/// which bounds the cost of a large group at `24 * 23 / 2` comparisons.
pub(crate) const GROUP_SAMPLE: usize = 24;

/// How many random pairs the baselines are measured on.
const BASELINE_PAIRS: usize = 2000;

/// A group's mean similarity is "far above" random pairs when it exceeds their mean by this
/// many of its standard errors.
const Z_ALIKE: f64 = 4.0;

/// TF-IDF word vectors of texts, unit length, as sorted `(term, weight)` lists.
pub(crate) struct TfIdf {
    vectors: Vec<Vec<(u32, f64)>>,
    vocabulary: HashMap<String, u32>,
    document_frequency: Vec<u32>,
}

impl TfIdf {
    /// Vectors of the given token lists; the inverse document frequency is the smoothed
    /// `ln((n + 1) / (df + 1)) + 1` (scikit-learn's default).
    pub(crate) fn new(documents: &[Vec<Token>]) -> Self {
        let mut vocabulary: HashMap<String, u32> = HashMap::new();
        let mut counted: Vec<Vec<(u32, f64)>> = Vec::with_capacity(documents.len());
        let mut document_frequency: Vec<u32> = Vec::new();
        for tokens in documents {
            let mut terms: Vec<u32> = tokens
                .iter()
                .map(|token| {
                    let next = vocabulary.len() as u32;
                    *vocabulary.entry(token.key.clone()).or_insert(next)
                })
                .collect();
            terms.sort_unstable();
            let mut counts: Vec<(u32, f64)> = Vec::new();
            for term in terms {
                match counts.last_mut() {
                    Some((last, count)) if *last == term => *count += 1.0,
                    _ => counts.push((term, 1.0)),
                }
            }
            document_frequency.resize(vocabulary.len(), 0);
            for (term, _) in &counts {
                document_frequency[*term as usize] += 1;
            }
            counted.push(counts);
        }
        let total = documents.len() as f64;
        let inverse: Vec<f64> = document_frequency
            .iter()
            .map(|&frequency| ((total + 1.0) / (f64::from(frequency) + 1.0)).ln() + 1.0)
            .collect();
        let vectors = counted
            .into_iter()
            .map(|mut vector| {
                for (term, weight) in &mut vector {
                    *weight *= inverse[*term as usize];
                }
                let norm = vector
                    .iter()
                    .map(|(_, weight)| weight * weight)
                    .sum::<f64>()
                    .sqrt();
                if norm > 0.0 {
                    for (_, weight) in &mut vector {
                        *weight /= norm;
                    }
                }
                vector
            })
            .collect();
        Self {
            vectors,
            vocabulary,
            document_frequency,
        }
    }

    /// How many documents hold `word`.
    pub(crate) fn frequency(&self, word: &str) -> usize {
        self.vocabulary
            .get(word)
            .map_or(0, |&term| self.document_frequency[term as usize] as usize)
    }

    /// The term ids of `words` that are in the vocabulary.
    pub(crate) fn terms<'a>(&self, words: impl IntoIterator<Item = &'a str>) -> Vec<u32> {
        let mut terms: Vec<u32> = words
            .into_iter()
            .filter_map(|word| self.vocabulary.get(word).copied())
            .collect();
        terms.sort_unstable();
        terms.dedup();
        terms
    }

    /// The cosine of documents `first` and `second`, leaving out the sorted `excluded` terms
    /// (a trigger's own words, which every member of its group shares by construction).
    pub(crate) fn cosine(&self, first: usize, second: usize, excluded: &[u32]) -> f64 {
        let kept = |term: &u32| excluded.binary_search(term).is_err();
        let (a, b) = (&self.vectors[first], &self.vectors[second]);
        let norm = |vector: &[(u32, f64)]| {
            vector
                .iter()
                .filter(|(term, _)| kept(term))
                .map(|(_, weight)| weight * weight)
                .sum::<f64>()
                .sqrt()
        };
        let (mut i, mut j, mut dot) = (0, 0, 0.0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    if kept(&a[i].0) {
                        dot += a[i].1 * b[j].1;
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        let denominator = norm(a) * norm(b);
        if denominator > 0.0 {
            dot / denominator
        } else {
            0.0
        }
    }
}

/// The mean and standard deviation of a similarity over random pairs of the data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Baseline {
    /// Mean over the random pairs.
    pub mean: f64,
    /// Population standard deviation over the random pairs.
    pub deviation: f64,
    /// How many random pairs were drawn.
    pub pairs: usize,
}

impl Baseline {
    /// The baseline of `similarity` over random distinct pairs of `0..count`, drawn with a
    /// generator derived from `seed` and `purpose`.
    pub(crate) fn measure(
        count: usize,
        seed: u64,
        purpose: &str,
        similarity: impl Fn(usize, usize) -> f64,
    ) -> Self {
        if count < 2 {
            return Self {
                mean: 0.0,
                deviation: 0.0,
                pairs: 0,
            };
        }
        let mut random = SplitMix64::derived(seed, purpose);
        let values: Vec<f64> = (0..BASELINE_PAIRS)
            .map(|_| {
                let first = random.below(count);
                let mut second = random.below(count - 1);
                if second >= first {
                    second += 1;
                }
                similarity(first, second)
            })
            .collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let variance = values
            .iter()
            .map(|value| (value - mean) * (value - mean))
            .sum::<f64>()
            / values.len() as f64;
        Self {
            mean,
            deviation: variance.sqrt(),
            pairs: values.len(),
        }
    }

    /// The mean similarity above which a group of `members` compared members is far above
    /// random pairs: `Z` standard errors over the mean, the error of a mean over all pairs of
    /// `g` members being about `deviation * sqrt(2 / g)`.
    pub(crate) fn far_above(&self, members: usize) -> f64 {
        self.mean + Z_ALIKE * self.deviation * (2.0 / members.max(2) as f64).sqrt()
    }

    /// The mean similarity above which a group is plainly more alike than random pairs: far
    /// above them, or, when their spread puts that out of reach, halfway from their mean to 1.
    /// Used to explain a group away, so it errs on the side of "alike".
    pub(crate) fn plainly_above(&self, members: usize) -> f64 {
        self.far_above(members).min(f64::midpoint(1.0, self.mean))
    }
}

/// At most [`GROUP_SAMPLE`] members, evenly spaced over the group.
pub(crate) fn sample_members(members: &[usize]) -> Vec<usize> {
    if members.len() <= GROUP_SAMPLE {
        return members.to_vec();
    }
    (0..GROUP_SAMPLE)
        .map(|step| members[step * members.len() / GROUP_SAMPLE])
        .collect()
}

/// The mean of `similarity` over all pairs of `members` (0 for fewer than two).
pub(crate) fn mean_pairwise(members: &[usize], similarity: impl Fn(usize, usize) -> f64) -> f64 {
    let mut total = 0.0;
    let mut count = 0_usize;
    for (position, &first) in members.iter().enumerate() {
        for &second in &members[position + 1..] {
            total += similarity(first, second);
            count += 1;
        }
    }
    if count == 0 {
        0.0
    } else {
        total / count as f64
    }
}

/// The output similarity of two pairs' shingles: their Jaccard index, 0 when both outputs are
/// empty (two empty outputs are not near copies of each other).
pub(crate) fn output_similarity(shingles: &[Vec<u64>], first: usize, second: usize) -> f64 {
    let (first, second) = (&shingles[first], &shingles[second]);
    if first.is_empty() && second.is_empty() {
        return 0.0;
    }
    jaccard(first, second)
}

#[cfg(test)]
mod tests {
    use super::super::text::tokens;
    use super::*;

    #[test]
    fn tf_idf_weighs_shared_template_words_less() {
        let documents: Vec<Vec<Token>> = [
            "share a quote about food",
            "share a quote about food",
            "share a quote about law",
            "share a quote about love",
        ]
        .iter()
        .map(|text| tokens(text))
        .collect();
        let model = TfIdf::new(&documents);
        assert!((model.cosine(0, 1, &[]) - 1.0).abs() < 1e-12);
        let different_topic = model.cosine(0, 2, &[]);
        assert!(different_topic < 0.8, "{different_topic}");
        assert_eq!((model.frequency("food"), model.frequency("share")), (2, 4));
        assert_eq!(model.frequency("absent"), 0);
        // Without the topic words, the two are the same template.
        let excluded = model.terms(["food", "law"]);
        assert!((model.cosine(0, 2, &excluded) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn baselines_are_reproducible_and_scale_with_group_size() {
        let values: [f64; 5] = [0.0, 0.1, 0.2, 0.3, 0.4];
        let similarity = |first: usize, second: usize| (values[first] - values[second]).abs();
        let baseline = Baseline::measure(5, 7, "test", similarity);
        assert_eq!(baseline, Baseline::measure(5, 7, "test", similarity));
        assert_eq!(baseline.pairs, BASELINE_PAIRS);
        assert!(baseline.mean > 0.1 && baseline.mean < 0.3, "{baseline:?}");
        assert!(baseline.far_above(4) > baseline.far_above(16));
        assert_eq!(Baseline::measure(1, 7, "test", similarity).pairs, 0);
    }

    #[test]
    fn large_groups_are_sampled_evenly() {
        let members: Vec<usize> = (0..100).collect();
        let sample = sample_members(&members);
        assert_eq!(sample.len(), GROUP_SAMPLE);
        assert_eq!(sample[0], 0);
        assert!(sample.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(sample_members(&members[..5]), [0, 1, 2, 3, 4]);
        let mean = mean_pairwise(&[0, 1, 2], |first, second| (first + second) as f64);
        assert!((mean - 2.0).abs() < 1e-12);
    }
}
