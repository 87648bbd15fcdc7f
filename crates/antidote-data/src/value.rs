use std::fmt;

/// One cell of a record, in the form every reader agrees on.
///
/// Readers convert their native types into these so that the same record read from CSV, JSON
/// Lines or Parquet is the same value, and so hashes the same (see [`crate::canonical`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A missing value: an empty CSV cell, a JSON `null`, a Parquet null.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number. Integral floats hash like the equal integer.
    Float(f64),
    /// A string.
    Text(String),
    /// A decoded image: pixels, not the bytes of its file format.
    Image(Image),
    /// A list: an embedding vector, a chat transcript, tags.
    List(Vec<Value>),
    /// A nested object, keys in the order the source gave them.
    Map(Vec<(String, Value)>),
}

impl Value {
    /// The value as a number, if it is one.
    #[must_use]
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(value) => Some(*value as f64),
            Self::Float(value) => Some(*value),
            Self::Bool(value) => Some(f64::from(u8::from(*value))),
            _ => None,
        }
    }

    /// The value as text, if it is a string.
    #[must_use]
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            _ => None,
        }
    }

    /// Whether the value is missing.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The label form of a value: the text every reader agrees on for a class name.
    ///
    /// `3`, `3.0` and `"3"` all give `3`, so a label column keeps its classes across formats.
    /// Returns `None` for a missing value.
    #[must_use]
    pub fn to_label(&self) -> Option<String> {
        match self {
            Self::Null => None,
            Self::Text(text) => Some(text.clone()),
            Self::Int(value) => Some(value.to_string()),
            Self::Float(value) => Some(match crate::canonical::integral(*value) {
                Some(integer) => integer.to_string(),
                None => value.to_string(),
            }),
            Self::Bool(value) => Some(value.to_string()),
            other => Some(other.to_string()),
        }
    }

    /// Converts a JSON value, keeping integers as integers.
    #[must_use]
    pub fn from_json(json: serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => Self::Null,
            serde_json::Value::Bool(value) => Self::Bool(value),
            serde_json::Value::Number(number) => match number.as_i64() {
                Some(integer) => Self::Int(integer),
                None => Self::Float(number.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(text) => Self::Text(text),
            serde_json::Value::Array(items) => {
                Self::List(items.into_iter().map(Self::from_json).collect())
            }
            serde_json::Value::Object(map) => Self::Map(
                map.into_iter()
                    .map(|(key, value)| (key, Self::from_json(value)))
                    .collect(),
            ),
        }
    }

    /// Converts to JSON; images become `{"width", "height", "channels"}` without pixels.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Null => serde_json::Value::Null,
            Self::Bool(value) => serde_json::Value::Bool(*value),
            Self::Int(value) => serde_json::Value::from(*value),
            Self::Float(value) => serde_json::Number::from_f64(*value)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Self::Text(text) => serde_json::Value::String(text.clone()),
            Self::Image(image) => serde_json::json!({
                "width": image.width,
                "height": image.height,
                "channels": image.channels,
            }),
            Self::List(items) => {
                serde_json::Value::Array(items.iter().map(Self::to_json).collect())
            }
            Self::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(key, value)| (key.clone(), value.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Widens an `f32` to the `f64` of its shortest decimal form, so that `0.1f32` becomes `0.1`
/// as a CSV cell `0.1` would, and the same record hashes the same from every format.
#[must_use]
pub fn widen_f32(value: f32) -> f64 {
    if value.is_finite() {
        // The shortest round-trip text of an f32 always parses back.
        value.to_string().parse().unwrap_or(f64::from(value))
    } else {
        f64::from(value)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Text(text) => f.write_str(text),
            Self::Image(image) => write!(
                f,
                "<image {}x{}x{}>",
                image.width, image.height, image.channels
            ),
            other => write!(f, "{}", other.to_json()),
        }
    }
}

/// A decoded image with 8-bit channels, row-major, channels interleaved.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 1 (grey), 2 (grey and alpha), 3 (RGB) or 4 (RGBA).
    pub channels: u8,
    /// `width * height * channels` bytes.
    pub pixels: Vec<u8>,
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Image({}x{}x{})", self.width, self.height, self.channels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(
        clippy::float_cmp,
        reason = "exact equality with the decimal is the property under test"
    )]
    fn widened_floats_match_their_decimal_text() {
        assert_eq!(widen_f32(0.1), 0.1);
        assert_eq!(widen_f32(-2.5), -2.5);
        assert_ne!(
            f64::from(0.1f32),
            0.1,
            "plain widening keeps the binary error"
        );
        assert!(widen_f32(f32::NAN).is_nan());
    }
}
