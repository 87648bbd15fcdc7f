//! `antidote aggregate`: rounds of client updates on disk, robust rules, flagged clients, trust.

use antidote_federated::updates::{Layout, read_update, write_update};

use crate::TestContext;

/// Ten clients per round; clients 0-8 send the honest direction with a little noise, client 9
/// sends it sign-flipped and boosted twenty times.
fn write_rounds(context: &TestContext, rounds: usize) {
    let honest = [0.5f32, -1.0, 0.25, 2.0, -0.75, 1.5];
    for round in 1..=rounds {
        for client in 0..10 {
            let values: Vec<f32> = honest
                .iter()
                .enumerate()
                .map(|(j, &x)| {
                    let noise = 0.02 * (((client * 7 + j * 3 + round) % 11) as f32 - 5.0);
                    if client == 9 { -20.0 * x } else { x + noise }
                })
                .collect();
            let path = context.path(&format!("updates/round-{round}/client-{client}.npy"));
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("create the round");
            write_update(&path, &Layout::Npy { shape: vec![2, 3] }, &values)
                .expect("write an update");
        }
    }
}

fn trust_of(context: &TestContext, client: &str) -> f64 {
    let text = std::fs::read_to_string(context.path("agg/trust.json")).expect("trust.json");
    let trust: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    trust[client].as_f64().expect("a trust")
}

#[test]
fn multi_krum_keeps_the_honest_direction_and_names_the_attacker() {
    let context = TestContext::new();
    write_rounds(&context, 3);
    let output = context
        .run(&[
            "aggregate",
            "updates",
            "--rule",
            "multi-krum",
            "--out",
            "agg",
        ])
        .expect_code(0);
    assert!(
        output
            .stdout
            .contains("round-1: multi-krum over 10 clients, assuming 1 attacker (estimated)"),
        "{}",
        output.stdout
    );
    assert_eq!(
        output
            .stdout
            .matches("1 client flagged (10%): `client-9`")
            .count(),
        3,
        "{}",
        output.stdout
    );

    for round in 1..=3 {
        let aggregate = read_update(&context.path(&format!("agg/round-{round}.npy"))).unwrap();
        assert_eq!(aggregate.layout, Layout::Npy { shape: vec![2, 3] });
        for (value, expected) in aggregate
            .values
            .iter()
            .zip([0.5f32, -1.0, 0.25, 2.0, -0.75, 1.5])
        {
            assert!(
                (value - expected).abs() < 0.11,
                "round {round}: {value} vs {expected}"
            );
        }
    }
    let lines = std::fs::read_to_string(context.path("agg/clients.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 30);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(context.path("agg/summary.json")).unwrap())
            .unwrap();
    assert_eq!(
        summary["rounds"][2]["flagged"],
        serde_json::json!(["client-9"])
    );
    assert_eq!(
        summary["rounds"][0]["clients"][9]["weight"],
        serde_json::json!(0.0)
    );

    // Trust decays by the memory 0.8 each flagged round and carries over to the next run.
    assert!((trust_of(&context, "client-9") - 0.512).abs() < 1e-9);
    assert!((trust_of(&context, "client-0") - 1.0).abs() < 1e-9);
    context
        .run(&[
            "aggregate",
            "updates/round-1",
            "--rule",
            "multi-krum",
            "--out",
            "agg",
        ])
        .expect_code(0);
    assert!((trust_of(&context, "client-9") - 0.4096).abs() < 1e-9);
    assert!(context.path("agg/aggregate.npy").is_file());
}

#[test]
fn the_plain_mean_fails_when_a_client_is_flagged() {
    let context = TestContext::new();
    write_rounds(&context, 1);
    let output = context
        .run(&["aggregate", "updates", "--rule", "mean", "--out", "agg"])
        .expect_code(1);
    assert!(
        output
            .stdout
            .contains("FAILED: 1 flagged, more than the 0 `mean` tolerates among 10"),
        "{}",
        output.stdout
    );
    // The mean is dragged by the boosted client: -20 x / 10 shifts every coordinate sign.
    let aggregate = read_update(&context.path("agg/round-1.npy")).unwrap();
    assert!(aggregate.values[3] < 0.0, "{:?}", aggregate.values);
}

#[test]
fn fltrust_weighs_clients_by_the_servers_direction() {
    let context = TestContext::new();
    write_rounds(&context, 1);
    let root = context.path("server.npy");
    write_update(
        &root,
        &Layout::Npy { shape: vec![2, 3] },
        &[0.5, -1.0, 0.25, 2.0, -0.75, 1.5],
    )
    .unwrap();
    let output = context
        .run(&[
            "aggregate",
            "updates",
            "--rule",
            "fltrust",
            "--root-update",
            "server.npy",
            "--out",
            "agg",
            "--json",
        ])
        .expect_code(0);
    let summary: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    let attacker = &summary["rounds"][0]["clients"][9];
    assert_eq!(attacker["weight"], serde_json::json!(0.0));
    assert!(attacker["root_cosine"].as_f64().unwrap() < -0.99);

    let output = context
        .run(&["aggregate", "updates", "--rule", "fltrust", "--out", "agg"])
        .expect_code(2);
    assert!(
        output
            .stderr
            .contains("hint: pass `--root-update server.npy`"),
        "{}",
        output.stderr
    );
}

#[test]
fn bad_rounds_and_impossible_rules_are_usage_errors() {
    let context = TestContext::new();
    write_rounds(&context, 1);
    let output = context
        .run(&[
            "aggregate",
            "updates",
            "--rule",
            "krum",
            "--attackers",
            "5",
            "--out",
            "agg",
        ])
        .expect_code(2);
    assert!(
        output
            .stderr
            .contains("`krum` with 5 attacker(s) needs at least 13 clients; this round has 10"),
        "{}",
        output.stderr
    );

    let output = context
        .run(&["aggregate", "updates", "--attackers", "1"])
        .expect_code(2);
    assert!(
        output
            .stderr
            .contains("`--attackers` does not apply to `geometric-median`"),
        "{}",
        output.stderr
    );

    write_update(
        &context.path("updates/round-1/client-10.npy"),
        &Layout::Npy { shape: vec![6] },
        &[0.0; 6],
    )
    .unwrap();
    let output = context
        .run(&["aggregate", "updates", "--out", "agg"])
        .expect_code(2);
    assert!(
        output
            .stderr
            .contains("client-10.npy` has layout array [6], but"),
        "{}",
        output.stderr
    );

    std::fs::write(
        context.path("updates/round-1/client-10.npy"),
        b"\x93NUMPY\x01\x00garbage",
    )
    .unwrap();
    let output = context
        .run(&["aggregate", "updates", "--out", "agg"])
        .expect_code(2);
    assert!(
        output
            .stderr
            .contains("client-10.npy` is not a readable update"),
        "{}",
        output.stderr
    );
}
