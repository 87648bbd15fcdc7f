//! Pictures of the scan report: thumbnails, class means, the difference that shows where a
//! trigger sits, and the recovered trigger itself.

use antidote_data::{Record, Value};
use antidote_report::Picture;

/// The longest side of a thumbnail, in pixels of the data; larger images are shrunk.
const THUMBNAIL_SIDE: u32 = 64;

/// The image a record holds in `column`.
pub(super) fn image_of<'r>(record: &'r Record, column: &str) -> Option<&'r antidote_data::Image> {
    match record.field(column) {
        Some(Value::Image(image)) => Some(image),
        _ => None,
    }
}

/// A record's image, shrunk to a thumbnail, captioned with its id.
pub(super) fn thumbnail(record: &Record, column: &str) -> Option<Picture> {
    let image = image_of(record, column)?;
    Some(
        Picture::new(
            image.width,
            image.height,
            image.channels,
            image.pixels.clone(),
        )
        .fit(THUMBNAIL_SIDE)
        .with_caption(format!("`{}`", record.id)),
    )
}

/// The per-pixel mean of the images of `indices` that have `shape` (width, height, channels).
pub(super) fn mean_image(
    records: &[Record],
    column: &str,
    indices: &[usize],
    shape: (u32, u32, u8),
) -> Option<Vec<f64>> {
    let size = shape.0 as usize * shape.1 as usize * usize::from(shape.2);
    let mut sum = vec![0.0; size];
    let mut count = 0usize;
    for &index in indices {
        let Some(image) = image_of(&records[index], column) else {
            continue;
        };
        if (image.width, image.height, image.channels) != shape || image.pixels.len() != size {
            continue;
        }
        for (total, &value) in sum.iter_mut().zip(&image.pixels) {
            *total += f64::from(value);
        }
        count += 1;
    }
    (count > 0).then(|| sum.iter().map(|total| total / count as f64).collect())
}

/// Where the positive difference `carried - rest` is largest, as a grey picture scaled so that
/// the largest difference is white: a stamped patch shows as a bright square.
pub(super) fn difference(carried: &[f64], rest: &[f64], shape: (u32, u32, u8)) -> Picture {
    let channels = usize::from(shape.2);
    let grey: Vec<f64> = carried
        .chunks(channels)
        .zip(rest.chunks(channels))
        .map(|(a, b)| {
            let colour = channels.min(3);
            (0..colour)
                .map(|channel| a[channel] - b[channel])
                .sum::<f64>()
                / colour as f64
        })
        .map(|value| value.max(0.0))
        .collect();
    let top = grey.iter().copied().fold(0.0, f64::max);
    let pixels = grey
        .iter()
        .map(|value| {
            if top > 0.0 {
                (value / top * 255.0).round() as u8
            } else {
                0
            }
        })
        .collect();
    Picture::new(shape.0, shape.1, 1, pixels).with_description(
        "where the records carrying the trigger are brighter than the rest of their class",
    )
}

/// A pattern with its contrast stretched to the full range, so that a faint blend shows.
pub(super) fn stretched(width: u32, height: u32, channels: u8, pixels: &[u8]) -> Picture {
    let low = pixels.iter().copied().min().unwrap_or(0);
    let high = pixels.iter().copied().max().unwrap_or(0);
    let range = f64::from(high.saturating_sub(low)).max(1.0);
    Picture::new(
        width,
        height,
        channels,
        pixels
            .iter()
            .map(|&value| (f64::from(value - low) / range * 255.0).round() as u8)
            .collect(),
    )
}

/// An image patch trigger.
pub(super) struct Patch<'p> {
    pub(super) x: u32,
    pub(super) y: u32,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) channels: u32,
    pub(super) pixels: &'p [u8],
}

impl Patch<'_> {
    /// The patch stamped on the dimmed mean of its target class, framed in red.
    pub(super) fn in_place(
        &self,
        background: Option<&[f64]>,
        shape: (u32, u32, u8),
    ) -> Option<Picture> {
        let (width, height, channels) = (shape.0 as usize, shape.1 as usize, usize::from(shape.2));
        let patch_channels = self.channels as usize;
        if patch_channels == 0
            || self.pixels.len() != self.width as usize * self.height as usize * patch_channels
        {
            return None;
        }
        let grey_at = |x: usize, y: usize| -> f64 {
            background.map_or(0.0, |mean| {
                let at = (y * width + x) * channels;
                mean[at..at + channels.min(3)].iter().sum::<f64>() / channels.min(3) as f64
            })
        };
        let mut rgb = vec![0u8; width * height * 3];
        for y in 0..height {
            for x in 0..width {
                let value = (grey_at(x, y) * 0.4).round() as u8;
                rgb[(y * width + x) * 3..][..3].copy_from_slice(&[value; 3]);
            }
        }
        let (left, top) = (self.x as usize, self.y as usize);
        let (right, bottom) = (left + self.width as usize, top + self.height as usize);
        for y in top.saturating_sub(1)..=bottom.min(height - 1) {
            for x in left.saturating_sub(1)..=right.min(width - 1) {
                let inside = (left..right).contains(&x) && (top..bottom).contains(&y);
                let at = (y * width + x) * 3;
                if inside {
                    let from = ((y - top) * self.width as usize + (x - left)) * patch_channels;
                    let source = &self.pixels[from..from + patch_channels];
                    for channel in 0..3 {
                        rgb[at + channel] = source[channel.min(patch_channels - 1)];
                    }
                } else {
                    rgb[at..at + 3].copy_from_slice(&[220, 38, 38]);
                }
            }
        }
        Some(
            Picture::new(shape.0, shape.1, 3, rgb)
                .with_caption("where it sits (framed in red)")
                .with_description(
                    "the trigger patch stamped on the dimmed mean of its target class",
                ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patch_is_drawn_in_place_and_framed() {
        let white = [255u8; 4];
        let patch = Patch {
            x: 2,
            y: 2,
            width: 2,
            height: 2,
            channels: 1,
            pixels: &white,
        };
        let picture = patch.in_place(None, (6, 6, 1)).expect("a picture");
        assert_eq!((picture.width, picture.height, picture.channels), (6, 6, 3));
        let pixel = |x: usize, y: usize| &picture.pixels[(y * 6 + x) * 3..][..3];
        assert_eq!(pixel(2, 2), [255, 255, 255]);
        assert_eq!(pixel(3, 3), [255, 255, 255]);
        assert_eq!(pixel(1, 1), [220, 38, 38]);
        assert_eq!(pixel(4, 4), [220, 38, 38]);
        assert_eq!(pixel(0, 0), [0, 0, 0]);
        // A patch at the edge is clipped, not out of bounds.
        let corner = Patch {
            x: 4,
            y: 4,
            ..patch
        };
        assert!(corner.in_place(None, (6, 6, 1)).is_some());
    }

    #[test]
    fn the_difference_shows_where_carriers_are_brighter() {
        let carried = [10.0, 200.0, 10.0, 10.0];
        let rest = [10.0, 20.0, 50.0, 10.0];
        let picture = difference(&carried, &rest, (2, 2, 1));
        assert_eq!(picture.pixels, [0, 255, 0, 0]);
    }
}
