//! Records as the manifest stores them: JSON, with images kept whole (base64 pixels), so that a
//! record read back from the manifest has the content hash of the record that was planted.

use std::sync::Arc;

use antidote_data::{Image, Record, Value};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The key that marks an encoded image in a stored value.
const IMAGE_KEY: &str = "$image";

/// A record in the manifest: id, assigned label, source and payload fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    /// The id the record has (or, for held-out canaries, would have) in the planted dataset.
    pub id: String,
    /// The assigned label: drawn at random, so that only a model that memorised the record
    /// gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The source, when the dataset has a source column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The payload fields by name, images as `{"$image": {...}}`.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl StoredRecord {
    /// Stores `record`.
    #[must_use]
    pub fn from_record(record: &Record) -> Self {
        Self {
            id: record.id.to_string(),
            label: record.label.clone(),
            source: record.source.clone(),
            fields: record
                .fields
                .iter()
                .map(|(name, value)| (name.to_string(), encode(value)))
                .collect(),
        }
    }

    /// The record back, at `position`; `None` when an image does not decode.
    #[must_use]
    pub fn to_record(&self, position: u64) -> Option<Record> {
        let fields = self
            .fields
            .iter()
            .map(|(name, value)| Some((Arc::from(name.as_str()), decode(value)?)))
            .collect::<Option<Vec<_>>>()?;
        Some(Record {
            position,
            id: self.id.clone().into(),
            label: self.label.clone(),
            source: self.source.clone(),
            fields,
        })
    }
}

/// A value as JSON; images keep their pixels.
#[must_use]
pub fn encode(value: &Value) -> serde_json::Value {
    match value {
        Value::Image(image) => serde_json::json!({
            IMAGE_KEY: {
                "width": image.width,
                "height": image.height,
                "channels": image.channels,
                "pixels": base64::engine::general_purpose::STANDARD.encode(&image.pixels),
            }
        }),
        Value::List(items) => serde_json::Value::Array(items.iter().map(encode).collect()),
        Value::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(key, value)| (key.clone(), encode(value)))
                .collect(),
        ),
        other => other.to_json(),
    }
}

/// The value of [`encode`]'s JSON; `None` for a malformed image.
#[must_use]
pub fn decode(json: &serde_json::Value) -> Option<Value> {
    match json {
        serde_json::Value::Object(map) if map.len() == 1 && map.contains_key(IMAGE_KEY) => {
            let image = map.get(IMAGE_KEY)?;
            let number = |name: &str| image.get(name)?.as_u64();
            let pixels = base64::engine::general_purpose::STANDARD
                .decode(image.get("pixels")?.as_str()?)
                .ok()?;
            let (width, height, channels) = (
                u32::try_from(number("width")?).ok()?,
                u32::try_from(number("height")?).ok()?,
                u8::try_from(number("channels")?).ok()?,
            );
            let expected = width as usize * height as usize * usize::from(channels);
            (pixels.len() == expected).then_some(Value::Image(Image {
                width,
                height,
                channels,
                pixels,
            }))
        }
        serde_json::Value::Array(items) => Some(Value::List(
            items.iter().map(decode).collect::<Option<_>>()?,
        )),
        serde_json::Value::Object(map) => Some(Value::Map(
            map.iter()
                .map(|(key, value)| Some((key.clone(), decode(value)?)))
                .collect::<Option<_>>()?,
        )),
        other => Some(Value::from_json(other.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_with_images_numbers_and_text_round_trip_with_the_same_hash() {
        let record = Record {
            position: 0,
            id: "r-1".into(),
            label: Some("7".into()),
            source: Some("vendor-a".into()),
            fields: vec![
                (
                    Arc::from("image"),
                    Value::Image(Image {
                        width: 2,
                        height: 1,
                        channels: 1,
                        pixels: vec![0, 255],
                    }),
                ),
                (Arc::from("score"), Value::Float(0.1)),
                (Arc::from("count"), Value::Int(-3)),
                (Arc::from("text"), Value::Text("hello there".into())),
                (
                    Arc::from("vector"),
                    Value::List(vec![Value::Float(1.5), Value::Null]),
                ),
            ],
        };
        let stored = StoredRecord::from_record(&record);
        let json = serde_json::to_string(&stored).unwrap();
        let back: StoredRecord = serde_json::from_str(&json).unwrap();
        let record_back = back.to_record(0).unwrap();
        assert_eq!(record_back.content_hash(), record.content_hash());
        assert_eq!(record_back.id, record.id);
    }

    #[test]
    fn a_truncated_image_does_not_decode() {
        let json = serde_json::json!({"$image": {"width": 2, "height": 2, "channels": 1, "pixels": "AAA="}});
        assert_eq!(decode(&json), None);
    }
}
