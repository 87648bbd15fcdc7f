//! Near-duplicate embeddings by cosine similarity, found with random-hyperplane hashing.
//!
//! The sign of a vector's projection on a random Gaussian direction is one bit, and two vectors
//! at angle `θ` get the same bit with probability `1 - θ/π` (Charikar, 2002, "Similarity
//! estimation techniques from rounding algorithms", STOC). Bands of 24 such bits make
//! buckets: a pair at cosine 0.99 (`θ` = 0.14) shares one band's bucket with probability
//! `0.955^24 = 0.33`, and one of 32 bands with probability 0.99998, while a pair at cosine 0.5
//! shares a band with probability `32 · 0.667^24 ≈ 2e-3`. Candidates are confirmed by their
//! exact cosine. The image search uses the same bands on other vectors.
//!
//! Vectors are centred on the mean of the dataset first. Near-duplicates stay near-duplicates
//! under any shift, but representations from a network (non-negative activations after a
//! `ReLU`) share a large common offset that makes every pair look alike; centring removes it so
//! that buckets stay small and the cosine measures what differs between records.

use antidote_core::SplitMix64;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::groups::{UnionFind, link_buckets, mix};

/// Bits per band for embeddings: a pair at cosine 0.99 shares one band with probability
/// `0.955^24 = 0.33`, and one of 32 bands with probability 0.99998.
const EMBEDDING_BITS: usize = 24;
/// Bands for embeddings.
const EMBEDDING_BANDS: usize = 32;
/// Rows per parallel block, fixed so that results do not depend on the thread count.
const BLOCK_ROWS: usize = 2048;

/// One bucket entry per band for every row of `rows` (row-major, `width` values each): the
/// signs of `bits` random Gaussian projections per band, mixed with the band's index.
/// `members[slot]` is the dataset index of row `slot`, which the entries carry.
pub(crate) fn band_entries(
    rows: &[f32],
    width: usize,
    members: &[usize],
    bits: usize,
    bands: usize,
    random: &mut SplitMix64,
) -> Vec<(u64, usize)> {
    let planes = bits * bands;
    let hyperplanes: Vec<f32> = (0..width * planes)
        .map(|_| random.normal() as f32)
        .collect();
    let keys: Vec<u64> = rows
        .par_chunks(BLOCK_ROWS * width)
        .flat_map_iter(|block| {
            let count = block.len() / width;
            let mut projections = vec![0.0f32; count * planes];
            matmul(
                MatMut::from_row_major_slice_mut(&mut projections, count, planes),
                Accum::Replace,
                MatRef::from_row_major_slice(block, count, width),
                MatRef::from_row_major_slice(&hyperplanes, width, planes),
                1.0,
                Par::Seq,
            );
            projections
                .chunks_exact(bits)
                .enumerate()
                .map(|(position, signs)| {
                    let band = (position % bands) as u64;
                    let pattern = signs
                        .iter()
                        .enumerate()
                        .filter(|&(_, &value)| value > 0.0)
                        .fold(0u64, |pattern, (bit, _)| pattern | (1 << bit));
                    mix(mix(band) ^ pattern)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    keys.chunks_exact(bands)
        .zip(members)
        .flat_map(|(keys, &record)| keys.iter().map(move |&key| (key, record)))
        .collect()
}

/// Joins the records whose centred embeddings have a cosine similarity of at least
/// `threshold`. `embedding` is row-major, `width` values per record; only the records with
/// `included[record]` take part (the others have no embedding, or are represented by another
/// member of their exact-duplicate group). Returns the number of joins.
pub(crate) fn link_near_embeddings(
    embedding: &[f32],
    width: usize,
    included: &[bool],
    threshold: f64,
    seed: u64,
    sets: &mut UnionFind,
) -> usize {
    let members: Vec<usize> = (0..included.len())
        .filter(|&record| included[record])
        .collect();
    if members.len() < 2 || width == 0 {
        return 0;
    }
    let unit = centred_unit_rows(embedding, width, &members);
    let mut random = SplitMix64::derived(seed, "duplicates/embedding-hyperplanes");
    let entries = band_entries(
        &unit,
        width,
        &members,
        EMBEDDING_BITS,
        EMBEDDING_BANDS,
        &mut random,
    );
    let mut slot_of_record = vec![usize::MAX; included.len()];
    for (slot, &record) in members.iter().enumerate() {
        slot_of_record[record] = slot;
    }
    link_buckets(entries, sets, |first, second| {
        let (first, second) = (slot_of_record[first], slot_of_record[second]);
        let dot: f64 = unit[first * width..(first + 1) * width]
            .iter()
            .zip(&unit[second * width..(second + 1) * width])
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum();
        dot >= threshold
    })
}

/// The members' rows, centred on their mean and scaled to unit length (a zero row stays zero,
/// and is similar to nothing).
fn centred_unit_rows(embedding: &[f32], width: usize, members: &[usize]) -> Vec<f32> {
    let mut mean = vec![0.0f64; width];
    for &record in members {
        for (total, &value) in mean
            .iter_mut()
            .zip(&embedding[record * width..(record + 1) * width])
        {
            *total += f64::from(value);
        }
    }
    for total in &mut mean {
        *total /= members.len() as f64;
    }
    let mut unit = Vec::with_capacity(members.len() * width);
    for &record in members {
        let start = unit.len();
        unit.extend(
            embedding[record * width..(record + 1) * width]
                .iter()
                .zip(&mean)
                .map(|(&value, centre)| (f64::from(value) - centre) as f32),
        );
        let row = &mut unit[start..];
        let norm = row
            .iter()
            .map(|&value| f64::from(value) * f64::from(value))
            .sum::<f64>()
            .sqrt();
        if norm > 0.0 {
            for value in row {
                *value = (f64::from(*value) / norm) as f32;
            }
        }
    }
    unit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_vectors_join_and_distant_ones_do_not() {
        let mut random = SplitMix64::new(5);
        let width = 16;
        let mut embedding: Vec<f32> = (0..40 * width).map(|_| random.normal() as f32).collect();
        // Records 38 and 39 are record 3 plus a little noise.
        for copy in [38, 39] {
            for column in 0..width {
                embedding[copy * width + column] =
                    embedding[3 * width + column] + 0.02 * random.normal() as f32;
            }
        }
        let mut sets = UnionFind::new(40);
        let joins = link_near_embeddings(&embedding, width, &[true; 40], 0.98, 1, &mut sets);
        assert_eq!(joins, 2);
        assert_eq!(sets.groups(), [vec![3, 38, 39]]);
    }
}
