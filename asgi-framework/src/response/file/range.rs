//! Byte ranges of a file: parsing `Range`, reading a range on the blocking pool, `multipart/byteranges`.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::PathBuf;

use asgi_core::BoxError;
use bytes::Bytes;
use futures_util::StreamExt as _;
use http::header::HeaderValue;

use crate::body::{Body, BodyStream};
use crate::pool::BlockingPool;

/// How many bytes each read takes.
const CHUNK_SIZE: usize = 64 * 1024;
/// More ranges than this in one request are not worth answering piecemeal.
const MAX_RANGES: usize = 32;

/// What a `Range` header asks of a file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ranges {
    /// Not a valid byte-range set: serve the whole file.
    Ignore,
    /// Valid, but no range overlaps the file: 416.
    Unsatisfiable,
    /// Inclusive `(first, last)` byte positions, sorted, overlaps merged.
    Satisfiable(Vec<(u64, u64)>),
}

/// Parses `bytes=0-99,200-,-50` against a file of `len` bytes (RFC 9110 section 14.1.2).
pub(crate) fn parse_ranges(header: &str, len: u64) -> Ranges {
    let Some((unit, set)) = header.split_once('=') else {
        return Ranges::Ignore;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ranges::Ignore;
    }
    let mut ranges = Vec::new();
    for spec in set.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((first, last)) = spec.split_once('-') else {
            return Ranges::Ignore;
        };
        let (first, last) = (first.trim(), last.trim());
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if first.is_empty() {
            // A suffix: the last `n` bytes.
            let Some(n) = Some(last)
                .filter(|s| digits(s))
                .and_then(|s| s.parse::<u64>().ok())
            else {
                return Ranges::Ignore;
            };
            if n > 0 && len > 0 {
                ranges.push((len - n.min(len), len - 1));
            }
            continue;
        }
        let Some(start) = Some(first)
            .filter(|s| digits(s))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            return Ranges::Ignore;
        };
        let end = if last.is_empty() {
            u64::MAX
        } else {
            match Some(last)
                .filter(|s| digits(s))
                .and_then(|s| s.parse::<u64>().ok())
            {
                Some(end) if end >= start => end,
                _ => return Ranges::Ignore,
            }
        };
        if start < len {
            ranges.push((start, end.min(len - 1)));
        }
    }
    if ranges.is_empty() {
        return Ranges::Unsatisfiable;
    }
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    if merged.len() > MAX_RANGES {
        return Ranges::Ignore;
    }
    Ranges::Satisfiable(merged)
}

/// `count` bytes of the file at `path` from `offset`, read in chunks on `pool`.
pub(super) fn read_range(pool: BlockingPool, path: PathBuf, offset: u64, count: u64) -> BodyStream {
    struct Cursor {
        pool: BlockingPool,
        path: PathBuf,
        file: Option<File>,
        offset: u64,
        remaining: u64,
    }
    let cursor = Cursor {
        pool,
        path,
        file: None,
        offset,
        remaining: count,
    };
    let stream = futures_util::stream::try_unfold(cursor, |mut cursor| async move {
        if cursor.remaining == 0 {
            return Ok::<_, BoxError>(None);
        }
        let want = usize::try_from(cursor.remaining)
            .unwrap_or(usize::MAX)
            .min(CHUNK_SIZE);
        let (file, path, offset) = (cursor.file.take(), cursor.path.clone(), cursor.offset);
        let (file, chunk) = cursor
            .pool
            .run(move || -> std::io::Result<(File, Vec<u8>)> {
                let mut file = match file {
                    Some(file) => file,
                    None => {
                        let mut file = File::open(&path)?;
                        file.seek(SeekFrom::Start(offset))?;
                        file
                    }
                };
                let mut chunk = vec![0; want];
                file.read_exact(&mut chunk)?;
                Ok((file, chunk))
            })
            .await??;
        cursor.file = Some(file);
        cursor.remaining -= want as u64;
        Ok(Some((Bytes::from(chunk), cursor)))
    });
    Box::pin(stream)
}

/// The `multipart/byteranges` body for `ranges`, its length and its boundary.
pub(super) fn multipart_ranges(
    pool: BlockingPool,
    path: PathBuf,
    ranges: &[(u64, u64)],
    len: u64,
    content_type: Option<HeaderValue>,
) -> (Body, u64, String) {
    let boundary = uuid::Uuid::new_v4().simple().to_string();
    let content_type = content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .map(|ct| format!("Content-Type: {ct}\r\n"))
        .unwrap_or_default();
    let mut parts: Vec<BodyStream> = Vec::with_capacity(ranges.len() * 2 + 1);
    let mut total = 0_u64;
    let mut text = |parts: &mut Vec<BodyStream>, text: String| {
        total += text.len() as u64;
        parts.push(Body::full(text).into_stream());
    };
    for (i, &(start, end)) in ranges.iter().enumerate() {
        let lead = if i == 0 { "" } else { "\r\n" };
        text(
            &mut parts,
            format!(
                "{lead}--{boundary}\r\n{content_type}Content-Range: bytes {start}-{end}/{len}\r\n\r\n"
            ),
        );
        parts.push(read_range(
            pool.clone(),
            path.clone(),
            start,
            end - start + 1,
        ));
    }
    text(&mut parts, format!("\r\n--{boundary}--\r\n"));
    let body_len = total + ranges.iter().map(|(s, e)| e - s + 1).sum::<u64>();
    let body = Body::from_stream(futures_util::stream::iter(parts).flatten());
    (body, body_len, boundary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_clamp_and_merge() {
        let cases: &[(&str, Ranges)] = &[
            ("bytes=0-99", Ranges::Satisfiable(vec![(0, 99)])),
            ("bytes=900-", Ranges::Satisfiable(vec![(900, 999)])),
            ("bytes=-100", Ranges::Satisfiable(vec![(900, 999)])),
            ("bytes=-5000", Ranges::Satisfiable(vec![(0, 999)])),
            ("bytes=500-5000", Ranges::Satisfiable(vec![(500, 999)])),
            (
                "bytes=0-9, 5-19,30-39",
                Ranges::Satisfiable(vec![(0, 19), (30, 39)]),
            ),
            (
                "bytes=20-29,0-9",
                Ranges::Satisfiable(vec![(0, 9), (20, 29)]),
            ),
            ("bytes=1000-", Ranges::Unsatisfiable),
            ("bytes=-0", Ranges::Unsatisfiable),
            ("bytes=9-1", Ranges::Ignore),
            ("bytes=a-b", Ranges::Ignore),
            ("items=0-1", Ranges::Ignore),
            ("bytes 0-1", Ranges::Ignore),
            ("bytes=+1-2", Ranges::Ignore),
        ];
        for (header, expected) in cases {
            assert_eq!(&parse_ranges(header, 1000), expected, "{header}");
        }
    }

    #[test]
    fn too_many_ranges_serve_the_whole_file() {
        let header = format!(
            "bytes={}",
            (0..40)
                .map(|i| format!("{}-{}", i * 10, i * 10))
                .collect::<Vec<_>>()
                .join(",")
        );

        assert_eq!(parse_ranges(&header, 1000), Ranges::Ignore);
    }
}
