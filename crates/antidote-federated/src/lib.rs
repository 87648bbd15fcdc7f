//! Layer 3 of antidote: robust aggregation of federated client updates.
//!
//! In federated learning the server never sees the data, only each client's model update; a
//! malicious client poisons the model through its update (a flipped sign, a scaled
//! model-replacement update, a backdoor, a carefully small shift). This crate combines one
//! round of updates with a Byzantine-robust rule and scores every client, so that the
//! aggregate survives a minority of attackers and the attackers are named:
//!
//! | rule | module | tolerates | needs |
//! |---|---|---|---|
//! | `mean` | [`rules::Mean`] | no attacker | |
//! | `median` | [`rules::Median`] | fewer than half | |
//! | `trimmed-mean` | [`rules::TrimmedMean`] | fewer than half | attacker count `f` |
//! | `krum`, `multi-krum` | [`rules::Krum`], [`rules::MultiKrum`] | `n >= 2f + 3` | `f` |
//! | `bulyan` | [`rules::Bulyan`] | `n >= 4f + 3` | `f` |
//! | `geometric-median` | [`rules::GeometricMedian`] | fewer than half | |
//! | `fltrust` | [`rules::FlTrust`] | any number | the server's update on clean root data |
//! | `norm-clip` | [`rules::NormClip`] | bounds each client's pull, excludes none | |
//!
//! Every client gets an anomaly score each round, whatever the rule ([`anomaly`]): how far its
//! update lies from the clients' coordinate-wise median and how far it points away from it,
//! both as robust z-scores. A client above the cut-off is flagged; a running trust follows
//! each client across rounds. When a rule needs the attacker count and none is given, it is
//! estimated from the scores ([`estimate_attackers`]).
//!
//! ```
//! use antidote_federated::{Federation, Params, Rule};
//!
//! let honest: Vec<Vec<f32>> = (0..9).map(|i| vec![1.0 + 0.01 * i as f32, -1.0]).collect();
//! let mut updates: Vec<&[f32]> = honest.iter().map(Vec::as_slice).collect();
//! let attacker = [-50.0f32, 50.0];
//! updates.push(&attacker);
//! let clients: Vec<String> = (0..10).map(|i| format!("client-{i}")).collect();
//!
//! let mut federation = Federation::new(Params::new(Rule::MultiKrum).check()?);
//! let round = federation.aggregate("round-1", &clients, &updates, None)?;
//! assert!((round.aggregate[0] - 1.04).abs() < 0.01);
//! assert_eq!(round.flagged(), ["client-9"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod anomaly;
pub mod rules;
pub mod updates;
pub mod vector;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use anomaly::{ClientScore, estimate_attackers};

/// The aggregation rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The plain mean (`FedAvg`).
    Mean,
    /// The coordinate-wise median.
    Median,
    /// The coordinate-wise trimmed mean.
    TrimmedMean,
    /// Krum.
    Krum,
    /// Multi-Krum.
    MultiKrum,
    /// Bulyan.
    Bulyan,
    /// The geometric median (RFA).
    GeometricMedian,
    /// FLTrust.
    FlTrust,
    /// Norm clipping.
    NormClip,
}

impl Rule {
    /// Every rule, in the order of the table above.
    pub const ALL: [Rule; 9] = [
        Rule::Mean,
        Rule::Median,
        Rule::TrimmedMean,
        Rule::Krum,
        Rule::MultiKrum,
        Rule::Bulyan,
        Rule::GeometricMedian,
        Rule::FlTrust,
        Rule::NormClip,
    ];

    /// The rule's name on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Rule::Mean => "mean",
            Rule::Median => "median",
            Rule::TrimmedMean => "trimmed-mean",
            Rule::Krum => "krum",
            Rule::MultiKrum => "multi-krum",
            Rule::Bulyan => "bulyan",
            Rule::GeometricMedian => "geometric-median",
            Rule::FlTrust => "fltrust",
            Rule::NormClip => "norm-clip",
        }
    }
}

/// A rule name that is not one of [`Rule::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an aggregation rule; the rules are mean, median, trimmed-mean, krum, multi-krum, bulyan, geometric-median, fltrust, norm-clip"
)]
pub struct UnknownRule(pub String);

impl std::str::FromStr for Rule {
    type Err = UnknownRule;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Rule::ALL
            .into_iter()
            .find(|rule| rule.name() == name)
            .ok_or_else(|| UnknownRule(name.to_owned()))
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Errors from aggregating a round.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    /// The rule cannot hold against this many attackers with this many clients.
    #[error(
        "`{rule}` with {attackers} attacker(s) needs at least {needed} clients; this round has {clients}"
    )]
    TooFewClients {
        /// The rule.
        rule: Rule,
        /// Clients in the round.
        clients: usize,
        /// Attackers assumed.
        attackers: usize,
        /// The fewest clients the rule needs.
        needed: usize,
    },
    /// FLTrust was asked for without the server's update.
    #[error("`fltrust` needs the server's update on its clean root data (`--root-update`)")]
    MissingRoot,
    /// The server's update is all zeros.
    #[error(
        "the server's update is all zeros; FLTrust measures every client against its direction"
    )]
    ZeroRoot,
    /// The server's update has a different length than the clients'.
    #[error("the server's update has {found} numbers, the clients' have {expected}")]
    RootLength {
        /// The clients' length.
        expected: usize,
        /// The server's length.
        found: usize,
    },
    /// The round has no updates.
    #[error("the round has no client updates")]
    NoClients,
    /// Updates of one round differ in length.
    #[error("client `{client}` sent {found} numbers, the first client {expected}")]
    Length {
        /// The client.
        client: String,
        /// The first client's length.
        expected: usize,
        /// This client's length.
        found: usize,
    },
}

/// One round's updates and what a rule may need besides them.
#[derive(Debug, Clone, Copy)]
pub struct RoundInput<'a> {
    /// The clients' updates, all of one length.
    pub updates: &'a [&'a [f32]],
    /// The number of attackers the rule assumes.
    pub attackers: usize,
    /// The server's own update on clean root data (FLTrust).
    pub root: Option<&'a [f32]>,
}

impl<'a> RoundInput<'a> {
    /// A round of updates, assuming no attacker and no root update.
    #[must_use]
    pub fn new(updates: &'a [&'a [f32]]) -> Self {
        Self {
            updates,
            attackers: 0,
            root: None,
        }
    }

    /// Assumes `attackers` attackers.
    #[must_use]
    pub fn attackers(mut self, attackers: usize) -> Self {
        self.attackers = attackers;
        self
    }

    /// Gives the server's update.
    #[must_use]
    pub fn root(mut self, root: &'a [f32]) -> Self {
        self.root = Some(root);
        self
    }

    /// Fails unless `rule` tolerates `attackers` attackers among this round's clients.
    pub fn require(&self, rule: &dyn Aggregator, attackers: usize) -> Result<(), AggregateError> {
        let clients = self.updates.len();
        if rule.tolerates(clients) >= attackers {
            return Ok(());
        }
        // Every rule tolerates more attackers as clients grow; 4f + 3 clients satisfy the
        // strictest (Bulyan), and a rule that tolerates none (mean) needs no attacker count.
        let needed = (clients..=clients.max(4 * attackers + 3))
            .find(|&n| rule.tolerates(n) >= attackers)
            .unwrap_or(4 * attackers + 3);
        Err(AggregateError::TooFewClients {
            rule: rule.rule(),
            clients,
            attackers,
            needed,
        })
    }
}

/// What a rule produces.
#[derive(Debug, Clone, PartialEq)]
pub struct Combined {
    /// The aggregate update.
    pub values: Vec<f32>,
    /// Each client's weight in the aggregate (summing to one), for rules that weigh whole
    /// updates; `None` for coordinate-wise rules, where no client has one weight.
    pub weights: Option<Vec<f64>>,
}

/// An aggregation rule.
pub trait Aggregator: Send + Sync {
    /// Which rule this is.
    fn rule(&self) -> Rule;

    /// The most attackers the rule's guarantee holds against among `clients` clients.
    fn tolerates(&self, clients: usize) -> usize;

    /// Whether the rule takes the attacker count as a parameter.
    fn needs_attackers(&self) -> bool {
        false
    }

    /// Combines one round.
    fn aggregate(&self, input: &RoundInput<'_>) -> Result<Combined, AggregateError>;
}

/// Errors in the parameters, found before any update is read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamsError {
    /// The anomaly cut-off must be positive.
    #[error("the anomaly cut-off must be a positive number, not {0}")]
    Cutoff(f64),
    /// The trust memory must be in `[0, 1)`.
    #[error("the trust memory must be at least 0 and below 1, not {0}")]
    Memory(f64),
    /// The clipping bound must be positive.
    #[error("the clipping bound must be a positive number, not {0}")]
    Bound(f64),
    /// Multi-Krum must average at least one update.
    #[error("multi-krum must average at least one update")]
    Selected,
    /// A parameter was given to a rule that does not use it.
    #[error("`{parameter}` does not apply to `{rule}`")]
    NotApplicable {
        /// The parameter.
        parameter: &'static str,
        /// The rule.
        rule: Rule,
    },
}

/// The parameters of a federation; [`check`](Params::check) them to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    rule: Rule,
    attackers: Option<usize>,
    selected: Option<usize>,
    bound: Option<f64>,
    cutoff: f64,
    memory: f64,
}

impl Params {
    /// The defaults for `rule`: the attacker count estimated, an anomaly cut-off of 3.5 and a
    /// trust memory of 0.8.
    #[must_use]
    pub fn new(rule: Rule) -> Self {
        Self {
            rule,
            attackers: None,
            selected: None,
            bound: None,
            cutoff: anomaly::DEFAULT_CUTOFF,
            memory: 0.8,
        }
    }

    /// Assumes this many attackers per round instead of estimating them.
    #[must_use]
    pub fn attackers(mut self, attackers: usize) -> Self {
        self.attackers = Some(attackers);
        self
    }

    /// Multi-Krum: how many updates to average.
    #[must_use]
    pub fn selected(mut self, selected: usize) -> Self {
        self.selected = Some(selected);
        self
    }

    /// Norm clipping: the bound.
    #[must_use]
    pub fn bound(mut self, bound: f64) -> Self {
        self.bound = Some(bound);
        self
    }

    /// The robust z-score above which a client is flagged.
    #[must_use]
    pub fn cutoff(mut self, cutoff: f64) -> Self {
        self.cutoff = cutoff;
        self
    }

    /// How much of a client's trust carries over to the next round, in `[0, 1)`.
    #[must_use]
    pub fn memory(mut self, memory: f64) -> Self {
        self.memory = memory;
        self
    }

    /// Checks the parameters.
    pub fn check(self) -> Result<ValidParams, ParamsError> {
        if !(self.cutoff.is_finite() && self.cutoff > 0.0) {
            return Err(ParamsError::Cutoff(self.cutoff));
        }
        if !(0.0..1.0).contains(&self.memory) {
            return Err(ParamsError::Memory(self.memory));
        }
        if let Some(bound) = self.bound {
            if self.rule != Rule::NormClip {
                return Err(ParamsError::NotApplicable {
                    parameter: "--clip-norm",
                    rule: self.rule,
                });
            }
            if !(bound.is_finite() && bound > 0.0) {
                return Err(ParamsError::Bound(bound));
            }
        }
        if let Some(selected) = self.selected {
            if self.rule != Rule::MultiKrum {
                return Err(ParamsError::NotApplicable {
                    parameter: "--selected",
                    rule: self.rule,
                });
            }
            if selected == 0 {
                return Err(ParamsError::Selected);
            }
        }
        let aggregator: Box<dyn Aggregator> = match self.rule {
            Rule::Mean => Box::new(rules::Mean),
            Rule::Median => Box::new(rules::Median),
            Rule::TrimmedMean => Box::new(rules::TrimmedMean),
            Rule::Krum => Box::new(rules::Krum),
            Rule::MultiKrum => Box::new(rules::MultiKrum {
                selected: self.selected,
            }),
            Rule::Bulyan => Box::new(rules::Bulyan),
            Rule::GeometricMedian => Box::new(rules::GeometricMedian),
            Rule::FlTrust => Box::new(rules::FlTrust),
            Rule::NormClip => Box::new(rules::NormClip { bound: self.bound }),
        };
        if self.attackers.is_some() && !aggregator.needs_attackers() {
            return Err(ParamsError::NotApplicable {
                parameter: "--attackers",
                rule: self.rule,
            });
        }
        Ok(ValidParams {
            aggregator,
            attackers: self.attackers,
            cutoff: self.cutoff,
            memory: self.memory,
        })
    }
}

/// Checked parameters: the only way to a [`Federation`].
pub struct ValidParams {
    aggregator: Box<dyn Aggregator>,
    attackers: Option<usize>,
    cutoff: f64,
    memory: f64,
}

impl fmt::Debug for ValidParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidParams")
            .field("rule", &self.aggregator.rule())
            .field("attackers", &self.attackers)
            .field("cutoff", &self.cutoff)
            .field("memory", &self.memory)
            .finish()
    }
}

/// One aggregated round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundResult {
    /// The round's name.
    pub round: String,
    /// The rule.
    pub rule: Rule,
    /// The aggregate update.
    #[serde(skip)]
    pub aggregate: Vec<f32>,
    /// The attackers the rule assumed (0 for rules that need no count).
    pub attackers: usize,
    /// Whether that count was estimated rather than given.
    pub estimated: bool,
    /// The most attackers the rule tolerates among this round's clients.
    pub tolerated: usize,
    /// Every client's scores, in input order.
    pub clients: Vec<ClientScore>,
    /// The share of clients flagged.
    pub anomaly_rate: f64,
}

impl RoundResult {
    /// The flagged clients' names.
    #[must_use]
    pub fn flagged(&self) -> Vec<&str> {
        self.clients
            .iter()
            .filter(|client| client.flagged)
            .map(|client| client.client.as_str())
            .collect()
    }

    /// Whether more clients were flagged than the rule tolerates: the aggregate cannot be
    /// trusted.
    #[must_use]
    pub fn overwhelmed(&self) -> bool {
        self.flagged().len() > self.tolerated
    }
}

/// A federation: one rule applied round after round, with each client's running trust.
#[derive(Debug)]
pub struct Federation {
    params: ValidParams,
    trust: BTreeMap<String, f64>,
}

impl Federation {
    /// A federation with every client's trust at 1.
    #[must_use]
    pub fn new(params: ValidParams) -> Self {
        Self {
            params,
            trust: BTreeMap::new(),
        }
    }

    /// Continues from trust carried over from earlier rounds (client name to trust in `[0, 1]`).
    #[must_use]
    pub fn with_trust(mut self, trust: BTreeMap<String, f64>) -> Self {
        self.trust = trust;
        self
    }

    /// Each client's running trust.
    #[must_use]
    pub fn trust(&self) -> &BTreeMap<String, f64> {
        &self.trust
    }

    /// The rule.
    #[must_use]
    pub fn rule(&self) -> Rule {
        self.params.aggregator.rule()
    }

    /// Aggregates one round of `updates` from `clients` (same order), scoring every client and
    /// updating its trust.
    ///
    /// # Panics
    ///
    /// When `clients` and `updates` differ in length.
    pub fn aggregate(
        &mut self,
        round: &str,
        clients: &[String],
        updates: &[&[f32]],
        root: Option<&[f32]>,
    ) -> Result<RoundResult, AggregateError> {
        assert_eq!(clients.len(), updates.len(), "one name per update");
        let Some(first) = updates.first() else {
            return Err(AggregateError::NoClients);
        };
        if let Some((client, update)) = clients
            .iter()
            .zip(updates)
            .find(|(_, update)| update.len() != first.len())
        {
            return Err(AggregateError::Length {
                client: client.clone(),
                expected: first.len(),
                found: update.len(),
            });
        }
        if let Some(root) = root
            && root.len() != first.len()
        {
            return Err(AggregateError::RootLength {
                expected: first.len(),
                found: root.len(),
            });
        }
        let aggregator = self.params.aggregator.as_ref();
        let scores = anomaly::score(updates, self.params.cutoff);
        let flagged = scores.iter().filter(|score| score.flagged).count();
        let tolerated = aggregator.tolerates(updates.len());
        let (attackers, estimated) = match (aggregator.needs_attackers(), self.params.attackers) {
            (false, _) => (0, false),
            (true, Some(given)) => (given, false),
            (true, None) => (estimate_attackers(updates.len(), flagged, tolerated), true),
        };
        let mut input = RoundInput::new(updates).attackers(attackers);
        input.root = root;
        let combined = aggregator.aggregate(&input)?;

        let memory = self.params.memory;
        let clients: Vec<ClientScore> = clients
            .iter()
            .zip(scores)
            .enumerate()
            .map(|(i, (client, score))| {
                let previous = self.trust.get(client).copied().unwrap_or(1.0);
                let trust =
                    memory * previous + (1.0 - memory) * if score.flagged { 0.0 } else { 1.0 };
                self.trust.insert(client.clone(), trust);
                ClientScore {
                    client: client.clone(),
                    weight: combined.weights.as_ref().map(|weights| weights[i]),
                    root_cosine: root.map(|root| vector::cosine(updates[i], root)),
                    trust,
                    ..score
                }
            })
            .collect();
        Ok(RoundResult {
            round: round.to_owned(),
            rule: aggregator.rule(),
            aggregate: combined.values,
            attackers,
            estimated,
            tolerated,
            anomaly_rate: flagged as f64 / clients.len() as f64,
            clients,
        })
    }
}
