//! The HTML page: verdict, metrics, sections, provenance.

use std::fmt::Write as _;

use crate::svg;
use crate::{
    Block, Card, Cell, CellFormat, Emphasis, Excerpts, Gallery, Metric, Passage, Picture,
    Provenance, Report, Section, Table, Tokens,
};

const STYLE: &str = include_str!("style.css");

/// The policy of every report: nothing is loaded from anywhere and no script runs, even if a
/// value slipped past [`escape`]. Styles are inline; images may only be `data:` URLs.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// Text made safe for HTML, in element content and in quoted attribute values: `&`, `<`, `>`,
/// `"` and `'` become character references.
///
/// ```
/// assert_eq!(
///     antidote_report::escape("<script>alert('x') & \"y\"</script>"),
///     "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
/// );
/// ```
#[must_use]
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(character),
        }
    }
    escaped
}

/// Escaped text in which spans between backticks are set as code, as antidote's messages quote
/// names and values.
pub(crate) fn inline(text: &str) -> String {
    let escaped = escape(text);
    let parts: Vec<&str> = escaped.split('`').collect();
    // An odd number of parts means the backticks pair up; otherwise leave them as they are.
    if parts.len() < 3 || parts.len().is_multiple_of(2) {
        return escaped;
    }
    let mut html = String::with_capacity(escaped.len() + parts.len() * 8);
    for (index, part) in parts.iter().enumerate() {
        if index % 2 == 1 {
            html.push_str("<code>");
            html.push_str(part);
            html.push_str("</code>");
        } else {
            html.push_str(part);
        }
    }
    html
}

fn emphasis_class(emphasis: Option<Emphasis>) -> &'static str {
    match emphasis {
        None => "",
        Some(Emphasis::Good) => "good",
        Some(Emphasis::Warn) => "warn",
        Some(Emphasis::Bad) => "bad",
    }
}

/// Renders a report as one self-contained HTML page: inline CSS and SVG, no script, no URL.
///
/// The output depends only on `report`: the same report gives the same bytes.
#[must_use]
pub fn render_html(report: &Report) -> String {
    let mut page = Page {
        html: String::with_capacity(64 * 1024),
        charts: 0,
    };
    page.head(report);
    page.html.push_str("<body>\n<div class=\"page\">\n");
    page.header(report);
    page.verdict(report);
    page.metrics(&report.metrics);
    page.contents(&report.sections);
    page.html.push_str("<main>\n");
    for (index, section) in report.sections.iter().enumerate() {
        page.section(index, section);
    }
    page.html.push_str("</main>\n");
    page.provenance(&report.provenance);
    page.html.push_str("</div>\n</body>\n</html>\n");
    page.html
}

struct Page {
    html: String,
    /// Charts so far: the number makes the ids inside each SVG unique in the page.
    charts: usize,
}

impl Page {
    fn head(&mut self, report: &Report) {
        let word = if report.verdict.passed {
            "PASSED"
        } else {
            "FAILED"
        };
        let _ = write!(
            self.html,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">\n\
             <meta name=\"generator\" content=\"{}\">\n<title>{word}: {}</title>\n<style>\n{STYLE}</style>\n</head>\n",
            escape(&report.provenance.version),
            escape(&report.title),
        );
    }

    fn header(&mut self, report: &Report) {
        let _ = write!(
            self.html,
            "<header class=\"page-header\">\n<h1>{}</h1>\n",
            inline(&report.title)
        );
        if let Some(subtitle) = &report.subtitle {
            let _ = writeln!(self.html, "<p class=\"subtitle\">{}</p>", inline(subtitle));
        }
        self.html.push_str("</header>\n");
    }

    fn verdict(&mut self, report: &Report) {
        let (class, mark, word) = if report.verdict.passed {
            ("passed", "\u{2713}", "PASSED")
        } else {
            ("failed", "\u{2717}", "FAILED")
        };
        let _ = write!(
            self.html,
            "<section class=\"verdict verdict-{class}\" aria-label=\"verdict\">\n\
             <div class=\"verdict-word\"><span class=\"verdict-mark\" aria-hidden=\"true\">{mark}</span> {word}</div>\n\
             <p class=\"headline\">{}</p>\n</section>\n",
            inline(&report.verdict.headline)
        );
    }

    fn metrics(&mut self, metrics: &[Metric]) {
        if metrics.is_empty() {
            return;
        }
        self.html.push_str("<dl class=\"metrics\">\n");
        for metric in metrics {
            let _ = write!(
                self.html,
                "<div class=\"metric {}\"><dt>{}</dt><dd>{}</dd>",
                emphasis_class(metric.emphasis),
                inline(&metric.label),
                inline(&metric.value)
            );
            if let Some(detail) = &metric.detail {
                let _ = write!(self.html, "<dd class=\"detail\">{}</dd>", inline(detail));
            }
            self.html.push_str("</div>\n");
        }
        self.html.push_str("</dl>\n");
    }

    fn contents(&mut self, sections: &[Section]) {
        if sections.len() < 2 {
            return;
        }
        self.html
            .push_str("<nav class=\"contents\" aria-label=\"sections\">\n");
        for (index, section) in sections.iter().enumerate() {
            let _ = writeln!(
                self.html,
                "<a href=\"#section-{}\">{}</a>",
                index + 1,
                inline(&section.title)
            );
        }
        self.html.push_str("</nav>\n");
    }

    fn section(&mut self, index: usize, section: &Section) {
        let _ = write!(
            self.html,
            "<section class=\"section\" id=\"section-{}\">\n<h2>{}</h2>\n<p class=\"about\">{}</p>\n",
            index + 1,
            inline(&section.title),
            inline(&section.about)
        );
        self.blocks(&section.blocks);
        self.html.push_str("</section>\n");
    }

    /// Blocks in order. Consecutive charts share a grid, two abreast on a wide page; so do
    /// consecutive cards.
    fn blocks(&mut self, blocks: &[Block]) {
        let mut grid: Option<&str> = None;
        for block in blocks {
            let wanted = match block {
                Block::Distribution(_) | Block::Bars(_) | Block::Lines(_) => Some("chart-grid"),
                Block::Card(_) => Some("card-grid"),
                _ => None,
            };
            if grid != wanted {
                if grid.is_some() {
                    self.html.push_str("</div>\n");
                }
                if let Some(class) = wanted {
                    let _ = writeln!(self.html, "<div class=\"{class}\">");
                }
                grid = wanted;
            }
            self.block(block);
        }
        if grid.is_some() {
            self.html.push_str("</div>\n");
        }
    }

    fn block(&mut self, block: &Block) {
        match block {
            Block::Paragraph { text } => {
                let _ = writeln!(self.html, "<p>{}</p>", inline(text));
            }
            Block::Table(table) => self.table(table),
            Block::Distribution(chart) => {
                self.charts += 1;
                let drawing = svg::distribution(chart, self.charts);
                self.figure(&chart.title, chart.caption.as_deref(), &drawing);
            }
            Block::Bars(chart) => {
                self.charts += 1;
                let drawing = svg::bars(chart, self.charts);
                self.figure(&chart.title, chart.caption.as_deref(), &drawing);
            }
            Block::Lines(chart) => {
                self.charts += 1;
                let drawing = svg::lines::lines(chart, self.charts);
                self.figure(&chart.title, chart.caption.as_deref(), &drawing);
            }
            Block::Tokens(tokens) => self.tokens(tokens),
            Block::Gallery(gallery) => self.gallery(gallery),
            Block::Excerpts(excerpts) => self.excerpts(excerpts),
            Block::Card(card) => self.card(card),
            Block::Details(details) => {
                let _ = writeln!(
                    self.html,
                    "<details class=\"more\">\n<summary>{}</summary>",
                    inline(&details.summary)
                );
                self.blocks(&details.blocks);
                self.html.push_str("</details>\n");
            }
        }
    }

    fn gallery(&mut self, gallery: &Gallery) {
        let _ = writeln!(
            self.html,
            "<figure class=\"gallery\">\n<h3>{}</h3>",
            inline(&gallery.title)
        );
        for row in &gallery.rows {
            let _ = write!(
                self.html,
                "<div class=\"gallery-row\">\n<div class=\"gallery-label\">{}</div>\n<div class=\"gallery-sets\">\n",
                inline(&row.label)
            );
            for set in &row.sets {
                if set.pictures.is_empty() {
                    continue;
                }
                let _ = write!(
                    self.html,
                    "<div class=\"picture-set {}\"><div class=\"set-name\">{} <span class=\"count\">{}</span></div><div class=\"pictures\">",
                    emphasis_class(set.emphasis),
                    inline(&set.name),
                    set.pictures.len()
                );
                for picture in &set.pictures {
                    self.html.push_str("<figure class=\"thumb\">");
                    self.html.push_str(&picture_tag(picture, THUMBNAIL));
                    if !picture.caption.is_empty() {
                        let _ = write!(
                            self.html,
                            "<figcaption>{}</figcaption>",
                            inline(&picture.caption)
                        );
                    }
                    self.html.push_str("</figure>");
                }
                self.html.push_str("</div></div>\n");
            }
            self.html.push_str("</div>\n</div>\n");
        }
        if let Some(caption) = &gallery.caption {
            let _ = writeln!(self.html, "<figcaption>{}</figcaption>", inline(caption));
        }
        self.html.push_str("</figure>\n");
    }

    fn excerpts(&mut self, excerpts: &Excerpts) {
        let _ = writeln!(
            self.html,
            "<figure class=\"excerpts\">\n<h3>{}</h3>\n<div class=\"excerpt-list{}\">",
            inline(&excerpts.title),
            // Single passages are short: two abreast on a wide page.
            if excerpts.columns.len() > 1 {
                ""
            } else {
                " abreast"
            }
        );
        for item in &excerpts.items {
            let _ = write!(
                self.html,
                "<div class=\"excerpt {}\">\n<div class=\"excerpt-head\">{}</div>\n",
                emphasis_class(item.emphasis),
                inline(&item.heading)
            );
            if let Some(note) = &item.note {
                let _ = writeln!(
                    self.html,
                    "<div class=\"excerpt-note\">{}</div>",
                    inline(note)
                );
            }
            let _ = write!(
                self.html,
                "<div class=\"passages columns-{}\">",
                item.passages.len().clamp(1, 4)
            );
            for (index, passage) in item.passages.iter().enumerate() {
                self.html.push_str("<div class=\"passage\">");
                if let Some(column) = excerpts.columns.get(index) {
                    let _ = write!(
                        self.html,
                        "<div class=\"passage-name\">{}</div>",
                        inline(column)
                    );
                }
                let _ = write!(self.html, "<p>{}</p></div>", marked(passage));
            }
            self.html.push_str("</div>\n</div>\n");
        }
        self.html.push_str("</div>\n");
        if let Some(caption) = &excerpts.caption {
            let _ = writeln!(self.html, "<figcaption>{}</figcaption>", inline(caption));
        }
        self.html.push_str("</figure>\n");
    }

    fn card(&mut self, card: &Card) {
        let emphasis = emphasis_class(card.emphasis);
        let _ = write!(
            self.html,
            "<article class=\"card {emphasis}\">\n<h3>{}",
            inline(&card.title)
        );
        if let Some(badge) = &card.badge {
            let _ = write!(
                self.html,
                " <span class=\"badge {emphasis}\">{}</span>",
                inline(badge)
            );
        }
        self.html.push_str("</h3>\n<div class=\"card-body\">\n");
        if !card.pictures.is_empty() {
            self.html.push_str("<div class=\"card-pictures\">");
            for picture in &card.pictures {
                self.html.push_str("<figure>");
                self.html.push_str(&picture_tag(picture, CARD_PICTURE));
                if !picture.caption.is_empty() {
                    let _ = write!(
                        self.html,
                        "<figcaption>{}</figcaption>",
                        inline(&picture.caption)
                    );
                }
                self.html.push_str("</figure>");
            }
            self.html.push_str("</div>\n");
        }
        if let Some(mark) = &card.mark {
            let _ = writeln!(
                self.html,
                "<div class=\"card-mark\"><mark>{}</mark></div>",
                escape(mark)
            );
        }
        if !card.facts.is_empty() {
            self.html.push_str("<dl class=\"facts\">");
            for fact in &card.facts {
                let _ = write!(
                    self.html,
                    "<div><dt>{}</dt><dd>{}</dd></div>",
                    inline(&fact.label),
                    inline(&fact.value)
                );
            }
            self.html.push_str("</dl>\n");
        }
        self.html.push_str("</div>\n");
        if let Some(text) = &card.text {
            let _ = writeln!(self.html, "<p>{}</p>", inline(text));
        }
        self.html.push_str("</article>\n");
    }

    fn figure(&mut self, title: &str, caption: Option<&str>, drawing: &str) {
        let _ = write!(
            self.html,
            "<figure class=\"chart\">\n<h3>{}</h3>\n{drawing}",
            inline(title)
        );
        if let Some(caption) = caption {
            let _ = writeln!(self.html, "<figcaption>{}</figcaption>", inline(caption));
        }
        self.html.push_str("</figure>\n");
    }

    fn table(&mut self, table: &Table) {
        self.html.push_str("<div class=\"table-wrap\">\n<table>\n");
        if let Some(caption) = &table.caption {
            let _ = writeln!(self.html, "<caption>{}</caption>", inline(caption));
        }
        self.html.push_str("<thead><tr>");
        for header in &table.headers {
            let _ = write!(self.html, "<th scope=\"col\">{}</th>", inline(header));
        }
        self.html.push_str("</tr></thead>\n<tbody>\n");
        for row in &table.rows {
            self.html.push_str("<tr>");
            for cell in row {
                self.cell(cell);
            }
            self.html.push_str("</tr>\n");
        }
        self.html.push_str("</tbody>\n</table>\n</div>\n");
    }

    fn cell(&mut self, cell: &Cell) {
        let emphasis = emphasis_class(cell.emphasis);
        match (cell.format, cell.emphasis.is_some()) {
            (CellFormat::Text, true) => {
                let _ = write!(
                    self.html,
                    "<td><span class=\"badge {emphasis}\">{}</span></td>",
                    inline(&cell.text)
                );
            }
            (CellFormat::Text, false) => {
                let _ = write!(self.html, "<td>{}</td>", inline(&cell.text));
            }
            (CellFormat::Number, _) => {
                let _ = write!(
                    self.html,
                    "<td class=\"num {emphasis}\">{}</td>",
                    escape(&cell.text)
                );
            }
            (CellFormat::Code, _) if cell.text.is_empty() => self.html.push_str("<td></td>"),
            (CellFormat::Code, _) => {
                let _ = write!(
                    self.html,
                    "<td class=\"{emphasis}\"><code>{}</code></td>",
                    escape(&cell.text)
                );
            }
        }
    }

    fn tokens(&mut self, tokens: &Tokens) {
        let _ = writeln!(
            self.html,
            "<figure class=\"tokens\">\n<h3>{}</h3>",
            inline(&tokens.title)
        );
        self.html.push_str(
            "<div class=\"table-wrap\">\n<table>\n<thead><tr><th scope=\"col\">token</th>\
             <th scope=\"col\" class=\"num\">baseline share</th><th scope=\"col\" class=\"num\">current share</th>\
             <th scope=\"col\">growth</th></tr></thead>\n<tbody>\n",
        );
        let widest = tokens
            .tokens
            .iter()
            .map(|token| token.share.max(token.baseline_share))
            .fold(0.0, f64::max);
        for token in &tokens.tokens {
            let growth = if token.new || token.baseline_share <= 0.0 {
                "<span class=\"badge bad\">new</span>".to_owned()
            } else {
                format!(
                    "\u{d7}{}",
                    svg::trim_number(token.share / token.baseline_share, 1)
                )
            };
            let _ = writeln!(
                self.html,
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"growth\">{growth} {}</td></tr>",
                escape(&token.text),
                svg::percent(token.baseline_share),
                svg::percent(token.share),
                svg::share_meter(token.baseline_share, token.share, widest),
            );
        }
        self.html.push_str("</tbody>\n</table>\n</div>\n");
        if let Some(caption) = &tokens.caption {
            let _ = writeln!(self.html, "<figcaption>{}</figcaption>", inline(caption));
        }
        self.html.push_str("</figure>\n");
    }

    fn provenance(&mut self, provenance: &Provenance) {
        let _ = write!(
            self.html,
            "<footer class=\"provenance\">\n<h2>Provenance</h2>\n<dl>\n\
             <dt>Command</dt><dd><code>{}</code></dd>\n<dt>Version</dt><dd>{}</dd>\n",
            escape(&provenance.command),
            escape(&provenance.version)
        );
        for input in &provenance.inputs {
            let _ = write!(
                self.html,
                "<dt>{}</dt><dd><code>{}</code>",
                inline(&capitalized(&input.role)),
                escape(&input.path)
            );
            if let Some(digest) = &input.digest {
                let _ = write!(
                    self.html,
                    "<br><code class=\"digest\">{}</code>",
                    escape(&digest.to_string())
                );
            }
            self.html.push_str("</dd>\n");
        }
        let _ = write!(
            self.html,
            "<dt>Generated</dt><dd>{}</dd>\n</dl>\n</footer>\n",
            escape(&provenance.generated)
        );
    }
}

/// The side, in CSS pixels, of the box a thumbnail is drawn in.
const THUMBNAIL: u32 = 56;
/// The side of the box a picture on a card is drawn in.
const CARD_PICTURE: u32 = 112;

/// An `<img>` of `picture` whose longer side is drawn at about `size` pixels: small pictures are
/// enlarged by a whole factor, with sharp pixels, so that a 4x4 patch stays a crisp square.
/// The `src` is a PNG `data:` URL made here; only the escaped description comes from the data.
fn picture_tag(picture: &Picture, size: u32) -> String {
    let Some(url) = picture.data_url() else {
        return format!(
            "<span class=\"no-picture\" title=\"{}\">no picture</span>",
            escape(&picture.description)
        );
    };
    let longest = picture.width.max(picture.height);
    let (width, height) = if longest <= size {
        let factor = (size / longest).max(1);
        (picture.width * factor, picture.height * factor)
    } else {
        let scale = f64::from(size) / f64::from(longest);
        (
            ((f64::from(picture.width) * scale).round() as u32).max(1),
            ((f64::from(picture.height) * scale).round() as u32).max(1),
        )
    };
    let description = if picture.description.is_empty() {
        &picture.caption
    } else {
        &picture.description
    };
    format!(
        "<img src=\"{url}\" width=\"{width}\" height=\"{height}\" alt=\"{0}\" title=\"{0}\">",
        escape(description)
    )
}

/// A passage, escaped, with its valid marked spans inside `<mark>`.
fn marked(passage: &Passage) -> String {
    let text = &passage.text;
    let mut spans: Vec<(usize, usize)> = passage
        .marks
        .iter()
        .filter(|span| {
            span.start < span.end
                && span.end <= text.len()
                && text.is_char_boundary(span.start)
                && text.is_char_boundary(span.end)
        })
        .map(|span| (span.start, span.end))
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let mut html = String::with_capacity(text.len() + merged.len() * 16);
    let mut at = 0;
    for (start, end) in merged {
        html.push_str(&escape(&text[at..start]));
        html.push_str("<mark>");
        html.push_str(&escape(&text[start..end]));
        html.push_str("</mark>");
        at = end;
    }
    html.push_str(&escape(&text[at..]));
    html
}

fn capitalized(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        BarItem, Bars, Bin, Details, Distribution, Excerpt, Fact, GalleryRow, Input, Marker,
        PictureSet, Provenance, Series, Span, Token, Tokens, Verdict,
    };

    const SCRIPT: &str = "<script>alert(1)</script>";
    const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";

    fn bins(shift: f64) -> Vec<Bin> {
        (0..10)
            .map(|index| {
                let low = f64::from(index) + shift;
                Bin {
                    low,
                    high: low + 1.0,
                    share: f64::from(10 - (index - 5_i32).abs()) / 80.0,
                }
            })
            .collect()
    }

    /// The anomalies section: a table and a paragraph.
    fn anomalies(text: &str) -> Section {
        Section {
            title: "Anomalies".to_owned(),
            about: "Everything the checks found, worst first.".to_owned(),
            blocks: vec![
                Block::Table(Table {
                    caption: Some(text.to_owned()),
                    headers: vec!["severity".to_owned(), "column".to_owned(), text.to_owned()],
                    rows: vec![vec![
                        Cell::text("error").with_emphasis(Some(Emphasis::Bad)),
                        Cell::code(text),
                        Cell::text(format!("column `{text}` drifted: {text}")),
                    ]],
                }),
                Block::paragraph(text),
            ],
        }
    }

    /// A distribution and a token table.
    fn drift(text: &str) -> Section {
        Section {
            title: "Drift per column".to_owned(),
            about: "Baseline and current distributions, overlaid.".to_owned(),
            blocks: vec![
                Block::Distribution(Distribution {
                    title: format!("`{text}`"),
                    caption: Some(format!("wasserstein 0.31 > 0.1 for {text}")),
                    x_label: text.to_owned(),
                    series: vec![
                        Series {
                            name: "baseline".to_owned(),
                            bins: bins(0.0),
                        },
                        Series {
                            name: text.to_owned(),
                            bins: bins(2.5),
                        },
                    ],
                    marker: Some(Marker {
                        value: 8.0,
                        label: text.to_owned(),
                    }),
                }),
                Block::Tokens(Tokens {
                    title: "Tokens that grew".to_owned(),
                    caption: None,
                    tokens: vec![
                        Token {
                            text: text.to_owned(),
                            baseline_share: 0.0,
                            share: 0.04,
                            new: true,
                        },
                        Token {
                            text: "cat".to_owned(),
                            baseline_share: 0.01,
                            share: 0.02,
                            new: false,
                        },
                    ],
                }),
            ],
        }
    }

    /// Bars.
    fn labels(text: &str) -> Section {
        Section {
            title: "Labels".to_owned(),
            about: "Share of records per label.".to_owned(),
            blocks: vec![Block::Bars(Bars {
                title: "Label shares".to_owned(),
                caption: None,
                series: vec!["baseline".to_owned(), "current".to_owned()],
                items: vec![
                    BarItem {
                        label: text.to_owned(),
                        values: vec![0.0, 0.1],
                    },
                    BarItem {
                        label: "dog".to_owned(),
                        values: vec![0.5, 0.45],
                    },
                ],
            })],
        }
    }

    /// A 2x2 grey picture whose caption and description hold `text`.
    fn picture(text: &str) -> Picture {
        Picture::new(2, 2, 1, vec![0, 85, 170, 255])
            .with_caption(format!("`{text}`"))
            .with_description(text)
    }

    /// A card, a gallery, excerpts and a folded table.
    fn evidence(text: &str) -> Section {
        let passage = |words: &str| Passage {
            text: format!("{text} {words} cf"),
            marks: vec![Span {
                start: text.len() + words.len() + 2,
                end: text.len() + words.len() + 4,
            }],
        };
        Section {
            title: "Evidence".to_owned(),
            about: "Records, as pictures and as text.".to_owned(),
            blocks: vec![
                Block::Card(Card {
                    title: format!("The token `{text}`"),
                    badge: Some("confirmed".to_owned()),
                    emphasis: Some(Emphasis::Bad),
                    pictures: vec![picture(text)],
                    mark: Some(text.to_owned()),
                    facts: vec![Fact::new("target", format!("`{text}`"))],
                    text: Some(text.to_owned()),
                }),
                Block::Gallery(Gallery {
                    title: text.to_owned(),
                    caption: Some(text.to_owned()),
                    rows: vec![GalleryRow {
                        label: format!("labelled `{text}`"),
                        sets: vec![
                            PictureSet {
                                name: "flagged".to_owned(),
                                emphasis: Some(Emphasis::Bad),
                                pictures: vec![picture(text), picture("r2")],
                            },
                            PictureSet {
                                name: text.to_owned(),
                                emphasis: None,
                                pictures: vec![picture("r3")],
                            },
                        ],
                    }],
                }),
                Block::Excerpts(Excerpts {
                    title: text.to_owned(),
                    caption: None,
                    columns: vec!["instruction".to_owned(), text.to_owned()],
                    items: vec![Excerpt {
                        heading: format!("`{text}`"),
                        note: Some(text.to_owned()),
                        emphasis: Some(Emphasis::Bad),
                        passages: vec![passage("asks"), passage("answers")],
                    }],
                }),
                Block::Details(Details {
                    summary: format!("{text} as a table"),
                    blocks: vec![Block::Table(Table {
                        caption: None,
                        headers: vec!["id".to_owned()],
                        rows: vec![vec![Cell::code(text)]],
                    })],
                }),
            ],
        }
    }

    /// A report with every kind of block; `text` goes into every place that holds data.
    fn report(text: &str) -> Report {
        Report {
            title: "antidote check".to_owned(),
            subtitle: Some(format!("`{text}` against the baseline `baseline.json`")),
            verdict: Verdict {
                passed: false,
                headline: format!("Do not train: 1 error — label `{text}` is new"),
            },
            metrics: vec![
                Metric::new("Records", "120").with_detail("baseline 100"),
                Metric::new("Errors", "1").with_emphasis(Some(Emphasis::Bad)),
                Metric::new(text, text),
            ],
            sections: vec![anomalies(text), drift(text), labels(text), evidence(text)],
            provenance: Provenance {
                command: format!("antidote check '{text}' --report"),
                version: "antidote 0.1.0".to_owned(),
                inputs: vec![Input {
                    role: "data".to_owned(),
                    path: text.to_owned(),
                    digest: Some(
                        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                            .parse()
                            .unwrap(),
                    ),
                }],
                generated: "2026-01-01T00:00:00Z".to_owned(),
            },
        }
    }

    #[test]
    fn escape_replaces_the_five_characters_that_matter() {
        assert_eq!(escape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
        assert_eq!(escape("plain – ünïcode"), "plain – ünïcode");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn backticks_become_code_only_when_they_pair_up() {
        assert_eq!(
            inline("column `x` and `<y>`"),
            "column <code>x</code> and <code>&lt;y&gt;</code>"
        );
        assert_eq!(inline("one ` backtick"), "one ` backtick");
        assert_eq!(inline("no code"), "no code");
    }

    #[test]
    fn data_never_reaches_the_page_raw() {
        let html = render_html(&report(SCRIPT));
        assert!(!html.contains("<script"), "a raw script tag in:\n{html}");
        assert!(!html.contains("alert(1)</"), "{html}");
        assert!(html.contains(ESCAPED));
        // Every place that held the text holds it escaped: subtitle, headline, metric, table
        // caption, header, code cell, message, paragraph, chart title, caption, axis, legend,
        // marker, token, bar label, command and input path; card, gallery, excerpts, details.
        assert!(
            html.matches("&lt;script&gt;").count() >= 35,
            "{}",
            html.matches("&lt;script&gt;").count()
        );

        let image = "<img src=x onerror=alert(2)>";
        let html = render_html(&report(image));
        assert!(!html.contains("<img src=x"), "{html}");
        assert_eq!(
            html.matches("<img ").count(),
            html.matches("<img src=\"data:image/png;base64,").count(),
            "{html}"
        );
        assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));

        let quotes = "\" onmouseover='alert(3)";
        let html = render_html(&report(quotes));
        assert!(!html.contains("\" onmouseover"), "{html}");
        assert!(!html.contains("'alert(3)"), "{html}");
    }

    #[test]
    fn the_verdict_is_in_words_and_first() {
        let failed = render_html(&report("x"));
        let body = &failed[failed.find("<body>").unwrap()..];
        let verdict = body.find("FAILED").expect("the verdict word");
        assert!(verdict < body.find("class=\"metrics\"").unwrap());
        assert!(!body.contains("PASSED"));
        assert!(failed.contains("Do not train: 1 error"));

        let mut passing = report("x");
        passing.verdict.passed = true;
        let passed = render_html(&passing);
        assert!(passed.contains("PASSED"));
        assert!(!passed[passed.find("<body>").unwrap()..].contains("FAILED"));
    }

    #[test]
    fn every_chart_is_an_inline_svg() {
        let html = render_html(&report("x"));
        assert_eq!(html.matches("<svg class=\"chart-svg\"").count(), 2);
        assert_eq!(
            html.matches("<svg class=\"meter\"").count(),
            2,
            "one per token"
        );
        assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());
        assert_eq!(html.matches("<figure class=\"chart\">").count(), 2);
        assert!(html.contains("<title>"));
    }

    #[test]
    fn evidence_blocks_render_pictures_marks_and_folds() {
        let html = render_html(&report("x"));
        // Three pictures in the gallery, one on the card, each a PNG drawn with sharp pixels.
        assert_eq!(
            html.matches("<img src=\"data:image/png;base64,iVBORw0KGgo")
                .count(),
            4
        );
        assert!(
            html.contains("width=\"56\" height=\"56\""),
            "a 2x2 thumbnail enlarged"
        );
        assert!(
            html.contains("width=\"112\" height=\"112\""),
            "a card picture enlarged"
        );
        assert!(html.contains("<div class=\"picture-set bad\">"));
        assert!(html.contains("<div class=\"card-grid\">"));
        assert!(html.contains("<div class=\"card-mark\"><mark>x</mark></div>"));
        // The mark lands on `cf` in both passages, side by side under their headings.
        assert_eq!(html.matches("<mark>cf</mark>").count(), 2, "{html}");
        assert!(html.contains("<div class=\"passages columns-2\">"));
        assert!(html.contains("<div class=\"passage-name\">instruction</div>"));
        assert!(html.contains("<details class=\"more\">\n<summary>x as a table</summary>"));
        assert_eq!(
            html.matches("<details").count(),
            html.matches("</details>").count()
        );
        assert_eq!(
            html.matches("<figure").count(),
            html.matches("</figure>").count()
        );
        assert_eq!(html.matches("<div").count(), html.matches("</div>").count());
    }

    #[test]
    fn marks_that_do_not_fit_the_text_are_ignored() {
        let passage = |marks: Vec<Span>| Passage {
            text: "<b>ünï</b> cf cf".to_owned(),
            marks,
        };
        let span = |start, end| Span { start, end };
        // Overlapping marks merge; a mark inside `ü` or past the end is dropped.
        assert_eq!(
            marked(&passage(vec![
                span(14, 18),
                span(13, 15),
                span(4, 5),
                span(0, 99)
            ])),
            "&lt;b&gt;ünï&lt;/b&gt; <mark>cf cf</mark>"
        );
        assert_eq!(
            marked(&passage(vec![span(0, 3)])),
            "<mark>&lt;b&gt;</mark>ünï&lt;/b&gt; cf cf"
        );
        assert_eq!(
            marked(&passage(vec![span(5, 5)])),
            "&lt;b&gt;ünï&lt;/b&gt; cf cf"
        );
    }

    #[test]
    fn an_invalid_picture_is_a_note_not_a_broken_image() {
        let mut broken = picture("<x>");
        broken.pixels.pop();
        let tag = picture_tag(&broken, THUMBNAIL);
        assert!(!tag.contains("<img"), "{tag}");
        assert!(tag.contains("title=\"&lt;x&gt;\""), "{tag}");
        // A large picture is drawn smaller, keeping its aspect ratio.
        let wide = Picture::new(224, 112, 1, vec![0; 224 * 112]);
        assert!(picture_tag(&wide, THUMBNAIL).contains("width=\"56\" height=\"28\""));
    }

    #[test]
    fn nothing_is_loaded_from_anywhere() {
        let html = render_html(&report("x"));
        assert!(!html.contains("http://"), "{html}");
        assert!(!html.contains("https://"), "{html}");
        for (index, _) in html.match_indices("src=") {
            assert!(
                html[index..].starts_with("src=\"data:image/png;base64,"),
                "only pictures made here: {}",
                &html[index..index + 40]
            );
        }
        assert!(!html.contains("@import"));
        assert!(!html.contains("<link"));
        assert!(!html.contains("<script"));
        for (index, _) in html.match_indices("href=\"") {
            assert!(
                html[index + 6..].starts_with('#'),
                "only links inside the page: {}",
                &html[index..index + 40]
            );
        }
        for (index, _) in html.match_indices("url(") {
            assert!(
                html[index + 4..].starts_with('#'),
                "only references inside the page: {}",
                &html[index..index + 40]
            );
        }
        assert!(html.contains("default-src 'none'"));
    }

    #[test]
    fn the_same_report_gives_the_same_bytes() {
        assert_eq!(render_html(&report("x")), render_html(&report("x")));
    }

    #[test]
    fn provenance_closes_the_page() {
        let html = render_html(&report("x"));
        let footer = html.find("<footer class=\"provenance\">").unwrap();
        assert!(footer > html.rfind("<section").unwrap());
        assert!(html[footer..].contains("antidote check &#39;x&#39; --report"));
        assert!(html[footer..].contains("sha256:e3b0c442"));
        assert!(html[footer..].contains("2026-01-01T00:00:00Z"));
    }

    #[test]
    fn empty_and_degenerate_charts_still_render() {
        let mut odd = report("x");
        odd.sections.truncate(3);
        odd.sections[1].blocks = vec![
            Block::Distribution(Distribution {
                title: "empty".to_owned(),
                caption: None,
                x_label: "x".to_owned(),
                series: Vec::new(),
                marker: None,
            }),
            Block::Distribution(Distribution {
                title: "a point".to_owned(),
                caption: None,
                x_label: "x".to_owned(),
                series: vec![Series {
                    name: "only".to_owned(),
                    bins: vec![Bin {
                        low: 3.0,
                        high: 3.0,
                        share: 1.0,
                    }],
                }],
                marker: None,
            }),
            Block::Distribution(Distribution {
                title: "not a number".to_owned(),
                caption: None,
                x_label: "x".to_owned(),
                series: vec![Series {
                    name: "nan".to_owned(),
                    bins: vec![Bin {
                        low: f64::NAN,
                        high: f64::INFINITY,
                        share: f64::NAN,
                    }],
                }],
                marker: None,
            }),
            Block::Bars(Bars {
                title: "no items".to_owned(),
                caption: None,
                series: vec!["a".to_owned()],
                items: Vec::new(),
            }),
        ];
        let html = render_html(&odd);
        assert_eq!(html.matches("<svg class=\"chart-svg\"").count(), 5);
        for drawing in html.split("<svg").skip(1) {
            let drawing = &drawing[..drawing.find("</svg>").unwrap()];
            assert!(!drawing.contains("NaN"), "{drawing}");
            assert!(!drawing.contains("inf"), "{drawing}");
        }
        assert!(html.contains("no values to show"));
        assert!(html.contains("nothing to show"));
    }
}
