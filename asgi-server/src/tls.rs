//! TLS: the rustls settings `--ssl-*` describe, the handshake of each
//! connection, and the `tls` scope extension it yields.
//!
//! rustls cannot decrypt encrypted PEM private keys, so
//! `--ssl-keyfile-password` cannot be honoured: an encrypted key fails at
//! startup with an error that says how to decrypt it.

use std::io;
use std::path::Path;
use std::sync::Arc;

use asgi_core::{Scheme, TlsInfo};
use base64::Engine as _;
use bytes::BytesMut;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ServerConfig, ServerConnection, WebPkiClientVerifier};
use rustls::{RootCertStore, crypto::CryptoProvider};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

use crate::config::{ClientCertMode, Config, HttpMode, Password};
use crate::error::Error;
use crate::protocol::prefixed::Prefixed;
use crate::protocol::{self, ConnInfo, ServiceContext};
use crate::shutdown::Shutdown;

/// What every TLS connection of a server shares.
pub(crate) struct TlsSettings {
    acceptor: TlsAcceptor,
    /// The server's leaf certificate, PEM (`server_cert` of the extension).
    server_cert: String,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings").finish_non_exhaustive()
    }
}

impl TlsSettings {
    /// The settings `config` asks for; `None` when TLS is off.
    ///
    /// # Errors
    ///
    /// [`Error::is_config`] for unreadable or unusable files, an encrypted key,
    /// or `--ssl-cert-reqs` without `--ssl-ca-certs`.
    pub(crate) fn load(config: &Config) -> Result<Option<Arc<Self>>, Error> {
        let (certfile, keyfile) = match (&config.ssl_certfile, &config.ssl_keyfile) {
            (None, None) => return Ok(None),
            (Some(cert), key) => (cert, key.as_ref().unwrap_or(cert)),
            (None, Some(_)) => {
                return Err(Error::config(
                    "--ssl-keyfile needs --ssl-certfile".to_owned(),
                ));
            }
        };
        let certs = load_certs(certfile)?;
        let key = load_key(keyfile, config.ssl_keyfile_password.as_ref())?;
        let server_cert = pem("CERTIFICATE", &certs[0]);

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|error| Error::config(format!("TLS: {error}")))?;
        let builder = match config.ssl_cert_reqs {
            ClientCertMode::None => builder.with_no_client_auth(),
            mode => builder.with_client_cert_verifier(client_verifier(config, mode, provider)?),
        };
        let mut server = builder
            .with_single_cert(certs, key)
            .map_err(|error| Error::config(format!("--ssl-certfile/--ssl-keyfile: {error}")))?;
        server.alpn_protocols = match config.http {
            HttpMode::H1 => vec![b"http/1.1".to_vec()],
            HttpMode::H2 => vec![b"h2".to_vec()],
            HttpMode::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        };
        Ok(Some(Arc::new(Self {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            server_cert,
        })))
    }
}

fn client_verifier(
    config: &Config,
    mode: ClientCertMode,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, Error> {
    let Some(ca_certs) = &config.ssl_ca_certs else {
        return Err(Error::config(
            "--ssl-cert-reqs 1 or 2 needs --ssl-ca-certs to check client certificates against"
                .to_owned(),
        ));
    };
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca_certs)? {
        roots.add(cert).map_err(|error| {
            Error::config(format!("--ssl-ca-certs {}: {error}", ca_certs.display()))
        })?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = match mode {
        ClientCertMode::Optional => builder.allow_unauthenticated(),
        _ => builder,
    };
    builder
        .build()
        .map_err(|error| Error::config(format!("--ssl-ca-certs: {error}")))
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bad = |error: rustls::pki_types::pem::Error| {
        Error::config(format!("certificates in {}: {error}", path.display()))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(bad)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    if certs.is_empty() {
        return Err(Error::config(format!(
            "no PEM certificate in {}",
            path.display()
        )));
    }
    Ok(certs)
}

fn load_key(path: &Path, password: Option<&Password>) -> Result<PrivateKeyDer<'static>, Error> {
    let text = std::fs::read(path)
        .map_err(|error| Error::config(format!("--ssl-keyfile {}: {error}", path.display())))?;
    if contains(&text, LEGACY_ENCRYPTED) {
        return Err(Error::config(format!(
            "--ssl-keyfile {}: the private key is encrypted in the legacy OpenSSL format, \
             which cannot be read; convert it to encrypted PKCS#8 with \
             `openssl pkcs8 -topk8 -v2 aes256 -in {0} -out key.pem`, or decrypt it",
            path.display()
        )));
    }
    if contains(&text, ENCRYPTED_BEGIN.as_bytes()) {
        let Some(password) = password else {
            return Err(Error::config(format!(
                "--ssl-keyfile {}: the private key is encrypted; give its password with \
                 --ssl-keyfile-password",
                path.display()
            )));
        };
        return decrypt_key(&text, password).map_err(|reason| {
            Error::config(format!("--ssl-keyfile {}: {reason}", path.display()))
        });
    }
    if password.is_some() {
        tracing::warn!("--ssl-keyfile-password is ignored: the private key is not encrypted");
    }
    PrivateKeyDer::from_pem_slice(&text)
        .map_err(|error| Error::config(format!("private key in {}: {error}", path.display())))
}

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
/// The header of OpenSSL's legacy (pre-PKCS#8) encrypted PEM keys.
const LEGACY_ENCRYPTED: &[u8] = b"Proc-Type: 4,ENCRYPTED";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Decrypts the first encrypted PKCS#8 block (PBES2: PBKDF2 or scrypt with
/// AES-CBC, what `openssl genpkey -aes256` and `openssl pkcs8 -topk8 -v2`
/// write) of a PEM file that may hold other blocks too.
fn decrypt_key(pem: &[u8], password: &Password) -> Result<PrivateKeyDer<'static>, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "the key file is not PEM text".to_owned())?;
    let block = text
        .find(ENCRYPTED_BEGIN)
        .and_then(|begin| {
            let end = text[begin..].find(ENCRYPTED_END)? + begin + ENCRYPTED_END.len();
            Some(&text[begin..end])
        })
        .ok_or("the encrypted private key block has no end line")?;
    let (_, document) = pkcs8::der::Document::from_pem(block)
        .map_err(|error| format!("the encrypted private key is not valid PEM/DER: {error}"))?;
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(document.as_bytes())
        .map_err(|error| format!("the encrypted private key is malformed: {error}"))?;
    let decrypted = info.decrypt(password.expose()).map_err(|_| {
        "the encrypted private key could not be decrypted: wrong --ssl-keyfile-password, \
         or an encryption scheme other than PBES2 (PBKDF2 or scrypt with AES-CBC)"
            .to_owned()
    })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        decrypted.as_bytes().to_vec(),
    )))
}

/// `der` as a PEM block with `label`.
fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A plain-HTTP request on the TLS port gets this, then the connection closes.
const PLAIN_HTTP_REPLY: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 48\r\nconnection: close\r\n\r\nThis port speaks HTTPS: plain HTTP was received.";

/// Runs the TLS handshake (within `--timeout-request-head`), then serves the
/// connection as ALPN chose.
pub(crate) async fn serve<I>(
    mut io: I,
    mut info: ConnInfo,
    ctx: Arc<ServiceContext>,
    settings: Arc<TlsSettings>,
    mut shutdown: Shutdown,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handshake = async {
        // A TLS connection opens with a handshake record (0x16); anything
        // else (most likely plain HTTP) gets a short answer, not a TLS alert.
        let mut first = BytesMut::with_capacity(1024);
        if io.read_buf(&mut first).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if first[0] != 0x16 {
            if first[0].is_ascii_alphabetic() {
                let _ = io.write_all(PLAIN_HTTP_REPLY).await;
                let _ = io.shutdown().await;
            }
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a TLS connection (plain HTTP on the TLS port?)",
            ));
        }
        settings
            .acceptor
            .accept(Prefixed::new(first.freeze(), io))
            .await
    };
    let stream = tokio::select! {
        done = tokio::time::timeout(ctx.config.timeout_request_head, handshake) => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::debug!(client = ?info.client, "TLS handshake failed: {error}");
                return;
            }
            Err(_) => {
                tracing::debug!(client = ?info.client, "TLS handshake not done in time; closing");
                return;
            }
        },
        () = shutdown.wait() => return,
    };
    let conn = stream.get_ref().1;
    let h2 = match conn.alpn_protocol() {
        Some(b"h2") => Some(true),
        Some(_) => Some(false),
        None => None,
    };
    info.scheme = Scheme::Https;
    info.tls = Some(Arc::new(tls_info(conn, &settings)));
    match h2 {
        Some(true) => protocol::http::h2::serve(stream, info, ctx, shutdown).await,
        Some(false) => {
            protocol::http::h1::conn::serve(stream, BytesMut::new(), info, ctx, shutdown).await
        }
        // No ALPN: detect as on a plain connection.
        None => protocol::serve_connection(stream, info, ctx, shutdown).await,
    }
}

/// The `tls` scope extension for a finished handshake.
fn tls_info(conn: &ServerConnection, settings: &TlsSettings) -> TlsInfo {
    let mut info = TlsInfo::new();
    info.server_cert = Some(settings.server_cert.clone());
    info.tls_version = conn.protocol_version().map(u16::from);
    info.cipher_suite = conn
        .negotiated_cipher_suite()
        .map(|suite| u16::from(suite.suite()));
    if let Some(chain) = conn.peer_certificates() {
        info.client_cert_chain = chain.iter().map(|cert| pem("CERTIFICATE", cert)).collect();
        info.client_cert_name = chain.first().and_then(|leaf| subject_name(leaf));
    }
    info
}

/// The certificate's subject as an RFC 4514 string (`CN=client,O=Example`):
/// last RDN first, multi-valued RDNs joined by `+`, specials escaped.
///
/// `None` if the certificate does not parse or an attribute is not a string
/// type (RFC 4514 would write its DER in hex; no client we know sends such names).
fn subject_name(der: &[u8]) -> Option<String> {
    use x509_parser::objects::{oid_registry, oid2abbrev};
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut rdns = Vec::new();
    for rdn in cert.subject().iter().collect::<Vec<_>>().into_iter().rev() {
        let mut attrs = Vec::new();
        for attr in rdn.iter() {
            let name = match oid2abbrev(attr.attr_type(), oid_registry()) {
                Ok(name) => name.to_owned(),
                Err(_) => attr.attr_type().to_id_string(),
            };
            let value = attr.as_str().ok()?;
            attrs.push(format!("{name}={}", escape_dn_value(value)));
        }
        rdns.push(attrs.join("+"));
    }
    Some(rdns.join(","))
}

/// Escapes an attribute value as RFC 4514 section 2.4 asks.
fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        if c == '\0' {
            out.push_str("\\00");
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_values_are_escaped() {
        let cases = [
            ("plain", "plain"),
            ("a,b", "a\\,b"),
            ("#x", "\\#x"),
            (" pad ", "\\ pad\\ "),
            ("a+b;c", "a\\+b\\;c"),
        ];
        for (value, escaped) in cases {
            assert_eq!(escape_dn_value(value), escaped, "{value:?}");
        }
    }

    #[test]
    fn pem_wraps_base64_at_64_columns() {
        let der = vec![0u8; 100];

        let text = pem("CERTIFICATE", &der);

        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
    }
}
