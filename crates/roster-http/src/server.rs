//! The connection loop: accepts connections from a listener (plain TCP or TLS, both through
//! the lenient request-line reader) and serves each with hyper's HTTP/1.1 server.
//!
//! This replaces `axum::serve` for one reason: `axum::serve` sets no timer, so hyper's header
//! read timeout never fires and a client that trickles its headers (or opens connections and
//! sends nothing) holds a connection and its task forever. Here every connection must deliver
//! each request's headers within [`HttpConfig::header_read_timeout`](crate::HttpConfig), and
//! that includes the idle time before a keep-alive connection's next request. Bodies and
//! handlers are bounded by the request timeout layer. Graceful shutdown works as in
//! `axum::serve`: stop accepting, let requests in flight finish, then return.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::lenient::ClientAddr;

/// Serves `app` on every connection `listener` yields until `shutdown` resolves, then waits
/// for the connections' requests in flight to finish.
pub async fn serve_on<L, S>(
    mut listener: L,
    app: S,
    header_read_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: Listener<Addr = ClientAddr>,
    L::Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower::Service<http::Request<Body>, Response = axum::response::Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    // Connections wait for a change of `stop` (its only change is to true) to begin a
    // graceful shutdown; each holds a `done` receiver,
    // so `done_tx.closed()` resolves once every connection has finished.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service = tower::ServiceExt::map_request(app.clone(), move |req: http::Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(addr));
            req
        });
        let mut stop = stop_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
            let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
            drop(done);
        });
    }
    drop(listener);
    drop(done_rx);
    let _ = stop_tx.send(true);
    done_tx.closed().await;
    Ok(())
}
