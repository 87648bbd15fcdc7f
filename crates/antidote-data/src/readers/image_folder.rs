//! Image folders: one sub-folder per class, PNG and JPEG files inside.
//!
//! The layout of torchvision's `ImageFolder` and of Keras' `image_dataset_from_directory`:
//! `root/cat/001.png`, `root/dog/xyz.jpg`. Classes are the sub-folder names in sorted order,
//! images within a class are sorted by their path relative to the class folder (sub-folders of a
//! class folder are walked too, as torchvision does), and each record has the columns `id` (the
//! path relative to the root, `/`-separated), `label` (the class) and `image`. Files are listed
//! when the folder is opened, through an external sort so that the listing of millions of images
//! does not stay in memory, and decoded a window at a time as records are read.

use std::collections::VecDeque;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::ImageDecoder;
use rayon::prelude::*;

use super::{Row, RowSource};
use crate::external_sort::{ExternalSort, Sorted, bytes_path, path_bytes};
use crate::limits::Limits;
use crate::{ColumnKind, Image, ReadError, Value};

/// Entries looked at per class folder when guessing whether a folder is an image folder.
const DETECTION_ENTRIES: usize = 256;

/// Whether a file name has an image extension antidote decodes (`.png`, `.jpg`, `.jpeg`).
fn is_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| {
            ["png", "jpg", "jpeg"]
                .iter()
                .any(|wanted| extension.eq_ignore_ascii_case(wanted))
        })
}

/// Whether a file or folder name is hidden (`.DS_Store`, `.git`).
fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

/// Whether a file may sit next to the class folders without making the folder something else:
/// documentation and licences, not data.
fn is_documentation(path: &Path) -> bool {
    let extension = path
        .extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase);
    if matches!(
        extension.as_deref(),
        Some("txt" | "md" | "markdown" | "rst")
    ) {
        return true;
    }
    let stem = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .map(str::to_ascii_uppercase);
    matches!(
        stem.as_deref(),
        Some(
            "README"
                | "LICENSE"
                | "LICENCE"
                | "COPYING"
                | "NOTICE"
                | "AUTHORS"
                | "CITATION"
                | "CHANGELOG"
        )
    )
}

/// Whether `path` is a folder of class sub-folders holding images.
///
/// At least one non-hidden sub-folder must directly contain a PNG or JPEG file, and the top
/// level may hold no files other than documentation (`README`, licences, `.txt`, `.md`). Only
/// directory entries are looked at, at most a few hundred per class folder, so the check stays
/// cheap on large datasets.
pub(crate) fn is_image_folder(path: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(path) else {
        return false;
    };
    let mut classes = Vec::new();
    for entry in entries {
        let Ok(entry) = entry else {
            return false;
        };
        if is_hidden(&entry.file_name()) {
            continue;
        }
        let entry_path = entry.path();
        if entry_path.is_dir() {
            classes.push(entry_path);
        } else if !is_documentation(&entry_path) {
            return false;
        }
    }
    classes.iter().any(|class| {
        std::fs::read_dir(class).is_ok_and(|entries| {
            entries
                .take(DETECTION_ENTRIES)
                .filter_map(Result::ok)
                .any(|entry| {
                    !is_hidden(&entry.file_name())
                        && is_image_name(&entry.path())
                        && entry.path().is_file()
                })
        })
    })
}

/// One image file of the folder, listed and waiting to be decoded.
struct Entry {
    /// The file.
    path: PathBuf,
    /// Its path relative to the root, `/`-separated: the record id.
    id: String,
    /// Index into [`ImageFolderSource::classes`].
    class: usize,
}

/// Images decoded together, in parallel: enough to keep every core busy on small images,
/// few enough that the decoded window stays small next to a reader's batch.
const DECODE_WINDOW: usize = 32;

/// Streams the images of a folder in record order, decoding a window of the next images in
/// parallel. The listing is an external sort (class index, then id), so a folder of millions
/// of images is read in the same bounded memory as a folder of ten.
struct ImageFolderSource {
    columns: Vec<(Arc<str>, ColumnKind)>,
    classes: Vec<String>,
    listing: Sorted,
    next: u64,
    /// The listed images of the window being read, in order, with their decoded images.
    window: VecDeque<(Entry, Result<Image, ImageFailure>)>,
    limits: Limits,
}

fn io_error(path: &Path, source: std::io::Error) -> ReadError {
    ReadError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The non-hidden sub-folders of `root`, sorted by name, with their names.
fn list_classes(root: &Path) -> Result<Vec<(String, PathBuf)>, ReadError> {
    let mut classes = Vec::new();
    for entry in fs_err::read_dir(root).map_err(|source| io_error(root, source))? {
        let entry = entry.map_err(|source| io_error(root, source))?;
        let name = entry.file_name();
        if is_hidden(&name) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            classes.push((name.to_string_lossy().into_owned(), path));
        } else {
            tracing::debug!("ignoring `{}`: not a class folder", path.display());
        }
    }
    classes.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(classes)
}

/// Lists the image files under one class folder into `listing`, keyed by the class's index
/// and the image's id; returns how many.
fn list_images(
    class: u32,
    class_name: &str,
    class_path: &Path,
    listing: &mut ExternalSort,
) -> Result<u64, ReadError> {
    let mut count = 0;
    let walk = walkdir::WalkDir::new(class_path)
        .min_depth(1)
        .follow_links(true)
        .into_iter()
        .filter_entry(|entry| !is_hidden(entry.file_name()));
    for entry in walk {
        let entry = entry.map_err(|error| {
            let path = error.path().unwrap_or(class_path).to_owned();
            let source = error.into_io_error().unwrap_or_else(|| {
                std::io::Error::other("a symbolic link loops back to a parent folder")
            });
            io_error(&path, source)
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        let path = entry.path();
        if !is_image_name(path) {
            tracing::debug!("ignoring `{}`: not a PNG or JPEG file", path.display());
            continue;
        }
        let relative = path.strip_prefix(class_path).unwrap_or(path);
        let mut key = class.to_be_bytes().to_vec();
        key.extend_from_slice(class_name.as_bytes());
        for component in relative.components() {
            key.push(b'/');
            key.extend_from_slice(component.as_os_str().to_string_lossy().as_bytes());
        }
        listing
            .push(key, path_bytes(path))
            .map_err(|source| io_error(&std::env::temp_dir(), source))?;
        count += 1;
    }
    Ok(count)
}

/// Opens an image folder; returns the source and the files it is read from (the folder).
pub(crate) fn open(
    path: &Path,
    limits: Limits,
) -> Result<(Box<dyn RowSource>, Vec<PathBuf>), ReadError> {
    let mut classes = Vec::new();
    let mut listing = ExternalSort::default();
    for (class_name, class_path) in list_classes(path)? {
        // The index among the classes with images: an empty class folder gives its number to
        // the next one.
        let class = u32::try_from(classes.len()).map_err(|_| {
            io_error(
                path,
                std::io::Error::other("more than 4 billion class folders"),
            )
        })?;
        if list_images(class, &class_name, &class_path, &mut listing)? == 0 {
            tracing::debug!(
                "class folder `{}` under `{}` has no images",
                class_name,
                path.display()
            );
            continue;
        }
        classes.push(class_name);
    }
    if listing.is_empty() {
        return Err(ReadError::Empty {
            path: path.to_owned(),
        });
    }
    let listing = listing
        .finish()
        .map_err(|source| io_error(&std::env::temp_dir(), source))?;
    let source = ImageFolderSource {
        columns: vec![
            (Arc::from("id"), ColumnKind::Categorical),
            (Arc::from("label"), ColumnKind::Categorical),
            (Arc::from("image"), ColumnKind::Image),
        ],
        classes,
        listing,
        next: 0,
        window: VecDeque::with_capacity(DECODE_WINDOW),
        limits,
    };
    Ok((Box::new(source), vec![path.to_owned()]))
}

impl ImageFolderSource {
    /// The next listed image, `None` after the last.
    fn next_entry(&mut self) -> Option<Result<Entry, ReadError>> {
        let (key, path) = match self.listing.next()? {
            Ok(pair) => pair,
            Err(source) => return Some(Err(io_error(&std::env::temp_dir(), source))),
        };
        let (class, id) = key.split_at(4);
        let class = u32::from_be_bytes(class.try_into().expect("four bytes")) as usize;
        Some(Ok(Entry {
            path: bytes_path(path),
            id: String::from_utf8_lossy(id).into_owned(),
            class,
        }))
    }
}

impl RowSource for ImageFolderSource {
    fn columns(&self) -> &[(Arc<str>, ColumnKind)] {
        &self.columns
    }

    fn next_row(&mut self) -> Option<Result<Row, ReadError>> {
        if self.window.is_empty() {
            // List and decode the next window in parallel; results keep the files' order, so
            // records come out exactly as one-at-a-time decoding gives them.
            let mut entries = Vec::with_capacity(DECODE_WINDOW);
            while entries.len() < DECODE_WINDOW {
                match self.next_entry() {
                    Some(Ok(entry)) => entries.push(entry),
                    Some(Err(error)) => return Some(Err(error)),
                    None => break,
                }
            }
            let limits = self.limits;
            let decoded: Vec<Result<Image, ImageFailure>> = entries
                .par_iter()
                .map(|entry| read_image(&entry.path, limits))
                .collect();
            self.window.extend(entries.into_iter().zip(decoded));
        }
        let (entry, decoded) = self.window.pop_front()?;
        let index = self.next;
        self.next += 1;
        let image = match decoded {
            Ok(image) => image,
            Err(failure) => return Some(Err(failure.into_read_error(entry.path))),
        };
        let names = &self.columns;
        Some(Ok(Row {
            line: index,
            values: vec![
                (Arc::clone(&names[0].0), Value::Text(entry.id)),
                (
                    Arc::clone(&names[1].0),
                    Value::Text(self.classes[entry.class].clone()),
                ),
                (Arc::clone(&names[2].0), Value::Image(image)),
            ],
        }))
    }
}

/// Why an image did not decode.
#[derive(Debug)]
pub(crate) enum ImageFailure {
    /// Its header declares more pixels than the per-record limit allows.
    TooLarge {
        width: u32,
        height: u32,
        size: u64,
        limit: u64,
    },
    /// The decoder's error.
    Decode(image::ImageError),
}

impl From<image::ImageError> for ImageFailure {
    fn from(error: image::ImageError) -> Self {
        Self::Decode(error)
    }
}

impl From<std::io::Error> for ImageFailure {
    fn from(error: std::io::Error) -> Self {
        Self::Decode(image::ImageError::IoError(error))
    }
}

impl ImageFailure {
    /// The read error for the image at `path` (a file, or a place in a Parquet file).
    pub(crate) fn into_read_error(self, path: PathBuf) -> ReadError {
        match self {
            Self::TooLarge {
                width,
                height,
                size,
                limit,
            } => ReadError::ImageTooLarge {
                path,
                width,
                height,
                size,
                limit,
            },
            Self::Decode(source) => ReadError::Image { path, source },
        }
    }
}

/// Decodes an image file, trusting its content over its extension.
fn read_image(path: &Path, limits: Limits) -> Result<Image, ImageFailure> {
    let file = fs_err::File::open(path)?;
    let mut reader = image::ImageReader::new(BufReader::new(file)).with_guessed_format()?;
    if reader.format().is_none() {
        // Unrecognised content: let the extension pick the decoder, whose error says more.
        if let Ok(format) = image::ImageFormat::from_path(path) {
            reader.set_format(format);
        }
    }
    decode(reader, limits)
}

/// Decodes an image whose format is known, after checking the size its header declares against
/// the per-record limit: a 100-byte PNG may claim 100000 × 100000 pixels.
pub(crate) fn decode<R: std::io::BufRead + std::io::Seek>(
    mut reader: image::ImageReader<R>,
    limits: Limits,
) -> Result<Image, ImageFailure> {
    // The header is read with no limit so that the check below can name the declared size;
    // the decoder is then held to the limit for everything it allocates.
    reader.no_limits();
    let mut decoder = reader.into_decoder()?;
    let (width, height) = decoder.dimensions();
    let size = decoder.total_bytes();
    if size > limits.max_record_bytes {
        return Err(ImageFailure::TooLarge {
            width,
            height,
            size,
            limit: limits.max_record_bytes,
        });
    }
    decoder.set_limits(limits.image())?;
    Ok(from_dynamic(image::DynamicImage::from_decoder(decoder)?))
}

/// Converts a decoded image to 8-bit channels: grey, grey and alpha, RGB or RGBA.
///
/// 16-bit and floating-point images are scaled down to 8 bits, keeping their channel count.
pub(crate) fn from_dynamic(image: image::DynamicImage) -> Image {
    use image::DynamicImage;

    let (width, height) = (image.width(), image.height());
    let (channels, pixels) = match image {
        DynamicImage::ImageLuma8(buffer) => (1, buffer.into_raw()),
        DynamicImage::ImageLuma16(_) => (1, image.into_luma8().into_raw()),
        DynamicImage::ImageLumaA8(buffer) => (2, buffer.into_raw()),
        DynamicImage::ImageLumaA16(_) => (2, image.into_luma_alpha8().into_raw()),
        DynamicImage::ImageRgb8(buffer) => (3, buffer.into_raw()),
        DynamicImage::ImageRgb16(_) | DynamicImage::ImageRgb32F(_) => {
            (3, image.into_rgb8().into_raw())
        }
        DynamicImage::ImageRgba8(buffer) => (4, buffer.into_raw()),
        _ => (4, image.into_rgba8().into_raw()),
    };
    Image {
        width,
        height,
        channels,
        pixels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_record_bytes: crate::limits::DEFAULT_MAX_RECORD_BYTES,
    };

    /// `root/cat/{001,002}.png` (grey), `root/dog/a.png` (RGB), `root/dog/b.jpg`, plus noise.
    fn folder() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let cat = root.path().join("cat");
        let dog = root.path().join("dog");
        fs_err::create_dir(&cat).unwrap();
        fs_err::create_dir(&dog).unwrap();
        image::GrayImage::from_raw(2, 2, vec![0, 64, 128, 255])
            .unwrap()
            .save(cat.join("002.png"))
            .unwrap();
        image::GrayImage::from_raw(1, 2, vec![7, 9])
            .unwrap()
            .save(cat.join("001.png"))
            .unwrap();
        image::RgbImage::from_raw(2, 1, vec![255, 0, 0, 0, 0, 255])
            .unwrap()
            .save(dog.join("a.png"))
            .unwrap();
        image::RgbImage::from_pixel(8, 4, image::Rgb([10, 200, 30]))
            .save(dog.join("b.JPG"))
            .unwrap();
        fs_err::write(dog.join("notes.csv"), "not,an,image\n").unwrap();
        fs_err::write(cat.join(".hidden.png"), "hidden").unwrap();
        fs_err::write(root.path().join("README.md"), "# pets\n").unwrap();
        fs_err::create_dir(root.path().join(".cache")).unwrap();
        fs_err::write(root.path().join(".cache").join("x.png"), "hidden").unwrap();
        root
    }

    fn read_all(source: &mut dyn RowSource) -> Vec<Result<Row, ReadError>> {
        std::iter::from_fn(|| source.next_row()).collect()
    }

    fn text(row: &Row, column: usize) -> &str {
        row.values[column].1.as_text().unwrap()
    }

    fn image(row: &Row) -> &Image {
        match &row.values[2].1 {
            Value::Image(image) => image,
            other => panic!("expected an image, found {other:?}"),
        }
    }

    #[test]
    fn reads_classes_and_files_in_order() {
        let root = folder();
        let (mut source, files) = open(root.path(), LIMITS).unwrap();
        let names: Vec<&str> = source.columns().iter().map(|(name, _)| &**name).collect();
        assert_eq!(names, ["id", "label", "image"]);
        assert_eq!(source.columns()[2].1, ColumnKind::Image);
        let rows: Vec<Row> = read_all(source.as_mut())
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let ids: Vec<&str> = rows.iter().map(|row| text(row, 0)).collect();
        assert_eq!(
            ids,
            ["cat/001.png", "cat/002.png", "dog/a.png", "dog/b.JPG"]
        );
        let labels: Vec<&str> = rows.iter().map(|row| text(row, 1)).collect();
        assert_eq!(labels, ["cat", "cat", "dog", "dog"]);
        let lines: Vec<u64> = rows.iter().map(|row| row.line).collect();
        assert_eq!(lines, [0, 1, 2, 3]);
        assert_eq!(files, [root.path().to_owned()]);

        let grey = image(&rows[1]);
        assert_eq!((grey.width, grey.height, grey.channels), (2, 2, 1));
        assert_eq!(grey.pixels, [0, 64, 128, 255]);
        assert_eq!(image(&rows[0]).pixels, [7, 9]);
        let rgb = image(&rows[2]);
        assert_eq!((rgb.width, rgb.height, rgb.channels), (2, 1, 3));
        assert_eq!(rgb.pixels, [255, 0, 0, 0, 0, 255]);
        let jpeg = image(&rows[3]);
        assert_eq!((jpeg.width, jpeg.height, jpeg.channels), (8, 4, 3));
        assert_eq!(jpeg.pixels.len(), 8 * 4 * 3);
    }

    #[test]
    fn unreadable_image_is_a_record_error_and_reading_goes_on() {
        let root = folder();
        fs_err::write(
            root.path().join("cat").join("0015.png"),
            "this is text, not a PNG",
        )
        .unwrap();
        let mut truncated = Vec::new();
        image::RgbImage::from_pixel(16, 16, image::Rgb([1, 2, 3]))
            .write_to(
                &mut std::io::Cursor::new(&mut truncated),
                image::ImageFormat::Png,
            )
            .unwrap();
        truncated.truncate(truncated.len() / 2);
        fs_err::write(root.path().join("dog").join("0.png"), truncated).unwrap();

        let (mut source, _) = open(root.path(), LIMITS).unwrap();
        let results = read_all(source.as_mut());
        assert_eq!(results.len(), 6);
        for (index, name) in [(1, "cat/0015.png"), (3, "dog/0.png")] {
            let error = results[index].as_ref().unwrap_err();
            assert!(error.is_record_level());
            let ReadError::Image { path, .. } = error else {
                panic!("expected an image error, found {error:?}");
            };
            assert!(
                path.ends_with(name),
                "{} should name {name}",
                path.display()
            );
            assert!(error.to_string().contains(name), "{error}");
        }
        let ids: Vec<&str> = results
            .iter()
            .filter_map(|result| result.as_ref().ok())
            .map(|row| text(row, 0))
            .collect();
        assert_eq!(
            ids,
            ["cat/001.png", "cat/002.png", "dog/a.png", "dog/b.JPG"]
        );
    }

    #[test]
    fn walks_nested_folders_inside_a_class() {
        let root = folder();
        let nested = root.path().join("cat").join("indoor");
        fs_err::create_dir(&nested).unwrap();
        image::GrayImage::from_pixel(1, 1, image::Luma([3]))
            .save(nested.join("z.png"))
            .unwrap();
        let (mut source, _) = open(root.path(), LIMITS).unwrap();
        let rows: Vec<Row> = read_all(source.as_mut())
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let ids: Vec<&str> = rows.iter().map(|row| text(row, 0)).collect();
        assert_eq!(
            ids,
            [
                "cat/001.png",
                "cat/002.png",
                "cat/indoor/z.png",
                "dog/a.png",
                "dog/b.JPG"
            ]
        );
    }

    #[test]
    fn converts_sixteen_bit_and_alpha_images_to_eight_bits() {
        let deep =
            image::ImageBuffer::<image::Luma<u16>, _>::from_raw(2, 1, vec![0u16, 65535]).unwrap();
        let converted = from_dynamic(image::DynamicImage::ImageLuma16(deep));
        assert_eq!(
            (converted.channels, converted.pixels.as_slice()),
            (1, [0u8, 255].as_slice())
        );
        let alpha = image::GrayAlphaImage::from_raw(1, 1, vec![5, 6]).unwrap();
        let converted = from_dynamic(image::DynamicImage::ImageLumaA8(alpha));
        assert_eq!(
            (converted.channels, converted.pixels.as_slice()),
            (2, [5u8, 6].as_slice())
        );
    }

    #[test]
    fn opens_as_a_dataset_with_id_label_and_image_roles() {
        let root = folder();
        let dataset = crate::Dataset::open(root.path(), &crate::ReadOptions::default()).unwrap();
        assert_eq!(dataset.format(), crate::Format::ImageFolder);
        assert_eq!(dataset.files(), [root.path().to_owned()]);
        let role = |name: &str| dataset.schema().column(name).unwrap().role;
        assert_eq!(
            [role("id"), role("label"), role("image")],
            [crate::Role::Id, crate::Role::Label, crate::Role::Image]
        );
        let records: Vec<crate::Record> = dataset.map(Result::unwrap).collect();
        assert_eq!(records[2].id.as_str(), "dog/a.png");
        assert_eq!(records[2].label.as_deref(), Some("dog"));
    }

    #[test]
    fn empty_folder_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        fs_err::create_dir(root.path().join("cat")).unwrap();
        fs_err::write(root.path().join("cat").join("notes.txt"), "no images").unwrap();
        let Err(error) = open(root.path(), LIMITS) else {
            panic!("a folder without images should not open");
        };
        assert!(matches!(error, ReadError::Empty { .. }), "{error:?}");
    }

    #[test]
    fn detects_image_folders() {
        let root = folder();
        assert!(is_image_folder(root.path()));
        fs_err::write(root.path().join("LICENSE"), "MIT").unwrap();
        fs_err::write(root.path().join("labels.txt"), "cat\ndog\n").unwrap();
        assert!(is_image_folder(root.path()));

        // A data file next to the class folders makes it some other kind of dataset.
        fs_err::write(root.path().join("metadata.csv"), "file,label\n").unwrap();
        assert!(!is_image_folder(root.path()));

        // Sub-folders without images directly inside.
        let other = tempfile::tempdir().unwrap();
        fs_err::create_dir(other.path().join("docs")).unwrap();
        fs_err::write(other.path().join("docs").join("a.txt"), "text").unwrap();
        assert!(!is_image_folder(other.path()));

        // Images at the top level, no classes.
        let flat = tempfile::tempdir().unwrap();
        image::GrayImage::new(1, 1)
            .save(flat.path().join("a.png"))
            .unwrap();
        assert!(!is_image_folder(flat.path()));

        // Extensions are compared case-insensitively.
        let upper = tempfile::tempdir().unwrap();
        fs_err::create_dir(upper.path().join("x")).unwrap();
        image::GrayImage::new(1, 1)
            .save(upper.path().join("x").join("A.PNG"))
            .unwrap();
        assert!(is_image_folder(upper.path()));

        assert!(!is_image_folder(&root.path().join("missing")));
        assert!(!is_image_folder(&root.path().join("README.md")));
    }

    #[test]
    fn an_image_whose_header_claims_too_many_pixels_is_refused_before_decoding() {
        let root = folder();
        // A real 1 × 1 PNG whose header is rewritten to claim 100000 × 100000 pixels.
        let mut png = Vec::new();
        image::GrayImage::new(1, 1)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&png[12..29]);
        png[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        fs_err::write(root.path().join("cat").join("000.png"), png).unwrap();
        let (mut source, _) = open(root.path(), LIMITS).unwrap();
        let first = source.next_row().unwrap().unwrap_err();
        assert!(first.is_record_level());
        assert!(
            first
                .to_string()
                .ends_with("cat/000.png`: the image is 100000 × 100000 pixels (9.3 GiB decoded), more than the limit of 64.0 MiB"),
            "{first}"
        );
        assert!(source.next_row().unwrap().is_ok(), "reading goes on");
    }
}
