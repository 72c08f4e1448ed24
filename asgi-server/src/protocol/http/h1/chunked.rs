//! `Transfer-Encoding: chunked` request bodies (RFC 9112 7.1), decoded without I/O.

use bytes::{Bytes, BytesMut};

/// A piece of a request body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Body bytes.
    Data(Bytes),
    /// The body is complete (after the last chunk and any trailers).
    End,
}

/// Why a chunked body was rejected (400 and close).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkError(pub(crate) &'static str);

/// Longest chunk-size line (with extensions) accepted.
pub(crate) const MAX_CHUNK_LINE: usize = 4096;

/// Decodes `Transfer-Encoding: chunked` (RFC 9112 7.1), extensions and trailers included.
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    state: ChunkState,
    /// Bytes of the current size line, or of all trailers.
    line: usize,
    trailer_limit: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Size {
        size: u64,
        digits: u8,
    },
    /// Whitespace after the size, before `;` or CR.
    SizeWs {
        size: u64,
    },
    Ext {
        size: u64,
    },
    SizeLf {
        size: u64,
    },
    Data(u64),
    DataCr,
    DataLf,
    /// Start of a trailer line; CR here is the end of the trailers.
    TrailerStart,
    Trailer,
    TrailerLf,
    EndLf,
    Done,
}

impl ChunkedDecoder {
    /// A decoder at the start of a body; trailers may take `trailer_limit` bytes.
    pub(crate) fn new(trailer_limit: usize) -> Self {
        Self {
            state: ChunkState::Size { size: 0, digits: 0 },
            line: 0,
            trailer_limit,
        }
    }

    /// Whether the whole body has been decoded.
    #[cfg(test)]
    pub(crate) fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decodes the next piece from `buf`, at most `max` data bytes.
    ///
    /// Returns `Ok(None)` when `buf` holds nothing more to decode yet.
    pub(crate) fn decode(
        &mut self,
        buf: &mut BytesMut,
        max: usize,
    ) -> Result<Option<Chunk>, ChunkError> {
        use ChunkState::*;
        let mut i = 0;
        let result = loop {
            if let Data(remaining) = self.state {
                buf.advance_to(&mut i);
                if buf.is_empty() {
                    break None;
                }
                let n = (remaining.min(buf.len() as u64) as usize).min(max.max(1));
                let data = buf.split_to(n).freeze();
                self.state = if remaining == n as u64 {
                    DataCr
                } else {
                    Data(remaining - n as u64)
                };
                return Ok(Some(Chunk::Data(data)));
            }
            if self.state == Done {
                break Some(Chunk::End);
            }
            let Some(&b) = buf.get(i) else {
                break None;
            };
            i += 1;
            self.state = match self.state {
                Size { size, digits } => match hex(b) {
                    // Room for one more hex digit: leading zeros are fine in
                    // any number (RFC 9112 7.1), only a value past u64 is not.
                    Some(d) if size >> 60 == 0 => Size {
                        size: size << 4 | u64::from(d),
                        digits: digits.saturating_add(1),
                    },
                    Some(_) => return Err(ChunkError("chunk size too large")),
                    None if digits == 0 => return Err(ChunkError("invalid chunk size")),
                    None => match b {
                        b'\r' => SizeLf { size },
                        b';' => Ext { size },
                        b' ' | b'\t' => SizeWs { size },
                        _ => return Err(ChunkError("invalid chunk size")),
                    },
                },
                SizeWs { size } => match b {
                    b' ' | b'\t' => SizeWs { size },
                    b';' => Ext { size },
                    b'\r' => SizeLf { size },
                    _ => return Err(ChunkError("invalid chunk size line")),
                },
                Ext { size } => match b {
                    b'\r' => SizeLf { size },
                    b'\t' | b' '..=b'~' | 0x80.. => Ext { size },
                    _ => return Err(ChunkError("invalid chunk extension")),
                },
                SizeLf { size } => match (b, size) {
                    (b'\n', 0) => TrailerStart,
                    (b'\n', size) => Data(size),
                    _ => return Err(ChunkError("bare CR in chunk size line")),
                },
                DataCr => match b {
                    b'\r' => DataLf,
                    _ => return Err(ChunkError("chunk data longer than its size")),
                },
                DataLf => match b {
                    b'\n' => Size { size: 0, digits: 0 },
                    _ => return Err(ChunkError("missing LF after chunk data")),
                },
                TrailerStart => match b {
                    b'\r' => EndLf,
                    b' ' | b'\t' => return Err(ChunkError("obs-fold in trailer")),
                    _ if is_field_byte(b) => Trailer,
                    _ => return Err(ChunkError("invalid trailer")),
                },
                Trailer => match b {
                    b'\r' => TrailerLf,
                    _ if is_field_byte(b) => Trailer,
                    _ => return Err(ChunkError("invalid trailer")),
                },
                TrailerLf => match b {
                    b'\n' => TrailerStart,
                    _ => return Err(ChunkError("bare CR in trailer")),
                },
                EndLf => match b {
                    b'\n' => Done,
                    _ => return Err(ChunkError("bare CR after trailers")),
                },
                Data(_) | Done => unreachable!("handled above"),
            };
            self.line += 1;
            match self.state {
                Data(_) | DataCr | DataLf | Size { digits: 0, .. } => self.line = 0,
                TrailerStart | Trailer | TrailerLf | EndLf if self.line > self.trailer_limit => {
                    return Err(ChunkError("trailers too large"));
                }
                Size { .. } | SizeWs { .. } | Ext { .. } | SizeLf { .. }
                    if self.line > MAX_CHUNK_LINE =>
                {
                    return Err(ChunkError("chunk size line too long"));
                }
                _ => {}
            }
        };
        buf.advance_to(&mut i);
        Ok(result)
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}

trait AdvanceTo {
    /// Drops the first `*i` bytes and resets `*i`.
    fn advance_to(&mut self, i: &mut usize);
}

impl AdvanceTo for BytesMut {
    fn advance_to(&mut self, i: &mut usize) {
        if *i > 0 {
            bytes::Buf::advance(self, *i);
            *i = 0;
        }
    }
}
