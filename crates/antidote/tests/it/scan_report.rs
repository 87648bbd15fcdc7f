//! `antidote scan --report`: the HTML report escapes what the data holds (text, labels, and the
//! descriptions of thumbnails), embeds real PNG thumbnails, and renders in a real browser
//! (Debian's headless `chromium`) without console errors, with the verdict, charts and thumbnails.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::browser::{chromium, console_lines};
use crate::{TestContext, fixtures};

const SCRIPT: &str = "<script>alert(1)</script>";
const IMAGE: &str = "<img src=x onerror=alert(2)>";

/// The `src` of every `<img>` in `html`.
fn image_sources(html: &str) -> Vec<&str> {
    html.match_indices("<img ")
        .map(|(at, _)| {
            let tag = &html[at..at + html[at..].find('>').expect("a closed tag")];
            let start = tag.find("src=\"").expect("a src") + 5;
            &tag[start..start + tag[start..].find('"').expect("a closed src")]
        })
        .collect()
}

/// Decodes standard base64 (the report's data URLs), failing the test on any other character.
fn base64(text: &str) -> Vec<u8> {
    let value = |character: u8| -> u32 {
        match character {
            b'A'..=b'Z' => u32::from(character - b'A'),
            b'a'..=b'z' => u32::from(character - b'a') + 26,
            b'0'..=b'9' => u32::from(character - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            other => panic!("`{}` is not base64", char::from(other)),
        }
    };
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.trim_end_matches('=').as_bytes().chunks(4) {
        let bits = chunk
            .iter()
            .enumerate()
            .fold(0u32, |bits, (index, &character)| {
                bits | value(character) << (18 - 6 * index)
            });
        let decoded = bits.to_be_bytes();
        bytes.extend_from_slice(&decoded[1..chunk.len()]);
    }
    bytes
}

/// A CSV of short sentences with three exact copies of one hostile text, one copy labelled
/// `cat` and two labelled with markup: the duplicates detector flags the conflict, so the
/// hostile text and label must appear in the report, as text.
fn hostile_csv() -> String {
    let sentences = [
        "the cat sat on the mat",
        "a dog barked at the postman",
        "birds sing at dawn",
        "rain falls on the roof",
        "the sun rose early today",
    ];
    let mut csv = String::from("id,label,text\n");
    for index in 0..120 {
        let label = ["cat", "dog", "bird"][index % 3];
        let _ = writeln!(
            csv,
            "r{index:03},{label},{} number {index}",
            sentences[index % 5]
        );
    }
    let hostile = format!("{SCRIPT} buy now {IMAGE}");
    let _ = writeln!(csv, "h1,cat,{hostile}");
    let _ = writeln!(csv, "h2,{SCRIPT},{hostile}");
    let _ = writeln!(csv, "h3,{SCRIPT},{hostile}");
    csv
}

#[test]
fn markup_in_text_and_labels_is_escaped_in_the_scan_report() {
    let context = TestContext::new();
    context.write("data.csv", &hostile_csv());
    let output = context.run(&[
        "scan",
        "data.csv",
        "--detectors",
        "duplicates",
        "--out",
        "scan",
        "--report",
        "scan/report.html",
    ]);
    assert!(output.code == 0 || output.code == 1, "{output:?}");
    let html = std::fs::read_to_string(context.path("scan/report.html")).expect("the report");
    assert!(!html.contains("<script"), "a raw script tag:\n{html}");
    assert!(!html.contains("<img src=x"), "a raw image tag:\n{html}");
    assert!(!html.contains("onerror=alert(2)>"), "{html}");
    // The hostile text is on the page, as text, in the excerpt of a flagged record.
    let excerpt =
        "&lt;script&gt;alert(1)&lt;/script&gt; buy now &lt;img src=x onerror=alert(2)&gt;";
    assert!(html.contains(excerpt), "the text, escaped:\n{html}");
    assert!(html.contains("class=\"excerpt"), "{html}");
    // The label too, in the headings of the excerpts and in the tables.
    assert!(
        html.contains("labelled <code>&lt;script&gt;alert(1)&lt;/script&gt;</code>"),
        "the label, escaped:\n{html}"
    );
    // Escaped once, not twice.
    assert!(!html.contains("&amp;lt;"), "{html}");
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(html.contains("default-src 'none'"));
}

/// Writes a grey PNG of 8x8 pixels at `relative`, its pixels derived from `seed`.
#[test]
fn report_without_a_file_name_goes_in_the_output_folder() {
    let context = TestContext::new();
    context.fixture("fortunes_3class.csv", "data.csv");
    let output = context.run(&[
        "scan",
        "data.csv",
        "--out",
        "out",
        "--report",
        "--no-ledger",
    ]);
    assert!(matches!(output.code, 0 | 1), "{output:?}");
    let html = std::fs::read_to_string(context.path("out/report.html")).expect("out/report.html");
    assert!(
        html.starts_with("<!DOCTYPE html>"),
        "{}",
        &html[..100.min(html.len())]
    );
    assert!(
        output.stderr.contains("out/report.html"),
        "{}",
        output.stderr
    );
}

fn png(context: &TestContext, relative: &str, seed: u8) {
    let path = context.path(relative);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create folders");
    image::GrayImage::from_fn(8, 8, |x, y| {
        image::Luma([seed.wrapping_mul(37).wrapping_add((x * 8 + y) as u8)])
    })
    .save(&path)
    .expect("write the PNG");
}

#[test]
fn thumbnails_carry_no_markup_from_the_data() {
    // An image folder whose class is named with markup, holding an exact copy of an image of
    // another class: the duplicates detector flags the pair, so both get thumbnails whose
    // descriptions name the class.
    let context = TestContext::new();
    let hostile = "<img src=x onerror=alert(1)>";
    for index in 0..6 {
        png(&context, &format!("data/shirt/{index}.png"), index);
        png(
            &context,
            &format!("data/{hostile}/{index}.png"),
            100 + index,
        );
    }
    png(&context, &format!("data/{hostile}/copy.png"), 0);
    let output = context.run(&[
        "scan",
        "data",
        "--detectors",
        "duplicates",
        "--out",
        "scan",
        "--report",
        "scan/report.html",
    ]);
    assert!(output.code == 0 || output.code == 1, "{output:?}");
    let html = std::fs::read_to_string(context.path("scan/report.html")).expect("the report");
    assert!(!html.contains("<img src=x"), "a raw image tag:\n{html}");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    let sources = image_sources(&html);
    assert!(
        sources.len() >= 2,
        "the flagged pair as thumbnails:\n{html}"
    );
    for source in sources {
        let payload = source
            .strip_prefix("data:image/png;base64,")
            .unwrap_or_else(|| panic!("not a PNG data URL: {source}"));
        let picture = image::load_from_memory(&base64(payload)).expect("a PNG");
        assert_eq!((picture.width(), picture.height()), (8, 8));
    }
}

/// Fashion-MNIST's first 300 training images with a `BadNets` patch on 5% of them, scanned with a
/// report. Returns the report's path.
fn badnets_report(context: &TestContext) -> PathBuf {
    let folder = fixtures().join("fashion_mnist_300");
    for name in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"] {
        context.fixture(
            &format!("fashion_mnist_300/{name}"),
            &format!("clean/{name}"),
        );
        assert!(folder.join(name).is_file());
    }
    context
        .run(&[
            "poison",
            "clean/train-images-idx3-ubyte.gz",
            "--attack",
            "badnets",
            "--rate",
            "0.05",
            "--seed",
            "2",
            "-o",
            "poisoned/",
        ])
        .expect_code(0);
    context
        .run(&[
            "scan",
            "poisoned/train-images-idx3-ubyte.gz",
            "--detectors",
            "trigger-search,spectral-signatures",
            "--out",
            "scan",
            "--report",
            "scan/report.html",
        ])
        .expect_code(1);
    context.path("scan/report.html")
}

#[test]
fn the_image_report_shows_the_trigger_and_thumbnails_of_real_pngs() {
    let context = TestContext::new();
    let html = std::fs::read_to_string(badnets_report(&context)).expect("the report");
    // The verdict names the trigger first, in one sentence.
    let verdict = html.find("class=\"headline\"").expect("the verdict");
    assert!(
        html[verdict..].starts_with(
            "class=\"headline\">Do not train: a backdoor trigger, a 4x4 pixel patch at x 24, y 24"
        ),
        "{}",
        &html[verdict..verdict + 300]
    );
    assert!(html.contains("Discovered triggers"), "{html}");
    // Thumbnails: 28x28 grey PNGs, flagged beside typical records of their class; the trigger
    // card adds pictures of the patch.
    let sources = image_sources(&html);
    assert!(sources.len() >= 20, "{} pictures", sources.len());
    let mut thumbnails = 0;
    for source in &sources {
        let payload = source
            .strip_prefix("data:image/png;base64,")
            .unwrap_or_else(|| panic!("not a PNG data URL: {source}"));
        let picture = image::load_from_memory(&base64(payload)).expect("a PNG");
        if (picture.width(), picture.height()) == (28, 28) {
            thumbnails += 1;
        }
    }
    assert!(thumbnails >= 20, "{thumbnails} thumbnails of 28x28");
    assert!(html.contains("picture-set bad"), "flagged thumbnails");
    assert!(html.contains("picture-set good"), "typical thumbnails");
    // The recovered patch itself: 4x4 white pixels.
    let patch = sources
        .iter()
        .map(|source| {
            image::load_from_memory(&base64(&source["data:image/png;base64,".len()..]))
                .expect("a PNG")
        })
        .find(|picture| (picture.width(), picture.height()) == (4, 4))
        .expect("a picture of the 4x4 patch");
    assert!(patch.to_luma8().pixels().all(|pixel| pixel.0[0] == 255));
    // A chart per detector with scores, and the lock root in the provenance.
    assert!(html.matches("<svg class=\"chart-svg\"").count() >= 2);
    assert!(html.contains("Lock root"), "{html}");
    assert!(html.contains("blake3:"), "{html}");
    // The page stays small: thumbnails are capped.
    assert!(html.len() < 1_500_000, "{} bytes", html.len());
}

#[test]
fn the_scan_report_renders_in_chromium_with_verdict_charts_and_thumbnails() {
    let context = TestContext::new();
    // First make sure that a refused image would show on stderr: otherwise the check below
    // could pass for the wrong reason. The report's own policy allows only `data:` images.
    let control = context.write(
        "control.html",
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" \
         content=\"default-src 'none'; img-src data:\"></head><body>\
         <img src=\"file:///nowhere.png\"></body></html>",
    );
    let browser = chromium(&context, "profile-control", &["--dump-dom"], &control);
    assert!(
        console_lines(&browser.stderr)
            .iter()
            .any(|line| line.contains("nowhere.png")),
        "chromium no longer reports refused images on stderr; adapt the test:\n{}",
        browser.stderr
    );

    let report = badnets_report(&context);
    let browser = chromium(&context, "profile-dom", &["--dump-dom"], &report);
    let dom = &browser.stdout;
    assert!(dom.contains("FAILED"), "{dom}");
    assert!(dom.contains("Do not train: a backdoor trigger"), "{dom}");
    assert!(dom.contains("<svg class=\"chart-svg\""), "{dom}");
    assert!(dom.contains("Score distribution"), "{dom}");
    assert!(
        dom.matches("<img src=\"data:image/png;base64,").count() >= 20,
        "thumbnails in the DOM:\n{dom}"
    );
    assert!(
        console_lines(&browser.stderr).is_empty(),
        "the page logged to the console:\n{}",
        browser.stderr
    );
}

#[test]
fn a_screenshot_of_the_scan_report_shows_the_verdict_and_the_thumbnails() {
    let context = TestContext::new();
    let report = badnets_report(&context);
    let screenshot = context.path("report.png");
    let browser = chromium(
        &context,
        "profile-screenshot",
        &[
            &format!("--screenshot={}", screenshot.display()),
            "--window-size=1280,1600",
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
    assert_eq!(image.dimensions(), (1280, 1600));
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
    // Nothing on the page is drawn in pure black but the pictures (Fashion-MNIST's background):
    // thousands of black pixels mean the thumbnails were decoded and drawn.
    let black = image
        .pixels()
        .filter(|pixel| pixel.0.iter().all(|&channel| channel < 6))
        .count();
    assert!(
        black > 20_000,
        "the thumbnails did not render: {black} black pixels"
    );
}
