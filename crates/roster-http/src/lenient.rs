//! Accepting request lines as some SCIM clients send them. The Okta SCIM test suite (and
//! hand-written scripts) put `filter=userName eq "x"` in the request line without encoding
//! the spaces and quotes; HTTP parsers reject that before any handler runs. This wrapper sits
//! between the socket and the HTTP parser and percent-encodes such characters in each
//! request *target*, tracking message framing (Content-Length and chunked bodies) so bodies
//! pass through untouched. Anything it does not understand passes through unchanged.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The longest request line or header line the rewriter buffers; longer ones pass through.
const MAX_LINE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    RequestLine,
    Headers {
        content_length: u64,
        chunked: bool,
    },
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    Trailers,
    /// Gave up (an upgrade, or something unexpected): everything passes through.
    Passthrough,
}

/// The framing state machine over a byte stream: feed it input, it yields output.
#[derive(Debug)]
pub struct Rewriter {
    state: State,
    line: Vec<u8>,
}

impl Default for Rewriter {
    fn default() -> Self {
        Rewriter { state: State::RequestLine, line: Vec::new() }
    }
}

/// Percent-encodes the bytes an HTTP request target may not hold raw.
fn encode_target(target: &[u8], out: &mut Vec<u8>) {
    for &b in target {
        if matches!(b, b' ' | b'"' | b'<' | b'>' | b'`' | b'{' | b'}' | b'|' | b'\\' | b'^') {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
}

/// Rewrites one request line (without its line ending): `METHOD target HTTP/x.y`, where the
/// target runs from the first space to the last ` HTTP/`.
fn rewrite_request_line(line: &[u8], out: &mut Vec<u8>) {
    let first = line.iter().position(|&b| b == b' ');
    let last = line.windows(6).rposition(|w| w == b" HTTP/");
    match (first, last) {
        (Some(first), Some(last)) if last > first => {
            out.extend_from_slice(&line[..=first]);
            encode_target(&line[first + 1..last], out);
            out.extend_from_slice(&line[last..]);
        }
        _ => out.extend_from_slice(line),
    }
}

fn header_value<'a>(line: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (key, value) = line.split_at(colon);
    key.eq_ignore_ascii_case(name.as_bytes()).then(|| value[1..].trim_ascii())
}

impl Rewriter {
    /// Processes `input`, appending what the HTTP parser should see to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            match self.state {
                State::Passthrough => {
                    out.extend_from_slice(input);
                    return;
                }
                State::Body(n) | State::ChunkData(n) => {
                    let take = usize::try_from(n).unwrap_or(usize::MAX).min(input.len());
                    out.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    let left = n - take as u64;
                    self.state = match (self.state, left) {
                        (State::Body(_), 0) => State::RequestLine,
                        (State::ChunkData(_), 0) => State::ChunkSize,
                        (State::Body(_), n) => State::Body(n),
                        (_, n) => State::ChunkData(n),
                    };
                }
                State::RequestLine | State::Headers { .. } | State::ChunkSize | State::Trailers => {
                    let Some(nl) = input.iter().position(|&b| b == b'\n') else {
                        self.line.extend_from_slice(input);
                        if self.line.len() > MAX_LINE {
                            out.append(&mut self.line);
                            self.state = State::Passthrough;
                        }
                        return;
                    };
                    self.line.extend_from_slice(&input[..=nl]);
                    input = &input[nl + 1..];
                    let line = std::mem::take(&mut self.line);
                    self.line_done(&line, out);
                }
            }
        }
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        match self.state {
            State::RequestLine => {
                if content.is_empty() {
                    // Blank lines between requests are allowed (RFC 9112 §2.2).
                    out.extend_from_slice(line);
                    return;
                }
                rewrite_request_line(content, out);
                out.extend_from_slice(b"\r\n");
                self.state = State::Headers { content_length: 0, chunked: false };
            }
            State::Headers { content_length, chunked } => {
                out.extend_from_slice(line);
                if content.is_empty() {
                    self.state = if chunked {
                        State::ChunkSize
                    } else if content_length > 0 {
                        State::Body(content_length)
                    } else {
                        State::RequestLine
                    };
                    return;
                }
                let mut content_length = content_length;
                let mut chunked = chunked;
                if let Some(v) = header_value(content, "content-length") {
                    match std::str::from_utf8(v).ok().and_then(|s| s.parse::<u64>().ok()) {
                        Some(n) => content_length = n,
                        None => {
                            self.state = State::Passthrough;
                            return;
                        }
                    }
                }
                if let Some(v) = header_value(content, "transfer-encoding") {
                    chunked = v.to_ascii_lowercase().ends_with(b"chunked");
                }
                if header_value(content, "upgrade").is_some() {
                    self.state = State::Passthrough;
                    return;
                }
                self.state = State::Headers { content_length, chunked };
            }
            State::ChunkSize => {
                out.extend_from_slice(line);
                let size = content.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
                match std::str::from_utf8(size).ok().and_then(|s| u64::from_str_radix(s, 16).ok()) {
                    Some(0) => self.state = State::Trailers,
                    // The chunk's data is followed by CRLF.
                    Some(n) => self.state = State::ChunkData(n.saturating_add(2)),
                    None => self.state = State::Passthrough,
                }
            }
            State::Trailers => {
                out.extend_from_slice(line);
                if content.is_empty() {
                    self.state = State::RequestLine;
                }
            }
            State::Body(_) | State::ChunkData(_) | State::Passthrough => out.extend_from_slice(line),
        }
    }
}

/// A connection whose request lines are rewritten on the way in.
#[derive(Debug)]
pub struct LenientIo<IO> {
    inner: IO,
    rewriter: Rewriter,
    pending: Vec<u8>,
    offset: usize,
}

impl<IO> LenientIo<IO> {
    pub fn new(inner: IO) -> Self {
        LenientIo { inner, rewriter: Rewriter::default(), pending: Vec::new(), offset: 0 }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for LenientIo<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        loop {
            let this = &mut *self;
            if this.offset < this.pending.len() {
                let n = (this.pending.len() - this.offset).min(buf.remaining());
                buf.put_slice(&this.pending[this.offset..this.offset + n]);
                this.offset += n;
                if this.offset == this.pending.len() {
                    this.pending.clear();
                    this.offset = 0;
                }
                return Poll::Ready(Ok(()));
            }
            let mut raw = [0u8; 8192];
            let mut raw_buf = ReadBuf::new(&mut raw);
            match Pin::new(&mut this.inner).poll_read(cx, &mut raw_buf) {
                Poll::Ready(Ok(())) => {
                    let filled = raw_buf.filled();
                    if filled.is_empty() {
                        return Poll::Ready(Ok(()));
                    }
                    this.rewriter.feed(filled, &mut this.pending);
                    // A partial line may have produced nothing yet: read more.
                }
                other => return other,
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for LenientIo<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The client's address, as connect info for handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// A TCP listener whose connections are [`LenientIo`].
#[derive(Debug)]
pub struct LenientListener(pub TcpListener);

impl Listener for LenientListener {
    type Io = LenientIo<TcpStream>;
    type Addr = ClientAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (LenientIo::new(stream), ClientAddr(addr));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait and retry, as axum does.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr().map(ClientAddr)
    }
}

impl Connected<IncomingStream<'_, LenientListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, LenientListener>) -> Self {
        *stream.remote_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(chunks: &[&[u8]]) -> String {
        let mut r = Rewriter::default();
        let mut out = Vec::new();
        for c in chunks {
            r.feed(c, &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn encodes_spaces_and_quotes_in_the_target_only() {
        let got = rewrite(&[b"GET /Users?filter=userName eq \"x\" HTTP/1.1\r\nHost: a b\r\n\r\n"]);
        assert_eq!(got, "GET /Users?filter=userName%20eq%20%22x%22 HTTP/1.1\r\nHost: a b\r\n\r\n");
    }

    #[test]
    fn leaves_bodies_alone_and_rewrites_the_next_request() {
        let input: &[u8] =
            b"POST /a HTTP/1.1\r\nContent-Length: 12\r\n\r\n{\"a\": \"b c\"}GET /b?x=\"1\" HTTP/1.1\r\n\r\n";
        let got = rewrite(&[input]);
        assert_eq!(
            got,
            "POST /a HTTP/1.1\r\nContent-Length: 12\r\n\r\n{\"a\": \"b c\"}GET /b?x=%221%22 HTTP/1.1\r\n\r\n"
        );
    }

    #[test]
    fn follows_chunked_bodies_split_across_reads() {
        let parts: [&[u8]; 5] = [
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"5\r\nGET /",
            b"\r\n0\r\n",
            b"\r\nGET /c?",
            b"q=\"z\" HTTP/1.1\r\n\r\n",
        ];
        let got = rewrite(&parts);
        assert_eq!(
            got,
            "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nGET /\r\n0\r\n\r\nGET /c?q=%22z%22 HTTP/1.1\r\n\r\n"
        );
    }

    #[test]
    fn passes_through_what_it_does_not_understand() {
        assert_eq!(rewrite(&[b"garbage\r\n\r\n"]), "garbage\r\n\r\n");
        let upgrade = rewrite(&[b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x00\x01 \"raw"]);
        assert!(upgrade.ends_with("\x00\x01 \"raw"));
    }
}
