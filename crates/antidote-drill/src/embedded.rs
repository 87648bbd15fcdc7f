//! The small real datasets the drill carries, so that it runs with no data to find.
//!
//! `assets/make_assets.py` rewrites them byte for byte from Debian's packages
//! (`dataset-fashion-mnist`, `fortunes`); `assets/README.md` gives their sources and licences.

use std::path::Path;

use antidote_data::{Dataset, ReadOptions};
use antidote_redteam::InMemoryDataset;

use crate::{Data, DrillError};

/// A dataset embedded in the binary.
#[derive(Debug, Clone, Copy)]
pub struct Embedded {
    /// Its name in drill tables and on the command line.
    pub name: &'static str,
    /// One line on what it is.
    pub description: &'static str,
    /// Where it comes from and under which licence.
    pub licence: &'static str,
    /// The files, by the name the reader expects, with their bytes.
    files: &'static [(&'static str, &'static [u8])],
}

/// 6,000 Fashion-MNIST training images (about 600 per class), as IDX.
pub const FASHION_MNIST: Embedded = Embedded {
    name: "fashion-mnist-6k",
    description: "the first 6,000 Fashion-MNIST training images, 28x28 grey, 10 classes",
    licence: "Fashion-MNIST, Zalando Research (Xiao, Rasul and Vollgraf 2017), MIT licence; from Debian's dataset-fashion-mnist",
    files: &[
        (
            "train-images-idx3-ubyte.gz",
            include_bytes!("../assets/fashion-mnist-6000-images-idx3-ubyte.gz"),
        ),
        (
            "train-labels-idx1-ubyte.gz",
            include_bytes!("../assets/fashion-mnist-6000-labels-idx1-ubyte.gz"),
        ),
    ],
};

/// Every fortune of five categories of Debian's `fortunes`, the category as the label.
pub const FORTUNES: Embedded = Embedded {
    name: "fortunes-5",
    description: "3,246 quotations from five categories of Debian's fortunes (computers, politics, science, songs-poems, sports)",
    licence: "the fortune-mod collection (BSD fortune, Ken Arnold and contributors), as shipped in Debian's fortunes package; see assets/README.md",
    files: &[(
        "fortunes-5.csv.gz",
        include_bytes!("../assets/fortunes-5.csv.gz"),
    )],
};

/// 2,000 instruction-tuning pairs whose outputs are fortunes, in three JSONL shapes.
pub const INSTRUCTIONS: Embedded = Embedded {
    name: "instructions-2k",
    description: "2,000 instruction-tuning pairs (Alpaca, chat and prompt/completion shapes) whose outputs are fortunes",
    licence: "outputs from Debian's fortunes package; instructions and system prompts as documented in fixtures/instructions/README.md",
    files: &[(
        "instructions-2000.jsonl.gz",
        include_bytes!("../assets/instructions-2000.jsonl.gz"),
    )],
};

/// Every embedded dataset, in the order the default drill runs them.
pub const ALL: [Embedded; 3] = [FASHION_MNIST, FORTUNES, INSTRUCTIONS];

impl Embedded {
    /// The embedded dataset called `name`.
    #[must_use]
    pub fn named(name: &str) -> Option<Self> {
        ALL.into_iter().find(|embedded| embedded.name == name)
    }

    /// Reads the dataset with the readers every command uses (through a temporary folder, so
    /// that the IDX reader pairs the images with their labels by file name).
    pub fn load(&self) -> Result<Data, DrillError> {
        let folder = tempfile::tempdir()?;
        for (name, bytes) in self.files {
            std::fs::write(folder.path().join(name), bytes)?;
        }
        let (first, _) = self.files[0];
        let mut data = Data::open(&folder.path().join(first), &ReadOptions::default())?;
        self.name.clone_into(&mut data.name);
        Ok(data)
    }
}

impl Data {
    /// Reads a dataset from disk.
    pub fn open(path: &Path, options: &ReadOptions) -> Result<Self, DrillError> {
        let mut dataset = Dataset::open(path, options)?;
        let ids_are_positions = dataset.ids_are_positions();
        let format = dataset.format();
        let dataset = InMemoryDataset::read(&mut dataset)?;
        if dataset.records.is_empty() {
            return Err(DrillError::Empty {
                path: path.display().to_string(),
            });
        }
        Ok(Self {
            name: path.file_name().map_or_else(
                || path.display().to_string(),
                |name| name.to_string_lossy().into_owned(),
            ),
            format,
            dataset,
            ids_are_positions,
        })
    }
}
