//! Built-in HTTPS (issue 10, item 7): `roster serve --tls-cert --tls-key` with a self-signed
//! certificate made in the test (rcgen), and a SCIM request over TLS from a rustls client
//! that trusts only that certificate. Plain HTTP to the HTTPS port gets no answer, and a
//! missing certificate stops the start with a clear message.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;

use super::process::ServerProc;

/// A rustls client configuration that trusts only `roots`.
fn client_config(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// One HTTP/1.1 request over TLS; returns (status, body, negotiated ALPN).
async fn https(addr: &str, roots: &rustls::RootCertStore, request: String) -> (u16, Value, Option<Vec<u8>>) {
    let mut config = client_config(roots.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.expect("TLS handshake");
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tls.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null), alpn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roster_serves_scim_over_https_with_its_own_certificate() {
    let install = super::Install::new();
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();

    let token = install.token("entra");
    let server = ServerProc::start(
        &install.global_args(),
        &["--tls-cert", cert_path.to_str().unwrap(), "--tls-key", key_path.to_str().unwrap()],
        &[],
    );
    let started = server.log().join("\n");
    assert!(started.contains("tls=true"), "{started}");
    // The default public URL follows the scheme.
    assert!(started.contains("https://127.0.0.1:"), "{started}");

    let get = |path: &str, auth: Option<&str>| {
        let auth = auth.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n")
    };
    let (status, body, alpn) = https(&server.addr, &roots, get("/scim/v2/default/Users", Some(&token))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:ListResponse");
    assert_eq!(alpn.as_deref(), Some(b"http/1.1".as_slice()));
    // A create over TLS, and the lenient request line (raw quotes in the filter) works too.
    let user = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"tls@x.io"}"#;
    let post = format!(
        "POST /scim/v2/default/Users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{user}",
        user.len()
    );
    let (status, body, _) = https(&server.addr, &roots, post).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["meta"]["location"].as_str().unwrap().starts_with("https://"), "{body}");
    let (status, body, _) =
        https(&server.addr, &roots, get("/scim/v2/default/Users?filter=userName eq \"tls@x.io\"", Some(&token))).await;
    assert_eq!((status, body["totalResults"].as_u64()), (200, Some(1)), "{body}");
    // Refusals over TLS are SCIM errors as usual.
    let (status, body, _) = https(&server.addr, &roots, get("/scim/v2/default/Users", None)).await;
    assert_eq!(status, 401, "{body}");

    // Plain HTTP to the HTTPS port is not served.
    let mut plain = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    plain.write_all(get("/scim/v2/default/Users", Some(&token)).as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(15), plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf));
    // A client that does not trust the certificate gets no connection.
    let config = client_config(rustls::RootCertStore::empty());
    let tcp = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let refused = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await;
    assert!(refused.is_err());
    // And the server still serves after those.
    let (status, _, _) = https(&server.addr, &roots, get("/healthz", None)).await;
    assert_eq!(status, 200);
    server.stop();
}

#[test]
fn a_missing_or_unusable_certificate_stops_the_start_with_a_clear_message() {
    let install = super::Install::new();
    let dir = tempfile::tempdir().unwrap();
    let serve = |cert: &Path, key: &Path| {
        install.run(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ])
    };
    let missing = dir.path().join("missing.pem");
    serve(&missing, &missing).fails_saying(&["TLS certificate", "missing.pem"]);
    // A key that does not belong to the certificate.
    let one = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let two = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, one.cert.pem()).unwrap();
    std::fs::write(&key, two.signing_key.serialize_pem()).unwrap();
    serve(&cert, &key).fails_saying(&["TLS"]);
    // Half a configuration is refused by the command line.
    let r = install.run(&["serve", "--listen", "127.0.0.1:0", "--tls-cert", cert.to_str().unwrap()]);
    assert_ne!(r.code, Some(0), "{r:#?}");
    assert!(r.stderr.contains("--tls-key"), "{r:#?}");
}
