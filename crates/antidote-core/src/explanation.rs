//! What a detector, validator or gate policy says about itself, in one outline: what it
//! detects, why it matters, how it works, its limits and its references.
//!
//! The outline is written once, as markdown next to the code it explains, and serves both as the
//! type's rustdoc (`#[doc = include_str!("label_issues.md")]`) and as what `antidote explain`
//! prints ([`Explanation::to_text`]):
//!
//! ```text
//! Label issues: label flipping, crowd-labelling bots, careless annotators.
//!
//! ## What it detects
//! Records whose label is probably wrong ...
//!
//! ## Why it matters
//! ...
//!
//! ## How it works
//! ...
//!
//! ## Limits
//! ...
//!
//! ## References
//! - Northcutt, Jiang and Chuang (2021), "Confident Learning ..."
//! ```

use std::fmt::Write as _;

/// A structured explanation, parsed from (and rendered back to) its markdown outline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Explanation {
    /// The first paragraph: the name and what it catches, in one line
    /// (`Label issues: label flipping, ...`).
    pub summary: String,
    /// What it detects.
    pub what: String,
    /// Why it matters.
    pub why: String,
    /// How it works.
    pub how: String,
    /// Its limits.
    pub limits: String,
    /// Its references, one per item.
    pub references: Vec<String>,
}

/// Why a markdown outline is not an explanation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplanationError {
    /// A section is missing or empty.
    #[error("the explanation has no `## {section}` section")]
    Missing {
        /// The section's title.
        section: &'static str,
    },
    /// A section title is not one of the outline's.
    #[error("the explanation has an unknown section `## {section}`")]
    Unknown {
        /// The title found.
        section: String,
    },
}

/// The outline's sections, in order.
const SECTIONS: [&str; 5] = [
    "What it detects",
    "Why it matters",
    "How it works",
    "Limits",
    "References",
];

impl Explanation {
    /// Parses the markdown outline: a summary paragraph, then the five `##` sections. Lines of a
    /// paragraph are joined with a space and paragraphs with a blank line; the references are the
    /// `- ` items of their section.
    ///
    /// ```
    /// use antidote_core::Explanation;
    ///
    /// let markdown = [
    ///     "Dice: loaded dice.",
    ///     "",
    ///     "## What it detects",
    ///     "Dice that",
    ///     "roll sixes.",
    ///     "## Why it matters",
    ///     "Games.",
    ///     "## How it works",
    ///     "Counting.",
    ///     "## Limits",
    ///     "Few rolls.",
    ///     "## References",
    ///     "- Pascal (1654)",
    ///     "- Fermat",
    ///     "  (1654)",
    /// ]
    /// .join("\n");
    /// let explanation = Explanation::parse(&markdown)?;
    /// assert_eq!(explanation.what, "Dice that roll sixes.");
    /// assert_eq!(explanation.references, ["Pascal (1654)", "Fermat (1654)"]);
    /// assert_eq!(Explanation::parse(&explanation.to_markdown())?, explanation);
    /// # Ok::<(), antidote_core::ExplanationError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ExplanationError`] when a section is missing, empty or not one of the outline's.
    pub fn parse(markdown: &str) -> Result<Self, ExplanationError> {
        let mut summary = Vec::new();
        let mut sections: [Vec<&str>; 5] = Default::default();
        let mut current: Option<usize> = None;
        for line in markdown.lines() {
            if let Some(title) = line.strip_prefix("## ") {
                let title = title.trim();
                current = Some(
                    SECTIONS
                        .iter()
                        .position(|known| *known == title)
                        .ok_or_else(|| ExplanationError::Unknown {
                            section: title.to_owned(),
                        })?,
                );
                continue;
            }
            match current {
                None => summary.push(line),
                Some(section) => sections[section].push(line),
            }
        }
        let text = |index: usize| -> Result<String, ExplanationError> {
            let text = paragraphs(&sections[index]);
            if text.is_empty() {
                Err(ExplanationError::Missing {
                    section: SECTIONS[index],
                })
            } else {
                Ok(text)
            }
        };
        let mut references: Vec<String> = Vec::new();
        for line in &sections[4] {
            if let Some(item) = line.strip_prefix("- ") {
                references.push(item.trim().to_owned());
            } else if let Some(last) = references.last_mut().filter(|_| !line.trim().is_empty()) {
                last.push(' ');
                last.push_str(line.trim());
            }
        }
        if references.is_empty() {
            return Err(ExplanationError::Missing {
                section: SECTIONS[4],
            });
        }
        Ok(Self {
            summary: paragraphs(&summary),
            what: text(0)?,
            why: text(1)?,
            how: text(2)?,
            limits: text(3)?,
            references,
        })
    }

    /// The name it goes by: the summary up to its first colon.
    ///
    /// ```
    /// # let explanation = antidote_core::Explanation::parse(
    /// #     "Coins: loaded dice.\n## What it detects\na\n## Why it matters\nb\n## How it works\nc\n\
    /// #      ## Limits\nd\n## References\n- e\n").unwrap();
    /// assert_eq!(explanation.name(), "Coins");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        self.summary
            .split(':')
            .next()
            .unwrap_or(&self.summary)
            .trim()
    }

    /// The plain text `antidote explain` prints: the summary, then `What it looks for:`,
    /// `Why it matters:`, `How:`, `Limits:` and `References:` paragraphs, the references joined
    /// by `; `.
    #[must_use]
    pub fn to_text(&self) -> String {
        format!(
            "{}\n\nWhat it looks for: {}\n\nWhy it matters: {}\n\nHow: {}\n\nLimits: {}\n\nReferences: {}.",
            self.summary,
            self.what,
            self.why,
            self.how,
            self.limits,
            self.references.join("; ")
        )
    }

    /// The markdown outline, one paragraph per line.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut text = format!("{}\n", self.summary);
        for (title, body) in SECTIONS
            .iter()
            .zip([&self.what, &self.why, &self.how, &self.limits])
        {
            let _ = write!(text, "\n## {title}\n{body}\n");
        }
        text.push_str("\n## References\n");
        for reference in &self.references {
            let _ = writeln!(text, "- {reference}");
        }
        text
    }
}

/// Lines joined into paragraphs: a blank line ends one.
fn paragraphs(lines: &[&str]) -> String {
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in lines.iter().map(|line| line.trim()).chain([""]) {
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    paragraphs.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTLINE: &str = "Name: what it catches.\n\n## What it detects\nOne\nline.\n\n\
        ## Why it matters\nA.\n\nB.\n\n## How it works\nC.\n\n## Limits\nD.\n\n\
        ## References\n- First (2020),\n  \"A title\"\n- Second\n";

    #[test]
    fn parses_renders_and_round_trips() {
        let explanation = Explanation::parse(OUTLINE).expect("a full outline");
        assert_eq!(explanation.summary, "Name: what it catches.");
        assert_eq!(explanation.what, "One line.");
        assert_eq!(explanation.why, "A.\n\nB.");
        assert_eq!(
            explanation.references,
            ["First (2020), \"A title\"", "Second"]
        );
        assert_eq!(
            explanation.to_text(),
            "Name: what it catches.\n\nWhat it looks for: One line.\n\nWhy it matters: A.\n\nB.\n\n\
             How: C.\n\nLimits: D.\n\n\
             References: First (2020), \"A title\"; Second."
        );
        assert_eq!(
            Explanation::parse(&explanation.to_markdown()),
            Ok(explanation)
        );
    }

    #[test]
    fn missing_and_unknown_sections_are_errors() {
        assert_eq!(
            Explanation::parse(&OUTLINE.replace("## Limits\nD.", "")),
            Err(ExplanationError::Missing { section: "Limits" })
        );
        assert!(matches!(
            Explanation::parse(&OUTLINE.replace("## Limits", "## Caveats")),
            Err(ExplanationError::Unknown { .. })
        ));
    }
}
