//! Small raster pictures (thumbnails of records, recovered trigger patterns), embedded in the
//! page as PNG `data:` URLs.
//!
//! A [`Picture`] holds pixels, never bytes of a file format or a URL: the renderer encodes the
//! PNG itself and writes only base64 characters into the `src` attribute, so nothing a dataset
//! holds can reach the markup through a picture.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// A small image with 8-bit channels, row-major, channels interleaved.
///
/// ```
/// use antidote_report::Picture;
///
/// // A 2x2 grey checkerboard.
/// let picture = Picture::new(2, 2, 1, vec![0, 255, 255, 0]).with_caption("`r1`");
/// assert!(picture.is_valid());
/// // A 100x50 picture, shrunk to fit in 20 pixels, keeps its aspect ratio.
/// let wide = Picture::new(100, 50, 3, vec![128; 100 * 50 * 3]).fit(20);
/// assert_eq!((wide.width, wide.height), (20, 10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Picture {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 1 (grey), 2 (grey and alpha), 3 (RGB) or 4 (RGBA).
    pub channels: u8,
    /// `width * height * channels` bytes.
    pub pixels: Vec<u8>,
    /// A line under the picture, such as the record's id; spans in backticks are set as code.
    pub caption: String,
    /// What the picture shows, for the tooltip and for readers who cannot see it.
    pub description: String,
}

impl Picture {
    /// A picture without caption or description.
    #[must_use]
    pub fn new(width: u32, height: u32, channels: u8, pixels: Vec<u8>) -> Self {
        Self {
            width,
            height,
            channels,
            pixels,
            caption: String::new(),
            description: String::new(),
        }
    }

    /// Sets the line under the picture.
    #[must_use]
    pub fn with_caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = caption.into();
        self
    }

    /// Sets what the picture shows.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Whether the dimensions, channels and pixels agree, so that the picture can be drawn.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.width > 0
            && self.height > 0
            && (1..=4).contains(&self.channels)
            && u64::from(self.width) * u64::from(self.height) * u64::from(self.channels)
                == self.pixels.len() as u64
    }

    /// The picture shrunk (by averaging boxes of pixels) so that neither side exceeds `side`
    /// pixels; a picture that fits already, or an invalid one, is returned as it is. Large
    /// images shrink before they go into a report, so that the page stays small.
    #[must_use]
    pub fn fit(self, side: u32) -> Self {
        let side = side.max(1);
        if !self.is_valid() || (self.width <= side && self.height <= side) {
            return self;
        }
        let scale = f64::from(self.width.max(self.height)) / f64::from(side);
        let width = ((f64::from(self.width) / scale).round() as u32).clamp(1, side);
        let height = ((f64::from(self.height) / scale).round() as u32).clamp(1, side);
        let channels = usize::from(self.channels);
        let mut pixels = Vec::with_capacity(width as usize * height as usize * channels);
        for y in 0..height {
            let (top, bottom) = span(y, height, self.height);
            for x in 0..width {
                let (left, right) = span(x, width, self.width);
                for channel in 0..channels {
                    let mut total = 0u64;
                    for source_y in top..bottom {
                        let row = source_y as usize * self.width as usize;
                        for source_x in left..right {
                            total += u64::from(
                                self.pixels[(row + source_x as usize) * channels + channel],
                            );
                        }
                    }
                    let count = u64::from((bottom - top) * (right - left)).max(1);
                    pixels.push(((total + count / 2) / count) as u8);
                }
            }
        }
        Self {
            width,
            height,
            pixels,
            ..self
        }
    }

    /// The picture as a PNG, or `None` when it is invalid.
    #[must_use]
    pub fn png(&self) -> Option<Vec<u8>> {
        if !self.is_valid() {
            return None;
        }
        let mut bytes = Vec::with_capacity(self.pixels.len() / 2 + 128);
        let mut encoder = png::Encoder::new(&mut bytes, self.width, self.height);
        encoder.set_color(match self.channels {
            1 => png::ColorType::Grayscale,
            2 => png::ColorType::GrayscaleAlpha,
            3 => png::ColorType::Rgb,
            _ => png::ColorType::Rgba,
        });
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::High);
        let mut writer = encoder.write_header().ok()?;
        writer.write_image_data(&self.pixels).ok()?;
        writer.finish().ok()?;
        Some(bytes)
    }

    /// The picture as a `data:image/png;base64,...` URL: only characters of the base64
    /// alphabet follow the comma.
    #[must_use]
    pub fn data_url(&self) -> Option<String> {
        let png = self.png()?;
        let mut url = String::from("data:image/png;base64,");
        base64::engine::general_purpose::STANDARD.encode_string(png, &mut url);
        Some(url)
    }
}

/// The source rows (or columns) that target row `index` of `target` averages over.
fn span(index: u32, target: u32, source: u32) -> (u32, u32) {
    let start = u64::from(index) * u64::from(source) / u64::from(target);
    let end = (u64::from(index + 1) * u64::from(source)).div_ceil(u64::from(target));
    let end = end.clamp(start + 1, u64::from(source));
    (start as u32, end as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_png_starts_with_the_signature_and_round_trips() {
        let pixels: Vec<u8> = (0..28 * 28).map(|index| (index % 251) as u8).collect();
        let picture = Picture::new(28, 28, 1, pixels.clone());
        let png = picture.png().expect("a valid picture");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .expect("a PNG");
        let mut buffer = vec![0; decoder.output_buffer_size().expect("a size")];
        let info = decoder.next_frame(&mut buffer).expect("a frame");
        assert_eq!((info.width, info.height), (28, 28));
        assert_eq!(&buffer[..info.buffer_size()], pixels.as_slice());
    }

    #[test]
    fn the_data_url_holds_only_base64() {
        let url = Picture::new(3, 2, 3, vec![7; 18])
            .data_url()
            .expect("a valid picture");
        let payload = url
            .strip_prefix("data:image/png;base64,")
            .expect("the prefix");
        assert!(
            payload
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || "+/=".contains(character)),
            "{payload}"
        );
    }

    #[test]
    fn invalid_pictures_are_not_drawn() {
        assert!(Picture::new(2, 2, 1, vec![0; 3]).png().is_none());
        assert!(Picture::new(0, 2, 1, Vec::new()).png().is_none());
        assert!(Picture::new(1, 1, 5, vec![0; 5]).png().is_none());
        // Fitting leaves an invalid picture alone instead of panicking.
        assert_eq!(Picture::new(90, 90, 1, vec![0; 3]).fit(10).width, 90);
    }

    #[test]
    fn fitting_averages_boxes_of_pixels() {
        // Left half black, right half white, 4x2 shrunk to 2x1.
        let picture = Picture::new(4, 2, 1, vec![0, 0, 255, 255, 0, 0, 255, 255]).fit(2);
        assert_eq!((picture.width, picture.height), (2, 1));
        assert_eq!(picture.pixels, [0, 255]);
        // Odd sizes: every target pixel averages at least one source pixel.
        let odd = Picture::new(7, 5, 3, vec![200; 7 * 5 * 3]).fit(3);
        assert_eq!((odd.width, odd.height), (3, 2));
        assert!(odd.pixels.iter().all(|&value| value == 200));
        let small = Picture::new(2, 2, 1, vec![1, 2, 3, 4]);
        assert_eq!(small.clone().fit(28), small);
    }
}
