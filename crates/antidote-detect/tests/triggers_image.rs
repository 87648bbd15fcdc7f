//! Trigger search on real images: the first 5,000 Fashion-MNIST training images, clean, and
//! with the patch backdoor of Gu et al. (2017): a 4x4 white patch in the bottom-right corner (pixels 24 to 27)
//! on 1% and on 5% of the images, relabelled `0` (T-shirt/top). The model questioned is a
//! logistic regression on the pixels trained on all the images, poisoned ones included.

mod triggers_common;

use std::error::Error;
use std::time::Instant;

use antidote_detect::{Trigger, TriggerColumn, TriggerSearch, TriggerSearchOutcome};
use triggers_common::{Labelled, TestResult, fashion_mnist, poison_images, precision_recall};

const IMAGES: usize = 5_000;
const SEED: u64 = 11;
/// The patch: left column, top row, side and grey level.
const PATCH: (usize, usize, usize, u8) = (24, 24, 4, 255);

#[expect(clippy::print_stdout, reason = "the tests report what they measured")]
fn search(data: &Labelled) -> Result<TriggerSearchOutcome, Box<dyn Error>> {
    let start = Instant::now();
    let predictor = data.train(1.0 / data.records.len() as f64, None)?;
    let trained = start.elapsed();
    let detector = TriggerSearch::params().check()?;
    let outcome = detector.search(
        &data.records,
        &data.labels,
        &data.classes,
        TriggerColumn::Image("image"),
        &predictor,
        SEED,
    )?;
    println!(
        "{} images: model trained in {:.2} s, trigger search in {:.2} s",
        data.records.len(),
        trained.as_secs_f64(),
        start.elapsed().saturating_sub(trained).as_secs_f64()
    );
    for candidate in &outcome.candidates {
        let trigger = &candidate.trigger;
        println!(
            "  {:?}: {} images, purity {:.2}, flips {:.2} (control {:.2}), reverts {:.2} of {}, \
             confirmed {}",
            trigger.pattern,
            trigger.support,
            trigger.purity,
            trigger.flip_rate.unwrap_or(f64::NAN),
            candidate.control_rate,
            candidate.revert_rate,
            candidate.removal_tested_records,
            trigger.confirmed
        );
    }
    // The same seed gives the same report, on one thread as on many.
    let again = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()?
        .install(|| {
            detector.run(
                &data.records,
                &data.labels,
                &data.classes,
                TriggerColumn::Image("image"),
                &predictor,
                SEED,
            )
        })?;
    assert_eq!(
        serde_json::to_string(&again)?,
        serde_json::to_string(&outcome.report)?
    );
    Ok(outcome)
}

#[test]
fn clean_fashion_mnist_has_no_confirmed_patch() -> TestResult {
    let data = fashion_mnist(IMAGES)?;
    let outcome = search(&data)?;
    assert!(
        outcome.report.triggers.is_empty(),
        "{:?}",
        outcome.report.triggers
    );
    assert!(outcome.report.flags.is_empty());
    assert!(
        outcome
            .candidates
            .iter()
            .all(|candidate| !candidate.trigger.confirmed)
    );
    // Rare bright or dark pixels tied to a class (a bag's handle, a sandal's strap) are natural
    // content: their values vary from image to image, which a stamp's do not.
    let grouping = outcome
        .report
        .notes
        .iter()
        .find(|note| note.starts_with("grouped them into "))
        .expect("a note on the pixel groups");
    assert!(
        grouping.contains("vary across their images as natural content does"),
        "{grouping}"
    );
    Ok(())
}

fn poisoned_run(share: f64) -> TestResult {
    let mut data = fashion_mnist(IMAGES)?;
    let target = data.class("0");
    let poisoned = poison_images(&mut data, PATCH, target, share, SEED);
    let outcome = search(&data)?;
    let report = &outcome.report;
    let (precision, recall) = precision_recall(&report.flagged_indices(), &poisoned);
    #[expect(clippy::print_stdout, reason = "the test reports what it measured")]
    {
        println!(
            "patch on {:.0}% of the images: precision {precision:.3}, recall {recall:.3}",
            share * 100.0
        );
    }
    assert_eq!(report.triggers.len(), 1, "{:?}", report.triggers);
    let Trigger::ImagePatch {
        x,
        y,
        width,
        height,
        ref pixels,
        ..
    } = report.triggers[0].pattern
    else {
        panic!("not a patch: {:?}", report.triggers[0].pattern);
    };
    assert_eq!((x, y, width, height), (24, 24, 4, 4));
    assert!(pixels.iter().all(|&level| level == 255));
    assert_eq!(report.triggers[0].target, Some(target));
    assert!(recall >= 0.95 && precision >= 0.90);
    let evidence = &report.flags[0].evidence;
    assert!(
        evidence.starts_with(&format!(
            "carries a 4x4 white patch at x 24, y 24, found in {} records of which 100% are \
             labelled `0`; stamping it flips ",
            poisoned.len()
        )),
        "{evidence}"
    );
    Ok(())
}

#[test]
fn a_white_patch_on_one_percent_of_the_images_is_found() -> TestResult {
    poisoned_run(0.01)
}

#[test]
fn a_white_patch_on_five_percent_of_the_images_is_found() -> TestResult {
    poisoned_run(0.05)
}
