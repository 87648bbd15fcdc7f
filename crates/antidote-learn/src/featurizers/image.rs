//! Images, as pixels divided by 255.

use antidote_data::{Image, Value};

/// The size every image of a column must have: the size of the first one seen while fitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Pixels {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) channels: u8,
}

/// What is wrong with one record's image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PixelsError {
    /// The image has another size than the first one.
    Size(Pixels),
    /// The value is not an image.
    NotAnImage,
}

impl Pixels {
    pub(crate) fn of(image: &Image) -> Self {
        Self {
            width: image.width,
            height: image.height,
            channels: image.channels,
        }
    }

    /// Values per image.
    pub(crate) fn len(self) -> usize {
        self.width as usize * self.height as usize * usize::from(self.channels)
    }

    /// Checks that `value` is an image of this size (or missing).
    pub(crate) fn check(self, value: &Value) -> Result<(), PixelsError> {
        match value {
            Value::Null => Ok(()),
            Value::Image(image) if Self::of(image) == self && image.pixels.len() == self.len() => {
                Ok(())
            }
            Value::Image(image) => Err(PixelsError::Size(Self::of(image))),
            _ => Err(PixelsError::NotAnImage),
        }
    }

    /// Writes the pixels divided by 255, in the order stored (row-major, channels interleaved);
    /// a missing image writes nothing, so stays black.
    pub(crate) fn encode(self, value: &Value, out: &mut [f32]) -> Result<(), PixelsError> {
        self.check(value)?;
        if let Value::Image(image) = value {
            for (out, pixel) in out.iter_mut().zip(&image.pixels) {
                *out = f32::from(*pixel) / 255.0;
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for Pixels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.width, self.height, self.channels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32, channels: u8, pixels: Vec<u8>) -> Value {
        Value::Image(Image {
            width,
            height,
            channels,
            pixels,
        })
    }

    #[test]
    fn pixels_are_divided_by_255_in_stored_order() {
        let rgb = image(2, 1, 3, vec![0, 51, 255, 102, 204, 153]);
        let Value::Image(first) = &rgb else {
            unreachable!()
        };
        let pixels = Pixels::of(first);
        assert_eq!(pixels.len(), 6);
        let mut out = vec![9.0f32; 6];
        pixels.encode(&rgb, &mut out).unwrap();
        assert_eq!(out, [0.0, 0.2, 1.0, 0.4, 0.8, 0.6]);

        let grey = image(1, 2, 1, vec![255, 0]);
        assert_eq!(
            pixels.encode(&grey, &mut out),
            Err(PixelsError::Size(Pixels {
                width: 1,
                height: 2,
                channels: 1
            }))
        );
        assert_eq!(
            pixels.encode(&Value::Text("x".into()), &mut out),
            Err(PixelsError::NotAnImage)
        );
        let mut black = vec![0.0f32; 6];
        pixels.encode(&Value::Null, &mut black).unwrap();
        assert!(black.iter().all(|value| *value == 0.0));
    }
}
