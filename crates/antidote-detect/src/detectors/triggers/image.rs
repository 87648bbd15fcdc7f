//! Image candidates: patches of pixels in a state that is rare at their place and tied to one
//! label, nearly constant across the records that carry them.
//!
//! A pixel's state is the brightness band its value falls in (eight bands of 32 levels, per
//! channel). A patch backdoor (Gu et al., 2017) stamps a fixed patch at a fixed place, so each stamped pixel is in a band
//! it is rarely in otherwise, in the same records as its neighbours, and with the same value in
//! all of them; a class's own shape shows up in many records with varying values.

use antidote_core::SplitMix64;
use antidote_data::{Image, Record, Value};
use rayon::prelude::*;

use super::{
    Candidate, Data, Mined, Stamp, TriggerSearchError, TriggerSearchParams, enrichment,
    enrichment_of_counts, jaccard, kind_of, statistics, with_field,
};
use antidote_core::Trigger;

/// Brightness bands per channel value.
const BANDS: usize = 8;

/// Grey levels per band.
const BAND_WIDTH: usize = 256 / BANDS;

/// The most pixel states grouped into patches (the strongest first); grouping compares every
/// pair.
const MAX_STATES: usize = 512;

/// Two pixel states belong to one patch when their record sets overlap this much (Jaccard
/// index).
const GROUP_JACCARD: f64 = 0.5;

/// A record carries a patch when this share of the patch's values match the pattern; a patch
/// is constant when, on average, this share of its records match each of its values.
const PATCH_AGREEMENT: f64 = 0.9;

/// Two patches with records overlapping this much (Jaccard index) are one candidate.
const MERGE_JACCARD: f64 = 0.8;

/// Records counted together when tallying pixel states in parallel.
const CHUNK: usize = 512;

/// Width, height and channels of the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry {
    width: usize,
    height: usize,
    channels: usize,
}

impl Geometry {
    fn of(image: &Image) -> Self {
        Self {
            width: image.width as usize,
            height: image.height as usize,
            channels: usize::from(image.channels),
        }
    }

    fn values(self) -> usize {
        self.width * self.height * self.channels
    }

    fn describe(self) -> String {
        format!("{}x{}x{}", self.width, self.height, self.channels)
    }

    /// The column and row of the pixel that value `value` belongs to.
    fn place(self, value: usize) -> (usize, usize) {
        let pixel = value / self.channels;
        (pixel % self.width, pixel / self.width)
    }
}

/// A rectangle of pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rectangle {
    x: usize,
    y: usize,
    width: usize,
    height: usize,
}

impl Rectangle {
    /// The indices into an image's values of every value in the box, row by row.
    fn values(self, geometry: Geometry) -> impl Iterator<Item = usize> {
        (self.y..self.y + self.height).flat_map(move |row| {
            let start = (row * geometry.width + self.x) * geometry.channels;
            start..start + self.width * geometry.channels
        })
    }
}

/// The images of every record (`None` where a record has none).
fn images<'a>(
    records: &'a [Record],
    column: &str,
) -> Result<(Vec<Option<&'a Image>>, Option<Geometry>), TriggerSearchError> {
    let mut geometry: Option<Geometry> = None;
    let mut images = Vec::with_capacity(records.len());
    for record in records {
        let image = match record.field(column) {
            None | Some(Value::Null) => None,
            Some(Value::Image(image)) => Some(image),
            Some(other) => {
                return Err(TriggerSearchError::NotAnImage {
                    id: record.id.to_string(),
                    column: column.to_owned(),
                    found: kind_of(other),
                });
            }
        };
        if let Some(image) = image {
            let size = Geometry::of(image);
            let expected = *geometry.get_or_insert(size);
            if size != expected || image.pixels.len() != size.values() {
                return Err(TriggerSearchError::ImageSize {
                    id: record.id.to_string(),
                    column: column.to_owned(),
                    expected: expected.describe(),
                    found: size.describe(),
                });
            }
        }
        images.push(image);
    }
    Ok((images, geometry))
}

/// `counts[(value * BANDS + band) * classes + label]`: how many records labelled `label` have
/// value `value` in band `band`.
fn state_counts(
    images: &[Option<&Image>],
    labels: &[usize],
    values: usize,
    classes: usize,
) -> Vec<u32> {
    let size = values * BANDS * classes;
    images
        .par_chunks(CHUNK)
        .zip(labels.par_chunks(CHUNK))
        .map(|(images, labels)| {
            let mut counts = vec![0_u32; size];
            for (image, &label) in images.iter().zip(labels) {
                if let Some(image) = image {
                    for (value, &level) in image.pixels.iter().enumerate() {
                        let band = usize::from(level) / BAND_WIDTH;
                        counts[(value * BANDS + band) * classes + label] += 1;
                    }
                }
            }
            counts
        })
        .reduce(
            || vec![0; size],
            |mut total, part| {
                total
                    .iter_mut()
                    .zip(part)
                    .for_each(|(sum, count)| *sum += count);
                total
            },
        )
}

/// A pixel state that is rare and tied to one label.
#[derive(Debug, Clone, Copy)]
struct State {
    value: usize,
    band: usize,
    target: usize,
    support: usize,
    /// Whether its purity reaches `min_purity`.
    pure: bool,
    ln_p_value: f64,
}

/// A set of records as bits.
#[derive(Debug, Clone)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(records: usize) -> Self {
        Self(vec![0; records.div_ceil(64)])
    }

    fn set(&mut self, record: usize) {
        self.0[record / 64] |= 1 << (record % 64);
    }

    fn get(&self, record: usize) -> bool {
        self.0[record / 64] & (1 << (record % 64)) != 0
    }

    fn jaccard(&self, other: &Self) -> f64 {
        let (mut shared, mut union) = (0_u32, 0_u32);
        for (a, b) in self.0.iter().zip(&other.0) {
            shared += (a & b).count_ones();
            union += (a | b).count_ones();
        }
        if union == 0 {
            1.0
        } else {
            f64::from(shared) / f64::from(union)
        }
    }
}

fn find_root(parents: &mut [usize], mut node: usize) -> usize {
    while parents[node] != node {
        parents[node] = parents[parents[node]];
        node = parents[node];
    }
    node
}

/// Groups states with the same target whose record sets overlap by at least
/// [`GROUP_JACCARD`], transitively. Groups come in the order of their strongest state.
fn group(states: &[State], bits: &[Bits]) -> Vec<Vec<usize>> {
    let mut parents: Vec<usize> = (0..states.len()).collect();
    for first in 0..states.len() {
        for second in first + 1..states.len() {
            let (a, b) = (&states[first], &states[second]);
            let sizes = (a.support.min(b.support), a.support.max(b.support));
            if a.target != b.target || (sizes.0 as f64) < GROUP_JACCARD * sizes.1 as f64 {
                continue;
            }
            if bits[first].jaccard(&bits[second]) >= GROUP_JACCARD {
                let (root_a, root_b) = (
                    find_root(&mut parents, first),
                    find_root(&mut parents, second),
                );
                parents[root_a.max(root_b)] = root_a.min(root_b);
            }
        }
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut slot_of_root = vec![usize::MAX; states.len()];
    for state in 0..states.len() {
        let root = find_root(&mut parents, state);
        if slot_of_root[root] == usize::MAX {
            slot_of_root[root] = groups.len();
            groups.push(Vec::new());
        }
        groups[slot_of_root[root]].push(state);
    }
    groups
}

/// The median of a histogram of `count` values.
fn histogram_median(histogram: &[u32; 256], count: u32) -> u8 {
    let middle = count.div_ceil(2);
    let mut seen = 0;
    for (level, &frequency) in histogram.iter().enumerate() {
        seen += frequency;
        if seen >= middle {
            return level as u8;
        }
    }
    u8::MAX
}

/// The share of `image`'s values in `area` that are within `tolerance` of `pattern`.
fn agreement(
    image: &Image,
    area: Rectangle,
    geometry: Geometry,
    pattern: &[u8],
    tolerance: u8,
) -> f64 {
    let matching = area
        .values(geometry)
        .zip(pattern)
        .filter(|&(value, &expected)| image.pixels[value].abs_diff(expected) <= tolerance)
        .count();
    matching as f64 / pattern.len() as f64
}

/// "white", "black" or the mean grey level, for sentences.
fn describe_pattern(pattern: &[u8]) -> String {
    let high = 256 - BAND_WIDTH;
    if pattern.iter().all(|&level| usize::from(level) >= high) {
        "white ".to_owned()
    } else if pattern.iter().all(|&level| usize::from(level) < BAND_WIDTH) {
        "black ".to_owned()
    } else {
        let mean =
            pattern.iter().map(|&level| f64::from(level)).sum::<f64>() / pattern.len() as f64;
        format!("grey-level {mean:.0} ")
    }
}

/// Pastes a patch in place; the control pastes the same box from another record.
struct ImageStamp<'a> {
    column: &'a str,
    geometry: Geometry,
    area: Rectangle,
    pattern: Vec<u8>,
    /// Images that do not carry the patch, for the control.
    donors: Vec<&'a Image>,
    /// The per-value median of the donors in the box: what is usually there, which replaces
    /// the patch when it is removed.
    background: Vec<u8>,
}

impl ImageStamp<'_> {
    fn paste(&self, record: &Record, source: &[u8]) -> Record {
        let Some(Value::Image(image)) = record.field(self.column) else {
            return record.clone();
        };
        let mut image = image.clone();
        for (value, &level) in self.area.values(self.geometry).zip(source) {
            image.pixels[value] = level;
        }
        with_field(record, self.column, Value::Image(image))
    }
}

impl Stamp for ImageStamp<'_> {
    fn stamp(&self, record: &Record, _random: &mut SplitMix64) -> Record {
        self.paste(record, &self.pattern)
    }

    fn control(&self, record: &Record, random: &mut SplitMix64) -> Record {
        if self.donors.is_empty() {
            return record.clone();
        }
        let donor = self.donors[random.below(self.donors.len())];
        let source: Vec<u8> = self
            .area
            .values(self.geometry)
            .map(|value| donor.pixels[value])
            .collect();
        self.paste(record, &source)
    }

    fn control_description(&self) -> &'static str {
        "the same box copied from another record"
    }

    fn remove(&self, record: &Record) -> Record {
        self.paste(record, &self.background)
    }

    fn applies(&self, record: &Record) -> bool {
        matches!(record.field(self.column), Some(Value::Image(image)) if Geometry::of(image) == self.geometry)
    }
}

fn pixel_states(count: usize) -> String {
    if count == 1 {
        "1 pixel state".to_owned()
    } else {
        format!("{count} pixel states")
    }
}

/// Why groups of pixel states did not become candidates, counted, with the first example of
/// each reason.
#[derive(Debug, Default)]
struct Rejected {
    too_large: usize,
    example_too_large: Option<String>,
    varying: usize,
    example_varying: Option<String>,
    mixed: usize,
}

impl Rejected {
    fn describe(&self, groups: usize, kept: usize) -> String {
        let mut parts = vec![format!(
            "grouped them into {groups} patches by their images; {kept} became candidates"
        )];
        if let Some(example) = &self.example_too_large {
            parts.push(format!(
                "{} spread wider than a stamped patch (for example {example})",
                self.too_large
            ));
        }
        if let Some(example) = &self.example_varying {
            parts.push(format!(
                "{} vary across their images as natural content does and a stamp does not \
                 (for example {example})",
                self.varying
            ));
        }
        if self.mixed > 0 {
            parts.push(format!(
                "{} matched whole, are in too few images or too mixed a set of labels",
                self.mixed
            ));
        }
        parts.join("; ")
    }
}

/// Proposes the patch candidates, strongest first.
#[expect(
    clippy::too_many_lines,
    reason = "one pipeline read top to bottom: states, tests, groups, patches"
)]
pub(super) fn mine<'a>(
    data: &Data<'a>,
    column: &'a str,
    params: &TriggerSearchParams,
) -> Result<Mined<'a>, TriggerSearchError> {
    let (images, geometry) = images(data.records, column)?;
    let mut notes = vec![
        "blended full-image patterns are not searched: no pixel of a faint blend is in a rare \
         state"
            .to_owned(),
    ];
    let Some(geometry) = geometry else {
        notes.push(format!("no record has an image in column `{column}`"));
        return Ok(Mined {
            candidates: Vec::new(),
            notes,
        });
    };
    let classes = data.class_names.len();
    let mut class_counts = vec![0; classes];
    for (image, &label) in images.iter().zip(data.labels) {
        if image.is_some() {
            class_counts[label] += 1;
        }
    }
    let total: usize = class_counts.iter().sum();
    let max_support = (params.max_support_fraction * total as f64).floor() as usize;

    // Every pixel state in a rare share of the images, tested for enrichment of one label.
    let counts = state_counts(&images, data.labels, geometry.values(), classes);
    let mut tested: Vec<State> = Vec::new();
    let mut label_counts = vec![0_u64; classes];
    for (state, per_label) in counts.chunks_exact(classes).enumerate() {
        label_counts
            .iter_mut()
            .zip(per_label)
            .for_each(|(count, &per)| *count = u64::from(per));
        let support = label_counts.iter().sum::<u64>() as usize;
        if !(params.min_support..=max_support).contains(&support) {
            continue;
        }
        let (target, purity, ln_p_value) =
            enrichment_of_counts(&label_counts, &class_counts, total);
        tested.push(State {
            value: state / BANDS,
            band: state % BANDS,
            target,
            support,
            pure: purity >= params.min_purity,
            ln_p_value,
        });
    }
    let ln_p_values: Vec<f64> = tested.iter().map(|state| state.ln_p_value).collect();
    let cutoff = statistics::benjamini_hochberg_cutoff(&ln_p_values, params.false_discovery_rate);
    let mut states: Vec<State> = tested
        .iter()
        .filter(|state| state.pure && cutoff.is_some_and(|cutoff| state.ln_p_value <= cutoff))
        .copied()
        .collect();
    states.sort_by(|a, b| {
        a.ln_p_value
            .total_cmp(&b.ln_p_value)
            .then(a.value.cmp(&b.value))
            .then(a.band.cmp(&b.band))
    });
    let significant = states.len();
    states.truncate(MAX_STATES);
    notes.push(format!(
        "tested {} pixel states (a value in one of {BANDS} brightness bands) in {} to \
         {max_support} of {total} images; {significant} are tied to one label beyond chance \
         (binomial test, Benjamini-Hochberg at a {} false discovery rate) with a purity of at \
         least {}{}",
        tested.len(),
        params.min_support,
        super::percent(params.false_discovery_rate),
        super::percent(params.min_purity),
        if significant > states.len() {
            format!("; the {} strongest were grouped into patches", states.len())
        } else {
            String::new()
        }
    ));

    // Which images are in each state.
    let mut bits = vec![Bits::new(data.records.len()); states.len()];
    let mut by_value: Vec<Vec<usize>> = vec![Vec::new(); geometry.values()];
    for (slot, state) in states.iter().enumerate() {
        by_value[state.value].push(slot);
    }
    let watched: Vec<usize> = (0..geometry.values())
        .filter(|&value| !by_value[value].is_empty())
        .collect();
    for (record, image) in images.iter().enumerate() {
        let Some(image) = image else { continue };
        for &value in &watched {
            let band = usize::from(image.pixels[value]) / BAND_WIDTH;
            for &slot in &by_value[value] {
                if states[slot].band == band {
                    bits[slot].set(record);
                }
            }
        }
    }

    let mut candidates: Vec<(f64, Candidate<'a>)> = Vec::new();
    let mut rejected = Rejected::default();
    let groups = group(&states, &bits);
    let group_count = groups.len();
    for members in groups {
        let target_name = data.class_names[states[members[0]].target];
        let (mut left, mut top, mut right, mut bottom) = (usize::MAX, usize::MAX, 0, 0);
        for &member in &members {
            let (x, y) = geometry.place(states[member].value);
            (left, top, right, bottom) = (left.min(x), top.min(y), right.max(x), bottom.max(y));
        }
        let area = Rectangle {
            x: left,
            y: top,
            width: right - left + 1,
            height: bottom - top + 1,
        };
        let place = format!(
            "{}x{} box at x {}, y {}",
            area.width, area.height, area.x, area.y
        );
        if (area.width * area.height) as f64
            > params.max_patch_fraction * (geometry.width * geometry.height) as f64
        {
            rejected.too_large += 1;
            rejected.example_too_large.get_or_insert_with(|| {
                format!(
                    "{} tied to `{target_name}` spanning a {place}",
                    pixel_states(members.len())
                )
            });
            continue;
        }

        // The records in most of the group's states, and the pattern they share.
        let needed = members.len().div_ceil(2);
        let supporting: Vec<&Image> = images
            .iter()
            .enumerate()
            .filter_map(|(record, image)| {
                let inside = members
                    .iter()
                    .filter(|&&member| bits[member].get(record))
                    .count();
                image.filter(|_| inside >= needed)
            })
            .collect();
        let mut pattern = Vec::with_capacity(area.width * area.height * geometry.channels);
        let mut constancy = 0.0;
        for value in area.values(geometry) {
            let mut histogram = [0_u32; 256];
            for image in &supporting {
                histogram[usize::from(image.pixels[value])] += 1;
            }
            let median = histogram_median(&histogram, supporting.len() as u32);
            let close = supporting
                .iter()
                .filter(|image| image.pixels[value].abs_diff(median) <= params.pixel_tolerance)
                .count();
            constancy += close as f64 / supporting.len().max(1) as f64;
            pattern.push(median);
        }
        constancy /= pattern.len() as f64;
        if constancy < PATCH_AGREEMENT {
            rejected.varying += 1;
            rejected.example_varying.get_or_insert_with(|| {
                format!(
                    "{} tied to `{target_name}` in a {place}, on average {} of their {} images \
                     within {} levels of the median",
                    pixel_states(members.len()),
                    super::percent(constancy),
                    supporting.len(),
                    params.pixel_tolerance
                )
            });
            continue;
        }

        // Every image that carries the pattern, whatever its label.
        let carriers: Vec<u32> = images
            .iter()
            .enumerate()
            .filter(|(_, image)| {
                image.is_some_and(|image| {
                    agreement(image, area, geometry, &pattern, params.pixel_tolerance)
                        >= PATCH_AGREEMENT
                })
            })
            .map(|(record, _)| record as u32)
            .collect();
        let (target, purity, ln_p_value) = enrichment(&carriers, data.labels, &class_counts, total);
        let name = format!(
            "a {}x{} {}patch at x {}, y {}",
            area.width,
            area.height,
            describe_pattern(&pattern),
            area.x,
            area.y
        );
        let significant = cutoff.is_some_and(|cutoff| ln_p_value <= cutoff);
        if carriers.len() < params.min_support || purity < params.min_purity || !significant {
            rejected.mixed += 1;
            continue;
        }
        let duplicate = candidates.iter().any(|(_, kept)| {
            kept.target == target && jaccard(&kept.carriers, &carriers) >= MERGE_JACCARD
        });
        if duplicate {
            continue;
        }
        let donors: Vec<&Image> = images
            .iter()
            .enumerate()
            .filter_map(|(record, image)| {
                image.filter(|_| carriers.binary_search(&(record as u32)).is_err())
            })
            .collect();
        let background = area
            .values(geometry)
            .map(|value| {
                let mut histogram = [0_u32; 256];
                for image in &donors {
                    histogram[usize::from(image.pixels[value])] += 1;
                }
                histogram_median(&histogram, donors.len() as u32)
            })
            .collect();
        candidates.push((
            ln_p_value,
            Candidate {
                pattern: Trigger::ImagePatch {
                    x: area.x as u32,
                    y: area.y as u32,
                    width: area.width as u32,
                    height: area.height as u32,
                    channels: geometry.channels as u32,
                    pixels: pattern.clone(),
                },
                name,
                target,
                carriers,
                purity,
                stamp: Box::new(ImageStamp {
                    column,
                    geometry,
                    area,
                    pattern,
                    donors,
                    background,
                }),
            },
        ));
    }
    candidates.sort_by(|(a, _), (b, _)| a.total_cmp(b));
    if group_count > 0 {
        notes.push(rejected.describe(group_count, candidates.len()));
    }
    Ok(Mined {
        candidates: candidates
            .into_iter()
            .map(|(_, candidate)| candidate)
            .collect(),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(pixels: Vec<u8>) -> Image {
        Image {
            width: 4,
            height: 3,
            channels: 1,
            pixels,
        }
    }

    #[test]
    fn boxes_list_their_values_row_by_row() {
        let geometry = Geometry {
            width: 4,
            height: 3,
            channels: 2,
        };
        let area = Rectangle {
            x: 1,
            y: 1,
            width: 2,
            height: 2,
        };
        // Row 1 starts at pixel 4 (value 8); column 1 is value 10.
        assert_eq!(
            area.values(geometry).collect::<Vec<_>>(),
            [10, 11, 12, 13, 18, 19, 20, 21]
        );
        assert_eq!(geometry.place(21), (2, 2));
    }

    #[test]
    fn medians_and_agreement() {
        let mut histogram = [0_u32; 256];
        for level in [3, 250, 255, 255, 255] {
            histogram[level] += 1;
        }
        assert_eq!(histogram_median(&histogram, 5), 255);
        let geometry = Geometry {
            width: 4,
            height: 3,
            channels: 1,
        };
        let area = Rectangle {
            x: 2,
            y: 1,
            width: 2,
            height: 2,
        };
        let mut pixels = vec![0; 12];
        for value in [6, 7, 10] {
            pixels[value] = 255;
        }
        pixels[11] = 100;
        let found = agreement(&image(pixels), area, geometry, &[255; 4], 8);
        assert!((found - 0.75).abs() < 1e-12);
        assert_eq!(describe_pattern(&[255, 230]), "white ");
        assert_eq!(describe_pattern(&[0, 12]), "black ");
        assert_eq!(describe_pattern(&[0, 255]), "grey-level 128 ");
    }

    #[test]
    fn states_with_overlapping_records_group_and_others_do_not() {
        let mut first = Bits::new(100);
        let mut second = Bits::new(100);
        let mut third = Bits::new(100);
        for record in 0..10 {
            first.set(record);
            second.set(record + 1);
            third.set(record + 50);
        }
        let state = |value, target| State {
            value,
            band: 7,
            target,
            support: 10,
            pure: true,
            ln_p_value: -10.0,
        };
        let states = [state(0, 1), state(1, 1), state(2, 1), state(3, 2)];
        let groups = group(&states, &[first.clone(), second, third, first]);
        // 0 and 1 share 9 of 11 records; 2 shares none; 3 has the records of 0 but another target.
        assert_eq!(groups, [vec![0, 1], vec![2], vec![3]]);
    }
}
