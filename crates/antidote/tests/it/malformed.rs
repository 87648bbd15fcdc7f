//! Hostile and malformed input: every file of `fixtures/malformed/` (and the large inputs
//! generated here: a gzip bomb, a 1 GiB line) goes through every command that reads data. Each
//! run must exit 2 with an `error:` naming the file, never panic, and leave no output behind.
//! `verify` is the exception by design: data that no longer reads is data that no longer matches
//! its lock, so it reports `FAILED` (exit 1) with the read error, as for any other change.
//! A panic that remains is turned into an `internal error` with exit 2 (the panic hook).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Output, TestContext, fixtures};

/// One malformed dataset: where it sits in the context folder, the file an error must name,
/// extra arguments, and a valid dataset of the same format to lock first for `verify`.
struct Case {
    data: String,
    names: String,
    extra: Vec<&'static str>,
    valid: Option<Vec<u8>>,
}

const VALID_CSV: &[u8] = b"id,label,text\n1,a,hello\n2,b,world\n";
const VALID_JSONL: &[u8] = b"{\"id\": 1, \"label\": \"a\", \"text\": \"hello\"}\n";

fn valid_idx() -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, 3];
    for size in [1u32, 2, 2] {
        bytes.extend_from_slice(&size.to_be_bytes());
    }
    bytes.extend_from_slice(&[0, 64, 128, 255]);
    bytes
}

fn valid_png() -> Vec<u8> {
    let mut bytes = Vec::new();
    image::GrayImage::from_raw(2, 2, vec![0, 64, 128, 255])
        .expect("four pixels")
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .expect("encode");
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("compress");
    encoder.finish().expect("compress")
}

/// The committed corpus, each file with the valid counterpart `verify` locks first.
fn committed() -> Vec<Case> {
    let file = |name: &str, valid: Option<Vec<u8>>| Case {
        data: name.to_owned(),
        names: name.to_owned(),
        extra: Vec::new(),
        valid,
    };
    let folder = |name: &str, image: &str| Case {
        data: name.to_owned(),
        names: format!("{name}/cat/{image}"),
        extra: Vec::new(),
        valid: Some(valid_png()),
    };
    vec![
        file("truncated.csv", Some(VALID_CSV.to_vec())),
        file("invalid-utf8.csv", Some(VALID_CSV.to_vec())),
        file("truncated.jsonl", Some(VALID_JSONL.to_vec())),
        file("invalid-utf8.jsonl", Some(VALID_JSONL.to_vec())),
        file("nested-bomb.jsonl", Some(VALID_JSONL.to_vec())),
        Case {
            extra: vec!["--max-record-bytes", "1KiB"],
            ..file("long-line.jsonl", Some(VALID_JSONL.to_vec()))
        },
        file("truncated.jsonl.gz", Some(gzip(VALID_JSONL))),
        file("truncated-images-idx3-ubyte", Some(valid_idx())),
        file("overflow-images-idx4-ubyte", None),
        file("claims-more-images-idx3-ubyte", Some(valid_idx())),
        file("wrong-magic-images-idx3-ubyte", Some(valid_idx())),
        folder("huge-png", "huge.png"),
        folder("truncated-png", "truncated.png"),
        folder("wrong-magic-png", "not-a.png"),
        // No Parquet writer is at hand for a valid counterpart: `verify` is not run on these.
        file("truncated-footer.parquet", None),
        file("wrong-magic.parquet", None),
        file("huge-page.parquet", None),
        Case {
            extra: vec!["--max-record-bytes", "64KiB"],
            ..file("page-bomb.parquet", None)
        },
        file("page-beyond-chunk.parquet", None),
        // Found by `bench/fuzz.sh` (read_parquet): a footer with a negative chunk offset made the
        // parquet crate's `byte_range` panic; the input is kept as the fuzzer wrote it.
        file("negative-chunk.parquet", None),
    ]
}

/// Copies a fixture file or folder of `fixtures/malformed/` into the context.
fn copy_fixture(context: &TestContext, name: &str) {
    let source = fixtures().join("malformed").join(name);
    if source.is_dir() {
        for entry in walk(&source) {
            let relative = entry.strip_prefix(&source).expect("inside");
            let target = context.path(name).join(relative);
            std::fs::create_dir_all(target.parent().expect("a parent")).expect("create");
            std::fs::copy(&entry, target).expect("copy");
        }
    } else {
        std::fs::copy(&source, context.path(name)).expect("copy");
    }
}

fn walk(folder: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![folder.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("read folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Every file in the context, except the ledger (a failed run may record that it failed).
fn listing(context: &TestContext) -> BTreeSet<PathBuf> {
    walk(context.dir.path())
        .into_iter()
        .filter(|path| !path.starts_with(context.path(".antidote")))
        .collect()
}

#[track_caller]
fn assert_refused(output: &Output, case: &Case, command: &str) {
    let context = format!(
        "`{command}` on `{}`\nexit code {}\nstdout:\n{}\nstderr:\n{}",
        case.data, output.code, output.stdout, output.stderr
    );
    assert_eq!(output.code, 2, "{context}");
    assert!(output.stderr.starts_with("error: "), "{context}");
    assert!(output.stderr.contains(&case.names), "{context}");
    for text in ["panicked", "internal error", "RUST_BACKTRACE"] {
        assert!(!output.stderr.contains(text), "{context}");
    }
}

/// Runs every data-reading command on one case in a fresh context and checks each refusal.
fn run_case(case: &Case, place: impl Fn(&TestContext)) {
    let context = TestContext::new();
    context.write(
        "baseline.csv",
        std::str::from_utf8(VALID_CSV).expect("text"),
    );
    context
        .run(&["profile", "baseline.csv", "-o", "baseline.json"])
        .expect_code(0);
    std::fs::remove_file(context.path("baseline.csv")).expect("remove");
    place(&context);
    let before = listing(&context);
    let data = case.data.as_str();
    let commands: [(&str, Vec<&str>); 5] = [
        ("lock", vec!["lock", data]),
        ("profile", vec!["profile", data]),
        ("check", vec!["check", data, "--baseline", "baseline.json"]),
        ("scan", vec!["scan", data]),
        ("diff", vec!["diff", data, data]),
    ];
    for (name, mut args) in commands {
        args.extend(&case.extra);
        let output = context.run(&args);
        assert_refused(&output, case, name);
        assert_eq!(
            listing(&context),
            before,
            "`{name}` on `{data}` left files behind"
        );
    }
    if let Some(valid) = &case.valid {
        // Lock a valid dataset at the same path, then put the malformed one in its place.
        let verify = TestContext::new();
        let target = verify.path(data);
        let valid_path = if context.path(data).is_dir() {
            let image = case.names.rsplit('/').next().expect("a file name");
            target.join("cat").join(image)
        } else {
            target.clone()
        };
        std::fs::create_dir_all(valid_path.parent().expect("a parent")).expect("create");
        std::fs::write(&valid_path, valid).expect("write");
        verify
            .run(&["lock", data, "-o", "data.lock"])
            .expect_code(0);
        if target.is_dir() {
            std::fs::remove_dir_all(&target).expect("remove");
        } else {
            std::fs::remove_file(&target).expect("remove");
        }
        place(&verify);
        let before = listing(&verify);
        let mut args = vec!["verify", "data.lock"];
        args.extend(&case.extra);
        let output = verify.run(&args);
        let context = format!(
            "`verify` on `{data}`\nexit code {}\nstdout:\n{}\nstderr:\n{}",
            output.code, output.stdout, output.stderr
        );
        assert_eq!(output.code, 1, "{context}");
        assert!(
            output
                .stdout
                .starts_with("FAILED: the data does not match `data.lock`"),
            "{context}"
        );
        assert!(
            output.stdout.contains("can no longer be read: "),
            "{context}"
        );
        assert!(output.stdout.contains(&case.names), "{context}");
        for text in ["panicked", "internal error"] {
            assert!(
                !output.stdout.contains(text) && !output.stderr.contains(text),
                "{context}"
            );
        }
        assert_eq!(listing(&verify), before, "`verify` left files behind");
    }
}

#[test]
fn every_committed_malformed_file_is_refused_by_every_command() {
    for case in committed() {
        run_case(&case, |context| copy_fixture(context, &case.data));
    }
}

/// A page header is checked before the page is read: a forged size, and a genuine bomb under a
/// small limit, are refused by the limit on one record, with the place and the hint.
#[test]
fn parquet_pages_are_bounded_by_the_record_limit() {
    let context = TestContext::new();
    copy_fixture(&context, "huge-page.parquet");
    copy_fixture(&context, "page-bomb.parquet");
    copy_fixture(&context, "page-beyond-chunk.parquet");
    let output = context
        .run(&["profile", "huge-page.parquet"])
        .expect_code(2);
    assert!(
        output.stderr.contains(
            "`huge-page.parquet` row group 0, column `x`, page 0: the page declares 1.9 GiB decompressed, more than the limit of 64.0 MiB"
        ),
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains("--max-record-bytes"),
        "{}",
        output.stderr
    );
    // The bomb really decompresses to 1 MiB: refused under 64 KiB, read under the default.
    let output = context
        .run(&[
            "profile",
            "page-bomb.parquet",
            "--max-record-bytes",
            "64KiB",
        ])
        .expect_code(2);
    assert!(
        output
            .stderr
            .contains("page 0: the page declares 1.0 MiB decompressed"),
        "{}",
        output.stderr
    );
    context
        .run(&["profile", "page-bomb.parquet", "-o", "bomb.json"])
        .expect_code(0);
    let output = context
        .run(&["profile", "page-beyond-chunk.parquet"])
        .expect_code(2);
    assert!(
        output
            .stderr
            .contains("page 0 claims 4160 bytes, but only 64 are left in its chunk"),
        "{}",
        output.stderr
    );
}

/// Writes `prefix`, then makes the file `size` bytes long without writing them: a sparse file
/// whose one line goes on for `size` bytes of zeros, at no cost in disk or time.
fn sparse_line(path: &Path, prefix: &[u8], size: u64) {
    let mut file = std::fs::File::create(path).expect("create");
    file.write_all(prefix).expect("write");
    file.set_len(size).expect("extend");
}

#[test]
fn a_one_gigabyte_line_stops_at_the_record_limit() {
    for (name, prefix, valid, at) in [
        (
            "long.csv",
            &b"id,label,text\n1,a,"[..],
            VALID_CSV,
            "line 2 (byte 14)",
        ),
        (
            "long.jsonl",
            &b"{\"id\": 1, \"label\": \"a\", \"text\": \""[..],
            VALID_JSONL,
            "line 1 (byte 0)",
        ),
    ] {
        // Every command on a 16 MiB line under a small limit (`lock` and `verify` hash whole
        // files, so the 1 GiB line is read once), then `lock` of 1 GiB under the default limit.
        let case = Case {
            data: name.to_owned(),
            names: name.to_owned(),
            extra: vec!["--max-record-bytes", "1MiB"],
            valid: Some(valid.to_vec()),
        };
        run_case(&case, |context| {
            sparse_line(&context.path(name), prefix, 16 << 20);
        });
        let context = TestContext::new();
        sparse_line(&context.path(name), prefix, 1 << 30);
        let output = context.run(&["lock", name]).expect_code(2);
        assert!(
            output.stderr.starts_with(&format!(
                "error: `[TEMP_DIR]/{name}` {at}: the record is longer than the limit of 64.0 MiB"
            )),
            "{}",
            output.stderr
        );
        assert!(!context.path("antidote.lock").exists());
    }
}

#[test]
fn a_gzip_bomb_stops_at_the_record_limit() {
    // 100 MiB of zeros without a newline compress to about 100 KiB.
    let bomb = |prefix: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(prefix).expect("compress");
        let zeros = vec![b'0'; 1 << 20];
        for _ in 0..100 {
            encoder.write_all(&zeros).expect("compress");
        }
        encoder.finish().expect("compress")
    };
    for (name, prefix, valid) in [
        ("bomb.csv.gz", &b"id,label,text\n1,a,"[..], VALID_CSV),
        (
            "bomb.jsonl.gz",
            &b"{\"id\": 1, \"label\": \"a\", \"text\": \""[..],
            VALID_JSONL,
        ),
    ] {
        let compressed = bomb(prefix);
        assert!(compressed.len() < 1 << 20, "a bomb: small compressed");
        let case = Case {
            data: name.to_owned(),
            names: name.to_owned(),
            extra: vec!["--max-record-bytes", "1MiB"],
            valid: Some(gzip(valid)),
        };
        run_case(&case, |context| {
            std::fs::write(context.path(name), &compressed).expect("write");
        });
        let context = TestContext::new();
        std::fs::write(context.path(name), &compressed).expect("write");
        let output = context.run(&["lock", name]).expect_code(2);
        assert!(
            output.stderr.contains(
                "the record is longer than the limit of 64.0 MiB\n\nhint: the file may be corrupt or hostile"
            ),
            "{}",
            output.stderr
        );
    }
}

#[test]
fn the_record_limit_comes_from_the_flag_the_environment_or_the_configuration() {
    let context = TestContext::new();
    copy_fixture(&context, "long-line.jsonl");
    // The 2 KiB line reads under the default limit.
    context.run(&["lock", "long-line.jsonl"]).expect_code(0);
    let output = context
        .run(&["lock", "long-line.jsonl", "--max-record-bytes", "1 KiB"])
        .expect_code(2);
    assert!(
        output.stderr.starts_with(
            "error: `[TEMP_DIR]/long-line.jsonl` line 1 (byte 0): the record is longer than the limit of 1.0 KiB"
        ),
        "{}",
        output.stderr
    );
    let output = context
        .command()
        .args(["lock", "long-line.jsonl"])
        .env("ANTIDOTE_MAX_RECORD_BYTES", "1024")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    context.write("antidote.toml", "[data]\nmax_record_bytes = \"1 KiB\"\n");
    let output = context.run(&["lock", "long-line.jsonl"]).expect_code(2);
    assert!(
        output.stderr.contains("limit of 1.0 KiB"),
        "{}",
        output.stderr
    );
    // The flag wins over the configuration.
    context
        .run(&["lock", "long-line.jsonl", "--max-record-bytes", "4KiB"])
        .expect_code(0);
    let output = context
        .run(&["lock", "long-line.jsonl", "--max-record-bytes", "lots"])
        .expect_code(2);
    assert!(output.stderr.contains("is not a size"), "{}", output.stderr);
}

#[test]
fn a_panic_is_an_internal_error_with_exit_code_two() {
    let context = TestContext::new();
    context.write("d.csv", std::str::from_utf8(VALID_CSV).expect("text"));
    let run = |verbose: bool| {
        let mut command = context.command();
        command
            .args(["lock", "d.csv"])
            .env("ANTIDOTE_TEST_PANIC", "1");
        if verbose {
            command.arg("-v");
        }
        let output = command.output().expect("run");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(false);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.starts_with(
            "error: internal error: ANTIDOTE_TEST_PANIC is set: a deliberate panic to test the panic hook at crates/antidote/src/lib.rs:"
        ),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            "\nhint: this is a bug in antidote; please report it with the command line\n"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !stderr.contains("std::panicking"),
        "no backtrace without -v"
    );
    assert!(!context.path("antidote.lock").exists());
    let (code, stderr) = run(true);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("std::panicking") && stderr.contains("crates/antidote/src/lib.rs"),
        "-v prints the backtrace:\n{stderr}"
    );
}
