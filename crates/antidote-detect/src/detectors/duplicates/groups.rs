//! Union-find over records, and the bucket walk every near-duplicate search ends with.
//!
//! Each search (`MinHash` bands, perceptual-hash chunks, hyperplane bands) puts every record in a
//! few buckets; records sharing a bucket are candidates, and a candidate pair that passes the
//! exact check is joined. The groups are the connected components of the verified pairs, which
//! do not depend on the order in which pairs are checked, so the result is the same whatever
//! the thread count.

/// Disjoint sets of records (Tarjan, 1975, "Efficiency of a good but not linear set union
/// algorithm"), with union by size and path halving.
#[derive(Debug, Clone)]
pub(crate) struct UnionFind {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl UnionFind {
    /// `count` singleton sets.
    pub fn new(count: usize) -> Self {
        Self {
            parent: (0..count).collect(),
            size: vec![1; count],
        }
    }

    /// The representative of `item`'s set.
    pub fn find(&mut self, mut item: usize) -> usize {
        while self.parent[item] != item {
            self.parent[item] = self.parent[self.parent[item]];
            item = self.parent[item];
        }
        item
    }

    /// Joins the sets of `first` and `second`; returns whether they were apart.
    pub fn union(&mut self, first: usize, second: usize) -> bool {
        let (mut first, mut second) = (self.find(first), self.find(second));
        if first == second {
            return false;
        }
        if self.size[first] < self.size[second] {
            std::mem::swap(&mut first, &mut second);
        }
        self.parent[second] = first;
        self.size[first] += self.size[second];
        true
    }

    /// The sets of two or more items, each in increasing order, ordered by their first item.
    pub fn groups(&mut self) -> Vec<Vec<usize>> {
        let count = self.parent.len();
        let mut slot_of_root = vec![usize::MAX; count];
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for item in 0..count {
            let root = self.find(item);
            if self.size[root] < 2 {
                continue;
            }
            if slot_of_root[root] == usize::MAX {
                slot_of_root[root] = groups.len();
                groups.push(Vec::with_capacity(self.size[root]));
            }
            groups[slot_of_root[root]].push(item);
        }
        groups
    }
}

/// Walks buckets of `(key, record)` entries and joins every pair in a bucket that `similar`
/// accepts, skipping pairs that are already in one set. Returns how many joins changed a set.
///
/// Skipping joined pairs keeps a flood (hundreds of near-identical copies in one bucket) from
/// costing a similarity check per pair: after the first member has been joined to the rest,
/// the others are all found in one set.
pub(crate) fn link_buckets(
    mut entries: Vec<(u64, usize)>,
    sets: &mut UnionFind,
    mut similar: impl FnMut(usize, usize) -> bool,
) -> usize {
    entries.sort_unstable();
    let mut joins = 0;
    let mut start = 0;
    while start < entries.len() {
        let key = entries[start].0;
        let end = start
            + entries[start..]
                .iter()
                .take_while(|entry| entry.0 == key)
                .count();
        let bucket = &entries[start..end];
        for (position, &(_, first)) in bucket.iter().enumerate() {
            for &(_, second) in &bucket[position + 1..] {
                if sets.find(first) != sets.find(second)
                    && similar(first, second)
                    && sets.union(first, second)
                {
                    joins += 1;
                }
            }
        }
        start = end;
    }
    joins
}

/// A strong 64-bit mixer (the finaliser of `SplitMix64`; Steele, Lea and Flood, 2014), used to
/// derive independent hash functions from one by mixing in a seed.
pub(crate) fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_find_groups_connected_items_in_order() {
        let mut sets = UnionFind::new(7);
        assert!(sets.union(5, 1));
        assert!(sets.union(3, 5));
        assert!(!sets.union(1, 3));
        assert!(sets.union(6, 4));
        assert_eq!(sets.groups(), [vec![1, 3, 5], vec![4, 6]]);
    }

    #[test]
    fn buckets_link_only_similar_pairs_and_skip_joined_ones() {
        let mut sets = UnionFind::new(5);
        let entries = vec![(7, 0), (7, 1), (7, 2), (9, 3), (9, 4), (7, 3)];
        let mut checks = 0;
        let joins = link_buckets(entries, &mut sets, |first, second| {
            checks += 1;
            (first, second) != (3, 4)
        });
        // Bucket 7 holds 0..=3: 0 joins 1, 2 and 3, after which every other pair is skipped;
        // bucket 9 holds 3 and 4, which are not similar.
        assert_eq!(joins, 3);
        assert_eq!(checks, 4);
        assert_eq!(sets.groups(), [vec![0, 1, 2, 3]]);
    }
}
