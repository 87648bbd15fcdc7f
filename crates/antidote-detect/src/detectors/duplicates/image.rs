//! Near-duplicate images: a perceptual signature proposes candidates, the pixels decide.
//!
//! The signature is the one the DCT perceptual hash (pHash) thresholds (Zauner, 2010,
//! "Implementation and benchmarking of perceptual image hash functions"; the `imagehash`
//! library): the image in grey, resampled to 32x32, and its 8x8 lowest DCT-II frequencies. The
//! frequency `(0, 0)` (overall brightness) is dropped and the other 63 are centred on the
//! dataset's mean. Low frequencies barely move under pixel noise, re-encoding, resizing or a
//! change of brightness, so copies of one image have nearly parallel signatures.
//!
//! pHash itself keeps one bit per frequency (above or below their median) and searches within a
//! Hamming radius. On small images that is both too coarse and too fragile: measured on the
//! 60,000 Fashion-MNIST training images, 754 distinct images share their 64-bit hash with
//! another (28 of those groups across classes), while a copy with Gaussian pixel noise of
//! standard deviation 8 lands more than 4 bits away 15% of the time, and a radius of 4 already
//! proposes 37 million pairs. Instead, the signatures are hashed by the signs of random
//! projections in bands (Charikar, 2002; see [`super::embedding`]): 16 bands of 48 bits propose
//! about 1.5 million pairs on Fashion-MNIST and every noised copy (100% at noise 8, 99% at 16).
//!
//! A candidate pair is confirmed on the pixels: the root mean square of the difference of the
//! two images after each is shifted to mean brightness 0, as a fraction of the 0-255 range.
//! Images of one size are compared pixel by pixel; images of different sizes through their grey
//! 32x32 resamplings. On Fashion-MNIST, a copy with noise 8 differs by at most 0.032, while the
//! nearest distinct image of the same class is further than 0.056 for 99% of images; the default
//! threshold is 0.04.

use std::collections::BTreeMap;

use antidote_data::Image;
use rayon::prelude::*;

use antidote_core::SplitMix64;

use super::embedding::band_entries;
use super::groups::{UnionFind, link_buckets};

/// The side of the resampled image the DCT reads.
const SIDE: usize = 32;
/// Frequencies kept per axis.
const FREQUENCIES: usize = 8;
/// What turns the unnormalised coefficients (each axis `2 Σ cos(...) x`) into the orthonormal
/// DCT-II's (`c(u) Σ cos(...) x` with `c(0) = √(1/32)`, `c(k) = √(2/32)`): `c(u) c(v) / 4`.
const ORTHONORMAL_SCALE: [f64; FREQUENCIES * FREQUENCIES] = {
    let mut scales = [0.0; FREQUENCIES * FREQUENCIES];
    let mut index = 0;
    while index < FREQUENCIES * FREQUENCIES {
        let edge = (index / FREQUENCIES == 0) as u8 + (index % FREQUENCIES == 0) as u8;
        // c(k)² = 1/16 for k > 0; each zero frequency swaps a factor √(2/32) for √(1/32).
        scales[index] = match edge {
            0 => 1.0 / 64.0,
            1 => std::f64::consts::FRAC_1_SQRT_2 / 32.0,
            _ => 1.0 / 128.0,
        };
        index += 1;
    }
    scales
};
/// Bits per band of the signature hash.
const BITS: usize = 48;
/// Bands of the signature hash.
const BANDS: usize = 16;

/// The box filter that resamples `length` pixels to `SIDE`: `SIDE` rows of `length` weights,
/// output pixel `t` averaging the source interval `[t·s/T, (t+1)·s/T)`.
fn resample_matrix(length: usize) -> Vec<f64> {
    let scale = length as f64 / SIDE as f64;
    let mut resample = vec![0.0f64; SIDE * length];
    for target in 0..SIDE {
        let (from, to) = (target as f64 * scale, (target + 1) as f64 * scale);
        for source in (from.floor() as usize)..(to.ceil() as usize).min(length) {
            let overlap = (to.min(source as f64 + 1.0) - from.max(source as f64)).max(0.0);
            resample[target * length + source] = overlap / scale;
        }
    }
    resample
}

/// The combined resampling and DCT matrix for one axis: `FREQUENCIES` rows of `length`.
fn axis_matrix(length: usize) -> Vec<f64> {
    let resample = resample_matrix(length);
    // Unnormalised DCT-II, as scipy's `dct` with `norm=None`, which `imagehash` uses: every
    // frequency on the same scale, so comparing them with their median is fair.
    let mut combined = vec![0.0f64; FREQUENCIES * length];
    for frequency in 0..FREQUENCIES {
        for target in 0..SIDE {
            let basis = 2.0
                * (std::f64::consts::PI * (2 * target + 1) as f64 * frequency as f64
                    / (2 * SIDE) as f64)
                    .cos();
            for source in 0..length {
                combined[frequency * length + source] += basis * resample[target * length + source];
            }
        }
    }
    combined
}

/// The matrices of one image size, in `f32`: `rows` is `FREQUENCIES x height`, `columns` is
/// `width x FREQUENCIES` (transposed, so that the inner loops run over frequencies and
/// vectorise).
struct Transform {
    rows: Vec<f32>,
    columns: Vec<f32>,
}

impl Transform {
    fn new(width: usize, height: usize) -> Self {
        let columns = axis_matrix(width);
        let mut transposed = vec![0.0f32; width * FREQUENCIES];
        for frequency in 0..FREQUENCIES {
            for source in 0..width {
                transposed[source * FREQUENCIES + frequency] =
                    columns[frequency * width + source] as f32;
            }
        }
        Self {
            rows: axis_matrix(height)
                .into_iter()
                .map(|value| value as f32)
                .collect(),
            columns: transposed,
        }
    }

    /// The 8x8 lowest DCT frequencies of the resampled grey image, row-major. `grey` and
    /// `partial` are scratch space, reused between images.
    fn frequencies(
        &self,
        image: &Image,
        grey: &mut Vec<f32>,
        partial: &mut Vec<[f32; FREQUENCIES]>,
    ) -> [f64; FREQUENCIES * FREQUENCIES] {
        let width = image.width as usize;
        grey_plane(image, grey);
        // `image · columns`: height x FREQUENCIES.
        partial.clear();
        for values in grey.chunks_exact(width) {
            let mut sums = [0.0f32; FREQUENCIES];
            for (&value, weights) in values.iter().zip(self.columns.chunks_exact(FREQUENCIES)) {
                for (sum, weight) in sums.iter_mut().zip(weights) {
                    *sum += value * weight;
                }
            }
            partial.push(sums);
        }
        // `rows · partial`: FREQUENCIES x FREQUENCIES.
        let mut coefficients = [0.0f64; FREQUENCIES * FREQUENCIES];
        for (vertical, weights) in self.rows.chunks_exact(partial.len()).enumerate() {
            let mut sums = [0.0f32; FREQUENCIES];
            for (&weight, row) in weights.iter().zip(partial.iter()) {
                for (sum, value) in sums.iter_mut().zip(row) {
                    *sum += weight * value;
                }
            }
            for (horizontal, sum) in sums.into_iter().enumerate() {
                coefficients[vertical * FREQUENCIES + horizontal] = f64::from(sum);
            }
        }
        coefficients
    }
}

/// The image in grey, one value per pixel, into `grey`: the mean of the colour channels,
/// alpha ignored.
fn grey_plane(image: &Image, grey: &mut Vec<f32>) {
    let channels = usize::from(image.channels.max(1));
    let colours = match channels {
        2 => 1,
        4 => 3,
        other => other,
    };
    grey.clear();
    if colours == 1 {
        grey.extend(
            image
                .pixels
                .iter()
                .step_by(channels)
                .map(|&value| f32::from(value)),
        );
    } else {
        grey.extend(image.pixels.chunks_exact(channels).map(|pixel| {
            pixel[..colours]
                .iter()
                .map(|&value| f32::from(value))
                .sum::<f32>()
                / colours as f32
        }));
    }
}

/// The 63 centred low-frequency DCT coefficients of every image, on the orthonormal DCT's scale,
/// row-major (`f32`), and the dataset indices of the images they belong to (those present and
/// whose pixels match their size), computed in parallel.
fn signatures(images: &[Option<&Image>]) -> (Vec<f32>, Vec<usize>) {
    let mut transforms: BTreeMap<(usize, usize), Transform> = BTreeMap::new();
    let members: Vec<usize> = (0..images.len())
        .filter(|&record| images[record].is_some_and(is_well_formed))
        .collect();
    for &record in &members {
        let image = images[record].expect("members have images");
        let size = (image.width as usize, image.height as usize);
        transforms
            .entry(size)
            .or_insert_with(|| Transform::new(size.0, size.1));
    }
    let width = FREQUENCIES * FREQUENCIES - 1;
    let mut rows = vec![0.0f64; members.len() * width];
    rows.par_chunks_mut(width).zip(&members).for_each_init(
        || (Vec::new(), Vec::new()),
        |(grey, partial), (row, &record)| {
            let image = images[record].expect("members have images");
            let transform = &transforms[&(image.width as usize, image.height as usize)];
            let frequencies = transform.frequencies(image, grey, partial);
            for ((value, frequency), scale) in row
                .iter_mut()
                .zip(&frequencies[1..])
                .zip(&ORTHONORMAL_SCALE[1..])
            {
                *value = frequency * scale;
            }
        },
    );
    let mut mean = vec![0.0f64; width];
    for row in rows.chunks_exact(width) {
        for (total, value) in mean.iter_mut().zip(row) {
            *total += value;
        }
    }
    for total in &mut mean {
        *total /= members.len().max(1) as f64;
    }
    for row in rows.chunks_exact_mut(width) {
        for (value, centre) in row.iter_mut().zip(&mean) {
            *value -= centre;
        }
    }
    (
        rows.into_iter().map(|value| value as f32).collect(),
        members,
    )
}

/// Whether the image has a size and exactly the pixels it says.
fn is_well_formed(image: &Image) -> bool {
    image.width > 0
        && image.height > 0
        && (1..=4).contains(&image.channels)
        && image.pixels.len()
            == image.width as usize * image.height as usize * usize::from(image.channels)
}

/// The root mean square difference of two images after each is shifted to mean 0, as a
/// fraction of the 0-255 range: pixel by pixel when they have one shape, else through their
/// grey 32x32 resamplings.
pub(crate) fn difference(first: &Image, second: &Image) -> f64 {
    let same_shape = first.width == second.width
        && first.height == second.height
        && first.channels == second.channels;
    let (squares, total, count) = if same_shape {
        pixel_difference_sums(&first.pixels, &second.pixels)
    } else {
        difference_sums(thumbnail(first).into_iter(), thumbnail(second).into_iter())
    };
    if count == 0 {
        return f64::INFINITY;
    }
    let count = count as f64;
    let mean = total / count;
    (squares / count - mean * mean).max(0.0).sqrt() / 255.0
}

/// [`difference_sums`] of two pixel arrays, in exact integer arithmetic that vectorises: this
/// check runs on every candidate pair.
fn pixel_difference_sums(first: &[u8], second: &[u8]) -> (f64, f64, usize) {
    // Chunks of 4096 pixels keep the squares (at most 255² each) within `u32`.
    let (mut squares, mut total) = (0u64, 0i64);
    for (first, second) in first.chunks(4096).zip(second.chunks(4096)) {
        let (mut chunk_squares, mut chunk_total) = (0u32, 0i32);
        for (&a, &b) in first.iter().zip(second) {
            let difference = i32::from(a) - i32::from(b);
            chunk_squares += difference.unsigned_abs() * difference.unsigned_abs();
            chunk_total += difference;
        }
        squares += u64::from(chunk_squares);
        total += i64::from(chunk_total);
    }
    (squares as f64, total as f64, first.len().min(second.len()))
}

/// The sum of squared differences, the sum of differences and their count.
fn difference_sums(
    first: impl Iterator<Item = f64>,
    second: impl Iterator<Item = f64>,
) -> (f64, f64, usize) {
    first
        .zip(second)
        .fold((0.0, 0.0, 0), |(squares, total, count), (a, b)| {
            let difference = a - b;
            (
                squares + difference * difference,
                total + difference,
                count + 1,
            )
        })
}

/// The image in grey, box-resampled to 32x32.
fn thumbnail(image: &Image) -> Vec<f64> {
    let (width, height) = (image.width as usize, image.height as usize);
    let mut grey = Vec::new();
    grey_plane(image, &mut grey);
    let rows = resample_matrix(height);
    let columns = resample_matrix(width);
    // `rows · grey · columnsᵀ`.
    let mut partial = vec![0.0f64; height * SIDE];
    for (row, values) in grey.chunks_exact(width).enumerate() {
        for target in 0..SIDE {
            partial[row * SIDE + target] = values
                .iter()
                .zip(&columns[target * width..(target + 1) * width])
                .map(|(&value, weight)| f64::from(value) * weight)
                .sum();
        }
    }
    let mut thumbnail = vec![0.0f64; SIDE * SIDE];
    for target_row in 0..SIDE {
        for (row, weight) in rows[target_row * height..(target_row + 1) * height]
            .iter()
            .enumerate()
        {
            for target in 0..SIDE {
                thumbnail[target_row * SIDE + target] += weight * partial[row * SIDE + target];
            }
        }
    }
    thumbnail
}

/// Joins the records whose images differ by at most `max_difference` (see [`difference`]),
/// among the candidates the signature bands propose. Returns the number of joins.
pub(crate) fn link_near_images(
    images: &[Option<&Image>],
    max_difference: f64,
    seed: u64,
    sets: &mut UnionFind,
) -> usize {
    let (signatures, members) = signatures(images);
    if members.len() < 2 {
        return 0;
    }
    let mut random = SplitMix64::derived(seed, "duplicates/image-hyperplanes");
    let entries = band_entries(
        &signatures,
        FREQUENCIES * FREQUENCIES - 1,
        &members,
        BITS,
        BANDS,
        &mut random,
    );
    let width = FREQUENCIES * FREQUENCIES - 1;
    let mut slot_of_record = vec![usize::MAX; images.len()];
    for (slot, &record) in members.iter().enumerate() {
        slot_of_record[record] = slot;
    }
    // By Parseval's identity the 63 orthonormal coefficients hold at most the energy of the
    // brightness-centred difference of the 32x32 resamplings, and box resampling never raises
    // the mean square, so a pair whose signatures are further apart than this cannot pass the
    // pixel check. The margin covers rounding in `f32`.
    let bound = (SIDE as f64 * max_difference * 255.0) * 1.001 + 1e-3;
    let bound_squared = (bound * bound) as f32;
    link_buckets(entries, sets, |first, second| {
        let (first_slot, second_slot) = (slot_of_record[first], slot_of_record[second]);
        let signature_distance: f32 = signatures[first_slot * width..(first_slot + 1) * width]
            .iter()
            .zip(&signatures[second_slot * width..(second_slot + 1) * width])
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        if signature_distance > bound_squared {
            return false;
        }
        match (images[first], images[second]) {
            (Some(first), Some(second)) => difference(first, second) <= max_difference,
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32, pixel: impl Fn(u32, u32) -> f64) -> Image {
        let pixels = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .map(|(x, y)| pixel(x, y).round().clamp(0.0, 255.0) as u8)
            .collect();
        Image {
            width,
            height,
            channels: 1,
            pixels,
        }
    }

    /// A smooth random picture: a few blobs at random places.
    fn picture(random: &mut SplitMix64) -> Image {
        let blobs: Vec<(f64, f64, f64)> = (0..4)
            .map(|_| {
                (
                    random.unit() * 28.0,
                    random.unit() * 28.0,
                    20.0 + random.unit() * 60.0,
                )
            })
            .collect();
        image(28, 28, move |x, y| {
            blobs
                .iter()
                .map(|&(cx, cy, size)| {
                    let distance = (f64::from(x) - cx).powi(2) + (f64::from(y) - cy).powi(2);
                    120.0 * (-distance / size).exp()
                })
                .sum()
        })
    }

    fn noisy(image: &Image, sigma: f64, random: &mut SplitMix64) -> Image {
        let mut copy = image.clone();
        for value in &mut copy.pixels {
            *value = (f64::from(*value) + sigma * random.normal())
                .round()
                .clamp(0.0, 255.0) as u8;
        }
        copy
    }

    #[test]
    fn every_resampled_pixel_averages_weights_summing_to_one() {
        for length in [7, 28, 32, 100] {
            let matrix = resample_matrix(length);
            for row in matrix.chunks_exact(length) {
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{length}");
            }
            // Frequency 0 weighs every resampled pixel by 2, so its row sums to 2 · 32.
            let total: f64 = axis_matrix(length)[..length].iter().sum();
            assert!((total - 2.0 * SIDE as f64).abs() < 1e-9, "{length}");
        }
    }

    #[test]
    fn differences_ignore_brightness_and_size_but_not_content() {
        let mut random = SplitMix64::new(4);
        let first = picture(&mut random);
        let other = picture(&mut random);
        let brighter = image(28, 28, |x, y| {
            f64::from(first.pixels[(y * 28 + x) as usize]) + 20.0
        });
        let larger = image(56, 56, |x, y| {
            f64::from(first.pixels[(y / 2 * 28 + x / 2) as usize])
        });
        assert!(difference(&first, &first).abs() < 1e-12);
        assert!(difference(&first, &brighter) < 1e-3);
        assert!(
            difference(&first, &larger) < 0.02,
            "{}",
            difference(&first, &larger)
        );
        let noised = noisy(&first, 8.0, &mut random);
        assert!((0.025..0.035).contains(&difference(&first, &noised)));
        assert!(difference(&first, &other) > 0.1);
    }

    #[test]
    fn noised_copies_are_found_among_many_pictures() {
        let mut random = SplitMix64::new(8);
        let mut pictures: Vec<Image> = (0..300).map(|_| picture(&mut random)).collect();
        // Records 300..310 are noised copies of records 0..10.
        for original in 0..10 {
            let copy = noisy(&pictures[original], 6.0, &mut random);
            pictures.push(copy);
        }
        let images: Vec<Option<&Image>> = pictures.iter().map(Some).collect();
        let mut sets = UnionFind::new(images.len());
        link_near_images(&images, 0.04, 1, &mut sets);
        let groups = sets.groups();
        let expected: Vec<Vec<usize>> = (0..10)
            .map(|original| vec![original, 300 + original])
            .collect();
        assert_eq!(groups, expected);
    }
}
