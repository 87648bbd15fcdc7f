//! Where things are: the project folder and the ledger.

use std::path::{Path, PathBuf};

use crate::cli::GlobalArgs;

/// The name of the configuration file that marks a project folder.
pub const CONFIG_FILE: &str = "antidote.toml";

/// The folder antidote keeps its state in, inside the project folder.
pub const STATE_FOLDER: &str = ".antidote";

/// The project folder: the nearest folder from `start` upward that holds `antidote.toml` or
/// `.antidote/`; `start` itself when there is none.
#[must_use]
pub fn project_folder(start: &Path) -> PathBuf {
    start
        .ancestors()
        .find(|folder| folder.join(CONFIG_FILE).is_file() || folder.join(STATE_FOLDER).is_dir())
        .unwrap_or(start)
        .to_owned()
}

/// The ledger to write to, or `None` with `--no-ledger`.
#[must_use]
pub fn ledger_path(global: &GlobalArgs) -> Option<PathBuf> {
    if global.no_ledger {
        return None;
    }
    if let Some(path) = &global.ledger {
        return Some(path.clone());
    }
    let current = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    Some(
        project_folder(&current)
            .join(STATE_FOLDER)
            .join("ledger.db"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_folder_is_the_nearest_marked_ancestor() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        assert_eq!(project_folder(&nested), nested);
        std::fs::write(dir.path().join("a").join(CONFIG_FILE), "").unwrap();
        assert_eq!(project_folder(&nested), dir.path().join("a"));
    }
}
