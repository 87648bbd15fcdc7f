//! The Flower strategy (`python/antidote_flower`) against this binary, in a virtual environment
//! with Flower and NumPy that `scripts/test.sh` creates and names in `ANTIDOTE_FLOWER_PY`.
//! Ignored by a plain `cargo test`; `scripts/test.sh` runs it with `--ignored`. Run without the
//! variable, it fails and says so.

use std::path::PathBuf;
use std::process::Command;

#[test]
#[ignore = "needs the Python environment of scripts/test.sh (ANTIDOTE_FLOWER_PY)"]
fn flower_strategy_and_aggregate_against_the_binary() {
    let Some(python) = std::env::var_os("ANTIDOTE_FLOWER_PY") else {
        panic!(
            "ANTIDOTE_FLOWER_PY is not set: it names the Python of a virtual environment with \
             flwr and numpy; `bash scripts/test.sh` creates one and runs this test"
        );
    };
    let python_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../python");
    let output = Command::new(python)
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(python_dir.join("tests"))
        .env("PYTHONPATH", &python_dir)
        .env("ANTIDOTE_BIN", env!("CARGO_BIN_EXE_antidote"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run python");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python tests failed:\n{stderr}"
    );
    assert!(stderr.contains("Ran 5 tests"), "{stderr}");
    assert!(
        !stderr.contains("skipped"),
        "no Python test may skip itself:\n{stderr}"
    );
}
