//! Duplicate flooding: copies of a few records, with a conflicting label, from fake sources.
//!
//! On crowdsourcing platforms an attacker registers several accounts (sybils) and submits the
//! same answers from each, outvoting honest workers (Miao et al., 2018). In a training set the
//! same move is a flood of copies of a few inputs with the attacker's label: each copy is
//! ordinary, but together they outweigh the original.

use antidote_core::SplitMix64;
use antidote_data::Record;
use serde::Serialize;

use crate::common::{
    self, FreshIds, Outcome, ensure_source_column, fake_sources, known_label, labelled_classes,
    of_records, other_class, pick, poison_count,
};
use crate::{Attack, AttackError, AttackKind, InMemoryDataset, ParamsError, Poisoned};

/// ## What it does
/// Appends copies of a few records with a label that conflicts with the original's, attributed
/// to a few fake sources.
///
/// ## Why it matters
/// Majority votes, deduplication by content that keeps the most frequent label, and models that
/// weigh every record alike are all swayed by many copies; a new contributor that sends many
/// near-identical records is the signature of a sybil.
///
/// ## How it works
/// `rate * records` copies are appended, `copies` per original (the last original may get
/// fewer). The seed picks the originals among labelled records (outside the target, when one is
/// given); every copy of one original gets the target label, or one other class picked by the
/// seed, and one of the fake sources in turn. Copies get fresh ids.
///
/// ## References
/// - Miao, Li, Su, Huai, Jiang and Gao (2018), "Attack under Disguise: An Intelligent Data
///   Poisoning Attack Mechanism in Crowdsourcing", The Web Conference (WWW).
#[derive(Debug, Clone, Copy)]
pub struct DuplicateFlood;

impl DuplicateFlood {
    /// 5% of the dataset in copies, 5 per original, from 3 fake sources; adjust and
    /// [`check`](DuplicateFloodParams::check).
    #[must_use]
    pub fn params() -> DuplicateFloodParams {
        DuplicateFloodParams {
            rate: 0.05,
            target: None,
            copies: 5,
            fake_sources: 3,
        }
    }
}

/// Unchecked parameters of [`DuplicateFlood`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicateFloodParams {
    rate: f64,
    target: Option<String>,
    copies: usize,
    fake_sources: usize,
}

impl DuplicateFloodParams {
    /// How many copies to append, as a share of the dataset (default `0.05`).
    #[must_use]
    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = rate;
        self
    }

    /// The label of every copy (default: one other class per original, picked by the seed).
    #[must_use]
    pub fn target(mut self, label: impl Into<String>) -> Self {
        self.target = Some(label.into());
        self
    }

    /// Copies per original (default 5).
    #[must_use]
    pub fn copies(mut self, copies: usize) -> Self {
        self.copies = copies;
        self
    }

    /// How many fake sources the copies come from (default 3); `0` keeps the original's source,
    /// for formats that cannot store one (IDX, image folders).
    #[must_use]
    pub fn fake_sources(mut self, count: usize) -> Self {
        self.fake_sources = count;
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<DuplicateFloodValidParams, ParamsError> {
        common::check_rate(self.rate)?;
        if self.copies == 0 {
            return Err(ParamsError::Zero { option: "copies" });
        }
        Ok(DuplicateFloodValidParams { params: self })
    }
}

/// Checked parameters of [`DuplicateFlood`], ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateFloodValidParams {
    params: DuplicateFloodParams,
}

impl Attack for DuplicateFloodValidParams {
    fn kind(&self) -> AttackKind {
        AttackKind::DuplicateFlood
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
        let target = params
            .target
            .as_deref()
            .map(|label| known_label(label, &classes))
            .transpose()?;
        let total = poison_count(params.rate, records_before);
        let originals_needed = total.div_ceil(params.copies);
        let eligible: Vec<usize> = (0..records_before)
            .filter(|&index| {
                let label = dataset.records[index].label.as_deref();
                label.is_some() && label != target.as_deref()
            })
            .collect();
        let originals = pick(&mut random, &eligible, originals_needed, || match &target {
            Some(target) => format!("labelled outside `{target}` to copy"),
            None => "labelled to copy".to_owned(),
        })?;
        let sources = fake_sources(&mut random, params.fake_sources, &dataset.records);
        if !sources.is_empty() {
            ensure_source_column(&mut dataset.schema);
        }

        let mut ids = FreshIds::new(&dataset);
        let mut appended: Vec<Record> = Vec::with_capacity(total);
        for &index in &originals {
            let original = &dataset.records[index];
            let label = match &target {
                Some(target) => target.clone(),
                None => other_class(
                    &mut random,
                    &classes,
                    original
                        .label
                        .as_deref()
                        .expect("eligible records are labelled"),
                ),
            };
            let copies = params.copies.min(total - appended.len());
            for _ in 0..copies {
                let position = records_before + appended.len();
                let mut copy = original.clone();
                copy.position = position as u64;
                copy.id = ids.fresh(original.id.as_str(), position).into();
                copy.label = Some(label.clone());
                if !sources.is_empty() {
                    copy.source = Some(sources[appended.len() % sources.len()].clone());
                }
                appended.push(copy);
            }
        }
        dataset.records.extend(appended);

        let mut outcome = Outcome::new(kind, self.parameters(), seed, records_before);
        outcome.summary = format!(
            "appended {total} copies of {} with a conflicting label{}{}",
            of_records(originals.len(), records_before),
            target
                .as_ref()
                .map(|target| format!(" (`{target}`)"))
                .unwrap_or_default(),
            if sources.is_empty() {
                String::new()
            } else {
                format!(", from {} fake sources", sources.len())
            }
        );
        outcome.sources = sources;
        outcome.target = target;
        Ok(outcome.finish(dataset))
    }
}
