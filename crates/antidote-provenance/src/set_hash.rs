//! The record set hash: a digest of a dataset's records that does not depend on their order.
//!
//! The Merkle root ([`crate::merkle`]) commits to the records in their order, which only a reader
//! that sees the whole dataset in order can compute. An engine that reads partitions in parallel,
//! in any order and on any number of machines cannot; it can compute the record set hash, which
//! every lock also records (`record_set_hash`, doc/lock-format.md), so that the two agree.
//!
//! It is `LtHash` (Bellare and Micciancio 1997, "A New Paradigm for Collision-Free Hashing:
//! Incrementality at Reduced Cost"; the lattice parameters of Lewi, Kim, Maykov and Weis 2019,
//! "Securing Update Propagation with Homomorphic Hashing", with 32-bit words): each record's Merkle
//! leaf, `BLAKE3(0x00 ‖ len(id) ‖ id ‖ content_hash)`, is expanded by BLAKE3's extendable output
//! into 1,024 32-bit words, and the words of all records are added modulo 2^32. Addition is
//! commutative and associative, so the partial sums of any partitioning add up to the sum of the
//! whole. The digest is the BLAKE3 hash of the 4,096-byte sum (little-endian words).
//!
//! What it does not see: the order of the records (the Merkle root does), and a record (the same
//! id and content) repeated a multiple of 2^32 times, whose words add to zero.

use antidote_core::Digest;
use rayon::prelude::*;

use crate::merkle::record_leaf;

/// The domain of the expansion of a leaf, so that no other use of BLAKE3 on a leaf collides.
const DOMAIN: &[u8] = b"antidote.record-set.v1";

/// Words of the sum.
const WORDS: usize = 1024;

/// Bytes of [`RecordSetHash::to_bytes`]: the record count, then the sum.
pub const STATE_BYTES: usize = 8 + 4 * WORDS;

/// The order-independent hash of a set of records, built one record or one partial hash at a time.
///
/// ```
/// use antidote_core::Digest;
/// use antidote_provenance::set_hash::RecordSetHash;
///
/// let (a, b) = (Digest::blake3([1; 32]), Digest::blake3([2; 32]));
/// let mut forward = RecordSetHash::default();
/// forward.insert("r1", &a);
/// forward.insert("r2", &b);
/// // Two partitions, the other way round.
/// let (mut first, mut second) = (RecordSetHash::default(), RecordSetHash::default());
/// first.insert("r2", &b);
/// second.insert("r1", &a);
/// first.merge(&second);
/// assert_eq!(first.digest(), forward.digest());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RecordSetHash {
    sum: Box<[u32; WORDS]>,
    records: u64,
}

impl Default for RecordSetHash {
    fn default() -> Self {
        Self {
            sum: Box::new([0; WORDS]),
            records: 0,
        }
    }
}

impl std::fmt::Debug for RecordSetHash {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RecordSetHash")
            .field("records", &self.records)
            .field("digest", &self.digest())
            .finish_non_exhaustive()
    }
}

impl RecordSetHash {
    /// Adds the record `id` with content hash `content`.
    pub fn insert(&mut self, id: &str, content: &Digest) {
        self.insert_leaf(&record_leaf(id, content));
    }

    /// Adds a record by its Merkle leaf ([`record_leaf`]).
    pub fn insert_leaf(&mut self, leaf: &[u8; 32]) {
        let mut hasher = blake3::Hasher::new();
        hasher.update(DOMAIN);
        hasher.update(leaf);
        let mut expanded = [0u8; 4 * WORDS];
        hasher.finalize_xof().fill(&mut expanded);
        for (word, bytes) in self.sum.iter_mut().zip(expanded.chunks_exact(4)) {
            *word = word.wrapping_add(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
        }
        self.records += 1;
    }

    /// The hash of records given by their Merkle leaves, expanded in parallel.
    #[must_use]
    pub fn of_leaves<'a>(leaves: impl ParallelIterator<Item = &'a [u8; 32]>) -> Self {
        leaves
            .fold(Self::default, |mut partial, leaf| {
                partial.insert_leaf(leaf);
                partial
            })
            .reduce(Self::default, |mut left, right| {
                left.merge(&right);
                left
            })
    }

    /// Adds every record of `other`.
    pub fn merge(&mut self, other: &Self) {
        for (word, other) in self.sum.iter_mut().zip(other.sum.iter()) {
            *word = word.wrapping_add(*other);
        }
        self.records += other.records;
    }

    /// How many records were added.
    #[must_use]
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The digest: BLAKE3 of the sum, as the lock records it.
    #[must_use]
    pub fn digest(&self) -> Digest {
        let mut hasher = blake3::Hasher::new();
        for word in self.sum.iter() {
            hasher.update(&word.to_le_bytes());
        }
        Digest::blake3(*hasher.finalize().as_bytes())
    }

    /// The whole state, for an engine to move partial hashes between processes:
    /// [`STATE_BYTES`] bytes, the record count then the sum, little-endian.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(STATE_BYTES);
        bytes.extend_from_slice(&self.records.to_le_bytes());
        for word in self.sum.iter() {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    /// The state [`to_bytes`](Self::to_bytes) wrote; `None` when `bytes` is not one.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != STATE_BYTES {
            return None;
        }
        let (count, words) = bytes.split_at(8);
        let mut sum = Box::new([0u32; WORDS]);
        for (word, bytes) in sum.iter_mut().zip(words.chunks_exact(4)) {
            *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        Some(Self {
            sum,
            records: u64::from_le_bytes(count.try_into().ok()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn content(index: u32) -> Digest {
        Digest::blake3(*blake3::hash(&index.to_le_bytes()).as_bytes())
    }

    fn whole(records: &[(String, Digest)]) -> RecordSetHash {
        let mut hash = RecordSetHash::default();
        for (id, content) in records {
            hash.insert(id, content);
        }
        hash
    }

    proptest! {
        /// Any partitioning, merged in any order, gives the hash of the whole.
        #[test]
        fn partitions_merge_to_the_whole(
            count in 0usize..60,
            cuts in proptest::collection::vec(0usize..60, 0..6),
            seed in any::<u64>(),
        ) {
            let records: Vec<(String, Digest)> =
                (0..count).map(|index| (format!("r{index}"), content(index as u32))).collect();
            let mut shuffled = records.clone();
            antidote_core::SplitMix64::new(seed).shuffle(&mut shuffled);
            let mut bounds: Vec<usize> = cuts.into_iter().map(|cut| cut.min(count)).collect();
            bounds.push(0);
            bounds.push(count);
            bounds.sort_unstable();
            let mut parts: Vec<RecordSetHash> =
                bounds.windows(2).map(|pair| whole(&shuffled[pair[0]..pair[1]])).collect();
            antidote_core::SplitMix64::new(seed ^ 1).shuffle(&mut parts);
            let mut merged = RecordSetHash::default();
            for part in &parts {
                merged.merge(part);
            }
            prop_assert_eq!(merged.digest(), whole(&records).digest());
            prop_assert_eq!(merged.records(), count as u64);
            prop_assert_eq!(RecordSetHash::from_bytes(&merged.to_bytes()), Some(merged));
        }
    }

    #[test]
    fn a_changed_added_or_removed_record_changes_the_digest() {
        let records: Vec<(String, Digest)> = (0..10)
            .map(|index| (format!("r{index}"), content(index)))
            .collect();
        let digest = whole(&records).digest();
        let mut changed = records.clone();
        changed[3].1 = content(99);
        assert_ne!(whole(&changed).digest(), digest);
        let mut renamed = records.clone();
        renamed[3].0 = "r99".into();
        assert_ne!(whole(&renamed).digest(), digest);
        assert_ne!(whole(&records[1..]).digest(), digest);
        let mut added = records.clone();
        added.push(("r10".into(), content(10)));
        assert_ne!(whole(&added).digest(), digest);
        // The empty set: the hash of 4,096 zero bytes.
        assert_eq!(
            RecordSetHash::default().digest(),
            Digest::blake3(*blake3::hash(&[0; 4096]).as_bytes())
        );
    }

    #[test]
    fn a_repeated_record_counts_each_time() {
        // A multiset: two copies of a record differ from one, and from none.
        let mut once = RecordSetHash::default();
        once.insert("same", &content(1));
        let mut twice = once.clone();
        twice.insert("same", &content(1));
        assert_ne!(once.digest(), twice.digest());
        assert_ne!(twice.digest(), RecordSetHash::default().digest());
        assert_eq!(twice.records(), 2);
    }

    #[test]
    fn malformed_state_is_refused() {
        assert_eq!(RecordSetHash::from_bytes(&[0; 10]), None);
        assert_eq!(RecordSetHash::from_bytes(&vec![0; STATE_BYTES + 1]), None);
        assert_eq!(
            RecordSetHash::from_bytes(&vec![0; STATE_BYTES]),
            Some(RecordSetHash::default())
        );
    }
}
