//! The page headers of a Parquet column chunk, checked before any page is read.
//!
//! The `parquet` crate checks a page's compressed size against what is left of its column chunk,
//! but it allocates the uncompressed size a page header declares (up to 2 GiB) and decompresses
//! into it: a small page of a zstd or gzip bomb can claim gigabytes. [`check_pages`] walks every
//! page header of a chunk (Thrift compact protocol, fields 2 and 3 of `PageHeader`) and refuses a
//! page that is negative, reaches past its chunk, or decompresses to more than the per-record
//! limit.

use std::io::{BufReader, Read, Seek, SeekFrom};

/// Thrift structs nested deeper than this are refused (page headers nest three levels).
const MAX_DEPTH: usize = 16;

/// Why a chunk's pages were refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PageProblem {
    /// The header could not be parsed.
    Header(String),
    /// The page's sizes do not fit its chunk.
    OutsideChunk {
        /// The page's position in the chunk, from 0.
        page: u64,
        /// Its declared compressed size.
        compressed: i64,
        /// Bytes left in the chunk after its header.
        remaining: u64,
    },
    /// The page decompresses to more than the limit.
    TooLarge {
        /// The page's position in the chunk, from 0.
        page: u64,
        /// Its declared uncompressed size.
        size: u64,
    },
}

/// The sizes a page header declares, and how many bytes the header takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PageSizes {
    header: u64,
    uncompressed: i64,
    compressed: i64,
}

/// A Thrift compact-protocol reader that counts the bytes it takes and never reads past
/// `limit`.
struct Compact<R> {
    input: R,
    read: u64,
    limit: u64,
}

impl<R: Read> Compact<R> {
    fn byte(&mut self) -> Result<u8, String> {
        if self.read >= self.limit {
            return Err("the page header runs past its column chunk".to_owned());
        }
        let mut byte = [0u8; 1];
        self.input
            .read_exact(&mut byte)
            .map_err(|error| format!("the page header is truncated ({error})"))?;
        self.read += 1;
        Ok(byte[0])
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a varint in the page header is longer than 10 bytes".to_owned())
    }

    fn zigzag(&mut self) -> Result<i64, String> {
        let value = self.varint()?;
        #[allow(
            clippy::cast_possible_wrap,
            reason = "zigzag decoding reinterprets the bits"
        )]
        Ok((value >> 1) as i64 ^ -((value & 1) as i64))
    }

    fn skip_bytes(&mut self, count: u64) -> Result<(), String> {
        for _ in 0..count {
            self.byte()?;
        }
        Ok(())
    }

    /// Skips a value of compact type `kind`.
    fn skip(&mut self, kind: u8, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("the page header nests too deeply".to_owned());
        }
        match kind {
            1 | 2 => Ok(()),
            3 => self.byte().map(drop),
            4..=6 => self.varint().map(drop),
            7 => self.skip_bytes(8),
            8 => {
                let len = self.varint()?;
                self.skip_bytes(len)
            }
            9 | 10 => {
                let header = self.byte()?;
                let count = match header >> 4 {
                    15 => self.varint()?,
                    small => u64::from(small),
                };
                let element = header & 0x0f;
                for _ in 0..count {
                    self.skip_element(element, depth + 1)?;
                }
                Ok(())
            }
            11 => {
                let count = self.varint()?;
                if count == 0 {
                    return Ok(());
                }
                let types = self.byte()?;
                for _ in 0..count {
                    self.skip_element(types >> 4, depth + 1)?;
                    self.skip_element(types & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            12 => self.skip_struct(depth + 1),
            other => Err(format!("unknown Thrift type {other} in the page header")),
        }
    }

    /// Skips a list, set or map element: booleans there take one byte.
    fn skip_element(&mut self, kind: u8, depth: usize) -> Result<(), String> {
        if kind == 1 || kind == 2 {
            return self.byte().map(drop);
        }
        self.skip(kind, depth)
    }

    fn skip_struct(&mut self, depth: usize) -> Result<(), String> {
        loop {
            let header = self.byte()?;
            if header == 0 {
                return Ok(());
            }
            if header >> 4 == 0 {
                self.zigzag()?;
            }
            self.skip(header & 0x0f, depth)?;
        }
    }

    /// Reads a `PageHeader`, keeping its sizes (fields 2 and 3).
    fn page_header(&mut self) -> Result<PageSizes, String> {
        let mut field: i64 = 0;
        let (mut uncompressed, mut compressed) = (None, None);
        loop {
            let header = self.byte()?;
            if header == 0 {
                break;
            }
            let kind = header & 0x0f;
            field = match header >> 4 {
                0 => self.zigzag()?,
                delta => field + i64::from(delta),
            };
            match (field, kind) {
                (2, 5) => uncompressed = Some(self.zigzag()?),
                (3, 5) => compressed = Some(self.zigzag()?),
                _ => self.skip(kind, 1)?,
            }
        }
        match (uncompressed, compressed) {
            (Some(uncompressed), Some(compressed)) => Ok(PageSizes {
                header: self.read,
                uncompressed,
                compressed,
            }),
            _ => Err("the page header has no page sizes".to_owned()),
        }
    }
}

/// Walks the pages of the column chunk at `start..start + length` of `file` and checks each
/// page's sizes against the chunk and against `limit` (bytes one page may decompress to).
pub(crate) fn check_pages<F: Read + Seek>(
    file: F,
    start: u64,
    length: u64,
    limit: u64,
) -> Result<(), PageProblem> {
    let mut input = BufReader::with_capacity(8 << 10, file);
    let mut offset = start;
    let mut remaining = length;
    let mut page = 0u64;
    while remaining > 0 {
        input
            .seek(SeekFrom::Start(offset))
            .map_err(|error| PageProblem::Header(error.to_string()))?;
        let mut compact = Compact {
            input: &mut input,
            read: 0,
            limit: remaining,
        };
        let sizes = compact.page_header().map_err(PageProblem::Header)?;
        let after_header = remaining - sizes.header;
        let compressed = u64::try_from(sizes.compressed).ok();
        let Some(compressed) = compressed.filter(|bytes| *bytes <= after_header) else {
            return Err(PageProblem::OutsideChunk {
                page,
                compressed: sizes.compressed,
                remaining: after_header,
            });
        };
        let Some(uncompressed) = u64::try_from(sizes.uncompressed).ok() else {
            return Err(PageProblem::Header(format!(
                "page {page} declares a negative size ({})",
                sizes.uncompressed
            )));
        };
        if uncompressed > limit || compressed > limit {
            return Err(PageProblem::TooLarge {
                page,
                size: uncompressed.max(compressed),
            });
        }
        offset += sizes.header + compressed;
        remaining = after_header - compressed;
        page += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn zigzag(value: i64) -> Vec<u8> {
        #[allow(clippy::cast_sign_loss)]
        let mut value = ((value << 1) ^ (value >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            let byte = u8::try_from(value & 0x7f).unwrap();
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    /// A page header: type `DATA_PAGE`, the sizes, a nested data page header with statistics,
    /// then `body` bytes of page.
    fn page(uncompressed: i64, compressed: i64, body: usize) -> Vec<u8> {
        let mut out = vec![0x15];
        out.extend(zigzag(0));
        out.push(0x15);
        out.extend(zigzag(uncompressed));
        out.push(0x15);
        out.extend(zigzag(compressed));
        // Field 5, a struct: num_values (i32), a binary statistic in a nested struct, stop.
        out.push(0x2c);
        out.push(0x15);
        out.extend(zigzag(3));
        out.push(0x4c);
        out.extend([0x18, 2, b'a', b'b', 0]);
        out.push(0);
        out.push(0);
        out.extend(std::iter::repeat_n(7u8, body));
        out
    }

    #[test]
    fn walks_every_page_of_a_chunk() {
        let mut chunk = page(10, 5, 5);
        chunk.extend(page(100, 20, 20));
        let length = chunk.len() as u64;
        assert_eq!(check_pages(Cursor::new(chunk), 0, length, 1_000), Ok(()));
    }

    #[test]
    fn refuses_sizes_beyond_the_chunk_or_the_limit() {
        let chunk = page(10, 50, 5);
        let length = chunk.len() as u64;
        assert!(matches!(
            check_pages(Cursor::new(chunk), 0, length, 1_000),
            Err(PageProblem::OutsideChunk {
                page: 0,
                compressed: 50,
                ..
            })
        ));
        let mut chunk = page(10, 5, 5);
        chunk.extend(page(2_000_000_000, 5, 5));
        let length = chunk.len() as u64;
        assert_eq!(
            check_pages(Cursor::new(chunk), 0, length, 1_000),
            Err(PageProblem::TooLarge {
                page: 1,
                size: 2_000_000_000
            })
        );
        let chunk = page(-4, 5, 5);
        let length = chunk.len() as u64;
        assert!(matches!(
            check_pages(Cursor::new(chunk), 0, length, 1_000),
            Err(PageProblem::Header(_))
        ));
    }

    #[test]
    fn a_truncated_header_is_refused() {
        let chunk = page(10, 5, 5);
        assert!(matches!(
            check_pages(Cursor::new(chunk), 0, 4, 1_000),
            Err(PageProblem::Header(_))
        ));
    }
}
