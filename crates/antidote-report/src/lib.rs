//! Reports of what antidote found, as one self-contained HTML file.
//!
//! Reports sit beside the defense layers: a command that finds something (`antidote check`,
//! `antidote scan`) describes it as a [`Report`], a small document model, and [`render_html`]
//! turns that into a single HTML page that opens in any browser without network access: inline
//! CSS, inline SVG charts, pictures as PNG `data:` URLs, no script, no font or image from
//! elsewhere.
//!
//! A report reads top down. The [`Verdict`] comes first (`PASSED` or `FAILED` in words, with one
//! sentence saying whether to train and why), then the headline [`Metric`]s, then one
//! [`Section`] per check or detector, each opening with a paragraph on what it looks for and
//! followed by [`Block`]s of evidence: tables, overlaid [`Distribution`]s, grouped [`Bars`],
//! [`Tokens`] tables, [`Gallery`]s of [`Picture`]s (flagged records beside typical ones),
//! [`Excerpts`] of text with spans marked (a trigger inside flagged records, instruction pairs
//! side by side), [`Card`]s (a discovered trigger at a glance) and [`Details`] that fold a long
//! table away. The [`Provenance`] footer names the exact command, the antidote version,
//! the digests of the inputs and the time, so that the page can serve as evidence.
//!
//! Every piece of text in the model is data: the renderer [`escape`]s all of it, so a record
//! holding `<script>` shows as text and never runs. Text in backticks is set as code. A
//! [`Picture`] holds pixels, never a URL or the bytes of a file: the renderer encodes the PNG
//! itself, so only base64 characters reach an `src` attribute.
//!
//! This crate knows nothing about profiles or detectors; the `antidote` binary converts their
//! results into a [`Report`]. Start with [`Report`] and [`render_html`].
//!
//! ```
//! use antidote_report::{
//!     Bin, Block, Cell, Distribution, Metric, Provenance, Report, Section, Series, Table, Verdict,
//!     render_html,
//! };
//!
//! let report = Report {
//!     title: "antidote check".to_owned(),
//!     subtitle: Some("`update.csv` against the baseline `baseline.json`".to_owned()),
//!     verdict: Verdict {
//!         passed: false,
//!         headline: "Do not train: 1 error — label shift".to_owned(),
//!     },
//!     metrics: vec![Metric::new("Records", "1200").with_detail("baseline 1000")],
//!     sections: vec![Section {
//!         title: "Drift per column".to_owned(),
//!         about: "Each column's distribution against the baseline's.".to_owned(),
//!         blocks: vec![
//!             Block::Table(Table {
//!                 caption: None,
//!                 headers: vec!["column".to_owned(), "statistic".to_owned()],
//!                 rows: vec![vec![Cell::code("age"), Cell::number("0.0312")]],
//!             }),
//!             Block::Distribution(Distribution {
//!                 title: "`age`".to_owned(),
//!                 caption: None,
//!                 x_label: "age".to_owned(),
//!                 series: vec![Series {
//!                     name: "baseline".to_owned(),
//!                     bins: vec![
//!                         Bin { low: 0.0, high: 50.0, share: 0.6 },
//!                         Bin { low: 50.0, high: 100.0, share: 0.4 },
//!                     ],
//!                 }],
//!                 marker: None,
//!             }),
//!         ],
//!     }],
//!     provenance: Provenance {
//!         command: "antidote check update.csv --baseline baseline.json --report".to_owned(),
//!         version: "antidote 0.1.0".to_owned(),
//!         inputs: Vec::new(),
//!         generated: "2026-01-01T00:00:00Z".to_owned(),
//!     },
//! };
//! let html = render_html(&report);
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! assert!(html.contains("FAILED"));
//! assert!(html.contains("<svg"));
//! ```
#![warn(missing_docs)]

mod html;
mod picture;
mod svg;

use antidote_core::{Digest, Severity};
use serde::{Deserialize, Serialize};

pub use html::{escape, render_html};
pub use picture::Picture;
pub use svg::lines::{Line, LineChart};

/// A report: a verdict, the numbers behind it, sections of evidence, and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The page title, such as `antidote check`.
    pub title: String,
    /// One line under the title: what was compared with what.
    pub subtitle: Option<String>,
    /// Whether to train, first thing on the page.
    pub verdict: Verdict,
    /// Headline numbers, shown as cards under the verdict.
    pub metrics: Vec<Metric>,
    /// The evidence, one section per check or detector.
    pub sections: Vec<Section>,
    /// The command, version, inputs and time, in the footer.
    pub provenance: Provenance,
}

/// Whether the data may be used, and why, in one sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether every gate passed. The page says `PASSED` or `FAILED` in words.
    pub passed: bool,
    /// One sentence, such as `Do not train: 2 errors — label shift and a duplicate flood`.
    pub headline: String,
}

/// How a value should catch the eye. Colour supports the text and never replaces it: the text of
/// an emphasised cell or metric must say the same (`error`, `DRIFTED`, `3 errors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Emphasis {
    /// As it should be.
    Good,
    /// Worth a look.
    Warn,
    /// The data must not be used as it is.
    Bad,
}

impl Emphasis {
    /// The emphasis that fits a severity: none for info, [`Emphasis::Warn`] for a warning,
    /// [`Emphasis::Bad`] for an error.
    #[must_use]
    pub fn for_severity(severity: Severity) -> Option<Self> {
        match severity {
            Severity::Info => None,
            Severity::Warning => Some(Self::Warn),
            Severity::Error => Some(Self::Bad),
        }
    }
}

/// A headline number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metric {
    /// What it counts, such as `Records`.
    pub label: String,
    /// The value as it should read, such as `1,200` or `2.50%`.
    pub value: String,
    /// A line of context under the value, such as `baseline 1000`.
    pub detail: Option<String>,
    /// How it should catch the eye.
    pub emphasis: Option<Emphasis>,
}

impl Metric {
    /// A metric without detail or emphasis.
    #[must_use]
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            value: value.into(),
            detail: None,
            emphasis: None,
        }
    }

    /// Adds a line of context under the value.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets how the metric catches the eye.
    #[must_use]
    pub fn with_emphasis(mut self, emphasis: Option<Emphasis>) -> Self {
        self.emphasis = emphasis;
        self
    }
}

/// One check or detector: what it looks for, then what it found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// The heading, such as `Drift per column`.
    pub title: String,
    /// One paragraph: what this check looks for and how to read what follows.
    pub about: String,
    /// The evidence.
    pub blocks: Vec<Block>,
}

/// A piece of evidence inside a section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Block {
    /// A paragraph of text.
    Paragraph {
        /// The text; spans in backticks are set as code.
        text: String,
    },
    /// A table.
    Table(Table),
    /// Overlaid histograms.
    Distribution(Distribution),
    /// Grouped horizontal bars of shares.
    Bars(Bars),
    /// Curves over a shared axis, such as losses over epochs.
    Lines(LineChart),
    /// Tokens whose share grew, with their shares before and now.
    Tokens(Tokens),
    /// Pictures in rows, such as flagged records beside typical ones of their class.
    Gallery(Gallery),
    /// Passages of text with spans marked, such as a trigger inside flagged records.
    Excerpts(Excerpts),
    /// One finding at a glance: pictures or a marked string, and its facts.
    Card(Card),
    /// Blocks folded under a one-line summary, opened by the reader when wanted (a long table).
    Details(Details),
}

impl Block {
    /// A paragraph.
    #[must_use]
    pub fn paragraph(text: impl Into<String>) -> Self {
        Self::Paragraph { text: text.into() }
    }
}

/// A table with a header row. Long tables scroll sideways on narrow screens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// A line above the table.
    pub caption: Option<String>,
    /// Column headings.
    pub headers: Vec<String>,
    /// Rows of cells, as many as headings.
    pub rows: Vec<Vec<Cell>>,
}

/// How a cell's text is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellFormat {
    /// Prose, left-aligned; spans in backticks are set as code. With an emphasis it is a badge.
    #[default]
    Text,
    /// A number, right-aligned in tabular figures.
    Number,
    /// A name from the data (a column, a label, a token), in a monospace font.
    Code,
}

/// One table cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// The text.
    pub text: String,
    /// How it is set.
    pub format: CellFormat,
    /// How it should catch the eye.
    pub emphasis: Option<Emphasis>,
}

impl Cell {
    /// A cell of prose.
    #[must_use]
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            format: CellFormat::Text,
            emphasis: None,
        }
    }

    /// A number, right-aligned.
    #[must_use]
    pub fn number(text: impl Into<String>) -> Self {
        Self {
            format: CellFormat::Number,
            ..Self::text(text)
        }
    }

    /// A name from the data, in a monospace font.
    #[must_use]
    pub fn code(text: impl Into<String>) -> Self {
        Self {
            format: CellFormat::Code,
            ..Self::text(text)
        }
    }

    /// Sets how the cell catches the eye.
    #[must_use]
    pub fn with_emphasis(mut self, emphasis: Option<Emphasis>) -> Self {
        self.emphasis = emphasis;
        self
    }
}

/// Histograms of one quantity, overlaid: a baseline against current data, or scores of clean
/// against flagged records. The first series is drawn as a hatched area, the second as a dashed
/// outline, so that they stay apart without colour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// The heading above the chart.
    pub title: String,
    /// A line under the chart: the statistic, the threshold, what to make of it.
    pub caption: Option<String>,
    /// What the horizontal axis measures.
    pub x_label: String,
    /// The histograms; bins of different series may differ.
    pub series: Vec<Series>,
    /// A value to mark with a vertical line, such as a score threshold.
    pub marker: Option<Marker>,
}

/// One histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Its name in the legend, such as `baseline`.
    pub name: String,
    /// Bins in increasing order.
    pub bins: Vec<Bin>,
}

/// One histogram bin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Lower edge.
    pub low: f64,
    /// Upper edge.
    pub high: f64,
    /// Share of the series' values in the bin, from 0 to 1.
    pub share: f64,
}

/// A marked value on the horizontal axis of a [`Distribution`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    /// Where.
    pub value: f64,
    /// What it is, such as `threshold 0.8`.
    pub label: String,
}

/// Shares per item, one bar per series, such as label shares in the baseline and now. The first
/// series is hatched and every bar carries its value, so that colour carries no meaning alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bars {
    /// The heading above the chart.
    pub title: String,
    /// A line under the chart.
    pub caption: Option<String>,
    /// Series names, in the order of [`BarItem::values`], such as `baseline` and `current`.
    pub series: Vec<String>,
    /// One group of bars per item, top to bottom.
    pub items: Vec<BarItem>,
}

/// One group of bars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarItem {
    /// What the bars are of, such as a label value.
    pub label: String,
    /// Shares from 0 to 1, one per series.
    pub values: Vec<f64>,
}

/// Tokens of a text column whose share grew, most telling first: the words a backdoor trigger
/// or an injected phrase is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tokens {
    /// The heading above the table.
    pub title: String,
    /// A line under the table.
    pub caption: Option<String>,
    /// The tokens.
    pub tokens: Vec<Token>,
}

/// A token and its shares of all tokens, before and now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    /// The token.
    pub text: String,
    /// Its share of the baseline's tokens.
    pub baseline_share: f64,
    /// Its share of the current data's tokens.
    pub share: f64,
    /// Whether the baseline never had it.
    pub new: bool,
}

/// Pictures in rows: one row per group (such as a class), each row holding named sets of
/// pictures side by side (such as `flagged` and `typical`), so that the eye can compare them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gallery {
    /// The heading above the pictures.
    pub title: String,
    /// A line under them: what they are and how they were chosen.
    pub caption: Option<String>,
    /// The rows, top to bottom.
    pub rows: Vec<GalleryRow>,
}

/// One row of a [`Gallery`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GalleryRow {
    /// What the row's pictures share, such as ``labelled `0` ``.
    pub label: String,
    /// The sets of the row, left to right.
    pub sets: Vec<PictureSet>,
}

/// Pictures of one kind inside a [`GalleryRow`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PictureSet {
    /// What they are, such as `flagged`; shown above them.
    pub name: String,
    /// How the set should catch the eye: flagged records are [`Emphasis::Bad`].
    pub emphasis: Option<Emphasis>,
    /// The pictures.
    pub pictures: Vec<Picture>,
}

/// Records shown as text, with spans marked: snippets of flagged records with their trigger
/// highlighted, or instruction-tuning pairs with the instruction beside the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excerpts {
    /// The heading above the excerpts.
    pub title: String,
    /// A line under them.
    pub caption: Option<String>,
    /// Headings of the passages of every excerpt, left to right (such as `instruction` and
    /// `output`); empty when each excerpt is a single passage.
    pub columns: Vec<String>,
    /// The excerpts.
    pub items: Vec<Excerpt>,
}

/// One record in [`Excerpts`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excerpt {
    /// Which record, such as `` `r17` labelled `sports` ``; spans in backticks are set as code.
    pub heading: String,
    /// Why it is shown, such as the detector's evidence.
    pub note: Option<String>,
    /// How it should catch the eye.
    pub emphasis: Option<Emphasis>,
    /// Its passages, one per column.
    pub passages: Vec<Passage>,
}

/// A piece of text with marked spans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passage {
    /// The text, shown as it is (escaped, line breaks kept).
    pub text: String,
    /// Byte ranges of `text` to mark, such as a trigger; ranges that overlap are merged and
    /// ranges that do not fall on character boundaries are ignored.
    pub marks: Vec<Span>,
}

/// A byte range of a [`Passage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// One finding at a glance, such as a discovered backdoor trigger: pictures of it or the string
/// it is made of, its facts, and a sentence. Consecutive cards sit side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// The heading.
    pub title: String,
    /// A word beside the heading, such as `confirmed`, set as a badge when emphasised.
    pub badge: Option<String>,
    /// How the card should catch the eye.
    pub emphasis: Option<Emphasis>,
    /// Pictures of the finding, drawn larger than thumbnails.
    pub pictures: Vec<Picture>,
    /// A string to show marked and large, such as a trigger token.
    pub mark: Option<String>,
    /// Name and value pairs, such as `target` and `` `0` ``.
    pub facts: Vec<Fact>,
    /// A sentence on what was found.
    pub text: Option<String>,
}

/// A name and a value on a [`Card`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    /// The name, such as `flip rate`.
    pub label: String,
    /// The value, such as `83%`; spans in backticks are set as code.
    pub value: String,
}

impl Fact {
    /// A fact.
    #[must_use]
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            value: value.into(),
        }
    }
}

/// Blocks folded under a summary line: the page stays short and the detail stays in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Details {
    /// The line the reader clicks, such as `All 78 flagged records as a table`.
    pub summary: String,
    /// What opens.
    pub blocks: Vec<Block>,
}

/// Where a report came from, so that it can serve as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The exact command line.
    pub command: String,
    /// The tool and version, such as `antidote 0.1.0`.
    pub version: String,
    /// What was read.
    pub inputs: Vec<Input>,
    /// When the report was made, in UTC (RFC 3339).
    pub generated: String,
}

/// One input of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// What it was for, such as `data` or `baseline`.
    pub role: String,
    /// Where it was read from.
    pub path: String,
    /// Its digest, when it is a single file or a locked dataset.
    pub digest: Option<Digest>,
}
