//! The chain of one model through the ledger: data -> scan -> model -> gate.
//!
//! Events are linked by digests, not by paths, so that a model or a dataset that was moved or
//! renamed keeps its history and one that was changed loses it:
//!
//! - a `lock` event names each dataset's Merkle root (`datasets[].merkle_root`), and a `scan`
//!   event the Merkle root of the records it scanned (`data_root`), the same root for the same
//!   records;
//! - a `train` event names the Merkle root of its training data (`data_root`) and the root
//!   digest of the model folder it wrote (`model_root`);
//! - a `sign-model` event names the root digest it signed (`root_digest`);
//! - a `gate` event names the root digest of the model it judged (`model_root`) and its verdict.
//!
//! The model's root digest is the one `OpenSSF` `model_signing` computes (SHA-256 of every file,
//! git files left out; [`crate::model::ModelManifest::root_digest`]).
//!
//! ```
//! use antidote_provenance::chain::ModelChain;
//! use antidote_provenance::ledger::Event;
//! use serde_json::json;
//!
//! let event = |seq, kind: &str, details| Event {
//!     seq, time: String::new(), kind: kind.into(), subject: String::new(),
//!     outcome: "ok".into(), actor: String::new(), details,
//!     prev_hash: String::new(), hash: String::new(),
//! };
//! let events = [
//!     event(1, "scan", json!({"data_root": "blake3:d"})),
//!     event(2, "train", json!({"data_root": "blake3:d", "model_root": "sha256:m"})),
//!     event(3, "gate", json!({"model_root": "sha256:m", "verdict": "pass"})),
//! ];
//! let chain = ModelChain::find(&events, "sha256:m");
//! assert_eq!(chain.data_root.as_deref(), Some("blake3:d"));
//! assert_eq!((chain.scans.len(), chain.gates.len()), (1, 1));
//! assert!(chain.gaps().is_empty());
//! ```

use serde::Serialize;

use crate::ledger::Event;

/// Every event of the ledger that concerns one model, from its data to its gates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelChain {
    /// The model's root digest.
    pub model_root: String,
    /// The Merkle root of the records it was trained on, from its `train` event.
    pub data_root: Option<String>,
    /// The `lock` events that pinned that data.
    pub locks: Vec<Event>,
    /// The `scan` events of that data.
    pub scans: Vec<Event>,
    /// The `train` event that wrote the model (the last one, if the same model was written
    /// twice).
    pub training: Option<Event>,
    /// The `sign-model` events that signed it.
    pub signatures: Vec<Event>,
    /// The `gate` events that judged it.
    pub gates: Vec<Event>,
}

fn detail<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    event.details.get(key).and_then(serde_json::Value::as_str)
}

impl ModelChain {
    /// Finds the chain of the model whose root digest is `model_root` among `events`.
    #[must_use]
    pub fn find(events: &[Event], model_root: &str) -> Self {
        let of_kind = |kind: &str, key: &str, value: &str| -> Vec<Event> {
            events
                .iter()
                .filter(|event| event.kind == kind && detail(event, key) == Some(value))
                .cloned()
                .collect()
        };
        let training = of_kind("train", "model_root", model_root).pop();
        let data_root = training
            .as_ref()
            .and_then(|event| detail(event, "data_root"))
            .map(str::to_owned);
        let (locks, scans) = match &data_root {
            Some(root) => (
                events
                    .iter()
                    .filter(|event| {
                        event.kind == "lock"
                            && event.details["datasets"]
                                .as_array()
                                .is_some_and(|datasets| {
                                    datasets.iter().any(|dataset| {
                                        dataset["merkle_root"].as_str() == Some(root.as_str())
                                    })
                                })
                    })
                    .cloned()
                    .collect(),
                of_kind("scan", "data_root", root),
            ),
            None => (Vec::new(), Vec::new()),
        };
        Self {
            model_root: model_root.to_owned(),
            data_root,
            locks,
            scans,
            training,
            signatures: of_kind("sign-model", "root_digest", model_root),
            gates: of_kind("gate", "model_root", model_root),
        }
    }

    /// The links that are missing, in words; empty when the model's data was scanned, the model
    /// was trained from it and gated. A signature and a lock are reported when present and not
    /// required.
    #[must_use]
    pub fn gaps(&self) -> Vec<String> {
        let mut gaps = Vec::new();
        match &self.data_root {
            None if self.training.is_none() => gaps
                .push("no `train` event wrote this model: its training data is unknown".to_owned()),
            None => gaps.push("its `train` event names no training data".to_owned()),
            Some(root) if self.scans.is_empty() => {
                gaps.push(format!("its training data `{root}` was never scanned"));
            }
            Some(_) => {}
        }
        if self.gates.is_empty() {
            gaps.push("it was never gated".to_owned());
        }
        gaps
    }

    /// The last gate's outcome (`passed` or `failed`), if it was gated.
    #[must_use]
    pub fn last_gate(&self) -> Option<&str> {
        self.gates.last().map(|event| event.outcome.as_str())
    }
}
