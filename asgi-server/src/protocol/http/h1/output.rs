//! The connection's outgoing bytes: encoded heads and framing in one buffer,
//! large body pieces kept as they came (no copy) and written vectored.
//!
//! Since large pieces never enter the buffers, they stay small (a head, small
//! body pieces, a batch of pipelined responses) for the connection's life.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::AsyncWrite;

/// Body pieces at least this big are written from the app's own buffer.
const LARGE: usize = 16 * 1024;

/// Bytes waiting for the socket, in order: `buf`, then `large`, then `tail`.
#[derive(Debug, Default)]
pub(crate) struct Output {
    buf: BytesMut,
    large: Option<Bytes>,
    tail: BytesMut,
}

impl Output {
    /// Where encoded bytes go now: after a pending large piece, into `tail`.
    pub(crate) fn dst(&mut self) -> &mut BytesMut {
        if self.large.is_some() {
            &mut self.tail
        } else {
            &mut self.buf
        }
    }

    /// Queues body bytes, keeping a large piece as it is.
    pub(crate) fn put_body(&mut self, body: Bytes) {
        if body.len() >= LARGE && self.large.is_none() {
            self.large = Some(body);
        } else {
            self.dst().put_slice(&body);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty() && self.large.is_none() && self.tail.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len() + self.large.as_ref().map_or(0, Bytes::len) + self.tail.len()
    }

    /// Drops everything queued (the peer is gone).
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.large = None;
        self.tail.clear();
    }

    /// Writes everything queued to `io`.
    pub(crate) fn poll_write_to<I: AsyncWrite + Unpin>(
        &mut self,
        io: &mut I,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while !self.is_empty() {
            let n = if io.is_write_vectored() && self.large.is_some() {
                let large = self.large.as_deref().unwrap_or_default();
                let slices = [
                    IoSlice::new(&self.buf),
                    IoSlice::new(large),
                    IoSlice::new(&self.tail),
                ];
                ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices))?
            } else {
                let first = if !self.buf.is_empty() {
                    &self.buf[..]
                } else {
                    self.large.as_deref().unwrap_or(&self.tail[..])
                };
                ready!(Pin::new(&mut *io).poll_write(cx, first))?
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.advance(n);
        }
        Poll::Ready(Ok(()))
    }

    fn advance(&mut self, mut n: usize) {
        let from_buf = n.min(self.buf.len());
        self.buf.advance(from_buf);
        n -= from_buf;
        if let Some(large) = &mut self.large {
            let from_large = n.min(large.len());
            large.advance(from_large);
            n -= from_large;
            if large.is_empty() {
                self.large = None;
                // What came after the large piece is now first in line.
                std::mem::swap(&mut self.buf, &mut self.tail);
                self.buf.advance(n.min(self.buf.len()));
                n = 0;
            }
        }
        let from_tail = n.min(self.tail.len());
        self.tail.advance(from_tail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that accepts at most `limit` bytes per call.
    struct Trickle {
        out: Vec<u8>,
        limit: usize,
        vectored: bool,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.limit);
            self.out.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut left = self.limit;
            let mut written = 0;
            for buf in bufs {
                let n = buf.len().min(left);
                self.out.extend_from_slice(&buf[..n]);
                left -= n;
                written += n;
            }
            Poll::Ready(Ok(written))
        }

        fn is_write_vectored(&self) -> bool {
            self.vectored
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn order_is_kept_across_partial_writes() {
        let large: Vec<u8> = (0..LARGE * 2).map(|i| (i % 251) as u8).collect();
        for vectored in [true, false] {
            for limit in [1, 7, 1000, LARGE + 3, usize::MAX] {
                let mut output = Output::default();
                output.dst().put_slice(b"head\r\n");
                output.put_body(Bytes::from(large.clone()));
                output.dst().put_slice(b"\r\ntail");
                output.put_body(Bytes::from_static(b"-small"));
                let mut expected = b"head\r\n".to_vec();
                expected.extend_from_slice(&large);
                expected.extend_from_slice(b"\r\ntail-small");
                let mut writer = Trickle {
                    out: Vec::new(),
                    limit,
                    vectored,
                };
                let waker = futures_util::task::noop_waker();

                let done = output.poll_write_to(&mut writer, &mut Context::from_waker(&waker));

                assert!(matches!(done, Poll::Ready(Ok(()))));
                assert!(output.is_empty());
                assert_eq!(writer.out, expected, "vectored {vectored}, limit {limit}");
            }
        }
    }
}
