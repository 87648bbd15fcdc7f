//! Times 5-fold out-of-sample probabilities of logistic regression on the Fashion-MNIST training
//! set (60,000 images), as `antidote scan` computes them, and prints their accuracy.
//!
//! ```text
//! cargo run --release --example oos [-- [--data DIR] [--rows N] [--folds K] [--l2 L2] [--max-iterations N]]
//! ```
//!
//! `bench/learn.sh` runs it beside scikit-learn's `cross_val_predict` on the same data.
#![expect(
    clippy::print_stdout,
    reason = "an example that prints its measurements"
)]

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use antidote_data::{Dataset, ReadOptions, Record};
use antidote_learn::{Featurizer, LabelIndex, LogisticRegression, out_of_sample_probabilities};

fn main() -> Result<(), Box<dyn Error>> {
    let mut data = PathBuf::from("/usr/share/datasets/fashion-mnist");
    let mut rows = usize::MAX;
    let mut folds = 5;
    let mut params = LogisticRegression::params();
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments
            .next()
            .ok_or_else(|| format!("`{flag}` needs a value"))?;
        match flag.as_str() {
            "--data" => data = value.into(),
            "--rows" => rows = value.parse()?,
            "--folds" => folds = value.parse()?,
            "--l2" => params = params.l2(value.parse()?),
            "--max-iterations" => params = params.max_iterations(value.parse()?),
            "--tolerance" => params = params.tolerance(value.parse()?),
            _ => return Err(format!("unknown option `{flag}`").into()),
        }
    }
    let params = params.check()?;

    let start = Instant::now();
    let dataset = Dataset::open(
        &data.join("train-images-idx3-ubyte.gz"),
        &ReadOptions::default(),
    )?;
    let schema = dataset.schema().clone();
    let records: Vec<Record> = dataset.take(rows).collect::<Result<_, _>>()?;
    let read = start.elapsed();

    let start = Instant::now();
    let features = Featurizer::fit(&records, &schema)?.transform(&records)?;
    let classes = LabelIndex::from_records(&records);
    let labels = classes.encode(&records)?;
    let featurize = start.elapsed();

    let start = Instant::now();
    let probabilities =
        out_of_sample_probabilities(&features, &labels, classes.len(), folds, 0, &params)?;
    let out_of_sample = start.elapsed();

    let k = classes.len();
    let correct = labels
        .iter()
        .enumerate()
        .filter(|&(row, &label)| {
            let row = &probabilities[row * k..(row + 1) * k];
            let predicted = (0..k)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a)))
                .unwrap_or(0);
            predicted == label
        })
        .count();
    println!(
        "records={} features={} folds={folds} read_seconds={:.3} featurize_seconds={:.3} oos_seconds={:.3} accuracy={:.4}",
        features.rows(),
        features.columns(),
        read.as_secs_f64(),
        featurize.as_secs_f64(),
        out_of_sample.as_secs_f64(),
        correct as f64 / labels.len() as f64,
    );
    Ok(())
}
