//! `antidote drill --federated`: robust aggregation against malicious clients of a simulated
//! federation.

use std::path::PathBuf;
use std::time::Instant;

use antidote_core::display::{percent_tenths, plural};
use antidote_drill::Data;
use antidote_drill::embedded::FASHION_MNIST;
use antidote_drill::federated::{
    Export, FederatedAttack, FederatedModel, FederatedOptions, FederatedOutcome, FederatedReport,
    LocalTraining, Partition, simulate,
};
use antidote_federated::Rule;
use anyhow::Context;
use serde_json::json;

use super::record;
use crate::cli::{DrillArgs, TrainModel};
use crate::printer::{Printer, Style};
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

/// Runs the federated drill.
pub fn federated_drill(
    args: &DrillArgs,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let options = options(args)?;
    options
        .check()
        .map_err(|error| UserError::new(error.to_string(), "see `antidote drill --help`"))?;
    let data = match &args.data {
        Some(path) => Data::open(path, &args.dataset.read_options())
            .with_context(|| format!("failed to read the dataset `{}`", path.display()))?,
        None => FASHION_MNIST
            .load()
            .context("failed to read the embedded Fashion-MNIST sample")?,
    };
    printer.note(&format!(
        "federated drill on `{}`: {}, {} malicious, {}; {} x {} x {}",
        data.name,
        plural(options.clients as u64, "client"),
        options.malicious_count(),
        plural(options.rounds as u64, "round"),
        plural(options.partitions.len() as u64, "partition"),
        plural(options.attacks.len() as u64, "attack"),
        plural(options.rules.len() as u64, "rule"),
    ));
    let report = simulate(&data, &options).map_err(|error| {
        use antidote_drill::federated::FederatedError as Error;
        let hint = match &error {
            Error::Options(_) => "see `antidote drill --help`",
            Error::TooFewRecords { .. } | Error::Partition { .. } => {
                "use more data, fewer clients (`--clients`) or a larger `--alpha`"
            }
            Error::Labels(_) | Error::Classes(_) => {
                "the federated drill needs a labelled dataset of at least two classes (`--label COLUMN`)"
            }
            Error::NoPayload => "leave out `backdoor` from `--attack` for this data",
            _ => return anyhow::Error::from(error).context("the federated drill failed"),
        };
        UserError::new(error.to_string(), hint).into()
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let mut document = serde_json::to_value(&report)?;
    if let Some(object) = document.as_object_mut() {
        object.insert("antidote".into(), json!(env!("CARGO_PKG_VERSION")));
        object.insert("seconds".into(), json!(seconds));
    }
    let path = super::drill::write_document(&args.out, "federated.json", &document)?;
    record(
        settings,
        printer,
        "drill",
        &data.name,
        "ok",
        json!({
            "federated": true,
            "outcomes": report.outcomes.len(),
            "seed": options.seed,
            "seconds": seconds,
        }),
    );
    if printer.json {
        printer.out_json(&document)?;
    } else {
        print_report(&report, seconds, printer);
        if let Some(export) = &options.export {
            printer.note(&format!(
                "wrote the updates of `{}` to `{}`",
                export.rule,
                export.folder.display()
            ));
        }
        printer.note(&format!("wrote `{}`", path.display()));
    }
    Ok(ExitStatus::Success)
}

/// The simulation's options from the command line.
fn options(args: &DrillArgs) -> anyhow::Result<FederatedOptions> {
    let federated = &args.federated;
    if !args.rate.is_empty() || args.train {
        return Err(UserError::new(
            "`--rate` and `--train` belong to the data drill, not to `--federated`",
            "the federated drill's malicious share is `--malicious`",
        )
        .into());
    }
    let attacks = if args.attack.is_empty() {
        FederatedAttack::ALL.to_vec()
    } else {
        args.attack
            .iter()
            .map(|name| {
                name.trim().parse::<FederatedAttack>().map_err(|error| {
                    UserError::new(error.to_string(), "see `antidote drill --help`").into()
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let rules = if federated.rules.is_empty() {
        Rule::ALL.to_vec()
    } else {
        federated
            .rules
            .iter()
            .map(|name| name.parse::<Rule>())
            .collect::<Result<Vec<_>, _>>()?
    };
    let partitions = federated
        .partition
        .iter()
        .map(|name| match name.as_str() {
            "dirichlet" => Partition::Dirichlet {
                alpha: federated.alpha,
            },
            _ => Partition::Iid,
        })
        .collect();
    let export = match &federated.export_updates {
        Some(folder) => Some(Export {
            folder: PathBuf::from(folder),
            rule: federated.export_rule.parse::<Rule>()?,
        }),
        None => None,
    };
    let model = match federated.model {
        TrainModel::Logistic => FederatedModel::Logistic,
        TrainModel::Mlp => FederatedModel::Mlp,
    };
    Ok(FederatedOptions {
        model,
        training: LocalTraining {
            learning_rate: model.default_learning_rate(),
            ..LocalTraining::default()
        },
        clients: federated.clients,
        malicious: federated.malicious,
        rounds: federated.rounds,
        partitions,
        attacks,
        rules,
        seed: args.seed,
        export,
        ..FederatedOptions::default()
    })
}

fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{value:.2}"))
}

fn print_outcome(outcome: &FederatedOutcome, printer: Printer) {
    let drop = outcome.accuracy_drop * 100.0;
    let drop_text = format!("{drop:>+6.1}");
    let drop_text = if drop > 5.0 {
        printer.style(&drop_text, Style::Bad)
    } else {
        drop_text
    };
    let backdoor = outcome
        .attack_success
        .map_or_else(|| "-".to_owned(), percent_tenths);
    printer.out(&format!(
        "  {:<11} {:<17} {:>8}  {drop_text}  {:>8}  {:>6}  {:>6}  {}",
        outcome.attack.name(),
        outcome.rule.name(),
        percent_tenths(outcome.clean_accuracy),
        backdoor,
        cell(outcome.flags.precision),
        cell(outcome.flags.recall),
        if outcome.distrusted.is_empty() {
            "-".to_owned()
        } else {
            outcome.distrusted.join(" ")
        },
    ));
}

fn print_report(report: &FederatedReport, seconds: f64, printer: Printer) {
    printer.out(&format!(
        "{}: {} ({} records each on average), {} malicious ({}), {} of local SGD on a {}; test split {} records",
        printer.style(&report.dataset, Style::Bold),
        plural(report.clients as u64, "client"),
        report.client_records / report.clients.max(1),
        report.malicious.len(),
        report.malicious.join(" "),
        plural(report.rounds as u64, "round"),
        report.model,
        report.test_records,
    ));
    if let Some(backdoor) = &report.backdoor {
        printer.out(&format!(
            "backdoor: {} -> `{}`, measured on {} stamped test records of other classes",
            backdoor.trigger, backdoor.target, backdoor.test_records
        ));
    }
    for summary in &report.partitions {
        printer.out(&format!(
            "\n{} ({} to {} records and {:.1} classes per client): FedAvg without attackers reaches {}",
            printer.style(&summary.partition.to_string(), Style::Bold),
            summary.least_records,
            summary.most_records,
            summary.classes_per_client,
            percent_tenths(summary.baseline_accuracy),
        ));
        printer.out(&format!(
            "  {:<11} {:<17} {:>8}  {:>6}  {:>8}  {:>6}  {:>6}  {}",
            "attack", "rule", "accuracy", "drop", "backdoor", "flag P", "flag R", "distrusted"
        ));
        for outcome in report
            .outcomes
            .iter()
            .filter(|outcome| outcome.partition == summary.partition)
        {
            print_outcome(outcome, printer);
        }
    }
    printer.out(&format!(
        "\n{} in {seconds:.1}s; drop: points of accuracy lost against FedAvg without attackers; flag P/R: precision and recall of the anomaly flags over every round; distrusted: trust below 0.5 after the last round",
        plural(report.outcomes.len() as u64, "run"),
    ));
}
