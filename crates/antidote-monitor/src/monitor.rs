//! [`Monitor`]: the store, the baseline, the triggers and the metrics of one running service.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use antidote_validate::profile::Profile;
use serde::Serialize;

use crate::canaries::CanarySet;
use crate::event::Event;
use crate::inputs::InputBaseline;
use crate::metrics::{Metrics, Rejection};
use crate::store::{Reader, Store, StoreError};
use crate::triggers::TriggerSet;
use crate::window::{AlertName, AlertRule, Evaluation, MonitorParams, evaluate};

/// Errors from starting a monitor.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The baseline profile has no label distribution to compare predictions with.
    #[error("the baseline profile has no labels to compare the predictions with")]
    UnlabelledBaseline,
    /// The window is empty.
    #[error("the window must hold at least one event")]
    EmptyWindow,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one accepted batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ingested {
    /// Events stored from the batch.
    pub accepted: usize,
    /// Events stored since the store was created, after it (pruned ones included).
    pub stored: u64,
}

/// A running monitor: everything the HTTP handlers share.
#[derive(Debug)]
pub struct Monitor {
    store: Mutex<Store>,
    reader: Mutex<Reader>,
    stored: AtomicU64,
    baseline: BTreeMap<String, f64>,
    triggers: TriggerSet,
    inputs: InputBaseline,
    params: MonitorParams,
    metrics: Metrics,
    /// The alerts that fired at the last evaluation, to log when one starts or stops.
    firing: Mutex<BTreeSet<(AlertName, AlertRule)>>,
}

impl Monitor {
    /// Opens (or creates) the store and rebuilds the counters from the events it holds. With
    /// canaries (a non-empty set), the canary alerts are evaluated at `params.canary_alpha`
    /// ([`crate::window::DEFAULT_CANARY_ALPHA`] when not set).
    pub fn open(
        store: &Path,
        baseline: &Profile,
        triggers: TriggerSet,
        canaries: CanarySet,
        params: MonitorParams,
    ) -> Result<Self, MonitorError> {
        let shares = baseline.label_shares();
        if shares.is_empty() {
            return Err(MonitorError::UnlabelledBaseline);
        }
        Ok(
            Self::with_shares(store, shares, triggers, canaries, params)?
                .with_input_baseline(InputBaseline::of(baseline)),
        )
    }

    /// The monitor, comparing the events' inputs with these columns ([`Monitor::open`] takes
    /// them from the profile).
    #[must_use]
    pub fn with_input_baseline(mut self, inputs: InputBaseline) -> Self {
        self.inputs = inputs;
        self
    }

    /// The baseline columns the inputs are compared with.
    #[must_use]
    pub fn input_baseline(&self) -> &InputBaseline {
        &self.inputs
    }

    /// As [`Monitor::open`], with the baseline's label shares given directly.
    pub fn with_shares(
        store: &Path,
        baseline: BTreeMap<String, f64>,
        triggers: TriggerSet,
        canaries: CanarySet,
        mut params: MonitorParams,
    ) -> Result<Self, MonitorError> {
        if params.window == 0 {
            return Err(MonitorError::EmptyWindow);
        }
        params.canary_alpha = if canaries.is_empty() {
            None
        } else {
            Some(
                params
                    .canary_alpha
                    .unwrap_or(crate::window::DEFAULT_CANARY_ALPHA),
            )
        };
        let with_canaries = !canaries.is_empty();
        let store = Store::open(store)?
            .with_canaries(Arc::new(canaries))
            .with_retention(params.retain);
        let reader = store.reader()?;
        let metrics = Metrics::new(
            &baseline,
            params.window,
            (triggers.matchable().len(), triggers.unmatchable().len()),
            with_canaries,
        );
        reader.for_each(|event| metrics.count(&event))?;
        let stored = reader.stored_ever()?;
        Ok(Self {
            store: Mutex::new(store),
            reader: Mutex::new(reader),
            stored: AtomicU64::new(stored),
            baseline,
            triggers,
            inputs: InputBaseline::default(),
            params,
            metrics,
            firing: Mutex::default(),
        })
    }

    /// The triggers it matches.
    #[must_use]
    pub fn triggers(&self) -> &TriggerSet {
        &self.triggers
    }

    /// How it windows and alerts.
    #[must_use]
    pub fn params(&self) -> &MonitorParams {
        &self.params
    }

    /// Events stored since the store was created (pruned ones included).
    #[must_use]
    pub fn stored(&self) -> u64 {
        self.stored.load(Ordering::SeqCst)
    }

    /// Stores a batch in one transaction and counts it once committed. Blocks on SQLite: call it
    /// off the async runtime.
    ///
    /// # Panics
    ///
    /// If a thread panicked while it held the store, which no code path does.
    pub fn ingest(&self, events: &[Event]) -> Result<Ingested, StoreError> {
        let received = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
        let mut store = self.store.lock().expect("the store lock is never poisoned");
        let stored = store.insert(events, &self.triggers, received)?;
        // Counted under the store's lock, so that the counters follow the commit order.
        for event in &stored {
            self.metrics.count(event);
        }
        let total =
            self.stored.fetch_add(stored.len() as u64, Ordering::SeqCst) + stored.len() as u64;
        Ok(Ingested {
            accepted: stored.len(),
            stored: total,
        })
    }

    /// Counts a refused request.
    pub fn reject(&self, reason: Rejection) {
        self.metrics.reject(reason);
    }

    /// Evaluates the windows and alerts from the store. Blocks on SQLite.
    ///
    /// # Panics
    ///
    /// If a thread panicked while it held the store, which no code path does.
    pub fn evaluate(&self) -> Result<(Evaluation, Option<f64>), StoreError> {
        let reader = self
            .reader
            .lock()
            .expect("the reader lock is never poisoned");
        self.evaluate_with(&reader)
    }

    fn evaluate_with(&self, reader: &Reader) -> Result<(Evaluation, Option<f64>), StoreError> {
        let latest = reader.latest(self.params.window * (self.params.baseline_windows + 1))?;
        let last = reader.last_received()?;
        let mut evaluation = evaluate(&latest, &self.baseline, &self.params);
        if !self.inputs.is_empty() {
            let inputs = reader.latest_inputs(self.params.window)?;
            let drift = self.inputs.drift(&inputs, &self.params.thresholds);
            let full = evaluation.current.events == self.params.window;
            evaluation.alerts.push(drift.alert(full));
            evaluation.inputs = Some(drift);
        }
        Ok((evaluation, last))
    }

    /// Evaluates, sets the gauges and encodes every metric. Blocks on SQLite.
    ///
    /// # Panics
    ///
    /// If a thread panicked while it held the store, which no code path does.
    pub fn scrape(&self) -> Result<String, StoreError> {
        // The reader's lock is held to the end, so that concurrent scrapes do not interleave
        // their gauges.
        let reader = self
            .reader
            .lock()
            .expect("the reader lock is never poisoned");
        let (evaluation, last) = self.evaluate_with(&reader)?;
        self.log_changes(&evaluation);
        self.metrics.set(&evaluation, last);
        let text = self.metrics.encode();
        drop(reader);
        Ok(text)
    }

    /// Logs each alert that starts or stops firing: one line each (`kind = "alert"`).
    fn log_changes(&self, evaluation: &Evaluation) {
        let mut previous = self.firing.lock().expect("the alert set is never poisoned");
        let now: BTreeSet<(AlertName, AlertRule)> = evaluation
            .firing()
            .map(|alert| (alert.alert, alert.rule))
            .collect();
        for alert in &evaluation.alerts {
            let key = (alert.alert, alert.rule);
            let (alert_name, rule, value) =
                (alert.alert.as_str(), alert.rule.as_str(), alert.value);
            let bound = alert.bound.unwrap_or(f64::NAN);
            match (previous.contains(&key), now.contains(&key)) {
                (false, true) => tracing::warn!(
                    kind = "alert",
                    state = "firing",
                    alert = alert_name,
                    rule,
                    value,
                    bound,
                    "alert `{alert_name}` ({rule}) fires: {value} against {bound}"
                ),
                (true, false) => tracing::info!(
                    kind = "alert",
                    state = "resolved",
                    alert = alert_name,
                    rule,
                    value,
                    bound,
                    "alert `{alert_name}` ({rule}) resolved: {value} against {bound}"
                ),
                _ => {}
            }
        }
        *previous = now;
    }
}
