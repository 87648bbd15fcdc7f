//! Times the network `antidote scan` trains on the Fashion-MNIST training set (60,000 images) and
//! prints its accuracy on the 10,000 test images.
//!
//! ```text
//! cargo run --release -p antidote-learn --example mlp -- \
//!     [--data DIR] [--rows N] [--threads N] [--hidden 256,64] [--epochs N] [--batch-size N] \
//!     [--learning-rate R] [--l2 L2] [--seed S]
//! ```
#![expect(
    clippy::print_stdout,
    reason = "an example that prints its measurements"
)]

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use antidote_core::NoProgress;
use antidote_data::{Dataset, ReadOptions, Record};
use antidote_learn::{Featurizer, LabelIndex, Mlp};

fn read(
    path: &std::path::Path,
    limit: usize,
) -> Result<(antidote_data::Schema, Vec<Record>), Box<dyn Error>> {
    let dataset = Dataset::open(path, &ReadOptions::default())?;
    let schema = dataset.schema().clone();
    let records = dataset.take(limit).collect::<Result<Vec<_>, _>>()?;
    Ok((schema, records))
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut data = PathBuf::from("/usr/share/datasets/fashion-mnist");
    let mut rows = usize::MAX;
    let mut threads = 0;
    let mut params = Mlp::params();
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments
            .next()
            .ok_or_else(|| format!("`{flag}` needs a value"))?;
        match flag.as_str() {
            "--data" => data = value.into(),
            "--rows" => rows = value.parse()?,
            "--threads" => threads = value.parse()?,
            "--hidden" => {
                let widths = value
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<Vec<usize>, _>>()?;
                params = params.hidden_layers(&widths);
            }
            "--epochs" => params = params.epochs(value.parse()?),
            "--batch-size" => params = params.batch_size(value.parse()?),
            "--learning-rate" => params = params.learning_rate(value.parse()?),
            "--l2" => params = params.l2(value.parse()?),
            "--seed" => params = params.seed(value.parse()?),
            _ => return Err(format!("unknown option `{flag}`").into()),
        }
    }
    let params = params.check()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;

    let start = Instant::now();
    let (schema, training) = read(&data.join("train-images-idx3-ubyte.gz"), rows)?;
    let (_, test) = read(&data.join("t10k-images-idx3-ubyte.gz"), usize::MAX)?;
    let featurizer = Featurizer::fit(&training, &schema)?;
    let training_features = featurizer.transform(&training)?;
    let test_features = featurizer.transform(&test)?;
    let classes = LabelIndex::from_records(&training);
    let training_labels = classes.encode(&training)?;
    let test_labels = classes.encode(&test)?;
    let prepare = start.elapsed();

    let model = pool.install(|| {
        params.fit(
            &training_features,
            &training_labels,
            classes.len(),
            &NoProgress,
        )
    })?;
    let start = Instant::now();
    let predicted = pool.install(|| model.predict(&test_features));
    let predict = start.elapsed();
    let correct = predicted
        .iter()
        .zip(&test_labels)
        .filter(|(predicted, label)| predicted == label)
        .count();
    let report = model.report();
    println!(
        "records={} features={} threads={} hidden={:?} epochs={} updates={} prepare_seconds={:.3} \
         train_seconds={:.3} predict_seconds={:.3} loss={:.4} training_accuracy={:.4} test_accuracy={:.4}",
        training_features.rows(),
        training_features.columns(),
        pool.current_num_threads(),
        model.hidden_layers(),
        report.epochs,
        report.updates,
        prepare.as_secs_f64(),
        report.duration.as_secs_f64(),
        predict.as_secs_f64(),
        report.loss,
        report.training_accuracy,
        correct as f64 / test_labels.len() as f64,
    );
    Ok(())
}
