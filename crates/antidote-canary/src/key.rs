//! The secret key and the keyed tags that recognise a canary.
//!
//! A tag is HMAC-SHA256 under the key of a record's canonical content: the BLAKE3 hash that
//! `antidote-data` gives a record ([`antidote_data::canonical::record_hash`]) with its id, label
//! and source left out, or of one payload value (its text or its decoded pixels). The canonical
//! encoding does not depend on the file format, the column order, or whether an integral number
//! was written as `3` or `3.0`, so a tag survives conversion between CSV, JSON Lines and Parquet,
//! shuffling, subsetting and new ids. Without the key, nobody can compute a tag, so nobody can
//! tell which records are canaries by hashing them.

use antidote_data::{Record, Value};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Domain of a whole-record tag, bumped if the tagged bytes ever change.
const RECORD_DOMAIN: &[u8] = b"antidote.canary.record.v1";
/// Domain of a payload-value tag.
const VALUE_DOMAIN: &[u8] = b"antidote.canary.value.v1";
/// Domain of the generator's seed, so that the seed reveals nothing about the tags.
const SEED_DOMAIN: &[u8] = b"antidote.canary.seed.v1";

/// A keyed tag: HMAC-SHA256, hex in manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub [u8; 32]);

impl Serialize for Tag {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&text, &mut bytes).map_err(serde::de::Error::custom)?;
        Ok(Self(bytes))
    }
}

/// The secret 256-bit key of a set of canaries. It is only ever written to the manifest (with
/// `0600` permissions) and never printed: `Debug` shows `CanaryKey(..)`.
#[derive(Clone, PartialEq, Eq)]
pub struct CanaryKey([u8; 32]);

impl std::fmt::Debug for CanaryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CanaryKey(..)")
    }
}

impl CanaryKey {
    /// A fresh key from the operating system's random source.
    #[must_use]
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        Self(bytes)
    }

    /// A key from its bytes (tests, and manifests read back).
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key as hex, for the manifest only.
    pub(crate) fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The key from the manifest's hex.
    pub(crate) fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }

    fn mac(&self, domain: &[u8], content: &[u8]) -> Tag {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(domain);
        mac.update(content);
        Tag(mac.finalize().into_bytes().into())
    }

    /// The seed of the record generator: derived from the key, so that a plant is reproducible
    /// from its manifest, and one-way, so that the seed does not give the key away.
    #[must_use]
    pub fn generator_seed(&self) -> u64 {
        let tag = self.mac(SEED_DOMAIN, &[]);
        let mut head = [0u8; 8];
        head.copy_from_slice(&tag.0[..8]);
        u64::from_le_bytes(head)
    }

    /// The tag of a record's content: its payload fields, without its id, label and source, so
    /// that a relabelled copy or one with new ids is still recognised.
    #[must_use]
    pub fn record_tag(&self, record: &Record) -> Tag {
        let content = Record {
            position: 0,
            id: String::new().into(),
            label: None,
            source: None,
            fields: record.fields.clone(),
        };
        let digest = antidote_data::canonical::record_hash(&content);
        self.mac(RECORD_DOMAIN, digest.as_bytes())
    }

    /// The tag of one payload value (a text or an image), so that a copy that kept only that
    /// column, or renamed it, is still recognised.
    #[must_use]
    pub fn value_tag(&self, value: &Value) -> Tag {
        let mut hasher = blake3::Hasher::new();
        antidote_data::canonical::write_value(&mut hasher, value);
        self.mac(VALUE_DOMAIN, hasher.finalize().as_bytes())
    }
}

/// Whether a value is distinctive enough to recognise a record by itself: a text of at least
/// three words, or an image. A number or a category alone is shared by many real records.
#[must_use]
pub fn is_distinctive(value: &Value) -> bool {
    match value {
        Value::Image(_) => true,
        Value::Text(text) => text.split_whitespace().nth(2).is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn record(id: &str, label: &str, fields: Vec<(&str, Value)>) -> Record {
        Record {
            position: 3,
            id: id.into(),
            label: Some(label.into()),
            source: Some("vendor".into()),
            fields: fields
                .into_iter()
                .map(|(name, value)| (Arc::from(name), value))
                .collect(),
        }
    }

    #[test]
    fn tags_ignore_id_label_source_and_field_order_but_not_content() {
        let key = CanaryKey::from_bytes([7; 32]);
        let a = record(
            "a",
            "x",
            vec![("t", Value::Text("one two".into())), ("n", Value::Int(3))],
        );
        let b = record(
            "b",
            "y",
            vec![
                ("n", Value::Float(3.0)),
                ("t", Value::Text("one two".into())),
            ],
        );
        let c = record(
            "a",
            "x",
            vec![("t", Value::Text("one two!".into())), ("n", Value::Int(3))],
        );
        assert_eq!(key.record_tag(&a), key.record_tag(&b));
        assert_ne!(key.record_tag(&a), key.record_tag(&c));
    }

    #[test]
    fn another_key_gives_other_tags() {
        let value = Value::Text("a canary sentence".into());
        let first = CanaryKey::from_bytes([1; 32]);
        let second = CanaryKey::from_bytes([2; 32]);
        assert_ne!(first.value_tag(&value), second.value_tag(&value));
        assert_ne!(first.generator_seed(), second.generator_seed());
    }

    #[test]
    fn the_key_never_shows_in_debug_output_and_round_trips_through_hex() {
        let key = CanaryKey::from_bytes([0xab; 32]);
        assert_eq!(format!("{key:?}"), "CanaryKey(..)");
        assert_eq!(CanaryKey::from_hex(&key.to_hex()), Some(key));
        assert_ne!(CanaryKey::random(), CanaryKey::random());
    }

    #[test]
    fn tags_serialize_as_hex() {
        let tag = Tag([0x0f; 32]);
        let json = serde_json::to_string(&tag).unwrap();
        assert_eq!(json, format!("\"{}\"", "0f".repeat(32)));
        assert_eq!(serde_json::from_str::<Tag>(&json).unwrap(), tag);
    }
}
