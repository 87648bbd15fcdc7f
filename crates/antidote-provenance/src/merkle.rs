//! Merkle roots over record hashes.
//!
//! The tree is the one of RFC 6962 (Certificate Transparency, section 2.1): leaves and interior
//! nodes are hashed with different one-byte prefixes, and a tree of `n` leaves splits at the
//! largest power of two below `n`. [`MerkleBuilder`] computes the root in one streaming pass with
//! memory logarithmic in the number of leaves, so that a dataset of any size can be locked
//! without holding its records.
//!
//! BLAKE3 replaces SHA-256 as the node hash, for speed; the prefixes keep leaves and nodes apart.

use antidote_core::Digest;

const LEAF: u8 = 0x00;
const NODE: u8 = 0x01;

/// The hash of an interior node.
fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[NODE]);
    hasher.update(left);
    hasher.update(right);
    *hasher.finalize().as_bytes()
}

/// The Merkle root of records held in memory, exactly as `antidote lock` records it for the same
/// records in the same order.
#[must_use]
pub fn records_root<'a>(records: impl IntoIterator<Item = &'a antidote_data::Record>) -> Digest {
    let mut builder = MerkleBuilder::default();
    for record in records {
        builder.push(record_leaf(record.id.as_str(), &record.content_hash()));
    }
    builder.finish()
}

/// The leaf hash of one record: its id and its content hash, so that the root commits to both.
#[must_use]
pub fn record_leaf(id: &str, content: &Digest) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[LEAF]);
    hasher.update(&(id.len() as u64).to_le_bytes());
    hasher.update(id.as_bytes());
    hasher.update(content.as_bytes());
    *hasher.finalize().as_bytes()
}

/// Builds a Merkle root from leaves pushed in order.
///
/// ```
/// use antidote_provenance::merkle::MerkleBuilder;
///
/// let mut builder = MerkleBuilder::default();
/// builder.push([1; 32]);
/// builder.push([2; 32]);
/// let root = builder.finish();
/// assert_eq!(root.to_string().len(), "blake3:".len() + 64);
/// ```
#[derive(Debug, Default, Clone)]
pub struct MerkleBuilder {
    /// Roots of complete subtrees, with their heights, largest (leftmost) first.
    stack: Vec<(u32, [u8; 32])>,
    leaves: u64,
}

impl MerkleBuilder {
    /// Adds the next leaf hash.
    pub fn push(&mut self, leaf: [u8; 32]) {
        self.leaves += 1;
        let mut current = (0u32, leaf);
        while let Some(&(height, left)) = self.stack.last() {
            if height != current.0 {
                break;
            }
            self.stack.pop();
            current = (height + 1, node(&left, &current.1));
        }
        self.stack.push(current);
    }

    /// How many leaves were pushed.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.leaves
    }

    /// Whether no leaf was pushed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.leaves == 0
    }

    /// The root. The root of no leaves is the BLAKE3 hash of the empty string, as in RFC 6962.
    #[must_use]
    pub fn finish(mut self) -> Digest {
        let Some((_, mut root)) = self.stack.pop() else {
            return Digest::blake3(*blake3::hash(b"").as_bytes());
        };
        // Folding the incomplete right edge from the smallest subtree up gives exactly the
        // split-at-the-largest-power-of-two tree.
        while let Some((_, left)) = self.stack.pop() {
            root = node(&left, &root);
        }
        Digest::blake3(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962's recursive definition, for comparison.
    fn reference(leaves: &[[u8; 32]]) -> [u8; 32] {
        match leaves.len() {
            0 => *blake3::hash(b"").as_bytes(),
            1 => leaves[0],
            n => {
                let mut split = 1;
                while split * 2 < n {
                    split *= 2;
                }
                node(&reference(&leaves[..split]), &reference(&leaves[split..]))
            }
        }
    }

    #[test]
    fn streaming_root_matches_the_recursive_definition() {
        for count in 0..40u8 {
            let leaves: Vec<[u8; 32]> = (0..count).map(|index| [index; 32]).collect();
            let mut builder = MerkleBuilder::default();
            for leaf in &leaves {
                builder.push(*leaf);
            }
            assert_eq!(
                builder.finish(),
                Digest::blake3(reference(&leaves)),
                "{count} leaves"
            );
        }
    }

    #[test]
    fn order_and_content_change_the_root() {
        let root = |leaves: &[[u8; 32]]| {
            let mut builder = MerkleBuilder::default();
            for leaf in leaves {
                builder.push(*leaf);
            }
            builder.finish()
        };
        assert_ne!(root(&[[1; 32], [2; 32]]), root(&[[2; 32], [1; 32]]));
        assert_ne!(root(&[[1; 32], [2; 32]]), root(&[[1; 32], [3; 32]]));
        assert_ne!(root(&[[1; 32]]), root(&[[1; 32], [1; 32]]));
    }
}
