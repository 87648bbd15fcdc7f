//! Inline SVG charts: overlaid histograms, grouped bars and the small meters of token tables.
//!
//! Charts are drawn in a fixed coordinate system (the `viewBox`) and scale with the page. Series
//! differ in pattern as well as colour (hatched area, dashed outline, dotted outline), every
//! chart has a legend, axis labels and a `<title>`, and bars carry their values as text.

pub(crate) mod lines;

use std::fmt::Write as _;

use crate::html::escape;
use crate::{Bars, Bin, Distribution};

const WIDTH: f64 = 560.0;
const DISTRIBUTION_HEIGHT: f64 = 260.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 50.0;

/// Bars: the column for labels, the height of one bar and the room for its value.
const LABEL_WIDTH: f64 = 150.0;
const BAR_HEIGHT: f64 = 13.0;
const VALUE_WIDTH: f64 = 62.0;
const GROUP_GAP: f64 = 10.0;

/// Characters of a label, legend entry or marker shown before it is cut with an ellipsis (the
/// whole text stays in the `<title>` tooltip).
const LABEL_CHARACTERS: usize = 22;

const BASELINE_STROKE: &str = "#475569";
const HATCH_BACKGROUND: &str = "#e2e8f0";
const HATCH_LINE: &str = "#94a3b8";
const CURRENT: &str = "#2563eb";
const OTHER: &str = "#c2410c";
const MARKER: &str = "#b91c1c";

/// A linear map from data values to drawing coordinates.
#[derive(Clone, Copy)]
struct Scale {
    domain: (f64, f64),
    range: (f64, f64),
}

impl Scale {
    fn at(self, value: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        if d1 > d0 {
            r0 + (value.clamp(d0, d1) - d0) / (d1 - d0) * (r1 - r0)
        } else {
            r0
        }
    }
}

/// A step of 1, 2 or 5 times a power of ten that cuts `span` into about `target` parts.
fn nice_step(span: f64, target: usize) -> f64 {
    if !span.is_finite() || span <= 0.0 {
        return 1.0;
    }
    let raw = span / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let normalized = raw / magnitude;
    let nice = if normalized < 1.5 {
        1.0
    } else if normalized < 3.0 {
        2.0
    } else if normalized < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// Multiples of `step` from `low` to `high`.
fn ticks(low: f64, high: f64, step: f64) -> Vec<f64> {
    let first = (low / step - 1e-9).ceil();
    let last = (high / step + 1e-9).floor();
    if !(first.is_finite() && last.is_finite()) || last - first > 100.0 {
        return Vec::new();
    }
    let mut values = Vec::new();
    let mut multiple = first;
    while multiple <= last {
        values.push(multiple * step);
        multiple += 1.0;
    }
    values
}

/// Decimals that show a step of `step` exactly.
fn decimals_for(step: f64) -> usize {
    if step >= 1.0 || step <= 0.0 || !step.is_finite() {
        0
    } else {
        ((-step.log10()).ceil().max(0.0) as usize).min(8)
    }
}

/// `value` with at most `decimals` decimals, trailing zeros removed.
pub(crate) fn trim_number(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "\u{2013}".to_owned();
    }
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    if text == "-0" { "0".to_owned() } else { text }
}

/// A tick label for `value` on an axis of steps of `step`: `0.25`, `40`, `12k`, `3.5M`.
fn tick_label(value: f64, step: f64) -> String {
    let value = if value.abs() < step * 1e-6 {
        0.0
    } else {
        value
    };
    if step < 1e-6 {
        return format!("{value:.1e}");
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    // The unit follows the step, so that every label of an axis uses the same one.
    for (scale, smallest_step, suffix) in [(1e9, 5e8, "G"), (1e6, 5e5, "M"), (1e3, 1e3, "k")] {
        if step >= smallest_step {
            return format!(
                "{}{suffix}",
                trim_number(value / scale, decimals_for(step / scale))
            );
        }
    }
    trim_number(value, decimals_for(step))
}

/// A share as a percentage a person reads: `12.5%`, `0.35%`, `<0.01%`.
pub(crate) fn percent(share: f64) -> String {
    if !share.is_finite() {
        return "\u{2013}".to_owned();
    }
    let value = share * 100.0;
    if value == 0.0 {
        "0%".to_owned()
    } else if value.abs() < 0.01 {
        "<0.01%".to_owned()
    } else if value.abs() < 1.0 {
        format!("{value:.2}%")
    } else {
        format!("{value:.1}%")
    }
}

/// `text` cut to [`LABEL_CHARACTERS`] characters, with an ellipsis when cut.
fn shortened(text: &str) -> String {
    if text.chars().count() <= LABEL_CHARACTERS {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(LABEL_CHARACTERS - 1).collect();
        cut.push('\u{2026}');
        cut
    }
}

/// About how wide `text` is at 12 pixels, for laying out legends.
fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * 6.6
}

fn hatch(svg: &mut String, id: usize) {
    let _ = write!(
        svg,
        "<defs><pattern id=\"hatch-{id}\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" \
         patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"{HATCH_BACKGROUND}\"/>\
         <line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"{HATCH_LINE}\" stroke-width=\"2.5\"/></pattern></defs>"
    );
}

/// Fill, stroke and dashes of the series at `index`.
fn series_style(index: usize, id: usize) -> String {
    match index {
        0 => format!(
            "fill=\"url(#hatch-{id})\" fill-opacity=\"0.9\" stroke=\"{BASELINE_STROKE}\" stroke-width=\"1.5\""
        ),
        1 => format!(
            "fill=\"{CURRENT}\" fill-opacity=\"0.14\" stroke=\"{CURRENT}\" stroke-width=\"2.2\" stroke-dasharray=\"7 4\""
        ),
        _ => {
            format!("fill=\"none\" stroke=\"{OTHER}\" stroke-width=\"2\" stroke-dasharray=\"2 3\"")
        }
    }
}

/// The fill of a bar of the series at `index`.
fn bar_style(index: usize, id: usize) -> String {
    match index {
        0 => format!("fill=\"url(#hatch-{id})\" stroke=\"{BASELINE_STROKE}\" stroke-width=\"1\""),
        1 => format!("fill=\"{CURRENT}\""),
        _ => format!("fill=\"{OTHER}\""),
    }
}

/// A legend along the top edge: a swatch in each series' style, then its name.
fn legend(svg: &mut String, names: &[String], id: usize, swatch: fn(usize, usize) -> String) {
    let mut x = LEFT;
    for (index, name) in names.iter().enumerate() {
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"9\" width=\"22\" height=\"12\" {}/><text x=\"{:.1}\" y=\"19\">{}</text>",
            swatch(index, id),
            x + 28.0,
            escape(&shortened(name))
        );
        x += 28.0 + text_width(&shortened(name)) + 18.0;
    }
}

fn open_svg(svg: &mut String, height: f64, description: &str) {
    let _ = write!(
        svg,
        "<svg class=\"chart-svg\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        escape(description),
        escape(description)
    );
}

fn finite_bins(bins: &[Bin]) -> Vec<Bin> {
    bins.iter()
        .filter(|bin| {
            bin.low.is_finite()
                && bin.high.is_finite()
                && bin.share.is_finite()
                && bin.share >= 0.0
                && bin.high >= bin.low
        })
        .copied()
        .collect()
}

/// The plotting area of a distribution and its scales.
#[derive(Clone, Copy)]
struct Plot {
    x: Scale,
    y: Scale,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

/// Overlaid histograms with axes, a legend and an optional marker line.
pub(crate) fn distribution(chart: &Distribution, id: usize) -> String {
    let mut svg = String::with_capacity(4096);
    let names: Vec<String> = chart
        .series
        .iter()
        .map(|series| series.name.clone())
        .collect();
    let description = format!(
        "distribution of {}: {}",
        chart.x_label,
        if names.is_empty() {
            "no values".to_owned()
        } else {
            names.join(", ")
        }
    );
    open_svg(&mut svg, DISTRIBUTION_HEIGHT, &description);
    hatch(&mut svg, id);
    legend(&mut svg, &names, id, series_style);

    let series: Vec<Vec<Bin>> = chart
        .series
        .iter()
        .map(|series| finite_bins(&series.bins))
        .collect();
    let all = series.iter().flatten();
    let mut low = all.clone().map(|bin| bin.low).fold(f64::INFINITY, f64::min);
    let mut high = all
        .clone()
        .map(|bin| bin.high)
        .fold(f64::NEG_INFINITY, f64::max);
    let top_share = all.map(|bin| bin.share).fold(0.0, f64::max);
    let marker = chart
        .marker
        .as_ref()
        .filter(|marker| marker.value.is_finite());
    if let Some(marker) = marker {
        low = low.min(marker.value);
        high = high.max(marker.value);
    }
    let (left, right) = (LEFT, WIDTH - RIGHT);
    let (top, bottom) = (TOP + 8.0, DISTRIBUTION_HEIGHT - BOTTOM);
    if !(low.is_finite() && high.is_finite()) {
        let _ = writeln!(
            svg,
            "<text class=\"empty\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no values to show</text></svg>",
            f64::midpoint(left, right),
            f64::midpoint(top, bottom)
        );
        return svg;
    }
    if high <= low {
        let half = if low == 0.0 { 0.5 } else { low.abs() * 0.05 };
        low -= half;
        high += half;
    }
    let y_step = nice_step(top_share.max(1e-9), 4);
    let plot = Plot {
        x: Scale {
            domain: (low, high),
            range: (left, right),
        },
        y: Scale {
            domain: (0.0, (top_share / y_step).ceil().max(1.0) * y_step),
            range: (bottom, top),
        },
        left,
        right,
        top,
        bottom,
    };
    axes(&mut svg, &plot, y_step, &chart.x_label);
    for (index, (bins, named)) in series.iter().zip(&chart.series).enumerate() {
        if !bins.is_empty() {
            let _ = write!(
                svg,
                "<path d=\"{}\" {}><title>{}</title></path>",
                step_path(bins, &plot),
                series_style(index, id),
                escape(&named.name)
            );
        }
    }
    if let Some(marker) = marker {
        let at = plot.x.at(marker.value);
        let (anchor, text_x) = if at > left + 0.7 * (right - left) {
            ("end", at - 5.0)
        } else {
            ("start", at + 5.0)
        };
        let _ = write!(
            svg,
            "<line x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"{:.1}\" y2=\"{bottom:.1}\" stroke=\"{MARKER}\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>\
             <text class=\"marker\" x=\"{text_x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            top - 4.0,
            top + 10.0,
            escape(&shortened(&marker.label))
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Grid lines, ticks and labels of both axes of a distribution.
/// The x axis along `bottom` over the scale's range, with a labelled tick every `step`.
fn x_axis(svg: &mut String, x: Scale, step: f64, bottom: f64) {
    let (left, right) = x.range;
    let _ = write!(
        svg,
        "<line class=\"axis\" x1=\"{left:.1}\" x2=\"{right:.1}\" y1=\"{bottom:.1}\" y2=\"{bottom:.1}\"/>"
    );
    for tick in ticks(x.domain.0, x.domain.1, step) {
        let at = x.at(tick);
        let _ = write!(
            svg,
            "<line class=\"axis\" x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"{bottom:.1}\" y2=\"{:.1}\"/>\
             <text class=\"tick\" x=\"{at:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            bottom + 5.0,
            bottom + 18.0,
            escape(&tick_label(tick, step))
        );
    }
}

fn axes(svg: &mut String, plot: &Plot, y_step: f64, x_label: &str) {
    let Plot {
        x,
        y,
        left,
        right,
        top,
        bottom,
    } = *plot;
    let y_decimals = decimals_for(y_step * 100.0);
    for tick in ticks(0.0, y.domain.1, y_step) {
        let at = y.at(tick);
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{left:.1}\" x2=\"{right:.1}\" y1=\"{at:.1}\" y2=\"{at:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}%</text>",
            left - 6.0,
            at + 4.0,
            trim_number(tick * 100.0, y_decimals)
        );
    }
    let (low, high) = x.domain;
    x_axis(svg, x, nice_step(high - low, 6), bottom);
    let _ = write!(
        svg,
        "<text class=\"axis-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
         <text class=\"axis-label\" transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">share of values</text>",
        f64::midpoint(left, right),
        DISTRIBUTION_HEIGHT - 10.0,
        escape(x_label),
        f64::midpoint(top, bottom)
    );
}

/// The outline of a histogram as steps, closed along the axis. Bins of (almost) no width get a
/// sliver of width so that they show.
fn step_path(bins: &[Bin], plot: &Plot) -> String {
    let (low, high) = plot.x.domain;
    let sliver = (high - low) / 120.0;
    let (x, y, bottom) = (plot.x, plot.y, plot.bottom);
    let mut path = String::new();
    let mut previous_high: Option<f64> = None;
    for bin in bins {
        let (mut left, mut right) = (bin.low, bin.high);
        if right - left < sliver {
            let middle = f64::midpoint(left, right);
            (left, right) = (middle - sliver / 2.0, middle + sliver / 2.0);
        }
        match previous_high {
            None => {
                let _ = write!(path, "M{:.1} {bottom:.1}", x.at(left));
            }
            // A gap between bins goes down to the axis and back up.
            Some(end) if (end - left).abs() > sliver / 2.0 => {
                let _ = write!(
                    path,
                    "L{:.1} {bottom:.1}L{:.1} {bottom:.1}",
                    x.at(end),
                    x.at(left)
                );
            }
            Some(_) => {}
        }
        let level = y.at(bin.share);
        let _ = write!(
            path,
            "L{:.1} {level:.1}L{:.1} {level:.1}",
            x.at(left),
            x.at(right)
        );
        previous_high = Some(right);
    }
    if let Some(end) = previous_high {
        let _ = write!(path, "L{:.1} {bottom:.1}Z", x.at(end));
    }
    path
}

/// Grouped horizontal bars, one group per item, each bar labelled with its value.
pub(crate) fn bars(chart: &Bars, id: usize) -> String {
    let mut svg = String::with_capacity(4096);
    let series = chart.series.len().max(1);
    let group = series as f64 * BAR_HEIGHT + (series - 1) as f64 * 2.0;
    let rows = chart.items.len().max(1) as f64;
    let plot_top = TOP;
    let plot_bottom = plot_top + rows * (group + GROUP_GAP);
    let height = plot_bottom + 28.0;
    let description = format!("{}: {}", chart.title, chart.series.join(", "));
    open_svg(&mut svg, height, &description);
    hatch(&mut svg, id);
    // A single series needs no hatching to tell it apart: it is drawn solid.
    let style: fn(usize, usize) -> String = if chart.series.len() == 1 {
        |_, id| bar_style(1, id)
    } else {
        bar_style
    };
    legend(&mut svg, &chart.series, id, style);

    let (plot_left, plot_right) = (LABEL_WIDTH, WIDTH - VALUE_WIDTH);
    if chart.items.is_empty() {
        let _ = writeln!(
            svg,
            "<text class=\"empty\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">nothing to show</text></svg>",
            f64::midpoint(plot_left, plot_right),
            plot_top + 16.0
        );
        return svg;
    }
    let top_value = chart
        .items
        .iter()
        .flat_map(|item| item.values.iter().copied())
        .filter(|value| value.is_finite())
        .fold(0.0, f64::max);
    let step = nice_step(top_value.max(1e-9), 4);
    let right_edge = (top_value / step).ceil().max(1.0) * step;
    let x = Scale {
        domain: (0.0, right_edge),
        range: (plot_left, plot_right),
    };
    let decimals = decimals_for(step * 100.0);
    for tick in ticks(0.0, right_edge, step) {
        let at = x.at(tick);
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"{plot_top:.1}\" y2=\"{plot_bottom:.1}\"/>\
             <text class=\"tick\" x=\"{at:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}%</text>",
            plot_bottom + 16.0,
            trim_number(tick * 100.0, decimals)
        );
    }
    for (row, item) in chart.items.iter().enumerate() {
        let top = plot_top + row as f64 * (group + GROUP_GAP) + GROUP_GAP / 2.0;
        let _ = write!(
            svg,
            "<text class=\"bar-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\"><title>{}</title>{}</text>",
            plot_left - 8.0,
            top + group / 2.0 + 4.0,
            escape(&item.label),
            escape(&shortened(&item.label))
        );
        for (index, value) in item.values.iter().enumerate().take(series) {
            let value = if value.is_finite() {
                value.max(0.0)
            } else {
                0.0
            };
            let bar_top = top + index as f64 * (BAR_HEIGHT + 2.0);
            let width = (x.at(value) - plot_left).max(if value > 0.0 { 1.0 } else { 0.0 });
            let name = chart.series.get(index).map_or("", String::as_str);
            let _ = write!(
                svg,
                "<rect x=\"{plot_left:.1}\" y=\"{bar_top:.1}\" width=\"{width:.1}\" height=\"{BAR_HEIGHT:.1}\" {}>\
                 <title>{} \u{2014} {}: {}</title></rect>\
                 <text class=\"value\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                style(index, id),
                escape(&item.label),
                escape(name),
                percent(value),
                plot_left + width + 4.0,
                bar_top + BAR_HEIGHT - 2.5,
                percent(value)
            );
        }
    }
    let _ = writeln!(
        svg,
        "<line class=\"axis\" x1=\"{plot_left:.1}\" x2=\"{plot_left:.1}\" y1=\"{plot_top:.1}\" y2=\"{plot_bottom:.1}\"/></svg>"
    );
    svg
}

/// Two thin bars, the baseline share over the current one, scaled to `widest`: a glance at
/// how much a token grew, next to the numbers that say it.
pub(crate) fn share_meter(baseline: f64, current: f64, widest: f64) -> String {
    let width = |share: f64| {
        if widest > 0.0 && share.is_finite() {
            (share.max(0.0) / widest * 110.0).max(if share > 0.0 { 1.0 } else { 0.0 })
        } else {
            0.0
        }
    };
    format!(
        "<svg class=\"meter\" viewBox=\"0 0 120 16\" width=\"120\" height=\"16\" aria-hidden=\"true\">\
         <rect x=\"0\" y=\"1\" width=\"{:.1}\" height=\"6\" fill=\"{HATCH_LINE}\"/>\
         <rect x=\"0\" y=\"9\" width=\"{:.1}\" height=\"6\" fill=\"{CURRENT}\"/></svg>",
        width(baseline),
        width(current)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_one_two_or_five_times_a_power_of_ten() {
        assert!((nice_step(1.0, 5) - 0.2).abs() < 1e-12);
        assert!((nice_step(100.0, 4) - 20.0).abs() < 1e-9);
        assert!((nice_step(0.07, 4) - 0.02).abs() < 1e-12);
        assert!((nice_step(255.0, 6) - 50.0).abs() < 1e-9);
        assert!((nice_step(0.0, 4) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ticks_cover_the_range_on_multiples_of_the_step() {
        assert_eq!(ticks(0.0, 1.0, 0.25), [0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(ticks(-3.0, 7.0, 5.0), [0.0, 5.0]);
        assert!(ticks(0.0, 1e300, 1e-300).is_empty());
    }

    #[test]
    fn labels_read_like_people_write_numbers() {
        assert_eq!(tick_label(0.1 + 0.2, 0.1), "0.3");
        assert_eq!(tick_label(40.0, 20.0), "40");
        assert_eq!(tick_label(20_000.0, 5_000.0), "20k");
        assert_eq!(tick_label(500.0, 100.0), "500");
        assert_eq!(tick_label(2_500_000.0, 500_000.0), "2.5M");
        assert_eq!(tick_label(-1e-17, 0.5), "0");
        assert_eq!(percent(0.125), "12.5%");
        assert_eq!(percent(0.0035), "0.35%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.000_01), "<0.01%");
        assert_eq!(trim_number(3.0, 2), "3");
        assert_eq!(trim_number(f64::NAN, 2), "\u{2013}");
    }

    #[test]
    fn long_labels_are_cut_with_an_ellipsis() {
        assert_eq!(shortened("short"), "short");
        let cut = shortened(&"x".repeat(40));
        assert_eq!(cut.chars().count(), LABEL_CHARACTERS);
        assert!(cut.ends_with('\u{2026}'));
    }
}
