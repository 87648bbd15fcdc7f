//! Line charts: curves over a shared horizontal axis, such as the training loss of each class
//! over the epochs. Each curve has its own dash pattern and point marker as well as its colour,
//! and its name at its last point, so that colour carries no meaning alone.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{
    BASELINE_STROKE, BOTTOM, CURRENT, LEFT, MARKER, OTHER, RIGHT, Scale, TOP, WIDTH, decimals_for,
    legend, nice_step, open_svg, shortened, ticks, trim_number, x_axis,
};
use crate::html::escape;

const HEIGHT: f64 = 280.0;

/// Curves over a shared horizontal axis, one [`Line`] each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineChart {
    /// The heading above the chart.
    pub title: String,
    /// A line under the chart.
    pub caption: Option<String>,
    /// What the horizontal axis measures, such as `epoch`.
    pub x_label: String,
    /// What the vertical axis measures, such as `mean cross-entropy`.
    pub y_label: String,
    /// The curves.
    pub lines: Vec<Line>,
}

/// One curve: its name and its points in increasing `x`; non-finite points are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// Its name in the legend, such as a class.
    pub name: String,
    /// `(x, y)` points.
    pub points: Vec<(f64, f64)>,
    /// Whether to draw it heavier than the rest (what a finding is about).
    pub emphasised: bool,
}

/// Colours of the curves, in turn.
const COLOURS: [&str; 6] = [
    CURRENT,
    OTHER,
    BASELINE_STROKE,
    "#15803d",
    "#7c3aed",
    "#0e7490",
];
/// Dash patterns, in turn (after every colour has been used once).
const DASHES: [&str; 4] = ["", "7 4", "2 3", "10 3 2 3"];

fn line_style(index: usize, emphasised: bool) -> String {
    let colour = if emphasised {
        MARKER
    } else {
        COLOURS[index % COLOURS.len()]
    };
    let dash = DASHES[(index / COLOURS.len() + index) % DASHES.len()];
    let width = if emphasised { 3.2 } else { 1.8 };
    let mut style = format!("fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\"");
    if !dash.is_empty() {
        let _ = write!(style, " stroke-dasharray=\"{dash}\"");
    }
    style
}

/// The legend swatch of the curve at `index` (emphasis shows on the curve itself).
fn swatch(index: usize, _id: usize) -> String {
    let colour = COLOURS[index % COLOURS.len()];
    format!("fill=\"{colour}\" fill-opacity=\"0.85\"")
}

/// The SVG of `chart`.
pub(crate) fn lines(chart: &LineChart, id: usize) -> String {
    let mut svg = String::with_capacity(8192);
    let names: Vec<String> = chart.lines.iter().map(|line| line.name.clone()).collect();
    let description = format!(
        "{} over {}: {}",
        chart.y_label,
        chart.x_label,
        if names.is_empty() {
            "no curves".to_owned()
        } else {
            names.join(", ")
        }
    );
    open_svg(&mut svg, HEIGHT, &description);
    // A legend only while it fits on one line; otherwise the names sit at the curves' ends.
    if names.len() <= 4 {
        legend(&mut svg, &names, id, swatch);
    }
    let finite: Vec<Vec<(f64, f64)>> = chart
        .lines
        .iter()
        .map(|line| {
            line.points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect()
        })
        .collect();
    let all = finite.iter().flatten();
    let (mut x_low, mut x_high) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y_low, mut y_high) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in all {
        x_low = x_low.min(x);
        x_high = x_high.max(x);
        y_low = y_low.min(y);
        y_high = y_high.max(y);
    }
    let (left, right) = (LEFT, WIDTH - RIGHT - 70.0);
    let (top, bottom) = (TOP + 8.0, HEIGHT - BOTTOM);
    if !x_low.is_finite() {
        let _ = writeln!(
            svg,
            "<text class=\"empty\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no values to show</text></svg>",
            f64::midpoint(left, right),
            f64::midpoint(top, bottom)
        );
        return svg;
    }
    if x_high <= x_low {
        x_high = x_low + 1.0;
    }
    // Curves of losses and norms read best from zero.
    let y_low = y_low.min(0.0);
    let y_step = nice_step((y_high - y_low).max(1e-9), 5);
    let y_high = ((y_high / y_step).ceil() * y_step).max(y_low + y_step);
    let x = Scale {
        domain: (x_low, x_high),
        range: (left, right),
    };
    let y = Scale {
        domain: (y_low, y_high),
        range: (bottom, top),
    };
    let y_decimals = decimals_for(y_step);
    for tick in ticks(y_low, y_high, y_step) {
        let at = y.at(tick);
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{left:.1}\" x2=\"{right:.1}\" y1=\"{at:.1}\" y2=\"{at:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            at + 4.0,
            trim_number(tick, y_decimals)
        );
    }
    let x_step = nice_step(x_high - x_low, 6).max(if x_high - x_low >= 2.0 { 1.0 } else { 0.0 });
    x_axis(&mut svg, x, x_step, bottom);
    let _ = write!(
        svg,
        "<text class=\"axis-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
         <text class=\"axis-label\" transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        f64::midpoint(left, right),
        HEIGHT - 10.0,
        escape(&chart.x_label),
        f64::midpoint(top, bottom),
        escape(&chart.y_label)
    );
    curves(&mut svg, chart, &finite, x, y);
    svg.push_str("</svg>\n");
    svg
}

/// Draws each curve with its name at its end, emphasised curves last so that they sit on top.
fn curves(svg: &mut String, chart: &LineChart, finite: &[Vec<(f64, f64)>], x: Scale, y: Scale) {
    let mut order: Vec<usize> = (0..chart.lines.len()).collect();
    order.sort_by_key(|&index| chart.lines[index].emphasised);
    for index in order {
        let (line, points) = (&chart.lines[index], &finite[index]);
        if points.is_empty() {
            continue;
        }
        let mut path = String::new();
        for (position, &(px, py)) in points.iter().enumerate() {
            let _ = write!(
                path,
                "{}{:.1} {:.1}",
                if position == 0 { 'M' } else { 'L' },
                x.at(px),
                y.at(py)
            );
        }
        let _ = write!(
            svg,
            "<path class=\"series\" d=\"{path}\" {}><title>{}</title></path>",
            line_style(index, line.emphasised),
            escape(&line.name)
        );
        let &(last_x, last_y) = points.last().expect("points is not empty");
        let _ = write!(
            svg,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x.at(last_x) + 4.0,
            y.at(last_y) + 4.0,
            escape(&shortened(&line.name))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(lines: Vec<Line>) -> LineChart {
        LineChart {
            title: "loss".to_owned(),
            caption: None,
            x_label: "epoch".to_owned(),
            y_label: "loss".to_owned(),
            lines,
        }
    }

    #[test]
    fn one_path_per_line_and_names_escaped() {
        let drawing = lines(
            &chart(vec![
                Line {
                    name: "<b>cat".to_owned(),
                    points: vec![(0.0, 2.0), (1.0, 1.0), (2.0, f64::NAN), (3.0, 0.5)],
                    emphasised: false,
                },
                Line {
                    name: "dog".to_owned(),
                    points: vec![(0.0, 2.1), (1.0, 0.2)],
                    emphasised: true,
                },
            ]),
            1,
        );
        assert_eq!(drawing.matches("<path class=\"series\"").count(), 2);
        assert!(drawing.contains("&lt;b&gt;cat") && !drawing.contains("<b>cat"));
        assert!(drawing.contains(MARKER), "the emphasised curve stands out");
        // The NaN point is left out: three points, two segments.
        let first = drawing.split("<path class=\"series\" d=\"").nth(1).unwrap();
        let path = first.split('"').next().unwrap();
        assert_eq!(path.matches('L').count(), 2, "{path}");
    }

    #[test]
    fn no_points_says_so() {
        assert!(lines(&chart(Vec::new()), 1).contains("no values to show"));
    }
}
