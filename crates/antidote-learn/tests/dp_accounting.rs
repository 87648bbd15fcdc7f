//! The RDP accountant against Google's `dp-accounting` (0.6.0), number for number, in the
//! virtual environment `scripts/test.sh` creates and names in `ANTIDOTE_DP_ACCOUNTING_PY`.
//! Ignored by a plain `cargo test`; `scripts/test.sh` runs it with `--ignored`. Run without the
//! variable, it fails and says so.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use antidote_learn::privacy::epsilon;

/// (noise multiplier, sampling rate, steps, delta): typical DP-SGD runs, large epsilons, tiny
/// sampling rates, one step, no sampling.
const CASES: [(f64, f64, u64, f64); 12] = [
    (1.1, 0.01, 1_000, 1e-5),
    (1.1, 256.0 / 60_000.0, 14_062, 1e-5),
    (0.7, 0.004, 10_000, 1e-5),
    (0.5, 0.01, 10_000, 1e-5),
    (0.3, 0.05, 2_000, 1e-6),
    (0.8, 0.2, 50, 1e-5),
    (4.0, 1e-5, 100_000, 1e-6),
    (2.0, 1e-4, 1_000_000, 1e-7),
    (1.0, 0.001, 1, 1e-5),
    (1.0, 1.0, 10, 1e-5),
    (10.0, 0.5, 100, 1e-3),
    (1.5, 0.1, 3_000, 1e-5),
];

#[test]
#[ignore = "needs the Python environment of scripts/test.sh (ANTIDOTE_DP_ACCOUNTING_PY)"]
fn epsilons_match_dp_accounting() {
    let Some(python) = std::env::var_os("ANTIDOTE_DP_ACCOUNTING_PY") else {
        panic!(
            "ANTIDOTE_DP_ACCOUNTING_PY is not set: it names the Python of a virtual environment \
             with dp-accounting 0.6.0; `bash scripts/test.sh` creates one and runs this test"
        );
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../python/tests/dp_accounting_reference.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    let mut input = String::new();
    for (sigma, q, steps, delta) in CASES {
        writeln!(input, "{sigma} {q} {steps} {delta}").expect("writing to a string");
    }
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write the cases");
    let output = child.wait_with_output().expect("python finishes");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "dp-accounting failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: Vec<f64> = stdout
        .lines()
        .map(|line| line.trim().parse().expect("a number"))
        .collect();
    assert_eq!(theirs.len(), CASES.len(), "{stdout}");
    let mut above_ten = 0;
    for (&(sigma, q, steps, delta), &reference) in CASES.iter().zip(&theirs) {
        let ours = epsilon(sigma, q, steps, delta).expect("valid parameters");
        assert!(
            (ours - reference).abs() <= 1e-3 * reference.max(1.0),
            "sigma {sigma} q {q} steps {steps} delta {delta}: antidote {ours}, dp-accounting {reference}"
        );
        above_ten += usize::from(reference > 10.0);
    }
    assert!(
        above_ten >= 2,
        "the cases must include epsilons above 10: {theirs:?}"
    );
}

/// (noise multiplier, sampling rate, steps, delta, dp-accounting's discretisation interval):
/// the RDP cases where dp-accounting's PLD accountant converges at an interval it computes in
/// seconds (tiny sampling rates need a fine one: at the default 1e-4 it gives 0.0040 for the
/// seventh case, whose epsilon is 0.0021), epsilons from 0.002 to 460.
const PLD_CASES: [(f64, f64, u64, f64, f64); 12] = [
    (1.1, 0.01, 1_000, 1e-5, 1e-4),
    (1.1, 256.0 / 60_000.0, 14_062, 1e-5, 1e-4),
    (0.7, 0.004, 10_000, 1e-5, 1e-4),
    (0.5, 0.01, 10_000, 1e-5, 1e-4),
    (0.3, 0.05, 2_000, 1e-6, 1e-4),
    (0.8, 0.2, 50, 1e-5, 1e-4),
    (4.0, 1e-5, 100_000, 1e-6, 1e-7),
    (2.0, 1e-4, 10_000, 1e-6, 1e-6),
    (1.0, 0.001, 1, 1e-5, 1e-4),
    (1.0, 1.0, 10, 1e-5, 1e-4),
    (10.0, 0.5, 100, 1e-3, 1e-4),
    (1.5, 0.1, 3_000, 1e-5, 1e-4),
];

/// Runs `script` (in `python/tests`) on `input` with the venv's Python; its output lines.
fn python_lines(script: &str, input: &str) -> Vec<String> {
    let Some(python) = std::env::var_os("ANTIDOTE_DP_ACCOUNTING_PY") else {
        panic!(
            "ANTIDOTE_DP_ACCOUNTING_PY is not set: it names the Python of a virtual environment \
             with dp-accounting 0.6.0; `bash scripts/test.sh` creates one and runs this test"
        );
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../python/tests")
        .join(script);
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write the cases");
    let output = child.wait_with_output().expect("python finishes");
    assert!(
        output.status.success(),
        "dp-accounting failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
#[ignore = "needs the Python environment of scripts/test.sh (ANTIDOTE_DP_ACCOUNTING_PY)"]
#[expect(
    clippy::print_stderr,
    reason = "the largest difference found, shown with --nocapture for bench/results/dp.md"
)]
fn prv_epsilons_match_dp_accounting_pld() {
    let mut input = String::new();
    for (sigma, q, steps, delta, interval) in PLD_CASES {
        writeln!(input, "{sigma} {q} {steps} {delta} {interval}").expect("writing to a string");
    }
    let lines = python_lines("dp_accounting_pld_reference.py", &input);
    assert_eq!(lines.len(), PLD_CASES.len(), "{lines:?}");
    let mut above_ten = 0;
    let mut worst = 0.0f64;
    for (&(sigma, q, steps, delta, interval), line) in PLD_CASES.iter().zip(&lines) {
        let values: Vec<f64> = line
            .split_whitespace()
            .map(|value| value.parse().expect("a number"))
            .collect();
        let (reference, coarser) = (values[0], values[1]);
        let case = format!("sigma {sigma} q {q} steps {steps} delta {delta}");
        // dp-accounting has converged: halving its interval moved it by less than the tolerance.
        assert!(
            (coarser - reference).abs() <= 5e-4 * reference,
            "{case}: dp-accounting moved from {coarser} to {reference} at interval {interval}"
        );
        let ours = antidote_learn::privacy::prv::prv_epsilon(sigma, q, steps, delta)
            .expect("valid parameters");
        let relative = (ours.estimate - reference).abs() / reference;
        worst = worst.max(relative);
        assert!(
            relative <= 1e-3,
            "{case}: antidote's PRV {ours:?}, dp-accounting's PLD {reference} (relative {relative:.2e})"
        );
        assert!(
            ours.lower <= reference && reference <= ours.upper,
            "{case}: {ours:?} does not bracket {reference}"
        );
        above_ten += usize::from(reference > 10.0);
    }
    assert!(above_ten >= 3, "the cases must include epsilons above 10");
    eprintln!("largest relative difference: {worst:.2e}");
}
