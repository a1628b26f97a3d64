//! Built-in HTTPS (`roster serve --tls-cert FILE --tls-key FILE`): rustls with the `ring`
//! crypto provider (no C toolchain beyond ring's own small build, no aws-lc), TLS 1.2 and
//! 1.3, HTTP/1.1 over ALPN. Decrypted connections go through the same lenient request-line
//! reader as plain ones.
//!
//! Handshakes run in their own tasks, bounded in number and time, so a client that opens
//! a connection and never finishes its handshake holds neither the accept loop nor a
//! connection slot for long.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
pub use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

use crate::lenient::{ClientAddr, LenientIo};

/// How long a client has to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How many handshakes may be in progress at once; further connections wait to be accepted.
const MAX_HANDSHAKES: usize = 256;

fn invalid(what: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, what)
}

/// Loads a PEM certificate chain (leaf first) and its PEM private key (PKCS#8, PKCS#1 or
/// SEC1) into a server configuration.
pub fn load_server_config(cert: &Path, key: &Path) -> std::io::Result<Arc<rustls::ServerConfig>> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid(format!("cannot read the TLS certificate {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(invalid(format!("{} holds no PEM certificate", cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| invalid(format!("cannot read the TLS private key {}: {e}", key.display())))?;
    server_config(certs, key)
}

/// A server configuration for a certificate chain and its key.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> std::io::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(format!("TLS setup failed: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(format!("the TLS certificate and key do not form a usable pair: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

type Accepted = (LenientIo<TlsStream<TcpStream>>, ClientAddr);

/// A TCP listener whose connections are TLS-decrypted, then [`LenientIo`].
#[derive(Debug)]
pub struct TlsListener {
    incoming: mpsc::Receiver<Accepted>,
    local: ClientAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `listener`; must be called inside a Tokio runtime.
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<TlsListener> {
        let local = ClientAddr(listener.local_addr()?);
        let (tx, incoming) = mpsc::channel::<Accepted>(64);
        let tls = TlsAcceptor::from(config);
        let acceptor = tokio::spawn(async move {
            let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
            loop {
                let Ok(permit) = handshakes.clone().acquire_owned().await else { return };
                let (stream, addr) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let (tls, tx) = (tls.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            drop(permit);
                            let _ = tx.send((LenientIo::new(stream), ClientAddr(addr))).await;
                        }
                        Ok(Err(e)) => tracing::debug!(peer = %addr, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(peer = %addr, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { incoming, local, acceptor })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl Listener for TlsListener {
    type Io = LenientIo<TlsStream<TcpStream>>;
    type Addr = ClientAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(accepted) => accepted,
            // The acceptor task is gone (it only ends when this listener is dropped).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        *stream.remote_addr()
    }
}
