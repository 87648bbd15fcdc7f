//! The federated drill: a simulated federation with planted malicious clients, every robust
//! aggregation rule run on it, each scored on what the attackers achieved and which of them the
//! anomaly scores named.
//!
//! The simulation lives in the drill rather than in `antidote-federated` because it needs what
//! only the drill sees together: the data and its featurizer (`antidote-learn`), the red team's
//! [`Stamp`](antidote_redteam::Stamp) for the backdoor trigger, and the rules and anomaly scores
//! of `antidote-federated`; a layer crate may not depend on the red team.
//!
//! One run ([`simulate`]) splits the labelled records into a held-out test split, a small clean
//! root set the server keeps (FLTrust's) and the clients' records, dealt IID or by a Dirichlet
//! draw per class ([`Partition`]). A fixed, seeded share of the clients is malicious. For each
//! partition, attack ([`FederatedAttack`]) and rule, the model ([`model`]: softmax regression or
//! the built-in MLP, trained by `antidote-learn`'s local SGD) is trained for a number of rounds
//! from the same start: each client takes a few SGD epochs from the
//! global weights on its records and sends the difference; the malicious ones send what their
//! attack builds ([`attacks`]); the rule combines the updates and the server adds the result.
//! Every client's local training draws from a generator derived from the seed, the client and
//! the round only, so the rules differ in nothing but the aggregation. Rules that take an
//! attacker count are not told it: the federation estimates it each round from the anomaly
//! scores.
//!
//! Reported per (partition, attack, rule) ([`FederatedOutcome`]): accuracy on the clean test
//! split, its drop against the plain mean (`FedAvg`) with no attacker, the backdoor's success
//! (the share of stamped test records of other classes classified as the target), and which
//! clients the anomaly scores flagged, round by round and by their final trust, scored against
//! the planted malicious clients.

pub mod attacks;
pub mod model;
pub mod partition;

use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use antidote_core::{SplitMix64, Trigger};
use antidote_data::output::{AtomicFile, OutputError};
use antidote_data::{PayloadKind, Record, Value};
use antidote_federated::updates::{Layout, UpdateError, write_update};
use antidote_federated::{AggregateError, Federation, Params, ParamsError, Rule};
use antidote_learn::{Features, FeaturizeError, LabelError, LabelIndex, NetworkModel};
use antidote_redteam::{InMemoryDataset, Stamp as _};
use rayon::prelude::*;
use serde::Serialize;

use crate::{Data, Score, split_held_out};
pub use attacks::FederatedAttack;
pub use model::{FederatedModel, LocalTraining, Shape};
pub use partition::Partition;

/// How to run the federated drill.
#[derive(Debug, Clone)]
pub struct FederatedOptions {
    /// Clients in the federation.
    pub clients: usize,
    /// The share of them that is malicious.
    pub malicious: f64,
    /// Rounds of training.
    pub rounds: usize,
    /// How the records are dealt to the clients.
    pub partitions: Vec<Partition>,
    /// The attacks, each run on its own.
    pub attacks: Vec<FederatedAttack>,
    /// The aggregation rules, each run on every attack.
    pub rules: Vec<Rule>,
    /// The model the federation trains.
    pub model: FederatedModel,
    /// Each client's local training.
    pub training: LocalTraining,
    /// The seed of the split, the partition, the malicious clients and every client's training.
    pub seed: u64,
    /// The share of records held out to measure the global model.
    pub test_share: f64,
    /// Records the server keeps as clean root data (FLTrust's), out of the clients' reach.
    pub root_records: usize,
    /// Where to write the client updates of every round, and along which rule's run.
    pub export: Option<Export>,
}

impl Default for FederatedOptions {
    fn default() -> Self {
        Self {
            clients: 20,
            malicious: 0.2,
            rounds: DEFAULT_ROUNDS,
            partitions: vec![Partition::Iid],
            attacks: FederatedAttack::ALL.to_vec(),
            rules: Rule::ALL.to_vec(),
            model: FederatedModel::Logistic,
            training: LocalTraining::default(),
            seed: 0,
            test_share: 0.2,
            root_records: 100,
            export: None,
        }
    }
}

/// Rounds of a default run.
pub const DEFAULT_ROUNDS: usize = 10;

/// Where the simulation writes its updates, for other tools to aggregate the same ones.
///
/// The updates of one run exist only along one sequence of global models, and that sequence
/// depends on the rule; the export follows `rule`'s run. Layout, for each partition and attack:
///
/// ```text
/// FOLDER/test-features.npy, test-labels.npy          the clean test split (float32)
/// FOLDER/test-stamped-features.npy                   the stamped test records (backdoor)
/// FOLDER/PARTITION/ATTACK/truth.json                 malicious clients, shapes, labels
/// FOLDER/PARTITION/ATTACK/updates/round-001/client-00.npy   what `antidote aggregate` reads
/// FOLDER/PARTITION/ATTACK/global/round-001.npy       the model the clients started from
/// FOLDER/PARTITION/ATTACK/root/round-001.npy         the server's update on its root data
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// The folder.
    pub folder: PathBuf,
    /// The rule whose run is exported.
    pub rule: Rule,
}

/// Why the federated drill could not run.
#[derive(Debug, thiserror::Error)]
pub enum FederatedError {
    /// An option is out of range.
    #[error("{0}")]
    Options(String),
    /// The dataset has records without a label.
    #[error("the federated drill needs labelled records")]
    Labels(#[from] LabelError),
    /// The dataset has fewer than two classes.
    #[error("the federated drill needs at least two classes, this dataset has {0}")]
    Classes(usize),
    /// Too few records for the clients.
    #[error(
        "{records} training records cannot be dealt to {clients} clients (at least 10 each, after the test split and {root} root records)"
    )]
    TooFewRecords {
        /// Records left for the clients.
        records: usize,
        /// Clients.
        clients: usize,
        /// Root records.
        root: usize,
    },
    /// No Dirichlet draw gave every client enough records.
    #[error(
        "no Dirichlet draw with alpha {alpha} gave each of {clients} clients at least 10 records"
    )]
    Partition {
        /// The concentration.
        alpha: f64,
        /// Clients.
        clients: usize,
    },
    /// The records could not be featurized.
    #[error("the records could not be turned into features")]
    Featurize(#[from] FeaturizeError),
    /// The backdoor has nothing to stamp its trigger on.
    #[error("the backdoor needs an image or text column to stamp its trigger on")]
    NoPayload,
    /// An aggregation rule could not be set up.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// A round could not be aggregated.
    #[error("`{rule}` could not aggregate a round")]
    Aggregate {
        /// The rule.
        rule: Rule,
        /// Why.
        #[source]
        source: AggregateError,
    },
    /// An exported update could not be written.
    #[error(transparent)]
    Export(#[from] UpdateError),
    /// An exported file could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// An exported file could not be written.
    #[error("failed to write `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
}

impl FederatedOptions {
    /// The number of malicious clients: the share of the clients, rounded.
    #[must_use]
    pub fn malicious_count(&self) -> usize {
        (self.malicious * self.clients as f64).round() as usize
    }

    /// Checks the options before anything runs.
    pub fn check(&self) -> Result<(), FederatedError> {
        let fail = |reason: String| Err(FederatedError::Options(reason));
        if self.clients < 3 {
            return fail(format!(
                "a federation needs at least 3 clients, not {}",
                self.clients
            ));
        }
        if !(0.0..0.5).contains(&self.malicious) {
            return fail(format!(
                "the malicious share must be at least 0 and below 0.5, not {}",
                self.malicious
            ));
        }
        if self.rounds == 0 {
            return fail("the federation needs at least one round".to_owned());
        }
        if !(self.test_share > 0.0 && self.test_share < 1.0) {
            return fail(format!(
                "the test share must be between 0 and 1, not {}",
                self.test_share
            ));
        }
        for partition in &self.partitions {
            if let Partition::Dirichlet { alpha } = partition
                && !(alpha.is_finite() && *alpha > 0.0)
            {
                return fail(format!(
                    "the Dirichlet concentration must be a positive number, not {alpha}"
                ));
            }
        }
        let training = &self.training;
        if training.epochs == 0 || training.batch_size == 0 {
            return fail("local training needs at least one epoch and one record a batch".into());
        }
        if !(training.learning_rate.is_finite() && training.learning_rate > 0.0) {
            return fail(format!(
                "the learning rate must be a positive number, not {}",
                training.learning_rate
            ));
        }
        if self.partitions.is_empty() || self.attacks.is_empty() || self.rules.is_empty() {
            return fail("give at least one partition, attack and rule".to_owned());
        }
        if let Some(export) = &self.export
            && !self.rules.contains(&export.rule)
        {
            return fail(format!(
                "the updates are exported along the run of `{}`, which is not among the rules",
                export.rule
            ));
        }
        Ok(())
    }
}

/// One partition of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartitionSummary {
    /// The partition.
    pub partition: Partition,
    /// The fewest records a client holds.
    pub least_records: usize,
    /// The most records a client holds.
    pub most_records: usize,
    /// The mean number of classes a client holds.
    pub classes_per_client: f64,
    /// Accuracy of the plain mean (`FedAvg`) with no attacker: what every drop is measured
    /// against.
    pub baseline_accuracy: f64,
}

/// One (partition, attack, rule).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FederatedOutcome {
    /// The partition.
    pub partition: Partition,
    /// The attack.
    pub attack: FederatedAttack,
    /// The rule.
    pub rule: Rule,
    /// Accuracy of the final global model on the clean test split.
    pub clean_accuracy: f64,
    /// The plain mean's accuracy with no attacker minus this accuracy.
    pub accuracy_drop: f64,
    /// Backdoor: the share of stamped test records of other classes classified as the target.
    pub attack_success: Option<f64>,
    /// Backdoor: the same share for the plain mean with no attacker (the trigger's floor).
    pub attack_success_baseline: Option<f64>,
    /// Clients flagged round by round (each flag of a client in a round counts once), against
    /// the malicious clients in every round.
    pub flags: Score,
    /// Clients whose running trust ended below one half.
    pub distrusted: Vec<String>,
    /// `distrusted` against the malicious clients.
    pub distrust: Score,
    /// The attacker count the rule assumed in each round (estimated; empty for rules that take
    /// no count).
    pub attackers_assumed: Vec<usize>,
    /// Rounds with more flagged clients than the rule tolerates.
    pub overwhelmed_rounds: usize,
    /// Seconds the run took.
    pub seconds: f64,
}

/// Everything the federated drill measured: the content of `federated.json`.
#[derive(Debug, Clone, Serialize)]
pub struct FederatedReport {
    /// The dataset.
    pub dataset: String,
    /// The seed.
    pub seed: u64,
    /// Clients.
    pub clients: usize,
    /// The malicious clients' names.
    pub malicious: Vec<String>,
    /// Rounds.
    pub rounds: usize,
    /// The model.
    pub model: &'static str,
    /// Its layer widths: the input's, the hidden layers', the classes'.
    pub widths: Vec<usize>,
    /// Its parameters (the length of every update).
    pub parameters: usize,
    /// Each client's local training.
    pub training: LocalTraining,
    /// Records dealt to the clients.
    pub client_records: usize,
    /// Records the server keeps as root data.
    pub root_records: usize,
    /// Records in the test split.
    pub test_records: usize,
    /// The backdoor's trigger and target, when the backdoor ran.
    pub backdoor: Option<BackdoorSummary>,
    /// The partitions.
    pub partitions: Vec<PartitionSummary>,
    /// Every (partition, attack, rule).
    pub outcomes: Vec<FederatedOutcome>,
}

/// The planted backdoor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackdoorSummary {
    /// The trigger, in words.
    pub trigger: String,
    /// The target class.
    pub target: String,
    /// Stamped test records of other classes.
    pub test_records: usize,
}

/// Everything every run shares: features, labels, clients.
struct Setup {
    shape: Shape,
    /// Features: the client and root records first, then (backdoor) the same records stamped,
    /// at an offset of `stamped_offset` rows.
    matrix: Features,
    labels: Vec<usize>,
    stamped_offset: usize,
    client_pool: Vec<usize>,
    root: Vec<(usize, usize)>,
    test: Features,
    test_labels: Vec<usize>,
    /// The stamped test records of other classes than the target (backdoor).
    stamped_test: Option<Features>,
    target: usize,
    names: Vec<String>,
    malicious: Vec<usize>,
    training: LocalTraining,
    /// The server's training on its root data: as many SGD steps as a client takes on average
    /// (FLTrust's server runs the clients' local iterations), so more epochs on fewer records.
    root_training: LocalTraining,
    rounds: usize,
    seed: u64,
}

/// Runs the federated drill on the labelled records of `data`.
pub fn simulate(
    data: &Data,
    options: &FederatedOptions,
) -> Result<FederatedReport, FederatedError> {
    options.check()?;
    let (setup, backdoor) = prepare(data, options)?;
    let mut partitions = Vec::new();
    let mut outcomes = Vec::new();
    for &partition in &options.partitions {
        let mut random = SplitMix64::derived(options.seed, "federated partition");
        let dealt = partition::deal(
            &setup.client_pool,
            &setup.labels,
            setup.shape.classes(),
            options.clients,
            partition,
            &mut random,
        )
        .ok_or(FederatedError::Partition {
            alpha: match partition {
                Partition::Dirichlet { alpha } => alpha,
                Partition::Iid => 0.0,
            },
            clients: options.clients,
        })?;
        let baseline = run(&setup, &dealt, FederatedAttack::None, Rule::Mean, None)?;
        let baseline_accuracy = setup.accuracy(&baseline.parameters);
        let baseline_success = setup.attack_success(&baseline.parameters);
        partitions.push(setup.summary(partition, &dealt, baseline_accuracy));
        for &attack in &options.attacks {
            let export = options.export.as_ref().map(|export| {
                (
                    export
                        .folder
                        .join(partition_folder(partition))
                        .join(attack.name()),
                    export.rule,
                )
            });
            let runs: Vec<Result<(Rule, Run, f64), FederatedError>> = options
                .rules
                .par_iter()
                .map(|&rule| {
                    let started = Instant::now();
                    let folder = export
                        .as_ref()
                        .filter(|(_, exported)| *exported == rule)
                        .map(|(folder, _)| folder.as_path());
                    let result = if rule == Rule::Mean
                        && attack == FederatedAttack::None
                        && folder.is_none()
                    {
                        baseline.clone()
                    } else {
                        run(&setup, &dealt, attack, rule, folder)?
                    };
                    Ok((rule, result, started.elapsed().as_secs_f64()))
                })
                .collect();
            for result in runs {
                let (rule, result, seconds) = result?;
                let clean_accuracy = setup.accuracy(&result.parameters);
                outcomes.push(setup.outcome(
                    partition,
                    attack,
                    rule,
                    &result,
                    clean_accuracy,
                    baseline_accuracy,
                    baseline_success,
                    seconds,
                ));
            }
            if let Some((folder, rule)) = &export {
                write_truth(&setup, folder, partition, attack, *rule)?;
            }
        }
    }
    if let Some(export) = &options.export {
        write_test_split(&setup, &export.folder)?;
    }
    Ok(FederatedReport {
        dataset: data.name.clone(),
        seed: options.seed,
        clients: options.clients,
        malicious: setup
            .malicious
            .iter()
            .map(|&client| setup.names[client].clone())
            .collect(),
        rounds: options.rounds,
        model: options.model.describe(),
        widths: setup.shape.widths().to_vec(),
        parameters: setup.shape.parameters(),
        training: options.training,
        client_records: setup.client_pool.len(),
        root_records: setup.root.len(),
        test_records: setup.test_labels.len(),
        backdoor,
        partitions,
        outcomes,
    })
}

/// The folder of a partition in an export: `iid`, `dirichlet-0.5`.
fn partition_folder(partition: Partition) -> String {
    match partition {
        Partition::Iid => "iid".to_owned(),
        Partition::Dirichlet { alpha } => format!("dirichlet-{alpha}"),
    }
}

/// Splits, featurizes and stamps the records, and picks the malicious clients.
fn prepare(
    data: &Data,
    options: &FederatedOptions,
) -> Result<(Setup, Option<BackdoorSummary>), FederatedError> {
    let seed = options.seed;
    let (train, test) = split_held_out(data, options.test_share, seed);
    let records = &train.dataset.records;
    let schema = &train.dataset.schema;
    let classes = LabelIndex::from_records(records.iter().chain(&test.records));
    if classes.len() < 2 {
        return Err(FederatedError::Classes(classes.len()));
    }
    let labels = classes.encode(records)?;
    let test_labels = classes.encode(&test.records)?;
    let featurizer = NetworkModel::featurizer_params(seed).fit(records, schema)?;
    let mut matrix = featurizer.transform(records)?.into_data();
    let shape = Shape::new(options.model, featurizer.width(), classes.len());
    let width = featurizer.width();
    let as_features = |data: Vec<f32>| {
        Features::from_row_major(data.len() / width.max(1), width, data, "federated")
            .expect("the featurizer's rows are its width wide")
    };

    let target = 0;
    let target_name = classes.label(target).unwrap_or_default().to_owned();
    let (stamped_test, backdoor) = if options.attacks.contains(&FederatedAttack::Backdoor) {
        let trigger = backdoor_trigger(&train.dataset)?;
        let stamp = |records: &[Record]| -> Vec<Record> {
            records
                .iter()
                .filter_map(|record| stamped(record, &trigger, schema))
                .collect()
        };
        let stamped_train = stamp(records);
        if stamped_train.len() != records.len() {
            return Err(FederatedError::NoPayload);
        }
        matrix.extend(featurizer.transform(&stamped_train)?.into_data());
        let others: Vec<Record> = test
            .records
            .iter()
            .zip(&test_labels)
            .filter(|(_, label)| **label != target)
            .map(|(record, _)| record.clone())
            .collect();
        let stamped_test = stamp(&others);
        let summary = BackdoorSummary {
            trigger: trigger.describe(),
            target: target_name,
            test_records: stamped_test.len(),
        };
        (
            Some(as_features(
                featurizer.transform(&stamped_test)?.into_data(),
            )),
            Some(summary),
        )
    } else {
        (None, None)
    };

    let (root, client_pool) = split_root(&labels, options.root_records, seed);
    let root_count = root.len();
    if client_pool.len() < 10 * options.clients {
        return Err(FederatedError::TooFewRecords {
            records: client_pool.len(),
            clients: options.clients,
            root: root_count,
        });
    }
    let width = (options.clients - 1).to_string().len().max(2);
    let names = (0..options.clients)
        .map(|client| format!("client-{client:0width$}"))
        .collect();
    let malicious = SplitMix64::derived(seed, "federated malicious")
        .sample(options.clients, options.malicious_count());
    let test = as_features(featurizer.transform(&test.records)?.into_data());
    let matrix = as_features(matrix);
    let per_client = client_pool.len() as f64 / options.clients as f64;
    let root_training = LocalTraining {
        epochs: ((options.training.epochs as f64 * per_client / root.len().max(1) as f64).round()
            as usize)
            .max(1),
        ..options.training
    };
    Ok((
        Setup {
            shape,
            stamped_offset: records.len(),
            matrix,
            labels,
            client_pool,
            root,
            test,
            test_labels,
            stamped_test,
            target,
            names,
            malicious,
            training: options.training,
            root_training,
            rounds: options.rounds,
            seed,
        },
        backdoor,
    ))
}

/// Sets aside up to `wanted` records (at most a tenth) as the server's root data, with their
/// labels; the rest, in order, go to the clients.
fn split_root(labels: &[usize], wanted: usize, seed: u64) -> (Vec<(usize, usize)>, Vec<usize>) {
    let mut pool: Vec<usize> = (0..labels.len()).collect();
    SplitMix64::derived(seed, "federated root").shuffle(&mut pool);
    let count = wanted.min(pool.len() / 10);
    let root = pool[..count]
        .iter()
        .map(|&row| (row, labels[row]))
        .collect();
    let mut clients = pool[count..].to_vec();
    clients.sort_unstable();
    (root, clients)
}

/// The backdoor's trigger: a white 3x3 patch one pixel from the bottom-right corner of an image
/// (the square of `BadNets`), or the token `cf` appended to a text.
fn backdoor_trigger(dataset: &InMemoryDataset) -> Result<Trigger, FederatedError> {
    let (column, kind) = dataset
        .schema
        .payload_column()
        .ok_or(FederatedError::NoPayload)?;
    match kind {
        PayloadKind::Image => {
            let image = dataset
                .records
                .iter()
                .find_map(|record| match field(record, column) {
                    Some(Value::Image(image)) => Some(image),
                    _ => None,
                })
                .ok_or(FederatedError::NoPayload)?;
            let size = 3;
            if image.width < size + 2 || image.height < size + 2 {
                return Err(FederatedError::NoPayload);
            }
            let channels = u32::from(image.channels);
            Ok(Trigger::ImagePatch {
                x: image.width - size - 1,
                y: image.height - size - 1,
                width: size,
                height: size,
                channels,
                pixels: vec![255; (size * size * channels) as usize],
            })
        }
        PayloadKind::Text => Ok(Trigger::Token {
            token: "cf".to_owned(),
        }),
    }
}

fn field<'a>(record: &'a Record, column: &str) -> Option<&'a Value> {
    record
        .fields
        .iter()
        .find(|(name, _)| name.as_ref() == column)
        .map(|(_, value)| value)
}

/// A copy of `record` with the trigger stamped on its payload.
fn stamped(record: &Record, trigger: &Trigger, schema: &antidote_data::Schema) -> Option<Record> {
    let (column, _) = schema.payload_column()?;
    let column: Arc<str> = Arc::from(column);
    let mut record = record.clone();
    let value = record
        .fields
        .iter_mut()
        .find(|(name, _)| **name == *column)
        .map(|(_, value)| value)?;
    trigger.stamp(value).then_some(record)
}

/// One rule's run on one attack.
#[derive(Debug, Clone)]
struct Run {
    parameters: Vec<f32>,
    rounds: Vec<antidote_federated::RoundResult>,
    trust: BTreeMap<String, f64>,
}

impl Setup {
    fn summary(
        &self,
        partition: Partition,
        dealt: &[Vec<usize>],
        baseline_accuracy: f64,
    ) -> PartitionSummary {
        let classes_per_client = dealt
            .iter()
            .map(|records| {
                records
                    .iter()
                    .map(|&row| self.labels[row])
                    .collect::<HashSet<_>>()
                    .len() as f64
            })
            .sum::<f64>()
            / dealt.len() as f64;
        PartitionSummary {
            partition,
            least_records: dealt.iter().map(Vec::len).min().unwrap_or(0),
            most_records: dealt.iter().map(Vec::len).max().unwrap_or(0),
            classes_per_client,
            baseline_accuracy,
        }
    }

    fn is_malicious(&self, client: usize) -> bool {
        self.malicious.contains(&client)
    }

    /// What each client trains on under `attack`: its records with their labels, or for a
    /// malicious client of a data attack, the poisoned version.
    fn samples(&self, dealt: &[Vec<usize>], attack: FederatedAttack) -> Vec<Vec<(usize, usize)>> {
        let classes = self.shape.classes();
        dealt
            .iter()
            .enumerate()
            .map(|(client, records)| {
                let honest = || records.iter().map(|&row| (row, self.labels[row])).collect();
                if !self.is_malicious(client) {
                    return honest();
                }
                match attack {
                    FederatedAttack::LabelFlip | FederatedAttack::Scaling => records
                        .iter()
                        .map(|&row| (row, classes - 1 - self.labels[row]))
                        .collect(),
                    FederatedAttack::Backdoor => {
                        let mut random =
                            SplitMix64::derived(self.seed, &format!("federated backdoor {client}"));
                        let count =
                            (records.len() as f64 * attacks::BACKDOOR_SHARE).round() as usize;
                        let picked: HashSet<usize> =
                            random.sample(records.len(), count).into_iter().collect();
                        records
                            .iter()
                            .enumerate()
                            .map(|(position, &row)| {
                                if picked.contains(&position) {
                                    (self.stamped_offset + row, self.target)
                                } else {
                                    (row, self.labels[row])
                                }
                            })
                            .collect()
                    }
                    _ => honest(),
                }
            })
            .collect()
    }

    /// Local training from `global` on `samples`; returns the update (trained minus global).
    fn local_update(
        &self,
        global: &[f32],
        samples: &[(usize, usize)],
        training: &LocalTraining,
        purpose: &str,
    ) -> Vec<f32> {
        let mut parameters = global.to_vec();
        let mut random = SplitMix64::derived(self.seed, purpose);
        self.shape.train(
            &mut parameters,
            &self.matrix,
            samples,
            training,
            &mut random,
        );
        for (parameter, &start) in parameters.iter_mut().zip(global) {
            *parameter -= start;
        }
        parameters
    }

    fn share_correct(
        &self,
        parameters: &[f32],
        features: &Features,
        expected: impl Fn(usize) -> usize,
    ) -> f64 {
        let rows = features.rows();
        if rows == 0 {
            return 0.0;
        }
        let correct = self
            .shape
            .predict(parameters, features)
            .into_iter()
            .enumerate()
            .filter(|&(row, predicted)| predicted == expected(row))
            .count();
        correct as f64 / rows as f64
    }

    fn accuracy(&self, parameters: &[f32]) -> f64 {
        self.share_correct(parameters, &self.test, |row| self.test_labels[row])
    }

    fn attack_success(&self, parameters: &[f32]) -> Option<f64> {
        self.stamped_test
            .as_ref()
            .map(|stamped| self.share_correct(parameters, stamped, |_| self.target))
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one outcome gathers every measure"
    )]
    fn outcome(
        &self,
        partition: Partition,
        attack: FederatedAttack,
        rule: Rule,
        run: &Run,
        clean_accuracy: f64,
        baseline_accuracy: f64,
        baseline_success: Option<f64>,
        seconds: f64,
    ) -> FederatedOutcome {
        let planted: Vec<&str> = if attack == FederatedAttack::None {
            Vec::new()
        } else {
            self.malicious
                .iter()
                .map(|&client| self.names[client].as_str())
                .collect()
        };
        let pairs = |names: &[&str], round: &str| -> Vec<String> {
            names.iter().map(|name| format!("{round}/{name}")).collect()
        };
        let mut flagged = Vec::new();
        let mut truth = Vec::new();
        for round in &run.rounds {
            flagged.extend(pairs(&round.flagged(), &round.round));
            truth.extend(pairs(&planted, &round.round));
        }
        let distrusted: Vec<String> = run
            .trust
            .iter()
            .filter(|(_, trust)| **trust < 0.5)
            .map(|(client, _)| client.clone())
            .collect();
        let targeted = attack.targeted();
        FederatedOutcome {
            partition,
            attack,
            rule,
            clean_accuracy,
            accuracy_drop: baseline_accuracy - clean_accuracy,
            attack_success: if targeted {
                self.attack_success(&run.parameters)
            } else {
                None
            },
            attack_success_baseline: if targeted { baseline_success } else { None },
            flags: Score::of(
                flagged.iter().map(String::as_str),
                truth.iter().map(String::as_str),
            ),
            distrust: Score::of(
                distrusted.iter().map(String::as_str),
                planted.iter().copied(),
            ),
            distrusted,
            attackers_assumed: run
                .rounds
                .iter()
                .filter(|round| round.estimated)
                .map(|round| round.attackers)
                .collect(),
            overwhelmed_rounds: run
                .rounds
                .iter()
                .filter(|round| round.overwhelmed())
                .count(),
            seconds,
        }
    }
}

/// One rule's run on one attack: `rounds` rounds from a zero model.
fn run(
    setup: &Setup,
    dealt: &[Vec<usize>],
    attack: FederatedAttack,
    rule: Rule,
    export: Option<&Path>,
) -> Result<Run, FederatedError> {
    let samples = setup.samples(dealt, attack);
    let clients = dealt.len();
    let malicious = setup.malicious.len();
    let mut federation = Federation::new(Params::new(rule).check()?);
    let mut global = setup.shape.initial(setup.seed);
    let mut rounds = Vec::with_capacity(setup.rounds);
    let layout = Layout::Npy {
        shape: vec![global.len() as u64],
    };
    for round in 1..=setup.rounds {
        let crafted = matches!(attack, FederatedAttack::Alie | FederatedAttack::Ipm);
        let honest: Vec<Option<Vec<f32>>> = (0..clients)
            .into_par_iter()
            .map(|client| {
                (!(crafted && setup.is_malicious(client))).then(|| {
                    setup.local_update(
                        &global,
                        &samples[client],
                        &setup.training,
                        &format!("federated client {client} round {round}"),
                    )
                })
            })
            .collect();
        let benign: Vec<&[f32]> = honest
            .iter()
            .enumerate()
            .filter(|(client, _)| !setup.is_malicious(*client))
            .filter_map(|(_, update)| update.as_deref())
            .collect();
        let forged = match attack {
            FederatedAttack::Alie => {
                Some(attacks::alie(&benign, attacks::alie_z(clients, malicious)))
            }
            FederatedAttack::Ipm => Some(attacks::ipm(&benign, attacks::IPM_EPSILON)),
            _ => None,
        };
        let boost = clients as f32 / malicious.max(1) as f32;
        let updates: Vec<Vec<f32>> = honest
            .into_iter()
            .enumerate()
            .map(|(client, update)| {
                if !setup.is_malicious(client) {
                    return update.expect("honest clients train");
                }
                match (attack, &forged, update) {
                    (_, Some(forged), _) => forged.clone(),
                    (FederatedAttack::SignFlip, _, Some(update)) => {
                        attacks::sign_flip(&update, attacks::SIGN_FLIP_MAGNITUDE)
                    }
                    (FederatedAttack::Scaling, _, Some(update)) => attacks::scale(&update, boost),
                    (_, _, update) => update.expect("data attacks train"),
                }
            })
            .collect();
        let root = (rule == Rule::FlTrust || export.is_some()).then(|| {
            setup.local_update(
                &global,
                &setup.root,
                &setup.root_training,
                &format!("federated server round {round}"),
            )
        });
        let name = format!("round-{round:03}");
        let views: Vec<&[f32]> = updates.iter().map(Vec::as_slice).collect();
        if let Some(folder) = export {
            let round_folder = folder.join("updates").join(&name);
            create_folder(&round_folder)?;
            for (client, update) in setup.names.iter().zip(&views) {
                write_update(&round_folder.join(format!("{client}.npy")), &layout, update)?;
            }
            for (kind, values) in [("global", Some(&global)), ("root", root.as_ref())] {
                if let Some(values) = values {
                    let kind_folder = folder.join(kind);
                    create_folder(&kind_folder)?;
                    write_update(&kind_folder.join(format!("{name}.npy")), &layout, values)?;
                }
            }
        }
        let result = federation
            .aggregate(&name, &setup.names, &views, root.as_deref())
            .map_err(|source| FederatedError::Aggregate { rule, source })?;
        for (parameter, step) in global.iter_mut().zip(&result.aggregate) {
            *parameter += step;
        }
        rounds.push(result);
    }
    Ok(Run {
        parameters: global,
        rounds,
        trust: federation.trust().clone(),
    })
}

/// `truth.json` of an exported run.
fn write_truth(
    setup: &Setup,
    folder: &Path,
    partition: Partition,
    attack: FederatedAttack,
    rule: Rule,
) -> Result<(), FederatedError> {
    let malicious: Vec<&str> = if attack == FederatedAttack::None {
        Vec::new()
    } else {
        setup
            .malicious
            .iter()
            .map(|&client| setup.names[client].as_str())
            .collect()
    };
    let document = serde_json::json!({
        "partition": partition.to_string(),
        "attack": attack,
        "rule": rule,
        "clients": setup.names,
        "malicious": malicious,
        "rounds": setup.rounds,
        "classes": setup.shape.classes(),
        "features": setup.shape.features(),
        "widths": setup.shape.widths(),
        "layout": "per layer: weights row-major (inputs x outputs), then the biases; ReLU between layers",
        "target": attack.targeted().then_some(setup.target),
        "seed": setup.seed,
    });
    write_json(&folder.join("truth.json"), &document)
}

fn create_folder(folder: &Path) -> Result<(), FederatedError> {
    fs_err::create_dir_all(folder).map_err(|source| FederatedError::Io {
        path: folder.to_path_buf(),
        source,
    })
}

fn write_json(path: &Path, document: &serde_json::Value) -> Result<(), FederatedError> {
    let io = |source| FederatedError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        create_folder(parent)?;
    }
    let mut file = AtomicFile::create(path)?;
    serde_json::to_writer_pretty(&mut file.writer, document).map_err(|error| io(error.into()))?;
    file.writer.write_all(b"\n").map_err(io)?;
    file.commit()?;
    Ok(())
}

/// The test split of an export, as float32 arrays.
fn write_test_split(setup: &Setup, folder: &Path) -> Result<(), FederatedError> {
    create_folder(folder)?;
    let matrix = |features: &Features| Layout::Npy {
        shape: vec![features.rows() as u64, features.columns() as u64],
    };
    write_update(
        &folder.join("test-features.npy"),
        &matrix(&setup.test),
        setup.test.data(),
    )?;
    let labels: Vec<f32> = setup
        .test_labels
        .iter()
        .map(|&label| label as f32)
        .collect();
    write_update(
        &folder.join("test-labels.npy"),
        &Layout::Npy {
            shape: vec![labels.len() as u64],
        },
        &labels,
    )?;
    if let Some(stamped) = &setup.stamped_test {
        write_update(
            &folder.join("test-stamped-features.npy"),
            &matrix(stamped),
            stamped.data(),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
