//! `antidote check --report`: the HTML report escapes what the data holds, and renders in a real
//! browser (Debian's headless `chromium`) without console errors, with the verdict and charts.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::TestContext;
use crate::browser::{chromium, console_lines};

const SCRIPT: &str = "<script>alert(1)</script>";
const IMAGE: &str = "<img src=x onerror=alert(2)>";

/// A CSV whose column name, labels and texts carry markup when `hostile`.
fn hostile_csv(hostile: bool) -> String {
    let sentences = [
        "the cat sat on the mat",
        "a dog barked at the postman",
        "birds sing at dawn",
    ];
    let mut csv = format!("id,label,text,{IMAGE}\n");
    for index in 0..90 {
        let injected = hostile && index % 6 == 0;
        let label = if injected {
            SCRIPT
        } else if index % 2 == 0 {
            "cat"
        } else {
            "dog"
        };
        let text = if injected {
            format!("{} {SCRIPT} {IMAGE}", sentences[index % 3])
        } else {
            sentences[index % 3].to_owned()
        };
        let value = (index % 10) as f64 + if hostile { 4.5 } else { 0.0 };
        let _ = writeln!(csv, "r{index:03},{label},{text},{value}");
    }
    csv
}

#[test]
fn markup_in_the_data_is_escaped_in_the_report() {
    let context = TestContext::new();
    context.write("baseline.csv", &hostile_csv(false));
    context.write("current.csv", &hostile_csv(true));
    context
        .run(&["profile", "baseline.csv", "-o", "baseline.json"])
        .expect_code(0);
    let output = context
        .run(&[
            "check",
            "current.csv",
            "--baseline",
            "baseline.json",
            "--report",
            "out.html",
        ])
        .expect_code(1);
    assert!(
        output.stdout.contains("wrote report `out.html`"),
        "{}",
        output.stdout
    );
    let html = std::fs::read_to_string(context.path("out.html")).expect("the report");
    assert!(!html.contains("<script"), "a raw script tag:\n{html}");
    assert!(!html.contains("<img"), "a raw image tag:\n{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the label, escaped:\n{html}"
    );
    assert!(
        html.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "the column name, escaped:\n{html}"
    );
    assert!(html.contains("FAILED"), "{html}");
    assert!(html.contains("Do not train"), "{html}");
    assert!(html.contains("<svg"), "{html}");
    assert!(!html.contains("http://") && !html.contains("https://"));
    // The provenance names both inputs by digest.
    assert_eq!(html.matches("sha256:").count(), 2, "{html}");
}

#[test]
fn the_report_defaults_to_check_report_html_and_goes_into_the_json() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data.csv");
    context
        .run(&["profile", "data.csv", "-o", "baseline.json"])
        .expect_code(0);
    let output = context
        .run(&[
            "check",
            "data.csv",
            "--baseline",
            "baseline.json",
            "--report",
        ])
        .expect_code(0);
    assert!(
        output.stdout.contains("wrote report `check-report.html`"),
        "{}",
        output.stdout
    );
    let html = std::fs::read_to_string(context.path("check-report.html")).expect("the report");
    assert!(html.contains("PASSED"), "{html}");
    assert!(
        html.contains("Train: no anomaly at error severity"),
        "{html}"
    );

    let output = context
        .run(&[
            "check",
            "data.csv",
            "--baseline",
            "baseline.json",
            "--json",
            "--report",
            "reports/check.html",
        ])
        .expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&output.stdout).expect("JSON");
    assert_eq!(json["html_report"], "reports/check.html");
    assert!(json["report"]["anomalies"].is_array(), "{json}");
    assert!(context.path("reports/check.html").is_file());
}

/// `fortunes_3class.csv` with 20 `science` quotations relabelled `food`, checked against the
/// original: label shift, so the verdict is FAILED. Returns the report's path.
fn failed_fortunes_report(context: &TestContext) -> PathBuf {
    let original = context.fixture("fortunes_3class.csv", "data.csv");
    context
        .run(&["profile", "data.csv", "-o", "baseline.json"])
        .expect_code(0);
    let mut relabelled = 0;
    let text: String = std::fs::read_to_string(original)
        .expect("read the fixture")
        .lines()
        .map(|line| {
            let (id, rest) = line.split_once(',').expect("an id");
            let line = match rest.strip_prefix("science,") {
                Some(quotation) if relabelled < 20 => {
                    relabelled += 1;
                    format!("{id},food,{quotation}")
                }
                _ => line.to_owned(),
            };
            line + "\n"
        })
        .collect();
    assert_eq!(relabelled, 20);
    context.write("relabelled.csv", &text);
    let output = context
        .run(&[
            "check",
            "relabelled.csv",
            "--baseline",
            "baseline.json",
            "--report",
            "report.html",
        ])
        .expect_code(1);
    assert!(output.stdout.contains("label-shift"), "{}", output.stdout);
    context.path("report.html")
}

#[test]
fn the_report_renders_in_chromium_without_console_errors() {
    let context = TestContext::new();
    // First make sure that a script error on a page would show: otherwise the check below
    // could pass for the wrong reason.
    let broken = context.write(
        "broken.html",
        "<!DOCTYPE html><title>broken</title><p>x</p><script>undefinedFunction()</script>",
    );
    let control = chromium(&context, "profile-control", &["--dump-dom"], &broken);
    assert!(
        console_lines(&control.stderr)
            .iter()
            .any(|line| line.contains("Uncaught")),
        "chromium no longer reports uncaught exceptions on stderr; adapt the test:\n{}",
        control.stderr
    );

    let report = failed_fortunes_report(&context);
    let browser = chromium(&context, "profile-dom", &["--dump-dom"], &report);
    let dom = &browser.stdout;
    assert!(dom.contains("FAILED"), "{dom}");
    assert!(dom.contains("Do not train: "), "{dom}");
    assert!(dom.contains("label shift"), "{dom}");
    assert!(dom.contains("<svg"), "{dom}");
    assert!(dom.contains("Share of records per label"), "{dom}");
    assert!(
        console_lines(&browser.stderr).is_empty(),
        "the page logged to the console:\n{}",
        browser.stderr
    );
}

#[test]
fn a_screenshot_of_the_report_shows_the_failed_verdict() {
    let context = TestContext::new();
    let report = failed_fortunes_report(&context);
    let screenshot = context.path("report.png");
    let browser = chromium(
        &context,
        "profile-screenshot",
        &[
            &format!("--screenshot={}", screenshot.display()),
            "--window-size=1280,2000",
        ],
        &report,
    );
    assert!(
        console_lines(&browser.stderr).is_empty(),
        "the page logged to the console:\n{}",
        browser.stderr
    );
    let image = image::open(&screenshot)
        .unwrap_or_else(|error| panic!("`{}`: {error}", screenshot.display()))
        .to_rgb8();
    assert_eq!(image.dimensions(), (1280, 2000));
    let corner = *image.get_pixel(0, 0);
    let differing = image.pixels().filter(|pixel| **pixel != corner).count();
    let total = image.pixels().len();
    assert!(
        differing * 100 > total,
        "the page looks blank: {differing} of {total} pixels differ from the corner"
    );
    // The FAILED banner (background `#fee2e2`) sits near the top of the page.
    let banner = (0..300)
        .flat_map(|y| (0..1280).map(move |x| (x, y)))
        .filter(|(x, y)| {
            let [red, green, blue] = image.get_pixel(*x, *y).0;
            red >= 248 && (218..=234).contains(&green) && (218..=234).contains(&blue)
        })
        .count();
    assert!(
        banner > 10_000,
        "no FAILED banner in the top 300 pixels ({banner} banner pixels)"
    );
}
