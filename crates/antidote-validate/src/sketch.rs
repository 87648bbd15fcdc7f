//! Mergeable sketches with a stable serialised form.
//!
//! The sketches themselves are those of Apache `DataSketches` (KLL for quantiles, HLL for
//! distinct counts, frequent items for heavy hitters), so a profile's sketches are
//! binary-compatible with the Java, C++ and Python `DataSketches` libraries. In a profile's JSON
//! they are base64 strings.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use datasketches::common::SearchCriteria;
use datasketches::frequencies::{ErrorType, FrequentItemsSketch};
use datasketches::hll::{HllSketch, HllType, HllUnion};
use datasketches::kll::{KllFloat, KllSketch};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The KLL accuracy parameter: normalised rank error about 1.3% (the `DataSketches` default).
const KLL_K: u16 = 200;
/// log2 of the HLL register count: relative error about 1.6%.
const HLL_LG_K: u8 = 12;
const _: () = assert!(
    4 <= HLL_LG_K && HLL_LG_K <= 21,
    "HLL sketches and unions take an lg k from 4 to 21"
);
/// Map size of the frequent-items sketch used once exact counts overflow.
const FREQUENT_MAP: usize = 4096;

fn decode<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(deserializer)?;
    STANDARD.decode(text).map_err(serde::de::Error::custom)
}

/// Approximate quantiles of a stream of numbers (KLL).
#[derive(Clone)]
pub struct Quantiles {
    sketch: KllSketch<KllFloat<f64>>,
}

impl std::fmt::Debug for Quantiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Quantiles(n = {})", self.count())
    }
}

impl Default for Quantiles {
    fn default() -> Self {
        Self {
            sketch: KllSketch::new(KLL_K).expect("200 is a valid KLL k"),
        }
    }
}

impl Quantiles {
    /// Adds a value; NaN is ignored.
    pub fn add(&mut self, value: f64) {
        if let Ok(value) = KllFloat::<f64>::new(value) {
            self.sketch.update(value);
        }
    }

    /// Adds everything `other` saw.
    pub fn merge(&mut self, other: &Self) {
        // Merging sketches of the same k cannot fail.
        let _ = self.sketch.merge(&other.sketch);
    }

    /// Values seen.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.sketch.n()
    }

    /// The value at normalised rank `rank` (0 is the minimum, 1 the maximum).
    #[must_use]
    pub fn quantile(&self, rank: f64) -> Option<f64> {
        self.sketch
            .quantile(rank.clamp(0.0, 1.0), SearchCriteria::Inclusive)
            .ok()
            .flatten()
            .map(KllFloat::into_inner)
    }

    /// The share of values at or below each of the strictly increasing `points`.
    #[must_use]
    pub fn cdf(&self, points: &[f64]) -> Option<Vec<f64>> {
        let points: Vec<KllFloat<f64>> = points
            .iter()
            .filter_map(|point| KllFloat::<f64>::new(*point).ok())
            .collect();
        self.sketch
            .cdf(&points, SearchCriteria::Inclusive)
            .ok()
            .flatten()
    }

    /// `bins` equal-width bins from `low` to `high` as `(low, high, share)`, the share of the
    /// sketch's values in each from its distribution function. Values below `low` count in the
    /// first bin and values above `high` in the last, so the shares add up to 1.
    #[must_use]
    pub fn histogram(&self, low: f64, high: f64, bins: usize) -> Vec<(f64, f64, f64)> {
        if bins == 0 {
            return Vec::new();
        }
        let width = (high - low) / bins as f64;
        let edges: Vec<f64> = (1..bins).map(|index| low + width * index as f64).collect();
        let cdf = self.cdf(&edges).unwrap_or_default();
        let mut previous = 0.0;
        (0..bins)
            .map(|index| {
                let last = index + 1 == bins;
                let at = if last {
                    1.0
                } else {
                    cdf.get(index).copied().unwrap_or(1.0)
                };
                let share = (at - previous).max(0.0);
                previous = f64::max(previous, at);
                let upper = if last {
                    high
                } else {
                    low + width * (index + 1) as f64
                };
                (low + width * index as f64, upper, share)
            })
            .collect()
    }

    /// Quantiles at `points` evenly spaced ranks from 0 to 1: the grid drift statistics read.
    #[must_use]
    pub fn grid(&self, points: usize) -> Vec<f64> {
        if self.count() == 0 || points < 2 {
            return Vec::new();
        }
        let ranks: Vec<f64> = (0..points)
            .map(|index| index as f64 / (points - 1) as f64)
            .collect();
        let mut values: Vec<f64> = self
            .sketch
            .quantiles(&ranks, SearchCriteria::Inclusive)
            .ok()
            .flatten()
            .map(|values| values.into_iter().map(KllFloat::into_inner).collect())
            .unwrap_or_default();
        if let (Some(first), Some(min)) = (values.first_mut(), self.quantile(0.0)) {
            *first = min;
        }
        if let (Some(last), Some(max)) = (values.last_mut(), self.quantile(1.0)) {
            *last = max;
        }
        values
    }
}

impl Serialize for Quantiles {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(self.sketch.serialize()))
    }
}

impl<'de> Deserialize<'de> for Quantiles {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = decode(deserializer)?;
        let sketch = KllSketch::deserialize(&bytes).map_err(serde::de::Error::custom)?;
        Ok(Self { sketch })
    }
}

/// An approximate count of distinct values (HLL).
#[derive(Clone)]
pub struct Distinct {
    sketch: HllSketch,
}

impl std::fmt::Debug for Distinct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Distinct(~{:.0})", self.estimate())
    }
}

impl Default for Distinct {
    fn default() -> Self {
        Self {
            sketch: HllSketch::new(HLL_LG_K, HllType::Hll8).expect("12 is a valid HLL lg k"),
        }
    }
}

impl Distinct {
    /// Adds a value.
    pub fn add(&mut self, value: impl std::hash::Hash) {
        self.sketch.update(value);
    }

    /// Adds everything `other` saw.
    #[expect(
        clippy::missing_panics_doc,
        reason = "`HLL_LG_K` is a valid lg k, asserted at compile time"
    )]
    pub fn merge(&mut self, other: &Self) {
        let mut union = HllUnion::new(HLL_LG_K).expect("12 is a valid HLL lg k");
        union.update(&self.sketch);
        union.update(&other.sketch);
        self.sketch = union.to_sketch(HllType::Hll8);
    }

    /// The estimated number of distinct values.
    #[must_use]
    pub fn estimate(&self) -> f64 {
        self.sketch.estimate()
    }
}

impl Serialize for Distinct {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(self.sketch.serialize()))
    }
}

impl<'de> Deserialize<'de> for Distinct {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = decode(deserializer)?;
        let sketch = HllSketch::deserialize(&bytes).map_err(serde::de::Error::custom)?;
        Ok(Self { sketch })
    }
}

/// Counts of values: exact while there are at most `limit` distinct values, then a
/// frequent-items sketch that keeps the heavy hitters with bounded error.
#[derive(Clone, Serialize, Deserialize)]
pub struct Counts {
    limit: usize,
    total: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exact: Option<BTreeMap<String, u64>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "frequent_serde"
    )]
    sketch: Option<FrequentItemsSketch<String>>,
}

impl std::fmt::Debug for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Counts(total = {}, exact = {})",
            self.total,
            self.is_exact()
        )
    }
}

mod frequent_serde {
    use super::{FrequentItemsSketch, STANDARD};
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    #[expect(clippy::ref_option, reason = "the signature serde's `with` requires")]
    pub fn serialize<S: Serializer>(
        sketch: &Option<FrequentItemsSketch<String>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match sketch {
            Some(sketch) => serializer.serialize_some(&STANDARD.encode(sketch.serialize())),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<FrequentItemsSketch<String>>, D::Error> {
        let Some(text) = Option::<String>::deserialize(deserializer)? else {
            return Ok(None);
        };
        let bytes = STANDARD.decode(text).map_err(serde::de::Error::custom)?;
        FrequentItemsSketch::deserialize(&bytes)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

impl Counts {
    /// Exact counts up to `limit` distinct values.
    #[must_use]
    pub fn with_limit(limit: usize) -> Self {
        Self {
            limit,
            total: 0,
            exact: Some(BTreeMap::new()),
            sketch: None,
        }
    }

    /// Counts `item` `count` times.
    pub fn add(&mut self, item: &str, count: u64) {
        self.total += count;
        if let Some(exact) = &mut self.exact {
            if let Some(existing) = exact.get_mut(item) {
                *existing += count;
                return;
            }
            if exact.len() < self.limit {
                exact.insert(item.to_owned(), count);
                return;
            }
            self.overflow();
        }
        if let Some(sketch) = &mut self.sketch {
            sketch.update_with_count(item.to_owned(), count);
        }
    }

    fn overflow(&mut self) {
        let Some(exact) = self.exact.take() else {
            return;
        };
        let mut sketch = FrequentItemsSketch::new(FREQUENT_MAP).expect("4096 is a valid map size");
        for (item, count) in exact {
            sketch.update_with_count(item, count);
        }
        self.sketch = Some(sketch);
    }

    /// Adds everything `other` counted.
    pub fn merge(&mut self, other: &Self) {
        match (&other.exact, &other.sketch) {
            (Some(exact), _) => {
                for (item, count) in exact {
                    self.add(item, *count);
                }
            }
            (None, Some(sketch)) => {
                self.overflow();
                self.total += other.total;
                if let Some(own) = &mut self.sketch {
                    own.merge(sketch);
                }
            }
            (None, None) => {}
        }
    }

    /// Total count.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether the counts are exact.
    #[must_use]
    pub fn is_exact(&self) -> bool {
        self.exact.is_some()
    }

    /// The (estimated) count of `item`.
    #[must_use]
    pub fn get(&self, item: &str) -> u64 {
        match (&self.exact, &self.sketch) {
            (Some(exact), _) => exact.get(item).copied().unwrap_or(0),
            (None, Some(sketch)) => sketch.estimate(item),
            (None, None) => 0,
        }
    }

    /// Each counted item's share of the total, by item (see [`Counts::items`] for which items).
    #[must_use]
    pub fn shares(&self) -> std::collections::BTreeMap<String, f64> {
        let total = self.total.max(1) as f64;
        self.items()
            .into_iter()
            .map(|(item, count)| (item, count as f64 / total))
            .collect()
    }

    /// The counted items, most frequent first (ties by name); all of them while exact, the heavy
    /// hitters afterwards.
    #[must_use]
    pub fn items(&self) -> Vec<(String, u64)> {
        let mut items: Vec<(String, u64)> = match (&self.exact, &self.sketch) {
            (Some(exact), _) => exact
                .iter()
                .map(|(item, count)| (item.clone(), *count))
                .collect(),
            (None, Some(sketch)) => sketch
                .frequent_items(ErrorType::NoFalseNegatives)
                .into_iter()
                .map(|row| (row.item().clone(), row.estimate()))
                .collect(),
            (None, None) => Vec::new(),
        };
        items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(
        clippy::float_cmp,
        reason = "the sketch keeps the exact minimum and maximum"
    )]
    fn quantiles_round_trip_and_merge() {
        let mut a = Quantiles::default();
        let mut b = Quantiles::default();
        for value in 0..1000 {
            a.add(f64::from(value));
            b.add(f64::from(value + 1000));
        }
        a.merge(&b);
        assert_eq!(a.count(), 2000);
        let median = a.quantile(0.5).unwrap();
        assert!((median - 1000.0).abs() < 60.0, "median {median}");
        let json = serde_json::to_string(&a).unwrap();
        let back: Quantiles = serde_json::from_str(&json).unwrap();
        assert_eq!(back.count(), 2000);
        assert_eq!(back.grid(11), a.grid(11));
        assert_eq!(a.grid(3)[0], 0.0);
        assert_eq!(a.grid(3)[2], 1999.0);
    }

    #[test]
    fn distinct_counts_merge() {
        let mut a = Distinct::default();
        let mut b = Distinct::default();
        for value in 0..5000u64 {
            a.add(value);
            b.add(value + 2500);
        }
        a.merge(&b);
        let estimate = a.estimate();
        assert!(
            (estimate - 7500.0).abs() < 7500.0 * 0.05,
            "estimate {estimate}"
        );
        let back: Distinct = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert!((back.estimate() - estimate).abs() < 1e-9);
    }

    #[test]
    fn counts_are_exact_then_keep_heavy_hitters() {
        let mut counts = Counts::with_limit(3);
        counts.add("a", 10);
        counts.add("b", 1);
        counts.add("a", 5);
        assert!(counts.is_exact());
        assert_eq!(counts.get("a"), 15);
        for index in 0..100 {
            counts.add(&format!("rare-{index}"), 1);
        }
        assert!(!counts.is_exact());
        assert_eq!(counts.total(), 116);
        assert_eq!(counts.items()[0].0, "a");
        let back: Counts = serde_json::from_str(&serde_json::to_string(&counts).unwrap()).unwrap();
        assert_eq!(back.get("a"), counts.get("a"));

        let mut merged = Counts::with_limit(10);
        merged.add("a", 1);
        merged.merge(&counts);
        assert_eq!(merged.total(), 117);
        assert_eq!(merged.get("a"), 16);
    }
}
