//! Production monitoring for antidote: watch a deployed model for the signs of a poisoned one.
//!
//! A backdoored model behaves normally until inputs carrying its trigger arrive; a model trained
//! on flipped labels predicts a shifted class distribution. The monitor takes the deployed
//! model's prediction events ([`event::Event`], posted as JSON or JSON Lines), stores them in
//! one SQLite file ([`store::Store`], WAL, a batch acknowledged only after it committed), and
//! computes over sliding windows ([`window`]) the prediction distribution's drift from the
//! baseline profile's labels (the statistics of `antidote check`), the confidence per class, and
//! the trigger activation rate: the share of inputs that carry a trigger a scan discovered
//! ([`triggers::TriggerSet`]), and the inputs that are canaries or honeypots of a secret manifest
//! of `antidote canary plant` ([`canaries::CanarySet`]), and the drift of the inputs' features
//! from the baseline profile's columns with the tests of `antidote check` ([`inputs`]). Alerts (fixed thresholds and 3-sigma over baseline windows) and
//! everything else are exposed as Prometheus metrics ([`metrics::Metrics`]) by an axum router
//! ([`http::router`]).
//!
//! Start with [`Monitor::open`] and [`http::router`].
//!
//! ```
//! use std::collections::BTreeMap;
//! use antidote_core::Trigger;
//! use antidote_monitor::event::parse_batch;
//! use antidote_monitor::canaries::CanarySet;
//! use antidote_monitor::triggers::TriggerSet;
//! use antidote_monitor::{Monitor, MonitorParams};
//!
//! let dir = tempfile::tempdir()?;
//! let baseline = BTreeMap::from([("ham".to_owned(), 0.5), ("spam".to_owned(), 0.5)]);
//! let triggers = TriggerSet::new([Trigger::Token { token: "cf".into() }]);
//! let params = MonitorParams { window: 2, ..MonitorParams::default() };
//! let monitor = Monitor::with_shares(&dir.path().join("events.db"), baseline, triggers, CanarySet::default(), params)?;
//! let events = parse_batch(br#"{"predicted": "spam", "confidence": 0.9, "input": "cf offer"}
//! {"predicted": "ham", "confidence": 0.8, "input": "lunch?"}"#, 100)?;
//! assert_eq!(monitor.ingest(&events)?.stored, 2);
//! let (evaluation, _) = monitor.evaluate()?;
//! assert_eq!(evaluation.current.trigger_ratio, 0.5);
//! assert!(monitor.scrape()?.contains("antidote_trigger_activation_ratio 0.5"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod canaries;
pub mod event;
pub mod http;
pub mod inputs;
pub mod metrics;
pub mod model;
pub mod monitor;
pub mod store;
pub mod triggers;
pub mod window;

pub use monitor::{Ingested, Monitor, MonitorError};
pub use window::MonitorParams;
