//! TLS over real sockets with a rustls client and certificates made by
//! `rcgen`: HTTP/1.1 and HTTP/2 (by ALPN), the `tls` scope extension,
//! mutual TLS, plain HTTP on the TLS port and the handshake timeout.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use asgi_core::{App, HttpSend, Scope, app_fn};
use asgi_server::{ClientCertMode, Config, Server};
use http::{Request, StatusCode};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::support::{self, LIMIT, parse_responses, text_headers};

/// A CA, a server certificate for `localhost` and a client certificate, on disk.
struct Pki {
    dir: PathBuf,
    ca_der: CertificateDer<'static>,
    server_pem: String,
    client_chain: Vec<CertificateDer<'static>>,
    client_key: Vec<u8>,
}

impl Pki {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "asgi-server-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();

        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name = dn("Test CA", "Example");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let mut server_params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        server_params.distinguished_name = dn("localhost", "Example");
        let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params.distinguished_name = dn("client", "Example");
        let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();

        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.join("server.pem"), server_cert.pem()).unwrap();
        std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
        Self {
            dir,
            ca_der: ca_cert.der().clone(),
            server_pem: server_cert.pem(),
            client_chain: vec![client_cert.der().clone()],
            client_key: client_key.serialize_der(),
        }
    }

    fn config(&self) -> Config {
        let mut config = support::config();
        config.ssl_certfile = Some(self.dir.join("server.pem"));
        config.ssl_keyfile = Some(self.dir.join("server.key"));
        config
    }

    fn mutual_config(&self, mode: ClientCertMode) -> Config {
        let mut config = self.config();
        config.ssl_ca_certs = Some(self.dir.join("ca.pem"));
        config.ssl_cert_reqs = mode;
        config
    }

    /// A rustls client trusting the test CA, offering `alpn`.
    fn connector(&self, alpn: &[&[u8]], client_cert: bool) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let mut config = if client_cert {
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.client_key.clone()));
            builder
                .with_client_auth_cert(self.client_chain.clone(), key)
                .unwrap()
        } else {
            builder.with_no_client_auth()
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsConnector::from(Arc::new(config))
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn dn(common_name: &str, organization: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, organization);
    dn
}

async fn tls_connect(
    addr: std::net::SocketAddr,
    connector: &TlsConnector,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(LIMIT, connector.connect(name, tcp))
        .await
        .expect("handshake settles in time")
}

/// One `GET /` over a TLS connection (HTTP/1.1, `Connection: close`): the
/// text of the single response.
async fn get_over_tls(addr: std::net::SocketAddr, connector: &TlsConnector) -> String {
    let mut stream = tls_connect(addr, connector).await.expect("handshake");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let reply = support::read_to_close(&mut stream).await;
    let responses = parse_responses(&reply);
    assert_eq!(responses.len(), 1, "{}", String::from_utf8_lossy(&reply));
    responses[0].text()
}

/// Answers with the scope's TLS facts, one `key=value` per line.
fn tls_report(calls: Arc<AtomicUsize>) -> impl App {
    app_fn(move |scope, _receive, send| {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::Relaxed);
            let Scope::Http(scope) = scope else {
                return Err("http only".into());
            };
            let mut lines = vec![
                format!("scheme={}", scope.scheme.as_str()),
                format!("version={}", scope.http_version),
            ];
            match &scope.extensions.tls {
                Some(tls) => {
                    lines.push(format!("tls_version={:?}", tls.tls_version));
                    lines.push(format!("cipher_suite={}", tls.cipher_suite.is_some()));
                    lines.push(format!(
                        "server_cert={}",
                        tls.server_cert.as_deref().unwrap_or("")
                    ));
                    lines.push(format!("chain={}", tls.client_cert_chain.len()));
                    lines.push(format!(
                        "chain_pem={}",
                        tls.client_cert_chain
                            .first()
                            .is_some_and(|c| c.starts_with("-----BEGIN CERTIFICATE-----\n"))
                    ));
                    lines.push(format!(
                        "name={}",
                        tls.client_cert_name.as_deref().unwrap_or("-")
                    ));
                }
                None => lines.push("tls=none".to_owned()),
            }
            send.send(HttpSend::start(StatusCode::OK, text_headers()))
                .await?;
            send.send(HttpSend::body(lines.join("\n"))).await?;
            Ok(())
        }
    })
}

fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

/// PEM text without line breaks, to compare encodings that wrap differently.
fn squash(pem: &str) -> String {
    pem.chars().filter(|c| !c.is_whitespace()).collect()
}

#[tokio::test]
async fn h1_over_tls_fills_the_tls_extension() {
    let pki = Pki::new();
    let server = support::serve_with(pki.config(), tls_report(Arc::default())).await;
    let text = get_over_tls(server.addr, &pki.connector(&[b"http/1.1"], false)).await;

    assert_eq!(field(&text, "scheme"), "https");
    assert_eq!(field(&text, "version"), "1.1");
    assert_eq!(field(&text, "tls_version"), "Some(772)"); // 0x0304: TLS 1.3
    assert_eq!(field(&text, "cipher_suite"), "true");
    let start = text.find("server_cert=").unwrap() + "server_cert=".len();
    let end = text.find("\nchain=").unwrap();
    assert_eq!(squash(&text[start..end]), squash(&pki.server_pem));
    assert_eq!(field(&text, "chain"), "0");
    assert_eq!(field(&text, "name"), "-");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn h2_is_chosen_by_alpn() {
    let pki = Pki::new();
    let server = support::serve_with(pki.config(), tls_report(Arc::default())).await;
    let stream = tls_connect(server.addr, &pki.connector(&[b"h2", b"http/1.1"], false))
        .await
        .expect("handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));

    let (client, conn) = ::h2::client::handshake(stream).await.expect("h2 handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.unwrap();
    let req = Request::get("https://localhost/").body(()).unwrap();
    let (response, _) = client.send_request(req, true).unwrap();
    let mut res = tokio::time::timeout(LIMIT, response)
        .await
        .expect("response in time")
        .unwrap();
    let mut body = Vec::new();
    while let Some(chunk) = res.body_mut().data().await {
        body.extend_from_slice(&chunk.unwrap());
    }

    let text = String::from_utf8(body).unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(field(&text, "scheme"), "https");
    assert_eq!(field(&text, "version"), "2");
    assert_eq!(field(&text, "cipher_suite"), "true");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn alpn_offers_only_http11_in_h1_mode() {
    let pki = Pki::new();
    let mut config = pki.config();
    config.http = asgi_server::HttpMode::H1;
    let server = support::serve_with(config, tls_report(Arc::default())).await;

    let stream = tls_connect(server.addr, &pki.connector(&[b"h2", b"http/1.1"], false))
        .await
        .expect("handshake");

    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn required_client_certificate_fills_the_chain_and_name() {
    let pki = Pki::new();
    let config = pki.mutual_config(ClientCertMode::Required);
    let server = support::serve_with(config, tls_report(Arc::default())).await;
    let text = get_over_tls(server.addr, &pki.connector(&[b"http/1.1"], true)).await;

    assert_eq!(field(&text, "chain"), "1");
    assert_eq!(field(&text, "chain_pem"), "true");
    // RFC 4514 writes the last RDN first.
    assert_eq!(field(&text, "name"), "O=Example,CN=client");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn required_client_certificate_missing_fails_the_handshake() {
    let pki = Pki::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let config = pki.mutual_config(ClientCertMode::Required);
    let server = support::serve_with(config, tls_report(calls.clone())).await;

    // With TLS 1.3 the client finishes its side first; the server's refusal
    // arrives as an alert on the first read.
    let reply = match tls_connect(server.addr, &pki.connector(&[b"http/1.1"], false)).await {
        Err(_) => Vec::new(),
        Ok(mut stream) => {
            let _ = stream
                .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await;
            support::read_to_close(&mut stream).await
        }
    };

    assert!(reply.is_empty(), "{}", String::from_utf8_lossy(&reply));
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn optional_client_certificate_may_be_missing() {
    let pki = Pki::new();
    let config = pki.mutual_config(ClientCertMode::Optional);
    let server = support::serve_with(config, tls_report(Arc::default())).await;
    let text = get_over_tls(server.addr, &pki.connector(&[b"http/1.1"], false)).await;

    assert_eq!(field(&text, "chain"), "0");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn plain_http_on_the_tls_port_is_answered_400_and_closed() {
    let pki = Pki::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let server = support::serve_with(pki.config(), tls_report(calls.clone())).await;

    let reply = support::roundtrip(server.addr, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await;

    let responses = parse_responses(&reply);
    assert_eq!(responses.len(), 1, "{}", String::from_utf8_lossy(&reply));
    assert_eq!(responses[0].status, 400);
    assert_eq!(responses[0].header("connection"), Some("close"));
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn silent_client_is_dropped_after_the_handshake_timeout() {
    let pki = Pki::new();
    let mut config = pki.config();
    config.timeout_request_head = Duration::from_millis(200);
    let server = support::serve_with(config, tls_report(Arc::default())).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();

    let reply = support::read_to_close(&mut tcp).await;

    assert!(reply.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    server.stop().await.unwrap();
}

/// Writes the server key encrypted with `password` (PBES2: PBKDF2-SHA256,
/// AES-256-CBC, as `openssl genpkey -aes256` does) and returns its path.
fn encrypted_server_key(pki: &Pki, password: &str) -> PathBuf {
    let plain = std::fs::read_to_string(pki.dir.join("server.key")).unwrap();
    let (_, der) = pkcs8::der::Document::from_pem(&plain).unwrap();
    let info = pkcs8::PrivateKeyInfo::try_from(der.as_bytes()).unwrap();
    let params =
        pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, b"saltsalt", &[7; 16])
            .unwrap();
    let encrypted = info.encrypt_with_params(params, password).unwrap();
    let pem = encrypted
        .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
        .unwrap();
    let path = pki.dir.join("encrypted.key");
    std::fs::write(&path, pem.as_bytes()).unwrap();
    path
}

#[tokio::test]
async fn encrypted_private_key_is_decrypted_with_the_password() {
    let pki = Pki::new();
    let mut config = pki.config();
    config.ssl_keyfile = Some(encrypted_server_key(&pki, "hunter2"));
    config.ssl_keyfile_password = Some(asgi_server::Password::new("hunter2"));
    let server = support::serve_with(config, tls_report(Arc::default())).await;
    let text = get_over_tls(server.addr, &pki.connector(&[b"http/1.1"], false)).await;

    assert_eq!(field(&text, "scheme"), "https");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn encrypted_private_key_without_the_right_password_fails_at_startup() {
    let pki = Pki::new();
    let key = encrypted_server_key(&pki, "hunter2");
    type Case = (Option<&'static str>, &'static str);
    let cases: &[Case] = &[
        (None, "--ssl-keyfile-password"),
        (Some("wrong"), "could not be decrypted"),
    ];
    for &(password, expected) in cases {
        let mut config = pki.config();
        config.ssl_keyfile = Some(key.clone());
        config.ssl_keyfile_password = password.map(asgi_server::Password::new);

        let error = Server::new(config).bind().await.expect_err("startup fails");

        assert!(error.is_config(), "{error}");
        assert!(error.to_string().contains(expected), "{error}");
    }
}

#[tokio::test]
async fn legacy_encrypted_and_malformed_keys_fail_at_startup_with_a_reason() {
    let pki = Pki::new();
    type Case = (&'static str, &'static str);
    let cases: &[Case] = &[
        (
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            "openssl pkcs8 -topk8",
        ),
        (
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "encrypted private key",
        ),
    ];
    for &(pem, expected) in cases {
        let key = pki.dir.join("bad.key");
        std::fs::write(&key, pem).unwrap();
        let mut config = pki.config();
        config.ssl_keyfile = Some(key);
        config.ssl_keyfile_password = Some(asgi_server::Password::new("secret"));

        let error = Server::new(config).bind().await.expect_err("startup fails");

        assert!(error.is_config(), "{error}");
        assert!(error.to_string().contains(expected), "{error}");
    }
}

#[tokio::test]
async fn client_cert_reqs_without_ca_certs_fails_at_startup() {
    let pki = Pki::new();
    let mut config = pki.config();
    config.ssl_cert_reqs = ClientCertMode::Required;

    let error = Server::new(config).bind().await.expect_err("startup fails");

    assert!(error.is_config());
}

#[tokio::test]
async fn websocket_over_tls_is_wss_with_the_tls_extension() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;

    let pki = Pki::new();
    let app = app_fn(|scope, receive, send| async move {
        let Scope::WebSocket(scope) = scope else {
            return Err("websocket only".into());
        };
        let _connect = receive.receive().await?;
        send.send(asgi_core::WebSocketSend::accept()).await?;
        let report = format!(
            "{} tls={}",
            scope.scheme.as_str(),
            scope
                .extensions
                .tls
                .as_ref()
                .is_some_and(|tls| tls.server_cert.is_some())
        );
        send.send(asgi_core::WebSocketSend::message(report)).await?;
        send.send(asgi_core::WebSocketSend::close(1000)).await?;
        Ok(())
    });
    let server = support::serve_with(pki.config(), app).await;
    let stream = tls_connect(server.addr, &pki.connector(&[b"http/1.1"], false))
        .await
        .expect("handshake");

    let (mut ws, _) = tokio::time::timeout(
        LIMIT,
        tokio_tungstenite::client_async("wss://localhost/ws", stream),
    )
    .await
    .expect("upgrade in time")
    .expect("upgrade");
    let first = tokio::time::timeout(LIMIT, ws.next())
        .await
        .expect("message in time")
        .expect("a message")
        .expect("message ok");

    assert_eq!(first, Message::text("wss tls=true"));
    drop(ws);
    server.stop().await.unwrap();
}
