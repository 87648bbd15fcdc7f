//! Near-duplicate text by `MinHash` over word shingles, with locality-sensitive banding.
//!
//! A text becomes the set of its `w`-word shingles (lower-cased words, so case and punctuation
//! edits are free). The Jaccard similarity of two such sets is the probability that one random
//! permutation of all shingles puts the same shingle first in both (Broder, 1997), so a
//! signature of `BANDS * ROWS` minima under independent hash functions estimates it. Banding
//! (Indyk and Motwani, 1998; Leskovec, Rajaraman and Ullman, "Mining of Massive Datasets",
//! chapter 3.4) makes records with similar signatures share a bucket: with 20 bands of 5 rows a
//! pair at Jaccard 0.8 becomes a candidate with probability `1 - (1 - 0.8^5)^20 > 0.999`, a pair
//! at 0.3 with 0.05. Candidates are then confirmed by the exact Jaccard similarity of their
//! shingle sets, so the estimate only decides which pairs are looked at.

use antidote_core::math::jaccard;
use rayon::prelude::*;

use super::groups::{UnionFind, link_buckets, mix};

/// Bands of the signature; each band is one bucket per record.
const BANDS: usize = 20;
/// Minima per band.
const ROWS: usize = 5;

/// A record's text as a sorted, deduplicated set of shingle hashes.
pub(crate) fn shingles(text: &str, words_per_shingle: usize, seed: u64) -> Vec<u64> {
    let words: Vec<u64> = text
        .split(|character: char| !character.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut hash = mix(seed ^ 0x7465_7874);
            for character in word.chars().flat_map(char::to_lowercase) {
                hash = mix(hash ^ u64::from(character));
            }
            hash
        })
        .collect();
    if words.is_empty() {
        return Vec::new();
    }
    // A text shorter than one shingle is one shingle of all its words.
    let width = words_per_shingle.min(words.len());
    let mut set: Vec<u64> = words
        .windows(width)
        .map(|window| {
            window
                .iter()
                .fold(mix(seed ^ width as u64), |hash, &word| mix(hash ^ word))
        })
        .collect();
    set.sort_unstable();
    set.dedup();
    set
}

/// The `MinHash` signature of a non-empty shingle set.
fn signature(set: &[u64], seed: u64) -> [u64; BANDS * ROWS] {
    let mut minima = [u64::MAX; BANDS * ROWS];
    for (function, minimum) in minima.iter_mut().enumerate() {
        let salt = mix(seed ^ (function as u64).wrapping_mul(0xA076_1D64_78BD_642F));
        *minimum = set
            .iter()
            .map(|&shingle| mix(shingle ^ salt))
            .min()
            .unwrap_or(u64::MAX);
    }
    minima
}

/// Joins the records whose texts have a shingle Jaccard similarity of at least `threshold`.
/// `shingle_sets[record]` is the record's shingle set, empty when it has no text (or when it
/// stands in an exact-duplicate group whose first member represents it). Returns the number of
/// joins.
pub(crate) fn link_near_texts(
    shingle_sets: &[Vec<u64>],
    threshold: f64,
    seed: u64,
    sets: &mut UnionFind,
) -> usize {
    let band_keys: Vec<Option<[u64; BANDS]>> = shingle_sets
        .par_iter()
        .map(|set| {
            if set.is_empty() {
                return None;
            }
            let minima = signature(set, seed);
            let mut keys = [0u64; BANDS];
            for (band, key) in keys.iter_mut().enumerate() {
                *key = minima[band * ROWS..(band + 1) * ROWS]
                    .iter()
                    .fold(mix(band as u64), |hash, &minimum| mix(hash ^ minimum));
            }
            Some(keys)
        })
        .collect();
    let entries: Vec<(u64, usize)> = band_keys
        .iter()
        .enumerate()
        .filter_map(|(record, keys)| keys.map(|keys| (record, keys)))
        .flat_map(|(record, keys)| keys.into_iter().map(move |key| (key, record)))
        .collect();
    link_buckets(entries, sets, |first, second| {
        jaccard(&shingle_sets[first], &shingle_sets[second]) >= threshold
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shingles_ignore_case_and_punctuation() {
        let first = shingles("The quick brown fox, jumps!", 2, 1);
        let second = shingles("the QUICK brown fox jumps", 2, 1);
        assert_eq!(first, second);
        assert_eq!(first.len(), 4);
        assert_eq!(shingles("one", 2, 1).len(), 1);
        assert!(shingles(" ,. ", 2, 1).is_empty());
    }

    #[test]
    fn jaccard_of_known_sets() {
        assert!((jaccard(&[1, 2, 3, 4], &[2, 3, 4, 5]) - 0.6).abs() < 1e-12);
        assert!((jaccard(&[1, 2], &[3]) - 0.0).abs() < 1e-12);
        assert!((jaccard::<u64>(&[], &[]) - 1.0).abs() < 1e-12);
    }
}
