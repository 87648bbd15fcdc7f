//! The simulation end to end on a slice of the embedded Fashion-MNIST sample: small enough to
//! run in seconds, large enough that the attacks and the rules behave as in the full drill.

use std::sync::OnceLock;

use super::*;
use crate::embedded::FASHION_MNIST;

/// The first 3,000 images of the embedded sample.
fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let mut data = FASHION_MNIST.load().expect("the embedded sample reads");
        data.dataset.records.truncate(3_000);
        data
    })
}

fn options(attacks: &[FederatedAttack], rules: &[Rule]) -> FederatedOptions {
    FederatedOptions {
        clients: 10,
        malicious: 0.2,
        rounds: 6,
        attacks: attacks.to_vec(),
        rules: rules.to_vec(),
        seed: 3,
        ..FederatedOptions::default()
    }
}

fn outcome(report: &FederatedReport, attack: FederatedAttack, rule: Rule) -> &FederatedOutcome {
    report
        .outcomes
        .iter()
        .find(|outcome| outcome.attack == attack && outcome.rule == rule)
        .expect("every attack and rule ran")
}

fn without_times(report: &FederatedReport) -> serde_json::Value {
    let mut report = report.clone();
    for outcome in &mut report.outcomes {
        outcome.seconds = 0.0;
    }
    serde_json::to_value(&report).expect("plain data")
}

#[test]
fn the_simulation_is_deterministic_for_a_seed() {
    let mut options = options(
        &[FederatedAttack::Alie, FederatedAttack::Backdoor],
        &[Rule::Median, Rule::MultiKrum],
    );
    options.partitions = vec![Partition::Dirichlet { alpha: 0.5 }];
    options.rounds = 3;
    let first = simulate(data(), &options).unwrap();
    let second = simulate(data(), &options).unwrap();
    assert_eq!(without_times(&first), without_times(&second));
    options.seed += 1;
    let other = simulate(data(), &options).unwrap();
    assert_ne!(without_times(&first), without_times(&other));
}

#[test]
fn without_attackers_every_rule_comes_close_to_fedavg() {
    let report = simulate(data(), &options(&[FederatedAttack::None], &Rule::ALL)).unwrap();
    let fedavg = outcome(&report, FederatedAttack::None, Rule::Mean).clean_accuracy;
    assert!(fedavg > 0.7, "FedAvg reaches {fedavg}");
    for rule in Rule::ALL {
        let accuracy = outcome(&report, FederatedAttack::None, rule).clean_accuracy;
        // FLTrust steers every round by the server's update on 100 root records and rescales
        // each client's update to its norm: in six rounds it lags (measured 0.55 against 0.74).
        let slack = if rule == Rule::FlTrust { 0.25 } else { 0.06 };
        assert!(
            accuracy > fedavg - slack,
            "{rule}: {accuracy} against FedAvg's {fedavg}"
        );
    }
}

#[test]
fn sign_flip_and_scaling_break_fedavg_but_not_the_robust_rules() {
    let rules = [Rule::Mean, Rule::Median, Rule::Krum, Rule::TrimmedMean];
    let attacks = [FederatedAttack::SignFlip, FederatedAttack::Scaling];
    let report = simulate(data(), &options(&attacks, &rules)).unwrap();
    let baseline = report.partitions[0].baseline_accuracy;
    for attack in attacks {
        let fedavg = outcome(&report, attack, Rule::Mean);
        assert!(
            fedavg.accuracy_drop > 0.15,
            "{attack}: FedAvg only lost {}",
            fedavg.accuracy_drop
        );
        for rule in [Rule::Median, Rule::Krum, Rule::TrimmedMean] {
            let robust = outcome(&report, attack, rule);
            assert!(
                robust.clean_accuracy > baseline - 0.06,
                "{attack} {rule}: {} against {baseline}",
                robust.clean_accuracy
            );
        }
    }
}

#[test]
fn the_anomaly_scores_flag_the_planted_clients() {
    let attacks = [FederatedAttack::SignFlip, FederatedAttack::Scaling];
    let report = simulate(data(), &options(&attacks, &[Rule::Median])).unwrap();
    for attack in attacks {
        let outcome = outcome(&report, attack, Rule::Median);
        assert_eq!(
            outcome.flags.recall,
            Some(1.0),
            "{attack}: {:?}",
            outcome.flags
        );
        let precision = outcome.flags.precision.expect("something was flagged");
        // Measured: 0.92 (sign flip) and 1.0 (scaling); an honest client of a non-typical round
        // is flagged now and then, never twice in a row long enough to lose its trust.
        assert!(precision >= 0.8, "{attack}: {:?}", outcome.flags);
        assert_eq!(outcome.distrusted, report.malicious, "{attack}");
    }
}

#[test]
fn the_backdoor_is_measured_on_stamped_records() {
    let report = simulate(
        data(),
        &options(&[FederatedAttack::Backdoor], &[Rule::Mean]),
    )
    .unwrap();
    let backdoor = report.backdoor.as_ref().expect("the backdoor ran");
    assert!(backdoor.test_records > 0);
    let outcome = outcome(&report, FederatedAttack::Backdoor, Rule::Mean);
    let success = outcome
        .attack_success
        .expect("a backdoor has a success rate");
    let floor = outcome.attack_success_baseline.expect("and a floor");
    assert!(
        success > floor,
        "{success} against the clean model's {floor}"
    );
}

#[test]
fn the_export_is_what_aggregate_reads() {
    let folder = tempfile::tempdir().unwrap();
    let mut options = options(&[FederatedAttack::SignFlip], &[Rule::Median]);
    options.rounds = 2;
    options.export = Some(Export {
        folder: folder.path().to_path_buf(),
        rule: Rule::Median,
    });
    let report = simulate(data(), &options).unwrap();
    let run = folder.path().join("iid").join("sign-flip");
    let rounds = antidote_federated::updates::read_rounds(&run.join("updates")).unwrap();
    assert_eq!(rounds.len(), 2);
    assert_eq!(rounds[0].updates.len(), 10);
    assert_eq!(rounds[0].layout().len(), report.parameters);
    // The exported round aggregated again gives the same flags as the run.
    let mut federation = Federation::new(Params::new(Rule::Median).check().unwrap());
    let names: Vec<String> = rounds[0]
        .clients()
        .iter()
        .map(|&name| name.to_owned())
        .collect();
    let again = federation
        .aggregate("round-001", &names, &rounds[0].vectors(), None)
        .unwrap();
    let mut flagged: Vec<String> = again
        .flagged()
        .iter()
        .map(|&name| name.to_owned())
        .collect();
    flagged.sort();
    assert_eq!(flagged, report.malicious);
    let truth: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(run.join("truth.json")).unwrap()).unwrap();
    assert_eq!(truth["malicious"], serde_json::json!(report.malicious));
    assert!(run.join("root").join("round-002.npy").is_file());
    assert!(folder.path().join("test-labels.npy").is_file());
}

#[test]
fn the_mlp_federation_learns_and_the_median_holds_against_scaling() {
    let mut options = options(
        &[FederatedAttack::None, FederatedAttack::Scaling],
        &[Rule::Mean, Rule::Median],
    );
    options.model = FederatedModel::Mlp;
    options.training.learning_rate = FederatedModel::Mlp.default_learning_rate();
    let report = simulate(data(), &options).unwrap();
    assert_eq!(report.widths.len(), 3, "{:?}", report.widths);
    assert_eq!(report.model, FederatedModel::Mlp.describe());
    let fedavg = outcome(&report, FederatedAttack::None, Rule::Mean).clean_accuracy;
    assert!(fedavg > 0.7, "the federated MLP reaches {fedavg}");
    let scaled = outcome(&report, FederatedAttack::Scaling, Rule::Mean);
    assert!(
        scaled.accuracy_drop > 0.15,
        "FedAvg lost {}",
        scaled.accuracy_drop
    );
    let median = outcome(&report, FederatedAttack::Scaling, Rule::Median);
    assert!(
        median.clean_accuracy > fedavg - 0.06,
        "median {} against {fedavg}",
        median.clean_accuracy
    );
    assert_eq!(median.flags.recall, Some(1.0), "{:?}", median.flags);
}
