//! `antidote aggregate`: combine federated client updates with a robust rule and score every
//! client.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use antidote_core::display::{count, escape_control, list_some, percent};
use antidote_data::output::AtomicFile;
use antidote_federated::updates::{self, Layout, Round};
use antidote_federated::{Federation, Params, RoundResult, Rule};
use anyhow::Context;
use serde::Serialize;
use serde_json::json;

use super::record;
use crate::cli::AggregateArgs;
use crate::printer::{Printer, Style};
use crate::settings::Settings;
use crate::{ExitStatus, UserError};

/// What `summary.json` holds for one round.
#[derive(Serialize)]
struct RoundSummary<'a> {
    #[serde(flatten)]
    result: &'a RoundResult,
    aggregate_path: PathBuf,
    flagged: Vec<&'a str>,
    overwhelmed: bool,
}

/// Aggregates every round under `args.updates`.
pub fn aggregate(
    args: &AggregateArgs,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<ExitStatus> {
    let rule: Rule = args.rule.parse()?;
    let mut params = Params::new(rule).cutoff(args.cutoff);
    if let Some(attackers) = args.attackers {
        params = params.attackers(attackers);
    }
    if let Some(selected) = args.selected {
        params = params.selected(selected);
    }
    if let Some(bound) = args.clip_norm {
        params = params.bound(bound);
    }
    let params = params.check().map_err(|err| {
        UserError::new(
            err.to_string(),
            "see `antidote aggregate --help` for which options each rule takes",
        )
    })?;
    if rule == Rule::FlTrust && args.root_update.is_none() {
        return Err(UserError::new(
            "`fltrust` needs the server's update on its clean root data",
            "pass `--root-update server.npy`, computed by the server with the same model on data it trusts",
        )
        .into());
    }

    let rounds = updates::read_rounds(&args.updates)?;
    let trust_path = args
        .trust
        .clone()
        .unwrap_or_else(|| args.out.join("trust.json"));
    let mut federation = Federation::new(params).with_trust(read_trust(&trust_path)?);
    fs_err::create_dir_all(&args.out)?;

    let mut results = Vec::with_capacity(rounds.len());
    let mut paths = Vec::with_capacity(rounds.len());
    for round in &rounds {
        let root = match &args.root_update {
            Some(path) => Some(read_root(path, round)?),
            None => None,
        };
        let clients: Vec<String> = round.clients().into_iter().map(str::to_owned).collect();
        let result = federation
            .aggregate(&round.name, &clients, &round.vectors(), root.as_deref())
            .with_context(|| format!("failed to aggregate `{}`", round.name))?;
        let path = aggregate_path(&args.out, round);
        updates::write_update(&path, round.layout(), &result.aggregate)?;
        results.push(result);
        paths.push(path);
    }

    write_clients(&args.out.join("clients.jsonl"), &results)?;
    let summaries: Vec<RoundSummary<'_>> = results
        .iter()
        .zip(&paths)
        .map(|(result, path)| RoundSummary {
            result,
            aggregate_path: path.clone(),
            flagged: result.flagged(),
            overwhelmed: result.overwhelmed(),
        })
        .collect();
    let summary = json!({
        "schema_version": 1,
        "rule": rule,
        "updates": args.updates,
        "rounds": summaries,
    });
    let summary_path = args.out.join("summary.json");
    write_json(&summary_path, &summary)?;
    write_json(&trust_path, federation.trust())?;

    let overwhelmed = results.iter().any(RoundResult::overwhelmed);
    let flagged: usize = results.iter().map(|result| result.flagged().len()).sum();
    record(
        settings,
        printer,
        "aggregate",
        &args.updates.display().to_string(),
        if overwhelmed { "fail" } else { "ok" },
        json!({
            "rule": rule,
            "rounds": results.len(),
            "flagged": flagged,
            "summary": summary_path,
        }),
    );
    if printer.json {
        printer.out_json(&summary)?;
    } else {
        print_rounds(printer, &results, &paths);
        printer.note(&format!(
            "wrote {} and `{}`",
            count(results.len(), "aggregate"),
            summary_path.display()
        ));
    }
    Ok(if overwhelmed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// `OUT/<round>.<ext>`, or `OUT/aggregate.<ext>` for a single folder of updates.
fn aggregate_path(out: &Path, round: &Round) -> PathBuf {
    let extension = match round.layout() {
        Layout::Npy { .. } => "npy",
        Layout::Safetensors { .. } => "safetensors",
    };
    let stem = if round.name == "round" {
        "aggregate"
    } else {
        round.name.as_str()
    };
    out.join(format!("{stem}.{extension}"))
}

/// The server's update for `round`: the file itself, or `<round>.npy` / `.safetensors` in the
/// folder.
fn read_root(path: &Path, round: &Round) -> anyhow::Result<Vec<f32>> {
    let file = if path.is_dir() {
        ["npy", "safetensors"]
            .iter()
            .map(|extension| path.join(format!("{}.{extension}", round.name)))
            .find(|candidate| candidate.is_file())
            .ok_or_else(|| {
                UserError::new(
                    format!(
                        "`{}` holds no server update for round `{}`",
                        path.display(),
                        round.name
                    ),
                    format!("add `{}.npy` to it", round.name),
                )
            })?
    } else {
        path.to_path_buf()
    };
    let update = updates::read_update(&file)?;
    if update.layout != *round.layout() {
        return Err(UserError::new(
            format!(
                "the server's update `{}` has layout {}, the clients' {}",
                file.display(),
                update.layout,
                round.layout()
            ),
            "the server must compute its update with the same model as the clients",
        )
        .into());
    }
    Ok(update.values)
}

fn read_trust(path: &Path) -> anyhow::Result<BTreeMap<String, f64>> {
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let text = fs_err::read_to_string(path)?;
    let trust: BTreeMap<String, f64> = serde_json::from_str(&text).map_err(|err| {
        UserError::new(
            format!("`{}` is not a trust file: {err}", path.display()),
            "it maps each client to a trust in [0, 1]; remove it to start every client at 1",
        )
    })?;
    if let Some((client, value)) = trust
        .iter()
        .find(|(_, value)| !(0.0..=1.0).contains(*value))
    {
        return Err(UserError::new(
            format!(
                "`{}` gives client `{client}` a trust of {value}, outside [0, 1]",
                path.display()
            ),
            "remove the file to start every client at 1",
        )
        .into());
    }
    Ok(trust)
}

fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    let mut file = AtomicFile::create(path)?;
    serde_json::to_writer_pretty(&mut file, value)?;
    file.write_all(b"\n")?;
    file.commit()?;
    Ok(())
}

fn write_clients(path: &Path, results: &[RoundResult]) -> anyhow::Result<()> {
    let mut file = AtomicFile::create(path)?;
    for result in results {
        for client in &result.clients {
            serde_json::to_writer(
                &mut file,
                &json!({ "round": result.round, "rule": result.rule, "client": client }),
            )?;
            file.write_all(b"\n")?;
        }
    }
    file.commit()?;
    Ok(())
}

fn print_rounds(printer: Printer, results: &[RoundResult], paths: &[PathBuf]) {
    for (result, path) in results.iter().zip(paths) {
        let flagged = result.flagged();
        let assumed = if result.attackers > 0 || result.estimated {
            format!(
                ", assuming {}{}",
                count(result.attackers, "attacker"),
                if result.estimated { " (estimated)" } else { "" }
            )
        } else {
            String::new()
        };
        printer.out(&format!(
            "{}: {} over {}{assumed} -> `{}`",
            printer.style(&result.round, Style::Bold),
            result.rule,
            count(result.clients.len(), "client"),
            path.display()
        ));
        if flagged.is_empty() {
            printer.out("  no client flagged");
        } else {
            printer.out(&format!(
                "  {} flagged ({}): {}",
                count(flagged.len(), "client"),
                percent(result.anomaly_rate),
                list_some(
                    &flagged
                        .iter()
                        .map(|name| (*name).to_owned())
                        .collect::<Vec<_>>(),
                    8
                )
            ));
            let mut worst: Vec<_> = result.clients.iter().filter(|c| c.flagged).collect();
            worst.sort_by(|a, b| b.anomaly.total_cmp(&a.anomaly));
            for client in worst.iter().take(5) {
                printer.out(&format!(
                    "    {}: anomaly {:.1} (distance {:.3}, cosine {:.2}, trust {:.2})",
                    escape_control(&client.client),
                    client.anomaly,
                    client.distance,
                    client.cosine,
                    client.trust
                ));
            }
        }
        if result.overwhelmed() {
            printer.out(&format!(
                "  {}: {} flagged, more than the {} `{}` tolerates among {}; the aggregate cannot be trusted",
                printer.style("FAILED", Style::Bad),
                flagged.len(),
                result.tolerated,
                result.rule,
                result.clients.len()
            ));
        }
    }
}
