//! The Prometheus metrics, in the exposition format of `prometheus-client` (OpenMetrics text).
//!
//! Counters count every stored event since the store was created: they are rebuilt from the
//! store at start, so they survive restarts. Gauges describe the current window and the alerts
//! and are set on every scrape from the store. Labels are bounded: at most
//! [`MAX_LABEL_VALUES`] classes and model versions get their own series, later ones are counted
//! under [`OTHER`].

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::store::StoredEvent;
use crate::window::Evaluation;

/// The most distinct values of one label (classes, model versions) with their own series.
pub const MAX_LABEL_VALUES: usize = 100;

/// The label value later classes and model versions are counted under.
pub const OTHER: &str = "_other";

/// The upper bounds of the confidence histogram's buckets.
pub const CONFIDENCE_BUCKETS: [f64; 12] =
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0];

type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model_version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabels {
    class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeatureLabels {
    feature: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    alert: String,
    rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CanaryLabels {
    kind: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TriggerLabels {
    matchable: String,
}

/// Why a request was refused, as `antidote_rejected_requests_total` labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No or a wrong bearer token.
    Unauthorized,
    /// The body is larger than the limit.
    TooLarge,
    /// The body is not JSON.
    Malformed,
    /// The body is JSON but not valid events.
    Invalid,
}

impl Rejection {
    /// The reason as metrics and logs label it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::Invalid => "invalid",
        }
    }
}

/// A label's values seen so far, capped at [`MAX_LABEL_VALUES`].
#[derive(Debug, Default)]
struct Bounded(Mutex<BTreeSet<String>>);

impl Bounded {
    fn value(&self, value: &str) -> String {
        let mut seen = self.0.lock().expect("the label set is never poisoned");
        if seen.contains(value) {
            return value.to_owned();
        }
        if seen.len() < MAX_LABEL_VALUES {
            seen.insert(value.to_owned());
            return value.to_owned();
        }
        OTHER.to_owned()
    }
}

/// Every metric of the monitor, and the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    classes: Bounded,
    models: Bounded,
    events: Family<ModelLabels, Counter>,
    predictions: Family<ClassLabels, Counter>,
    confidence: Family<ClassLabels, Histogram>,
    trigger_activations: Counter,
    canary_events: Family<CanaryLabels, Counter>,
    rejected: Family<ReasonLabels, Counter>,
    last_event: FloatGauge,
    window_events: Gauge,
    baseline_windows: Gauge,
    trigger_ratio: FloatGauge,
    drift_jensen_shannon: FloatGauge,
    drift_l_infinity: FloatGauge,
    drift_chi_squared: FloatGauge,
    drift_p_value: FloatGauge,
    prediction_ratio: Family<ClassLabels, FloatGauge>,
    class_confidence: Family<ClassLabels, FloatGauge>,
    window_confidence: FloatGauge,
    alert_firing: Family<AlertLabels, Gauge>,
    alert_value: Family<AlertLabels, FloatGauge>,
    alert_bound: Family<AlertLabels, FloatGauge>,
    inputs: InputGauges,
}

/// The input drift gauges ([`crate::inputs`]).
#[derive(Debug, Default)]
struct InputGauges {
    events: Gauge,
    unmatched: Gauge,
    compared: Gauge,
    drifted: Gauge,
    p_value: Family<FeatureLabels, FloatGauge>,
    distance: Family<FeatureLabels, FloatGauge>,
    feature_drifted: Family<FeatureLabels, Gauge>,
}

impl InputGauges {
    fn register(registry: &mut Registry) -> Self {
        let gauges = Self::default();
        registry.register(
            "window_input_events",
            "Events of the current window that carried inputs (`features` or `fields`)",
            gauges.events.clone(),
        );
        registry.register(
            "window_input_unmatched_events",
            "Events of the current window whose inputs matched no column of the baseline profile",
            gauges.unmatched.clone(),
        );
        registry.register(
            "input_features_compared",
            "Baseline columns the current window's inputs were compared with",
            gauges.compared.clone(),
        );
        registry.register(
            "input_features_drifted",
            "Baseline columns from which the current window's inputs drifted (the tests of `antidote check`)",
            gauges.drifted.clone(),
        );
        registry.register(
            "input_drift_p_value",
            "Two-sample Kolmogorov-Smirnov p-value of the current window's values of a feature against the baseline (what drift is decided by while either side has at most 1,000 values)",
            gauges.p_value.clone(),
        );
        registry.register(
            "input_drift_distance",
            "Wasserstein distance, in baseline standard deviations, of the current window's values of a feature from the baseline (what drift is decided by in larger windows)",
            gauges.distance.clone(),
        );
        registry.register(
            "input_feature_drifted",
            "1 when a feature drifted in the current window (the test of `antidote check` for the window size, and a Wasserstein distance above its threshold), else 0",
            gauges.feature_drifted.clone(),
        );
        gauges
    }

    fn set(&self, drift: Option<&crate::inputs::InputDrift>) {
        self.p_value.clear();
        self.distance.clear();
        self.feature_drifted.clear();
        let count = |value: usize| i64::try_from(value).unwrap_or(i64::MAX);
        let Some(drift) = drift else {
            for gauge in [&self.events, &self.unmatched, &self.compared, &self.drifted] {
                gauge.set(0);
            }
            return;
        };
        self.events.set(count(drift.events));
        self.unmatched.set(count(drift.unmatched));
        self.compared.set(count(drift.columns.len()));
        self.drifted.set(count(drift.drifted()));
        for column in drift.columns.iter().take(MAX_LABEL_VALUES) {
            let labels = FeatureLabels {
                feature: column.decided.column.clone(),
            };
            self.p_value.get_or_create(&labels).set(column.ks_p_value);
            self.distance.get_or_create(&labels).set(column.wasserstein);
            self.feature_drifted
                .get_or_create(&labels)
                .set(i64::from(column.decided.drifted));
        }
    }
}

impl Metrics {
    /// The metrics of a monitor whose baseline has these label shares and that knows these
    /// triggers (`matchable` and not), and canaries or not.
    #[must_use]
    #[expect(
        clippy::too_many_lines,
        reason = "one registration per metric, in the order they are exposed"
    )]
    pub fn new(
        baseline: &std::collections::BTreeMap<String, f64>,
        window: usize,
        triggers: (usize, usize),
        canaries: bool,
    ) -> Self {
        let mut registry = Registry::with_prefix("antidote");
        let events = Family::<ModelLabels, Counter>::default();
        registry.register(
            "events",
            "Prediction events stored, by model version",
            events.clone(),
        );
        let predictions = Family::<ClassLabels, Counter>::default();
        registry.register(
            "predictions",
            "Prediction events stored, by predicted class",
            predictions.clone(),
        );
        let confidence = Family::<ClassLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(CONFIDENCE_BUCKETS)) as fn() -> Histogram,
        );
        registry.register(
            "prediction_confidence",
            "The model's confidence in its prediction, by predicted class",
            confidence.clone(),
        );
        let trigger_activations = Counter::default();
        registry.register(
            "trigger_activations",
            "Prediction events whose input carried a known trigger",
            trigger_activations.clone(),
        );
        let canary_events = Family::<CanaryLabels, Counter>::default();
        if canaries {
            // Every series from the start at 0, so that `increase()` sees the first event.
            for kind in [
                antidote_canary::Group::Planted,
                antidote_canary::Group::HeldOut,
                antidote_canary::Group::Honeypot,
            ] {
                for outcome in ["expected", "other"] {
                    drop(canary_events.get_or_create(&CanaryLabels {
                        kind: crate::canaries::kind_label(kind).to_owned(),
                        outcome: outcome.to_owned(),
                    }));
                }
            }
            registry.register(
                "canary_events",
                "Prediction events whose input is a canary (kind: planted, held_out, honeypot), by whether the prediction is its assigned label (outcome: expected, other)",
                canary_events.clone(),
            );
        }
        let rejected = Family::<ReasonLabels, Counter>::default();
        // Every reason from the start at 0, so that `rate()` sees the first refusal.
        for reason in [
            Rejection::Unauthorized,
            Rejection::TooLarge,
            Rejection::Malformed,
            Rejection::Invalid,
        ] {
            drop(rejected.get_or_create(&ReasonLabels {
                reason: reason.as_str().to_owned(),
            }));
        }
        registry.register(
            "rejected_requests",
            "Event requests refused, by reason (unauthorized, too_large, malformed, invalid)",
            rejected.clone(),
        );
        let last_event = FloatGauge::default();
        registry.register_with_unit(
            "last_event_timestamp",
            "When the latest event was received, since the Unix epoch",
            Unit::Seconds,
            last_event.clone(),
        );
        let window_events = Gauge::default();
        registry.register(
            "window_events",
            "Events in the current window",
            window_events.clone(),
        );
        let window_size = Gauge::<i64>::default();
        window_size.set(i64::try_from(window).unwrap_or(i64::MAX));
        registry.register(
            "window_size_events",
            "Events per window (`--window`); alerts wait for a full window",
            window_size,
        );
        let baseline_windows = Gauge::default();
        registry.register(
            "baseline_windows",
            "Full windows before the current one that 3-sigma alerts compare with",
            baseline_windows.clone(),
        );
        let trigger_ratio = FloatGauge::default();
        registry.register_with_unit(
            "trigger_activation",
            "Share of the current window's events whose input carries a known trigger",
            Unit::Other("ratio".to_owned()),
            trigger_ratio.clone(),
        );
        let drift_jensen_shannon = FloatGauge::default();
        registry.register(
            "prediction_drift_jensen_shannon",
            "Jensen-Shannon distance (base 2) of the current window's predictions from the baseline labels",
            drift_jensen_shannon.clone(),
        );
        let drift_l_infinity = FloatGauge::default();
        registry.register(
            "prediction_drift_l_infinity",
            "Largest change of one class's share between the baseline labels and the current window's predictions",
            drift_l_infinity.clone(),
        );
        let drift_chi_squared = FloatGauge::default();
        registry.register(
            "prediction_drift_chi_squared",
            "Pearson's chi-squared statistic of the current window's predictions against the baseline label shares",
            drift_chi_squared.clone(),
        );
        let drift_p_value = FloatGauge::default();
        registry.register(
            "prediction_drift_chi_squared_p_value",
            "p-value of the chi-squared goodness-of-fit test of the current window's predictions",
            drift_p_value.clone(),
        );
        let prediction_ratio = Family::<ClassLabels, FloatGauge>::default();
        registry.register_with_unit(
            "window_predictions",
            "Share of the current window's predictions per class",
            Unit::Other("ratio".to_owned()),
            prediction_ratio.clone(),
        );
        let baseline_ratio = Family::<ClassLabels, FloatGauge>::default();
        for (class, share) in baseline.iter().take(MAX_LABEL_VALUES) {
            baseline_ratio
                .get_or_create(&ClassLabels {
                    class: class.clone(),
                })
                .set(*share);
        }
        registry.register_with_unit(
            "baseline_labels",
            "Share of each label in the baseline profile",
            Unit::Other("ratio".to_owned()),
            baseline_ratio,
        );
        let class_confidence = Family::<ClassLabels, FloatGauge>::default();
        registry.register(
            "window_class_confidence_mean",
            "Mean confidence of the current window's predictions, per predicted class",
            class_confidence.clone(),
        );
        let window_confidence = FloatGauge::default();
        registry.register(
            "window_confidence_mean",
            "Mean confidence of the current window's predictions",
            window_confidence.clone(),
        );
        let alert_firing = Family::<AlertLabels, Gauge>::default();
        registry.register(
            "alert_firing",
            "1 when the monitor's own alert fires, else 0 (alerts: trigger_activation, prediction_drift, confidence_drop, honeypot_input, canary_memorisation, input_drift; rules: threshold, three_sigma, fisher_exact)",
            alert_firing.clone(),
        );
        let alert_value = Family::<AlertLabels, FloatGauge>::default();
        registry.register(
            "alert_value",
            "The statistic each alert compares with its bound",
            alert_value.clone(),
        );
        let alert_bound = Family::<AlertLabels, FloatGauge>::default();
        registry.register(
            "alert_bound",
            "The bound of each alert: its threshold, or the baseline mean plus or minus three standard deviations (absent while warming up)",
            alert_bound.clone(),
        );
        let inputs = InputGauges::register(&mut registry);
        let known_triggers = Family::<TriggerLabels, Gauge>::default();
        for (matchable, count) in [("true", triggers.0), ("false", triggers.1)] {
            known_triggers
                .get_or_create(&TriggerLabels {
                    matchable: matchable.to_owned(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        registry.register(
            "known_triggers",
            "Triggers read from the scan summary, by whether they can be matched in an event's input",
            known_triggers,
        );
        Self {
            registry,
            classes: Bounded::default(),
            models: Bounded::default(),
            events,
            predictions,
            confidence,
            trigger_activations,
            canary_events,
            rejected,
            last_event,
            window_events,
            baseline_windows,
            trigger_ratio,
            drift_jensen_shannon,
            drift_l_infinity,
            drift_chi_squared,
            drift_p_value,
            prediction_ratio,
            class_confidence,
            window_confidence,
            alert_firing,
            alert_value,
            alert_bound,
            inputs,
        }
    }

    /// Counts one stored event.
    pub fn count(&self, event: &StoredEvent) {
        let model_version = self
            .models
            .value(event.model_version.as_deref().unwrap_or(""));
        self.events
            .get_or_create(&ModelLabels { model_version })
            .inc();
        let class = ClassLabels {
            class: self.classes.value(&event.predicted),
        };
        self.predictions.get_or_create(&class).inc();
        self.confidence
            .get_or_create(&class)
            .observe(event.confidence);
        if event.trigger.is_some() {
            self.trigger_activations.inc();
        }
        if let Some(hit) = event.canary {
            self.canary_events
                .get_or_create(&CanaryLabels {
                    kind: hit.kind_label().to_owned(),
                    outcome: hit.outcome_label().to_owned(),
                })
                .inc();
        }
    }

    /// Counts a refused request.
    pub fn reject(&self, reason: Rejection) {
        self.rejected
            .get_or_create(&ReasonLabels {
                reason: reason.as_str().to_owned(),
            })
            .inc();
    }

    /// Sets the gauges from an evaluation and the latest event's time.
    pub fn set(&self, evaluation: &Evaluation, last_event: Option<f64>) {
        self.inputs.set(evaluation.inputs.as_ref());
        let current = &evaluation.current;
        self.last_event.set(last_event.unwrap_or(0.0));
        self.window_events
            .set(i64::try_from(current.events).unwrap_or(i64::MAX));
        self.baseline_windows
            .set(i64::try_from(evaluation.baseline_windows).unwrap_or(i64::MAX));
        self.trigger_ratio.set(current.trigger_ratio);
        self.drift_jensen_shannon.set(current.drift.jensen_shannon);
        self.drift_l_infinity.set(current.drift.l_infinity);
        self.drift_chi_squared.set(current.drift.chi_squared);
        self.drift_p_value.set(current.drift.chi_squared_p_value);
        self.window_confidence.set(current.confidence);
        // Classes that left the window leave the gauges too.
        self.prediction_ratio.clear();
        self.class_confidence.clear();
        let total = current.events.max(1) as f64;
        for (class, count) in &current.counts {
            let labels = ClassLabels {
                class: self.classes.value(class),
            };
            self.prediction_ratio
                .get_or_create(&labels)
                .set(*count as f64 / total);
            self.class_confidence
                .get_or_create(&labels)
                .set(current.class_confidence[class]);
        }
        self.alert_bound.clear();
        for alert in &evaluation.alerts {
            let labels = AlertLabels {
                alert: alert.alert.as_str().to_owned(),
                rule: alert.rule.as_str().to_owned(),
            };
            self.alert_firing
                .get_or_create(&labels)
                .set(i64::from(alert.firing));
            self.alert_value.get_or_create(&labels).set(alert.value);
            if let Some(bound) = alert.bound {
                self.alert_bound.get_or_create(&labels).set(bound);
            }
        }
    }

    /// The metrics in the OpenMetrics text format.
    ///
    /// # Panics
    ///
    /// Never: writing to a `String` cannot fail.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// The OpenMetrics text of [`Metrics::encode`] in the Prometheus text format 0.0.4, for
/// scrapers that do not ask for OpenMetrics (`curl`, `promtool check metrics`).
///
/// `prometheus-client` writes OpenMetrics only. The two formats differ, for what this crate
/// exposes, in metadata alone: an OpenMetrics counter family is named without its `_total`
/// suffix while the 0.0.4 format names the family as its samples, and 0.0.4 has no `# UNIT` and
/// `# EOF` lines. The samples are kept as written.
#[must_use]
pub fn to_text_format(openmetrics: &str) -> String {
    let counters: BTreeSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        text.push_str(renamed.as_deref().unwrap_or(line));
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_renamed_for_the_text_format_and_nothing_else_changes() {
        let openmetrics = "# HELP antidote_events Events.\n# TYPE antidote_events counter\n\
antidote_events_total{model_version=\"\"} 3\n# HELP antidote_trigger_activation_ratio Share.\n\
# TYPE antidote_trigger_activation_ratio gauge\n# UNIT antidote_trigger_activation_ratio ratio\n\
antidote_trigger_activation_ratio 0.5\n# EOF\n";
        assert_eq!(
            to_text_format(openmetrics),
            "# HELP antidote_events_total Events.\n# TYPE antidote_events_total counter\n\
antidote_events_total{model_version=\"\"} 3\n# HELP antidote_trigger_activation_ratio Share.\n\
# TYPE antidote_trigger_activation_ratio gauge\nantidote_trigger_activation_ratio 0.5\n"
        );
    }
}
