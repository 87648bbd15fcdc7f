//! Categories, hashed into signed one-hot buckets.

use antidote_data::Value;

use crate::hash::{bucket_and_sign, hash_bytes};

/// A category column hashed into `buckets` signed one-hot features.
///
/// Hashing needs no vocabulary, so a category first seen after fitting still gets a feature, and
/// the width does not grow with the number of categories. The category's label form
/// ([`Value::to_label`]) is hashed, so `3`, `3.0` and `"3"` are the same category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Categorical {
    pub(crate) buckets: usize,
    pub(crate) seed: u64,
}

impl Categorical {
    /// Writes `±1` into the category's bucket of `out` (`buckets` wide); a missing value writes
    /// nothing.
    pub(crate) fn encode(&self, value: &Value, out: &mut [f32]) {
        if let Some(category) = value.to_label() {
            let (bucket, sign) =
                bucket_and_sign(hash_bytes(category.as_bytes(), self.seed), self.buckets);
            out[bucket] += sign;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_signed_bucket_per_category_and_equal_labels_agree() {
        let categorical = Categorical {
            buckets: 1024,
            seed: 7,
        };
        let encode = |value: &Value| {
            let mut out = vec![0.0f32; 1024];
            categorical.encode(value, &mut out);
            out
        };
        let red = encode(&Value::Text("red".into()));
        assert_eq!(red.iter().filter(|value| **value != 0.0).count(), 1);
        assert!(red.iter().all(|value| [-1.0, 0.0, 1.0].contains(value)));
        assert_eq!(red, encode(&Value::Text("red".into())));
        assert_ne!(red, encode(&Value::Text("blue".into())));
        assert_eq!(encode(&Value::Int(3)), encode(&Value::Text("3".into())));
        assert_eq!(encode(&Value::Float(3.0)), encode(&Value::Int(3)));
        assert!(encode(&Value::Null).iter().all(|value| *value == 0.0));
        let other_seed = Categorical {
            buckets: 1024,
            seed: 8,
        };
        let mut out = vec![0.0f32; 1024];
        other_seed.encode(&Value::Text("red".into()), &mut out);
        assert_ne!(out, red, "the seed changes the bucket or sign");
    }
}
