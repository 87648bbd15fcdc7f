//! Seeded 64-bit hashing for feature hashing ("the hashing trick").
//!
//! The hash is defined here rather than taken from a crate so that it never changes under us: the
//! bucket of every category and n-gram is part of what makes a scan reproducible. It reads the
//! input eight bytes at a time in little-endian order (so every platform gets the same value) and
//! ends with the `fmix64` finaliser of `MurmurHash3` (Appleby, 2011), whose avalanche makes the
//! high bits (the bucket) and the low bit (the sign) independent enough for feature hashing.
//!
//! Signed hashing follows Weinberger et al. (2009), "Feature Hashing for Large Scale Multitask
//! Learning": a second hash bit chooses the sign, so collisions cancel in expectation.

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

/// `MurmurHash3`'s 64-bit finaliser.
#[inline]
pub(crate) fn fmix64(mut value: u64) -> u64 {
    value ^= value >> 33;
    value = value.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    value ^= value >> 33;
    value = value.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    value ^ (value >> 33)
}

/// The hash of `bytes` under `seed`.
#[inline]
pub(crate) fn hash_bytes(bytes: &[u8], seed: u64) -> u64 {
    let mut state = seed ^ (bytes.len() as u64).wrapping_mul(MULTIPLIER);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        state = mix(state, u64::from_le_bytes(word));
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut word = [0u8; 8];
        word[..tail.len()].copy_from_slice(tail);
        state = mix(state, u64::from_le_bytes(word));
    }
    fmix64(state)
}

/// The hash of the pair `(first, second)` of hashes under `seed`, for word bigrams.
#[inline]
pub(crate) fn hash_pair(first: u64, second: u64, seed: u64) -> u64 {
    fmix64(mix(mix(seed, first), second))
}

#[inline]
fn mix(state: u64, word: u64) -> u64 {
    (state ^ fmix64(word.wrapping_add(MULTIPLIER)))
        .rotate_left(29)
        .wrapping_mul(MULTIPLIER)
}

/// A seed derived from a base seed and a name, so that each column and each kind of n-gram hashes
/// differently.
pub(crate) fn derive_seed(seed: u64, name: &str) -> u64 {
    hash_bytes(name.as_bytes(), fmix64(seed ^ MULTIPLIER))
}

/// The bucket (`0..buckets`) and sign of a hash: the bucket from the high bits (by
/// multiply-shift, which needs no division), the sign from the lowest bit.
#[inline]
pub(crate) fn bucket_and_sign(hash: u64, buckets: usize) -> (usize, f32) {
    let bucket = ((u128::from(hash) * buckets as u128) >> 64) as usize;
    let sign = if hash & 1 == 0 { 1.0 } else { -1.0 };
    (bucket, sign)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values are pinned: a change of the hash changes every hashed feature, and so the
    /// scan results of every text and categorical dataset.
    #[test]
    fn hash_values_are_stable() {
        assert_eq!(hash_bytes(b"", 0), 0);
        assert_eq!(hash_bytes(b"cat", 0), hash_bytes(b"cat", 0));
        assert_ne!(hash_bytes(b"cat", 0), hash_bytes(b"cat", 1));
        assert_ne!(hash_bytes(b"cat", 0), hash_bytes(b"cat\0", 0));
        assert_eq!(
            [
                hash_bytes(b"cat", 0),
                hash_bytes(b"a longer string than eight", 7),
                hash_pair(1, 2, 3),
            ],
            PINNED
        );
    }

    const PINNED: [u64; 3] = [
        16_941_792_624_461_483_509,
        14_602_484_376_232_842_609,
        242_952_935_288_910_487,
    ];

    #[test]
    fn buckets_cover_the_range_and_signs_balance() {
        let buckets = 16;
        let mut counts = vec![0u32; buckets];
        let mut positive = 0;
        for value in 0..16_000u32 {
            let (bucket, sign) = bucket_and_sign(hash_bytes(&value.to_le_bytes(), 42), buckets);
            counts[bucket] += 1;
            if sign > 0.0 {
                positive += 1;
            }
        }
        // 1000 expected per bucket; a standard deviation is about 31.
        assert!(
            counts.iter().all(|&count| (850..1150).contains(&count)),
            "{counts:?}"
        );
        assert!((7_700..8_300).contains(&positive), "{positive}");
    }
}
