//! How a record becomes a model's input: the one featurisation the ONNX predictor documents.
//!
//! - An image (the record's first image field) becomes its pixels scaled to `[0, 1]`
//!   (`value / 255`), in the model's input shape: `[H, W, C]`, `[H, W]` or flat in the image's
//!   own row-major, channel-last order; `[C, H, W]` (channel-first) when the shape says so.
//! - Otherwise every field in column order gives numbers: integers and floats as themselves,
//!   booleans as 0 or 1, a list of numbers (an embedding) as its items. The count must equal the
//!   model's input size. Text, categories and missing values are refused: a model that reads
//!   them takes its own tokenizer or encoder, so gate it through an HTTP endpoint.

use antidote_data::{Image, Record, Value};

use crate::PredictError;

/// How the numbers of one record are laid out in the model's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputShape {
    /// The dimensions of one record's input (the batch dimension left out).
    pub dims: Vec<usize>,
}

impl InputShape {
    /// Numbers per record.
    #[must_use]
    pub fn size(&self) -> usize {
        self.dims.iter().product()
    }

    /// Appends the input of `record` to `out`.
    pub fn write(&self, record: &Record, out: &mut Vec<f32>) -> Result<(), PredictError> {
        let start = out.len();
        let invalid = |problem: String| PredictError::Input {
            id: record.id.to_string(),
            problem,
        };
        if let Some(image) = record.fields.iter().find_map(|(_, value)| match value {
            Value::Image(image) => Some(image),
            _ => None,
        }) {
            self.write_image(image, out).map_err(invalid)?;
        } else {
            for (name, value) in &record.fields {
                push_numbers(value, out).map_err(|kind| {
                    invalid(format!("the field `{name}` is {kind}, not a number"))
                })?;
            }
        }
        let written = out.len() - start;
        if written != self.size() {
            out.truncate(start);
            return Err(invalid(format!(
                "it gives {written} numbers, the model reads {} (shape {:?})",
                self.size(),
                self.dims
            )));
        }
        Ok(())
    }

    fn write_image(&self, image: &Image, out: &mut Vec<f32>) -> Result<(), String> {
        let channels = usize::from(image.channels);
        let (width, height) = (image.width as usize, image.height as usize);
        let pixels = width * height * channels;
        if pixels != self.size() {
            return Err(format!(
                "a {width}x{height} image with {channels} channels has {pixels} values, the model reads {} (shape {:?})",
                self.size(),
                self.dims
            ));
        }
        let scale = |value: u8| f32::from(value) / 255.0;
        let channel_first = channels > 1 && self.dims == [channels, height, width];
        if channel_first {
            for channel in 0..channels {
                for pixel in 0..width * height {
                    out.push(scale(image.pixels[pixel * channels + channel]));
                }
            }
        } else {
            out.extend(image.pixels.iter().map(|&value| scale(value)));
        }
        Ok(())
    }
}

/// Appends the numbers of one value; on failure, names the kind of value found.
fn push_numbers(value: &Value, out: &mut Vec<f32>) -> Result<(), &'static str> {
    match value {
        Value::Int(number) => out.push(*number as f32),
        Value::Float(number) => out.push(*number as f32),
        Value::Bool(flag) => out.push(if *flag { 1.0 } else { 0.0 }),
        Value::List(items) => {
            for item in items {
                match item {
                    Value::Int(_) | Value::Float(_) | Value::Bool(_) => push_numbers(item, out)?,
                    _ => return Err("a list of non-numbers"),
                }
            }
        }
        Value::Null => return Err("missing"),
        Value::Text(_) => return Err("text"),
        Value::Image(_) => return Err("a second image"),
        Value::Map(_) => return Err("an object"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use antidote_core::RecordId;

    use super::*;

    fn record(fields: Vec<(&str, Value)>) -> Record {
        Record {
            position: 0,
            id: RecordId::from("r1"),
            label: None,
            source: None,
            fields: fields
                .into_iter()
                .map(|(name, value)| (Arc::from(name), value))
                .collect(),
        }
    }

    #[test]
    fn images_are_scaled_and_laid_out_channel_first_when_the_shape_says_so() {
        let image = Value::Image(Image {
            width: 2,
            height: 1,
            channels: 3,
            pixels: vec![255, 0, 51, 0, 255, 102],
        });
        let mut out = Vec::new();
        InputShape {
            dims: vec![1, 2, 3],
        }
        .write(&record(vec![("image", image.clone())]), &mut out)
        .unwrap();
        assert_eq!(out, [1.0, 0.0, 0.2, 0.0, 1.0, 0.4]);
        out.clear();
        InputShape {
            dims: vec![3, 1, 2],
        }
        .write(&record(vec![("image", image)]), &mut out)
        .unwrap();
        assert_eq!(out, [1.0, 0.0, 0.0, 1.0, 0.2, 0.4]);
    }

    #[test]
    fn numbers_are_read_in_column_order_and_text_is_refused() {
        let mut out = Vec::new();
        let shape = InputShape { dims: vec![4] };
        shape
            .write(
                &record(vec![
                    ("a", Value::Int(2)),
                    ("b", Value::Bool(true)),
                    ("c", Value::List(vec![Value::Float(0.5), Value::Int(-1)])),
                ]),
                &mut out,
            )
            .unwrap();
        assert_eq!(out, [2.0, 1.0, 0.5, -1.0]);
        let error = shape
            .write(&record(vec![("t", Value::Text("x".into()))]), &mut out)
            .unwrap_err();
        assert!(error.to_string().contains("`t` is text"), "{error}");
        let error = shape
            .write(&record(vec![("a", Value::Int(1))]), &mut out)
            .unwrap_err();
        assert!(error.to_string().contains("gives 1 numbers"), "{error}");
        assert_eq!(out.len(), 4, "a refused record leaves nothing behind");
    }
}
