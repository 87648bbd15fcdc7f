//! The command line, as clap derives it. Every flag has a one-line doc for `-h` and a longer
//! paragraph for `--help`.

use std::path::PathBuf;

use antidote_data::{Format, ReadOptions, RoleNames};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Defends machine-learning training pipelines against data poisoning.
///
/// antidote pins datasets and models by content (lock, verify, diff, sign), checks new data
/// against a baseline profile (profile, check), and keeps an append-only, hash-chained ledger of
/// what happened to them (log).
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
    /// Profile a dataset in one streaming pass: schema, statistics, labels, duplicates
    #[command(long_about = PROFILE_ABOUT, after_help = PROFILE_EXAMPLES)]
    Profile(ProfileArgs),
    /// Check new data against a baseline profile: schema, drift, label shift, rules
    #[command(long_about = CHECK_ABOUT, after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// List the events of the ledger, or check that none was edited, deleted or reordered
    #[command(long_about = LOG_ABOUT, after_help = LOG_EXAMPLES)]
    Log(LogArgs),
}

const LOCK_ABOUT: &str = "Pin files and datasets by content.

Every file gets its size and SHA-256. Every dataset among them (CSV, JSON Lines, Parquet, IDX, \
image folders, instruction data) is read record by record: the lock keeps its record count, \
schema fingerprint, label counts and the Merkle root of its records' content hashes, and writes \
the per-record hashes to `<lock>.records.jsonl` so that later diffs name the records that \
changed. Files that are not datasets (model weights, archives) are pinned at file level.

With `--key`, the lock is signed: a DSSE envelope around an in-toto Statement whose subjects are \
the files and their SHA-256, written to `<lock>.intoto.jsonl`.";

const LOCK_EXAMPLES: &str = "Examples:
  antidote lock data/                          # writes antidote.lock
  antidote lock train.csv --label class -o data.lock
  antidote lock data/ model.safetensors --key antidote.key";

const VERIFY_ABOUT: &str = "Check that the data still matches a lock.

Re-hashes every locked file. When a dataset's files changed, its records are read again and \
compared with the lock's records: the report names the records added, removed and modified. \
Files that appeared inside a locked folder are reported too. With `--pubkey`, the lock must \
carry a valid signature by that key.

Exits 0 only if everything matches; 1 with a precise account otherwise.";

const VERIFY_EXAMPLES: &str = "Examples:
  antidote verify                              # checks ./antidote.lock
  antidote verify data.lock --pubkey antidote.pub
  antidote verify --json | jq .datasets";

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
  antidote profile --merge shard1.json shard2.json -o all.json";

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
  antidote check update.parquet --baseline baseline.json --rules ci/antidote.toml --json
  antidote check data/v2/train.csv --baseline baseline.json --report   # writes check-report.html";

const LOG_ABOUT: &str = "List the ledger's events, or check its hash chain.

Every lock, verify, diff, sign and keygen appends an event that carries the hash of the one \
before it. `--verify` recomputes the chain and names every event that was edited, deleted or \
reordered. Truncation of the newest events shows only against a head hash kept elsewhere: \
`--verify` prints the head so that you can keep it.";

const LOG_EXAMPLES: &str = "Examples:
  antidote log
  antidote log --verify
  antidote log --json | jq '.[] | select(.kind == \"verify\")'";

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

    #[command(flatten)]
    pub dataset: DatasetArgs,
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

    /// The configuration with `[check]` thresholds and `[rules]` (default: `antidote.toml` in the project folder)
    #[arg(long, value_name = "TOML")]
    pub rules: Option<PathBuf>,

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
}
