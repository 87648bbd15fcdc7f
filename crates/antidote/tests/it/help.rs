//! `--help` of every command is a snapshot: a change to what the command line teaches shows in
//! review as a change to `tests/snapshots/help/*.txt`. Regenerate them with
//! `UPDATE_SNAPSHOTS=1 cargo test -p antidote --test it help`.

use std::path::PathBuf;

use crate::TestContext;

fn snapshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/help")
}

/// The subcommands `antidote --help` lists (without `help`).
fn commands(context: &TestContext) -> Vec<String> {
    let help = context.run(&["--help"]).expect_code(0).stdout;
    help.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        // A wrapped description continues on a line indented past the command column.
        .filter(|line| !line[2..].starts_with(' '))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|command| *command != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn help_of_every_command_matches_its_snapshot_and_teaches_with_an_example() {
    let context = TestContext::new();
    let commands = commands(&context);
    assert!(commands.len() >= 10, "{commands:?}");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut stale = Vec::new();
    for command in std::iter::once("antidote".to_owned()).chain(commands.iter().cloned()) {
        let args: Vec<&str> = if command == "antidote" {
            vec!["--help"]
        } else {
            vec![command.as_str(), "--help"]
        };
        let help = context
            .command()
            .args(&args)
            .env("COLUMNS", "100")
            .output()
            .expect("run antidote");
        assert!(help.status.success(), "{command} --help failed");
        let text = String::from_utf8(help.stdout).expect("UTF-8 help");
        if command != "antidote" {
            assert!(
                text.contains("Example"),
                "`antidote {command} --help` shows no example:\n{text}"
            );
        }
        let path = snapshots().join(format!("{command}.txt"));
        if update {
            std::fs::create_dir_all(snapshots()).expect("create the snapshot folder");
            std::fs::write(&path, &text).expect("write the snapshot");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(command);
        }
    }
    assert!(
        stale.is_empty(),
        "the help of {stale:?} differs from tests/snapshots/help/; review the change and run \
         `UPDATE_SNAPSHOTS=1 cargo test -p antidote --test it help`"
    );
}
