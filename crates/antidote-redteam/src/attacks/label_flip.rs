//! Label flipping: records keep their content and get another class's label.
//!
//! The cheapest poisoning attack needs write access to labels only. Biggio, Nelson and Laskov
//! (2011) showed that a few adversarially flipped labels degrade a support vector machine far
//! more than random label noise; Xiao, Xiao and Eckert (2012) chose the flips that hurt most.
//! Here the flipped records are chosen at random, which is the weakest form and the one every
//! defense must at least catch, in three shapes:
//!
//! - `uniform`: records of any class, each to another class at random (or all to `--target`);
//! - `pair`: records of one class (`--from`) to one other class (`--target`), the targeted
//!   flip that moves one decision boundary;
//! - `sources`: flips concentrated in a few contributors (named sources, sources picked by the
//!   seed, or fake sources the attack creates), as a malicious annotator or a compromised
//!   vendor would leave them; source trust should single those sources out.

use antidote_core::SplitMix64;
use serde::Serialize;

use crate::common::{
    self, Outcome, ensure_source_column, fake_sources, known_label, labelled_classes, listed,
    of_records, other_class, pick, poison_count, relabel, target_class,
};
use crate::{Attack, AttackError, AttackKind, InMemoryDataset, ParamsError, Poisoned};

/// ## What it does
/// Gives a share of the records the label of another class, keeping their content.
///
/// ## Why it matters
/// It needs no access to training code, only to labels (a crowd-labelling platform, a vendor,
/// an upstream "quality improvement"), and a few percent of flipped labels measurably lowers
/// accuracy, or, aimed at one pair of classes, moves one decision boundary.
///
/// ## How it works
/// The seed picks `rate * records` labelled records (see [`FlipMode`] for which), and each gets
/// the target label or another class at random. With fake sources, the flipped records are
/// also attributed to new contributors.
///
/// ## References
/// - Biggio, Nelson and Laskov (2011), "Support Vector Machines Under Adversarial Label Noise",
///   ACML, PMLR 20:97-112.
/// - Xiao, Xiao and Eckert (2012), "Adversarial Label Flips Attack on Support Vector Machines",
///   ECAI.
#[derive(Debug, Clone, Copy)]
pub struct LabelFlip;

impl LabelFlip {
    /// Uniform flipping of 5% of the records, to adjust and [`check`](LabelFlipParams::check).
    #[must_use]
    pub fn params() -> LabelFlipParams {
        LabelFlipParams {
            rate: 0.05,
            target: None,
            mode: FlipMode::Uniform,
        }
    }
}

/// Which records are flipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "mode")]
pub enum FlipMode {
    /// Records of every class (but the target, when there is one).
    Uniform,
    /// Records of class `from` (default: the first class other than the target).
    Pair {
        /// The class the flipped records come from.
        from: Option<String>,
    },
    /// Records of a few sources.
    Sources {
        /// Which sources.
        sources: SourceChoice,
    },
}

/// The sources a `sources` flip is concentrated in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceChoice {
    /// These sources of the dataset.
    Named(Vec<String>),
    /// This many sources picked by the seed among the dataset's; when the records have no
    /// source, this many fake sources that the flipped records are attributed to.
    Count(usize),
}

/// Unchecked parameters of [`LabelFlip`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelFlipParams {
    rate: f64,
    target: Option<String>,
    #[serde(flatten)]
    mode: FlipMode,
}

impl LabelFlipParams {
    /// The share of the whole dataset to flip (default `0.05`); see [`common::poison_count`].
    #[must_use]
    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = rate;
        self
    }

    /// The class every flipped record gets. Default: another class at random for `uniform` and
    /// `sources`, the first class for `pair`.
    #[must_use]
    pub fn target(mut self, label: impl Into<String>) -> Self {
        self.target = Some(label.into());
        self
    }

    /// Which records are flipped (default [`FlipMode::Uniform`]).
    #[must_use]
    pub fn mode(mut self, mode: FlipMode) -> Self {
        self.mode = mode;
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<LabelFlipValidParams, ParamsError> {
        common::check_rate(self.rate)?;
        match &self.mode {
            FlipMode::Pair {
                from: Some(from), ..
            } if self.target.as_ref() == Some(from) => {
                return Err(ParamsError::SameClass {
                    label: from.clone(),
                });
            }
            FlipMode::Sources {
                sources: SourceChoice::Count(0),
            } => {
                return Err(ParamsError::Zero {
                    option: "source-count",
                });
            }
            FlipMode::Sources {
                sources: SourceChoice::Named(names),
            } if names.is_empty() || names.iter().any(String::is_empty) => {
                return Err(ParamsError::Empty { option: "sources" });
            }
            _ => {}
        }
        Ok(LabelFlipValidParams { params: self })
    }
}

/// Checked parameters of [`LabelFlip`], ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelFlipValidParams {
    params: LabelFlipParams,
}

impl Attack for LabelFlipValidParams {
    fn kind(&self) -> AttackKind {
        match self.params.mode {
            FlipMode::Uniform => AttackKind::LabelFlipUniform,
            FlipMode::Pair { .. } => AttackKind::LabelFlipPair,
            FlipMode::Sources { .. } => AttackKind::LabelFlipSources,
        }
    }

    fn parameters(&self) -> serde_json::Value {
        common::to_json(&self.params)
    }

    fn run(&self, mut dataset: InMemoryDataset, seed: u64) -> Result<Poisoned, AttackError> {
        let kind = self.kind();
        let params = &self.params;
        let mut random = SplitMix64::derived(seed, kind.name());
        let records_before = dataset.records.len();
        let classes = labelled_classes(&dataset.records, kind)?;
        let needed = poison_count(params.rate, records_before);
        let mut outcome = Outcome::new(kind, self.parameters(), seed, records_before);

        // The class records go to: fixed, or (None) another class at random per record.
        let mut to = params
            .target
            .as_deref()
            .map(|label| known_label(label, &classes))
            .transpose()?;
        let mut from_class = None;
        let (eligible, what, fake): (Vec<usize>, String, Vec<String>) = match &params.mode {
            FlipMode::Uniform => {
                let eligible = labelled_outside(&dataset, to.as_deref());
                let what = match &to {
                    Some(target) => format!("labelled outside `{target}`"),
                    None => "labelled".to_owned(),
                };
                (eligible, what, Vec::new())
            }
            FlipMode::Pair { from } => {
                let (from, target) = pair(from.as_deref(), to.as_deref(), &classes)?;
                let eligible = (0..records_before)
                    .filter(|&index| dataset.records[index].label.as_deref() == Some(&from))
                    .collect();
                let what = format!("labelled `{from}`");
                to = Some(target);
                from_class = Some(from);
                (eligible, what, Vec::new())
            }
            FlipMode::Sources { sources } => {
                let (chosen, fake) = choose_sources(&dataset, sources, &mut random)?;
                let labelled = labelled_outside(&dataset, to.as_deref());
                let eligible = if fake {
                    labelled
                } else {
                    labelled
                        .into_iter()
                        .filter(|&index| {
                            dataset.records[index]
                                .source
                                .as_ref()
                                .is_some_and(|source| chosen.contains(source))
                        })
                        .collect()
                };
                let mut what = "labelled".to_owned();
                if !fake {
                    what = format!(
                        "from {} and {what}",
                        listed(chosen.iter().map(String::as_str))
                    );
                }
                if let Some(target) = &to {
                    what = format!("{what} outside `{target}`");
                }
                outcome.sources.clone_from(&chosen);
                (eligible, what, if fake { chosen } else { Vec::new() })
            }
        };

        let picked = pick(&mut random, &eligible, needed, || what)?;
        if !fake.is_empty() {
            ensure_source_column(&mut dataset.schema);
        }
        for (order, &index) in picked.iter().enumerate() {
            let record = &mut dataset.records[index];
            let label = match &to {
                Some(target) => target.clone(),
                None => other_class(
                    &mut random,
                    &classes,
                    record
                        .label
                        .as_deref()
                        .expect("eligible records are labelled"),
                ),
            };
            relabel(record, &label, &mut outcome.label_changes);
            if !fake.is_empty() {
                record.source = Some(fake[order % fake.len()].clone());
            }
        }
        outcome.modified = picked;
        outcome.target.clone_from(&to);
        outcome.summary = summary(
            &params.mode,
            &of_records(needed, records_before),
            to.as_deref(),
            from_class.as_deref(),
            &outcome.sources,
            !fake.is_empty(),
        );
        Ok(outcome.finish(dataset))
    }
}

/// The classes of a pair flip, `(from, to)`: the target defaults to the first class, the
/// source class to the first other one.
fn pair(
    from: Option<&str>,
    to: Option<&str>,
    classes: &[String],
) -> Result<(String, String), AttackError> {
    let target = target_class(to, classes)?;
    let from = match from {
        Some(from) => known_label(from, classes)?,
        None => classes
            .iter()
            .find(|class| **class != target)
            .expect("there are at least two classes")
            .clone(),
    };
    if from == target {
        return Err(AttackError::PairToItself { label: from });
    }
    Ok((from, target))
}

/// One sentence on what a flip did.
fn summary(
    mode: &FlipMode,
    records: &str,
    to: Option<&str>,
    from: Option<&str>,
    sources: &[String],
    fake: bool,
) -> String {
    let destination = match to {
        Some(target) => format!("to `{target}`"),
        None => "each to another class at random".to_owned(),
    };
    match mode {
        FlipMode::Sources { .. } if fake => format!(
            "flipped the labels of {records} {destination}, attributed to {} new fake sources",
            sources.len()
        ),
        FlipMode::Sources { .. } => format!(
            "flipped the labels of {records} {destination}, all from the sources {}",
            listed(sources.iter().map(String::as_str))
        ),
        FlipMode::Pair { .. } => format!(
            "flipped the labels of {records} from `{}` {destination}",
            from.unwrap_or_default()
        ),
        FlipMode::Uniform => format!("flipped the labels of {records} {destination}"),
    }
}

/// The sources to concentrate flips in, and whether they are fake (the records have none).
fn choose_sources(
    dataset: &InMemoryDataset,
    sources: &SourceChoice,
    random: &mut SplitMix64,
) -> Result<(Vec<String>, bool), AttackError> {
    let mut present: Vec<String> = dataset
        .records
        .iter()
        .filter_map(|record| record.source.clone())
        .collect();
    present.sort();
    present.dedup();
    match sources {
        SourceChoice::Named(names) => {
            if let Some(name) = names.iter().find(|name| !present.contains(name)) {
                return Err(AttackError::UnknownSource {
                    source_name: name.clone(),
                    sources: listed(present.iter().map(String::as_str)),
                });
            }
            Ok((names.clone(), false))
        }
        SourceChoice::Count(count) if present.is_empty() => {
            Ok((fake_sources(random, *count, &dataset.records), true))
        }
        SourceChoice::Count(count) => {
            if *count > present.len() {
                return Err(AttackError::TooFewSources {
                    wanted: *count,
                    available: present.len(),
                });
            }
            let picked = random
                .sample(present.len(), *count)
                .into_iter()
                .map(|index| present[index].clone())
                .collect();
            Ok((picked, false))
        }
    }
}

/// Indices of labelled records whose label is not `target`.
fn labelled_outside(dataset: &InMemoryDataset, target: Option<&str>) -> Vec<usize> {
    dataset
        .records
        .iter()
        .enumerate()
        .filter(|(_, record)| {
            record
                .label
                .as_deref()
                .is_some_and(|label| Some(label) != target)
        })
        .map(|(index, _)| index)
        .collect()
}
