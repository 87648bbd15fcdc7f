//! The canonical encoding of a record, and the content hash built on it.
//!
//! A record's content hash is BLAKE3 over a byte encoding that does not depend on where the
//! record came from: fields are sorted by name, integral floats encode as integers, `-0.0` as
//! `0`, every NaN as one NaN, and images as their decoded pixels. The same record therefore
//! hashes the same from CSV, JSON Lines or Parquet, in any column order, and an image hashes the
//! same whether it is stored as PNG or in an IDX file.
//!
//! The id is not part of the content: two records with different ids and the same content are
//! exact duplicates, which is what duplicate detection needs. Label and source are content: a
//! changed label is a changed record.

use antidote_core::Digest;

use crate::{Record, Value};

/// Bumped whenever the encoding changes, so that old and new hashes never compare equal by
/// accident.
const DOMAIN: &[u8] = b"antidote.record.v1";

/// The integer equal to `value`, if it is integral and within `i64`.
#[must_use]
pub fn integral(value: f64) -> Option<i64> {
    // 2^63 is exactly representable; anything at or above it does not fit.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if value.is_finite() && value.fract() == 0.0 && (-LIMIT..LIMIT).contains(&value) {
        Some(value as i64)
    } else {
        None
    }
}

fn write_len(hasher: &mut blake3::Hasher, len: usize) {
    hasher.update(&(len as u64).to_le_bytes());
}

fn write_str(hasher: &mut blake3::Hasher, text: &str) {
    write_len(hasher, text.len());
    hasher.update(text.as_bytes());
}

/// Feeds the canonical encoding of `value` to `hasher`.
pub fn write_value(hasher: &mut blake3::Hasher, value: &Value) {
    match value {
        Value::Null => {
            hasher.update(&[0]);
        }
        Value::Bool(flag) => {
            hasher.update(&[1, u8::from(*flag)]);
        }
        Value::Int(integer) => {
            hasher.update(&[2]);
            hasher.update(&integer.to_le_bytes());
        }
        Value::Float(float) => {
            if let Some(integer) = integral(*float) {
                write_value(hasher, &Value::Int(integer));
            } else {
                let bits = if float.is_nan() {
                    f64::NAN.to_bits()
                } else {
                    float.to_bits()
                };
                hasher.update(&[3]);
                hasher.update(&bits.to_le_bytes());
            }
        }
        Value::Text(text) => {
            hasher.update(&[4]);
            write_str(hasher, text);
        }
        Value::Image(image) => {
            hasher.update(&[5]);
            hasher.update(&image.width.to_le_bytes());
            hasher.update(&image.height.to_le_bytes());
            hasher.update(&[image.channels]);
            write_len(hasher, image.pixels.len());
            hasher.update(&image.pixels);
        }
        Value::List(items) => {
            hasher.update(&[6]);
            write_len(hasher, items.len());
            for item in items {
                write_value(hasher, item);
            }
        }
        Value::Map(entries) => {
            hasher.update(&[7]);
            write_len(hasher, entries.len());
            let mut sorted: Vec<&(String, Value)> = entries.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, item) in sorted {
                write_str(hasher, key);
                write_value(hasher, item);
            }
        }
    }
}

fn write_optional(hasher: &mut blake3::Hasher, text: Option<&str>) {
    match text {
        None => {
            hasher.update(&[0]);
        }
        Some(text) => {
            hasher.update(&[1]);
            write_str(hasher, text);
        }
    }
}

/// The BLAKE3 content hash of a record (label, source and payload fields; not the id).
#[must_use]
pub fn record_hash(record: &Record) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(DOMAIN);
    write_optional(&mut hasher, record.label.as_deref());
    write_optional(&mut hasher, record.source.as_deref());
    let mut fields: Vec<&(std::sync::Arc<str>, Value)> = record.fields.iter().collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    write_len(&mut hasher, fields.len());
    for (name, value) in fields {
        write_str(&mut hasher, name);
        write_value(&mut hasher, value);
    }
    Digest::blake3(*hasher.finalize().as_bytes())
}

/// A short (64-bit) hash of one value, enough to tell which fields of a record changed.
#[must_use]
pub fn value_fingerprint(value: &Value) -> u64 {
    let mut hasher = blake3::Hasher::new();
    write_value(&mut hasher, value);
    let bytes = hasher.finalize();
    let mut head = [0u8; 8];
    head.copy_from_slice(&bytes.as_bytes()[..8]);
    u64::from_le_bytes(head)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn record(fields: Vec<(&str, Value)>) -> Record {
        Record {
            position: 0,
            id: "a".into(),
            label: Some("cat".into()),
            source: None,
            fields: fields
                .into_iter()
                .map(|(name, value)| (Arc::from(name), value))
                .collect(),
        }
    }

    #[test]
    fn field_order_does_not_change_the_hash() {
        let a = record(vec![("x", Value::Int(1)), ("y", Value::Text("b".into()))]);
        let b = record(vec![("y", Value::Text("b".into())), ("x", Value::Int(1))]);
        assert_eq!(record_hash(&a), record_hash(&b));
    }

    #[test]
    fn integral_floats_hash_like_integers() {
        let a = record(vec![("x", Value::Int(3))]);
        let b = record(vec![("x", Value::Float(3.0))]);
        let c = record(vec![("x", Value::Float(-0.0))]);
        let d = record(vec![("x", Value::Int(0))]);
        assert_eq!(record_hash(&a), record_hash(&b));
        assert_eq!(record_hash(&c), record_hash(&d));
        assert_ne!(record_hash(&a), record_hash(&d));
    }

    #[test]
    fn label_and_value_changes_change_the_hash_but_the_id_does_not() {
        let base = record(vec![("x", Value::Int(1))]);
        let mut relabelled = base.clone();
        relabelled.label = Some("dog".into());
        let mut renamed = base.clone();
        renamed.id = "b".into();
        let edited = record(vec![("x", Value::Int(2))]);
        assert_ne!(record_hash(&base), record_hash(&relabelled));
        assert_ne!(record_hash(&base), record_hash(&edited));
        assert_eq!(record_hash(&base), record_hash(&renamed));
    }

    #[test]
    fn text_boundaries_are_unambiguous() {
        let a = record(vec![
            ("x", Value::Text("ab".into())),
            ("y", Value::Text("c".into())),
        ]);
        let b = record(vec![
            ("x", Value::Text("a".into())),
            ("y", Value::Text("bc".into())),
        ]);
        assert_ne!(record_hash(&a), record_hash(&b));
    }

    #[test]
    fn map_key_order_does_not_change_the_fingerprint() {
        let a = Value::Map(vec![("k".into(), Value::Int(1)), ("j".into(), Value::Null)]);
        let b = Value::Map(vec![("j".into(), Value::Null), ("k".into(), Value::Int(1))]);
        assert_eq!(value_fingerprint(&a), value_fingerprint(&b));
    }

    #[test]
    fn integral_rejects_fractions_and_huge_values() {
        assert_eq!(integral(2.0), Some(2));
        assert_eq!(integral(2.5), None);
        assert_eq!(integral(f64::INFINITY), None);
        assert_eq!(integral(1e19), None);
    }
}
