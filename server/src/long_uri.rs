//! URLs over the HTTP layer's limit get the server's JSON error, with CORS.
//!
//! hyper refuses a request target over 65,534 bytes on its own, with a bare
//! 414 that never reaches the router (so no JSON body and no CORS headers,
//! and a browser sees an opaque network error). So the request line is read
//! here first. A normal one is handed to hyper untouched. An over-long one
//! is read to its end and discarded as it streams in (never buffered), and
//! hyper gets the same request with `/` as its target, marked [`TooLong`]:
//! the request goes through the usual layers (log, CORS, JSON errors) and
//! [`refuse`] answers it 414. Only a connection's first request line is
//! read: the server serves one request per connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::ApiError;

/// hyper's limit, and the `http` crate's: a longer target cannot even be
/// represented as a `Uri`.
pub const MAX_URI_LEN: usize = (u16::MAX - 1) as usize;
/// A request line longer than this without its end is over-long, whatever
/// its parts (room for any real method and version).
const MAX_LINE_LEN: usize = MAX_URI_LEN + 1024;
/// Bytes of an over-long path kept for the log line.
const LOGGED_PATH: usize = 200;
/// The whole request line must arrive within this, as hyper asks of the
/// whole head.
const LINE_TIMEOUT: Duration = Duration::from_secs(30);
const CHUNK: usize = 8 * 1024;

/// Marks a request whose target was over [`MAX_URI_LEN`] (a request
/// extension).
#[derive(Debug, Clone)]
pub struct TooLong {
    /// The start of the path (never the query), for the log.
    pub path: String,
    /// The length of the whole target, bytes.
    pub len: usize,
}

/// Middleware: answers a request marked [`TooLong`] with 414.
pub async fn refuse(req: Request, next: Next) -> Response {
    match req.extensions().get::<TooLong>() {
        Some(too_long) => ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!(
                "the URL is {} bytes long; this server takes at most {MAX_URI_LEN}",
                too_long.len
            ),
        )
        .into_response(),
        None => next.run(req).await,
    }
}

/// A stream that first replays `prefix`, then reads from `inner`.
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos < this.prefix.len() {
            let n = (this.prefix.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.prefix[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Reads the request line of a new connection. Returns the stream to hand
/// to hyper, and the mark of an over-long target. An error (the client went
/// away or was too slow) means: close the connection.
pub async fn read_request_line<S: AsyncRead + Unpin>(
    mut stream: S,
) -> io::Result<(Prefixed<S>, Option<TooLong>)> {
    tokio::time::timeout(LINE_TIMEOUT, async move {
        let mut buf = Vec::with_capacity(CHUNK);
        loop {
            let start = buf.len();
            buf.resize(start + CHUNK, 0);
            let n = read_some(&mut stream, &mut buf[start..]).await?;
            buf.truncate(start + n);
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            // hyper skips empty lines before the request line.
            let begin = buf
                .iter()
                .position(|b| !matches!(b, b'\r' | b'\n'))
                .unwrap_or(buf.len());
            let search_from = start.max(begin);
            if let Some(i) = buf[search_from..].iter().position(|&b| b == b'\n') {
                let end = search_from + i;
                let line = &buf[begin..end];
                let target_len = target(line).map_or(0, <[u8]>::len);
                if target_len <= MAX_URI_LEN && line.len() <= MAX_LINE_LEN {
                    return Ok((prefixed(buf, stream), None));
                }
                let mut line = Line::new();
                line.feed(&buf[begin..end]);
                let rest = buf[end + 1..].to_vec();
                return Ok(line.finish(rest, stream));
            }
            if buf.len() - begin > MAX_LINE_LEN {
                // Over-long: keep what identifies the request, drop the rest
                // as it streams in.
                let mut line = Line::new();
                line.feed(&buf[begin..]);
                let mut chunk = vec![0; CHUNK];
                loop {
                    let n = read_some(&mut stream, &mut chunk).await?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    if let Some(i) = chunk[..n].iter().position(|&b| b == b'\n') {
                        line.feed(&chunk[..i]);
                        let rest = chunk[i + 1..n].to_vec();
                        return Ok(line.finish(rest, stream));
                    }
                    line.feed(&chunk[..n]);
                }
            }
        }
    })
    .await
    .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
}

/// One read (what `AsyncReadExt::read` does, without tokio's io-util).
async fn read_some<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8]) -> io::Result<usize> {
    std::future::poll_fn(|cx| {
        let mut buf = ReadBuf::new(buf);
        match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

fn prefixed<S>(prefix: Vec<u8>, inner: S) -> Prefixed<S> {
    Prefixed {
        prefix,
        pos: 0,
        inner,
    }
}

/// The target of a request line: between the first and the last space.
fn target(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let first = line.iter().position(|&b| b == b' ')?;
    let last = line.iter().rposition(|&b| b == b' ')?;
    (last > first).then(|| &line[first + 1..last])
}

/// What is kept of an over-long request line while it streams in: its
/// method, the start of its target, its tail (the version), its length.
struct Line {
    head: Vec<u8>,
    tail: Vec<u8>,
    len: usize,
}

impl Line {
    const HEAD: usize = 32 + LOGGED_PATH;
    const TAIL: usize = 16;

    fn new() -> Line {
        Line {
            head: Vec::new(),
            tail: Vec::new(),
            len: 0,
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.len += bytes.len();
        let room = Self::HEAD.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > Self::TAIL {
            self.tail.drain(..self.tail.len() - Self::TAIL);
        }
    }

    /// The stream for hyper: this request with `/` as its target, then
    /// whatever followed the request line.
    fn finish<S>(self, rest: Vec<u8>, stream: S) -> (Prefixed<S>, Option<TooLong>) {
        let (tail, cr) = match self.tail.strip_suffix(b"\r") {
            Some(tail) => (tail, 1),
            None => (&self.tail[..], 0),
        };
        let has_version = tail.ends_with(b" HTTP/1.0") || tail.ends_with(b" HTTP/1.1");
        let version = if tail.ends_with(b" HTTP/1.0") {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        };
        let method_end = self.head.iter().position(|&b| b == b' ');
        let method = method_end
            .map(|end| &self.head[..end])
            .filter(|m| !m.is_empty() && m.len() <= 16 && m.iter().all(u8::is_ascii_uppercase))
            .map_or("GET", |m| std::str::from_utf8(m).unwrap_or("GET"));
        let path: String = method_end
            .map(|end| &self.head[end + 1..])
            .unwrap_or_default()
            .iter()
            .take_while(|&&b| b != b'?' && b != b'#' && b.is_ascii_graphic())
            .map(|&b| b as char)
            .collect();
        let target_len = self.len.saturating_sub(
            cr + method_end.map_or(0, |end| end + 1) + if has_version { 9 } else { 0 },
        );
        let mut replay = format!("{method} / {version}\r\n").into_bytes();
        replay.extend_from_slice(&rest);
        (
            prefixed(replay, stream),
            Some(TooLong {
                path,
                len: target_len,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn replayed(input: Vec<u8>) -> (String, Option<TooLong>) {
        let (mut stream, mark) = read_request_line(&input[..]).await.unwrap();
        let mut out = Vec::new();
        let mut chunk = [0; 1000];
        loop {
            let n = read_some(&mut stream, &mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..n]);
        }
        (String::from_utf8(out).unwrap(), mark)
    }

    #[tokio::test]
    async fn passes_normal_requests_through_untouched() {
        let request = "\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        let (out, mark) = replayed(request.into()).await;
        assert_eq!(out, request);
        assert!(mark.is_none());
        // At the limit exactly.
        let request = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_URI_LEN - 1));
        let (out, mark) = replayed(request.clone().into()).await;
        assert_eq!(out, request);
        assert!(mark.is_none());
    }

    #[tokio::test]
    async fn rewrites_over_long_targets() {
        for extra in [1, 70_000, 3 * 1024 * 1024] {
            let target = format!("/v1/apps/demo/tokens?refresh_token={}", "a".repeat(extra));
            let len = target.len().max(MAX_URI_LEN + 1);
            let target = format!("{target}{}", "b".repeat(len - target.len()));
            let request =
                format!("DELETE {target} HTTP/1.0\r\nOrigin: http://localhost:3000\r\n\r\nbody");
            let (out, mark) = replayed(request.into()).await;
            assert_eq!(
                out,
                "DELETE / HTTP/1.0\r\nOrigin: http://localhost:3000\r\n\r\nbody"
            );
            let mark = mark.unwrap();
            assert_eq!(mark.path, "/v1/apps/demo/tokens");
            assert_eq!(mark.len, target.len());
        }
        // No end of line before the limit: over-long too, whatever it is.
        let garbage = format!("{}\r\n\r\n", "x".repeat(MAX_LINE_LEN + 10));
        let (out, mark) = replayed(garbage.into()).await;
        assert_eq!(out, "GET / HTTP/1.1\r\n\r\n");
        assert_eq!(mark.unwrap().path, "");
    }

    #[tokio::test]
    async fn a_connection_closed_mid_line_is_an_error() {
        assert!(read_request_line(&b"GET /abc"[..]).await.is_err());
        let long = format!("GET /{}", "a".repeat(MAX_LINE_LEN + 10));
        assert!(read_request_line(long.as_bytes()).await.is_err());
    }
}
