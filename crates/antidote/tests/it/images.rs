//! Image folders through the CLI: one sub-folder per class, each image a record whose id is its
//! path under the root and whose label is its class.

use crate::TestContext;

/// Writes a small RGB PNG at `relative`, its pixels derived from `seed`.
fn png(context: &TestContext, relative: &str, seed: u8) {
    let path = context.path(relative);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create folders");
    let image = image::RgbImage::from_fn(4, 3, |x, y| {
        image::Rgb([
            seed,
            seed.wrapping_add(x as u8),
            seed.wrapping_mul(3).wrapping_add(y as u8),
        ])
    });
    image.save(&path).expect("write the PNG");
}

/// `data/pics/` with three shirts and two boots.
fn pictures() -> TestContext {
    let context = TestContext::new();
    for (index, seed) in [10, 20, 30].into_iter().enumerate() {
        png(&context, &format!("data/pics/shirt/{index:03}.png"), seed);
    }
    for (index, seed) in [40, 50].into_iter().enumerate() {
        png(&context, &format!("data/pics/boot/{index:03}.png"), seed);
    }
    context
}

fn read_lock(context: &TestContext) -> serde_json::Value {
    let text = std::fs::read_to_string(context.path("antidote.lock")).expect("read the lock");
    serde_json::from_str(&text).expect("the lock is JSON")
}

#[test]
fn an_image_folder_locks_and_verifies() {
    let context = pictures();
    let output = context.run(&["lock", "data"]).expect_code(0);
    assert!(
        output.stdout.contains("image-folder, 5 records, 2 labels"),
        "{}",
        output.stdout
    );
    let lock = read_lock(&context);
    let datasets = lock["datasets"].as_array().unwrap();
    assert_eq!(datasets.len(), 1, "{datasets:?}");
    let pics = &datasets[0];
    assert_eq!(pics["path"], "data/pics");
    assert_eq!(pics["format"], "image-folder");
    assert_eq!(pics["record_count"], 5);
    assert_eq!(
        pics["label_counts"],
        serde_json::json!({ "boot": 2, "shirt": 3 })
    );
    assert_eq!(lock["files"].as_array().unwrap().len(), 5);
    let output = context.run(&["verify"]).expect_code(0);
    assert!(
        output
            .stdout
            .contains("OK: 5 files and 1 dataset match `antidote.lock`"),
        "{}",
        output.stdout
    );
}

#[test]
fn an_unreadable_image_names_the_file_and_the_fix() {
    let context = pictures();
    context.write("data/pics/boot/bad.png", "this is text, not a PNG");
    let output = context.run(&["lock", "data"]).expect_code(2);
    assert!(
        output
            .stderr
            .starts_with("error: `[TEMP_DIR]/data/pics/boot/bad.png`: unreadable image"),
        "{}",
        output.stderr
    );
    assert!(
        output
            .stderr
            .contains("hint: fix the record, or pass `--skip-bad`"),
        "{}",
        output.stderr
    );
    assert!(
        !context.path("antidote.lock").exists(),
        "no lock is written on error"
    );
}

#[test]
fn skip_bad_skips_an_unreadable_image_and_warns() {
    let context = pictures();
    context.write("data/pics/boot/bad.png", "this is text, not a PNG");
    let output = context.run(&["lock", "data", "--skip-bad"]).expect_code(0);
    assert!(
        output
            .stderr
            .contains("warning: skipped 1 malformed record in `data/pics`"),
        "{}",
        output.stderr
    );
    let lock = read_lock(&context);
    let pics = &lock["datasets"][0];
    assert_eq!(pics["record_count"], 5);
    assert_eq!(pics["skipped"], 1);
    assert_eq!(pics["label_counts"]["boot"], 2);
}

#[test]
fn new_pixels_under_the_same_name_are_a_modified_record() {
    let context = pictures();
    context.run(&["lock", "data"]).expect_code(0);
    png(&context, "data/pics/boot/001.png", 99);
    let output = context.run(&["verify"]).expect_code(1);
    assert!(
        output.stdout.contains("modified  `data/pics/boot/001.png`"),
        "{}",
        output.stdout
    );
    assert!(
        output
            .stdout
            .contains("5 records -> 5 records: 0 added, 0 removed, 1 modified"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("modified: `boot/001.png` (image)"),
        "{}",
        output.stdout
    );
    let output = context.run(&["verify", "--json"]).expect_code(1);
    let report: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    let diff = &report["report"]["datasets"][0]["diff"];
    assert_eq!(
        diff["changed"],
        serde_json::json!([{ "id": "boot/001.png", "fields": ["image"] }]),
        "{diff}"
    );
}
