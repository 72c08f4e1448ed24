//! The built-in middleware: CORS, GZip, TrustedHost, HTTPSRedirect, sessions, request ids, server errors.

use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use asgi_core::{App, Headers, HttpSend, Scheme, Scope, SharedApp, app_fn};
use asgi_framework::middleware::{
    Cors, GZip, HttpsRedirect, Middleware, RequestId, RequestIds, ServerErrors, Session, Sessions,
    TrustedHost,
};
use asgi_framework::testing::TestClient;
use asgi_framework::{Application, BackgroundTasks, StreamBody, get, ws};
use bytes::Bytes;
use cookie::Key;
use http::StatusCode;

fn hello() -> Application {
    Application::new().route("/", get(|| async { "Hello, world!" }))
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("valid gzip");
    text
}

// ===== CORS =====

fn cors() -> Cors {
    Cors::new()
        .allow_origins(["https://example.org"])
        .allow_methods(["GET", "POST"])
        .allow_headers(["X-Token"])
        .max_age(123)
}

#[tokio::test]
async fn cors_preflight_from_allowed_origin_is_200_with_allow_headers() {
    let client = TestClient::new(hello().layer(cors()));

    let res = client
        .options("/")
        .header("origin", "https://example.org")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "X-Token, content-type")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://example.org")
    );
    assert_eq!(
        res.header("access-control-allow-methods"),
        Some("GET, POST")
    );
    assert_eq!(
        res.header("access-control-allow-headers"),
        Some("accept, accept-language, content-language, content-type, x-token")
    );
    assert_eq!(res.header("access-control-max-age"), Some("123"));
    assert_eq!(res.header("vary"), Some("Origin"));
    assert_eq!(res.text(), "OK");
}

#[tokio::test]
async fn cors_preflight_names_every_failure_with_400() {
    let client = TestClient::new(hello().layer(cors()));

    let res = client
        .options("/")
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "DELETE")
        .header("access-control-request-headers", "x-other")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.header("access-control-allow-origin"), None);
    assert_eq!(res.text(), "Disallowed CORS origin, method, headers");
}

#[tokio::test]
async fn cors_simple_request_gets_allow_origin_and_vary() {
    let client =
        TestClient::new(hello().layer(cors().allow_credentials(true).expose_headers(["x-total"])));

    let res = client
        .get("/")
        .header("origin", "https://example.org")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://example.org")
    );
    assert_eq!(res.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(res.header("access-control-expose-headers"), Some("x-total"));
    assert_eq!(res.header("vary"), Some("Origin"));
    assert_eq!(res.text(), "Hello, world!");
}

#[tokio::test]
async fn cors_simple_request_from_other_origin_gets_no_allow_origin() {
    let client = TestClient::new(hello().layer(cors()));

    let res = client
        .get("/")
        .header("origin", "https://evil.example")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn cors_wildcard_origin_answers_star_unless_cookies_are_sent() {
    let client = TestClient::new(hello().layer(Cors::new().allow_origins(["*"])));

    let plain = client
        .get("/")
        .header("origin", "https://a.example")
        .send()
        .await;
    let with_cookie = client
        .get("/")
        .header("origin", "https://a.example")
        .header("cookie", "a=1")
        .send()
        .await;

    assert_eq!(plain.header("access-control-allow-origin"), Some("*"));
    assert_eq!(plain.header("vary"), None);
    assert_eq!(
        with_cookie.header("access-control-allow-origin"),
        Some("https://a.example")
    );
    assert_eq!(with_cookie.header("vary"), Some("Origin"));
}

#[tokio::test]
async fn cors_origin_regex_allows_matching_origins_only() {
    let cors = Cors::new()
        .allow_origin_regex(r"https://.*\.example\.org")
        .unwrap();
    let client = TestClient::new(hello().layer(cors));

    let good = client
        .get("/")
        .header("origin", "https://api.example.org")
        .send()
        .await;
    let bad = client
        .get("/")
        .header("origin", "https://api.example.org.evil")
        .send()
        .await;

    assert_eq!(
        good.header("access-control-allow-origin"),
        Some("https://api.example.org")
    );
    assert_eq!(bad.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn cors_allow_all_headers_echoes_the_requested_headers() {
    let cors = Cors::new().allow_origins(["*"]).allow_headers(["*"]);
    let client = TestClient::new(hello().layer(cors));

    let res = client
        .options("/")
        .header("origin", "https://a.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-anything, x-else")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        res.header("access-control-allow-headers"),
        Some("x-anything, x-else")
    );
}

#[tokio::test]
async fn cors_leaves_requests_without_origin_untouched() {
    let client = TestClient::new(hello().layer(cors()));

    let res = client.get("/").send().await;

    assert_eq!(res.header("access-control-allow-origin"), None);
    assert_eq!(res.header("vary"), None);
}

// ===== GZip =====

fn big_text() -> String {
    "hello gzip world ".repeat(100)
}

fn gzip_app() -> Application {
    Application::new()
        .route("/big", get(|| async { big_text() }))
        .route("/small", get(|| async { "tiny" }))
        .route(
            "/stream",
            get(|| async {
                let chunks = futures_util::stream::iter(
                    (0..3).map(|i| format!("chunk {i} {}", "x".repeat(300))),
                );
                StreamBody::new(chunks).content_type("text/plain")
            }),
        )
        .route(
            "/events",
            get(|| async {
                StreamBody::new(futures_util::stream::iter([big_text()]))
                    .content_type("text/event-stream")
            }),
        )
        .route(
            "/encoded",
            get(|| async { (StatusCode::OK, [("content-encoding", "br")], big_text()) }),
        )
        .layer(GZip::new())
}

#[tokio::test]
async fn gzip_compresses_a_whole_body_and_sets_its_length() {
    let client = TestClient::new(gzip_app());

    let res = client
        .get("/big")
        .header("accept-encoding", "gzip, br")
        .send()
        .await;

    assert_eq!(res.header("content-encoding"), Some("gzip"));
    assert_eq!(res.header("vary"), Some("Accept-Encoding"));
    assert_eq!(
        res.header("content-length"),
        Some(res.bytes().len().to_string().as_str())
    );
    assert!(res.bytes().len() < big_text().len());
    assert_eq!(gunzip(&res.bytes()), big_text());
}

#[tokio::test]
async fn gzip_leaves_bodies_under_minimum_size_alone() {
    let client = TestClient::new(gzip_app());

    let res = client
        .get("/small")
        .header("accept-encoding", "gzip")
        .send()
        .await;

    assert_eq!(res.header("content-encoding"), None);
    assert_eq!(res.text(), "tiny");
}

#[tokio::test]
async fn gzip_needs_gzip_in_accept_encoding() {
    let client = TestClient::new(gzip_app());

    let none = client.get("/big").send().await;
    let refused = client
        .get("/big")
        .header("accept-encoding", "gzip;q=0, br")
        .send()
        .await;

    assert_eq!(none.header("content-encoding"), None);
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(none.text(), big_text());
}

#[tokio::test]
async fn gzip_streams_chunk_by_chunk_without_content_length() {
    let client = TestClient::new(gzip_app());

    let res = client
        .get("/stream")
        .header("accept-encoding", "gzip")
        .send()
        .await;

    assert_eq!(res.header("content-encoding"), Some("gzip"));
    assert_eq!(res.header("content-length"), None);
    assert!(
        res.chunks().len() >= 3,
        "one compressed chunk per chunk: {:?}",
        res.chunks().len()
    );
    let expected: String = (0..3)
        .map(|i| format!("chunk {i} {}", "x".repeat(300)))
        .collect();
    assert_eq!(gunzip(&res.bytes()), expected);
}

#[tokio::test]
async fn event_stream_is_never_gzipped() {
    let client = TestClient::new(gzip_app());

    let res = client
        .get("/events")
        .header("accept-encoding", "gzip")
        .send()
        .await;

    assert_eq!(res.header("content-encoding"), None);
    assert_eq!(res.text(), big_text());
}

#[tokio::test]
async fn already_encoded_response_is_not_compressed_again() {
    let client = TestClient::new(gzip_app());

    let res = client
        .get("/encoded")
        .header("accept-encoding", "gzip")
        .send()
        .await;

    assert_eq!(res.header("content-encoding"), Some("br"));
    assert_eq!(res.text(), big_text());
}

#[tokio::test]
async fn partial_content_and_no_transform_are_never_gzipped() {
    let app = Application::new()
        .route(
            "/range",
            get(|| async {
                (
                    StatusCode::PARTIAL_CONTENT,
                    [("content-range", "bytes 0-1699/5000")],
                    big_text(),
                )
            }),
        )
        .route(
            "/raw",
            get(|| async {
                (
                    StatusCode::OK,
                    [("cache-control", "public, no-transform")],
                    big_text(),
                )
            }),
        )
        .layer(GZip::new());
    let client = TestClient::new(app);

    let range = client
        .get("/range")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    let raw = client
        .get("/raw")
        .header("accept-encoding", "gzip")
        .send()
        .await;

    assert_eq!(range.header("content-encoding"), None);
    assert_eq!(range.text(), big_text());
    assert_eq!(raw.header("content-encoding"), None);
    assert_eq!(raw.text(), big_text());
}

#[tokio::test]
async fn gzip_minimum_size_and_level_are_configurable() {
    let app = Application::new()
        .route(
            "/small",
            get(|| async { "tiny but compressible".repeat(2) }),
        )
        .layer(GZip::new().minimum_size(10).compress_level(1));
    let client = TestClient::new(app);

    let res = client
        .get("/small")
        .header("accept-encoding", "gzip")
        .send()
        .await;

    assert_eq!(res.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&res.bytes()), "tiny but compressible".repeat(2));
}

// ===== TrustedHost =====

fn trusted() -> Application {
    hello()
        .route(
            "/ws",
            ws(|mut socket: asgi_framework::WebSocket| async move { socket.accept().await }),
        )
        .layer(TrustedHost::new([
            "example.com",
            "*.example.org",
            "www.site.com",
        ]))
}

#[tokio::test]
async fn untrusted_host_is_400() {
    let client = TestClient::new(trusted());

    let res = client.get("/").header("host", "evil.com").send().await;

    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.text(), "Invalid host header");
}

#[tokio::test]
async fn trusted_hosts_pass_with_ports_and_wildcards() {
    let client = TestClient::new(trusted());

    let exact = client
        .get("/")
        .header("host", "example.com:8000")
        .send()
        .await;
    let wildcard = client
        .get("/")
        .header("host", "api.example.org")
        .send()
        .await;
    let bare = client.get("/").header("host", "example.org").send().await;

    assert_eq!(exact.status(), StatusCode::OK);
    assert_eq!(wildcard.status(), StatusCode::OK);
    assert_eq!(bare.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bare_domain_redirects_to_the_allowed_www_host() {
    let client = TestClient::new(trusted());

    let res = client
        .get("/path")
        .query(&[("q", "1")])
        .header("host", "site.com")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(res.header("location"), Some("http://www.site.com/path?q=1"));
}

#[tokio::test]
async fn untrusted_websocket_is_denied_with_400() {
    let client = TestClient::new(trusted());

    let denied = client.websocket("/ws").connect().await.expect_err("denied");

    assert_eq!(denied.status, StatusCode::BAD_REQUEST);
    assert_eq!(denied.body, Bytes::from_static(b"Invalid host header"));
}

// ===== HTTPSRedirect =====

/// `app` as reached over TLS: the scope's scheme is made secure first.
fn over_tls(app: SharedApp) -> impl App {
    app_fn(move |mut scope, receive, send| {
        match &mut scope {
            Scope::Http(http) => http.scheme = Scheme::Https,
            Scope::WebSocket(ws) => ws.scheme = Scheme::Wss,
            Scope::Lifespan(_) => {}
        }
        app.call(scope, receive, send)
    })
}

#[tokio::test]
async fn http_is_redirected_to_https_with_307_and_port_80_dropped() {
    let client = TestClient::new(hello().layer(HttpsRedirect::new()));

    let res = client
        .post("/a%20b")
        .query(&[("x", "1")])
        .header("host", "example.com:80")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        res.header("location"),
        Some("https://example.com/a%20b?x=1")
    );
}

#[tokio::test]
async fn https_redirect_drops_port_443_too() {
    let client = TestClient::new(hello().layer(HttpsRedirect::new()));

    let res = client
        .get("/")
        .header("host", "example.com:443")
        .send()
        .await;

    assert_eq!(res.header("location"), Some("https://example.com/"));
}

#[tokio::test]
async fn https_redirect_keeps_other_ports() {
    let client = TestClient::new(hello().layer(HttpsRedirect::new()));

    let res = client
        .get("/")
        .header("host", "example.com:8443")
        .send()
        .await;

    assert_eq!(res.header("location"), Some("https://example.com:8443/"));
}

#[tokio::test]
async fn ws_is_redirected_to_wss() {
    let app = hello().route(
        "/ws",
        ws(|mut socket: asgi_framework::WebSocket| async move { socket.accept().await }),
    );
    let client = TestClient::new(app.layer(HttpsRedirect::new()));

    let denied = client
        .websocket("/ws")
        .connect()
        .await
        .expect_err("redirected");

    assert_eq!(denied.status, StatusCode::TEMPORARY_REDIRECT);
    let location = denied
        .headers
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(location.as_deref(), Some("wss://testserver/ws"));
}

#[tokio::test]
async fn secure_requests_pass_through_https_redirect() {
    let redirecting = HttpsRedirect::new().wrap(Arc::new(hello()));
    let client = TestClient::new(over_tls(redirecting));

    let res = client.get("/").send().await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text(), "Hello, world!");
}

// ===== Sessions =====

fn session_app(sessions: Sessions) -> Application {
    async fn count(session: Session) -> String {
        let n = session.get::<u64>("n").unwrap_or(0) + 1;
        session.insert("n", n).expect("a number is JSON");
        n.to_string()
    }
    async fn peek(session: Session) -> String {
        session.get::<u64>("n").unwrap_or(0).to_string()
    }
    async fn logout(session: Session) -> &'static str {
        session.clear();
        "bye"
    }
    Application::new()
        .route("/count", get(count))
        .route("/peek", get(peek))
        .route("/logout", get(logout))
        .layer(sessions)
}

#[tokio::test]
async fn session_round_trips_through_the_signed_cookie() {
    let client = TestClient::new(session_app(Sessions::new(Key::generate())));

    let first = client.get("/count").send().await;
    let second = client.get("/count").send().await;
    let peeked = client.get("/peek").send().await;

    assert_eq!(first.text(), "1");
    assert_eq!(second.text(), "2");
    assert_eq!(peeked.text(), "2");
    let set_cookie = first
        .header("set-cookie")
        .expect("modified session sets a cookie");
    assert!(set_cookie.starts_with("session="), "{set_cookie}");
    for attribute in ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=1209600"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} missing: {set_cookie}"
        );
    }
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
}

#[tokio::test]
async fn unmodified_session_sets_no_cookie() {
    let client = TestClient::new(session_app(Sessions::new(Key::generate())));
    client.get("/count").send().await;

    let res = client.get("/peek").send().await;

    assert_eq!(res.text(), "1");
    assert_eq!(res.header("set-cookie"), None);
}

#[tokio::test]
async fn tampered_session_cookie_is_ignored() {
    let client = TestClient::new(session_app(Sessions::new(Key::generate())));
    let first = client.get("/count").send().await;
    let cookie = first
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    // Change the JSON after the signature: `{"n":1}` becomes `{"n":9}`.
    let tampered = cookie.replace("1%7D", "9%7D").replace("1}", "9}");
    assert_ne!(
        tampered, cookie,
        "the test must change the cookie: {cookie}"
    );

    let res = client.get("/peek").header("cookie", &tampered).send().await;

    assert_eq!(res.text(), "0");
}

#[tokio::test]
async fn session_signed_with_another_key_is_ignored() {
    let first = TestClient::new(session_app(Sessions::new(Key::generate())))
        .get("/count")
        .send()
        .await;
    let cookie = first
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let other = TestClient::new(session_app(Sessions::new(Key::generate())));

    let res = other.get("/peek").header("cookie", &cookie).send().await;

    assert_eq!(res.text(), "0");
}

#[tokio::test]
async fn cleared_session_removes_the_cookie() {
    let client = TestClient::new(session_app(Sessions::new(Key::generate())));
    client.get("/count").send().await;

    let res = client.get("/logout").send().await;
    let after = client.get("/peek").send().await;

    let set_cookie = res.header("set-cookie").expect("a removal cookie");
    assert!(set_cookie.contains("Max-Age=0"), "{set_cookie}");
    assert_eq!(after.text(), "0");
    assert_eq!(client.cookie("session"), None);
}

#[tokio::test]
async fn session_cookie_options_are_applied() {
    let sessions = Sessions::new(Key::generate())
        .cookie_name("sid")
        .https_only(true)
        .same_site(cookie::SameSite::Strict)
        .path("/app")
        .max_age(None);
    let client = TestClient::new(session_app(sessions));

    let res = client.get("/count").send().await;

    let set_cookie = res.header("set-cookie").unwrap();
    assert!(set_cookie.starts_with("sid="), "{set_cookie}");
    for attribute in ["Secure", "SameSite=Strict", "Path=/app"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} missing: {set_cookie}"
        );
    }
    assert!(!set_cookie.contains("Max-Age"), "{set_cookie}");
}

#[tokio::test]
async fn short_session_secret_is_an_error() {
    let error = Sessions::from_secret(b"too short").unwrap_err();

    assert_eq!(
        error.to_string(),
        "a session secret needs at least 64 bytes, got 9"
    );
    assert!(Sessions::from_secret(&[7; 64]).is_ok());
}

#[tokio::test]
async fn session_extractor_without_the_middleware_is_500() {
    let app = Application::new().route("/", get(|_session: Session| async { "unreachable" }));

    let res = TestClient::new(app).get("/").send().await;

    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

// ===== Request ids =====

fn request_id_app() -> Application {
    Application::new()
        .route("/", get(|id: RequestId| async move { id.to_string() }))
        .layer(RequestIds::new())
}

#[tokio::test]
async fn request_id_is_generated_and_shared_with_the_handler() {
    let res = TestClient::new(request_id_app()).get("/").send().await;

    let id = res.header("x-request-id").expect("response carries the id");
    assert_eq!(res.text(), id);
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
}

#[tokio::test]
async fn valid_incoming_request_id_is_reused() {
    let res = TestClient::new(request_id_app())
        .get("/")
        .header("x-request-id", "proxy-42.abc")
        .send()
        .await;

    assert_eq!(res.header("x-request-id"), Some("proxy-42.abc"));
    assert_eq!(res.text(), "proxy-42.abc");
}

#[tokio::test]
async fn invalid_incoming_request_id_is_replaced() {
    let res = TestClient::new(request_id_app())
        .get("/")
        .header("x-request-id", "<script>")
        .send()
        .await;

    let id = res.header("x-request-id").unwrap();
    assert_ne!(id, "<script>");
    assert!(uuid::Uuid::parse_str(id).is_ok());
}

// ===== Server errors =====

fn failing(when: &'static str) -> SharedApp {
    Arc::new(app_fn(move |_scope, _receive, send| async move {
        match when {
            "error" => Err(std::io::Error::other("database unreachable").into()),
            "panic" => panic!("boom"),
            _ => {
                send.send(HttpSend::start(StatusCode::OK, Headers::new()))
                    .await?;
                send.send(HttpSend::chunk("partial")).await?;
                Err("failed mid-stream".into())
            }
        }
    }))
}

#[tokio::test]
async fn app_error_before_the_response_is_a_plain_500() {
    let client = TestClient::new(ServerErrors::new().wrap(failing("error")));

    let res = client.get("/").send().await;

    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(res.text(), "Internal Server Error");
    assert_eq!(res.app_error(), None, "the middleware handled it");
}

#[tokio::test]
async fn app_panic_before_the_response_is_a_500() {
    let client = TestClient::new(ServerErrors::new().wrap(failing("panic")));

    let res = client.get("/").send().await;

    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.text(), "Internal Server Error");
}

#[tokio::test]
async fn debug_mode_shows_the_error_on_an_html_page() {
    let client = TestClient::new(ServerErrors::new().debug(true).wrap(failing("error")));

    let res = client.get("/").send().await;

    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(
        res.text().contains("database unreachable"),
        "{}",
        res.text()
    );
}

#[tokio::test]
async fn error_after_the_response_started_propagates() {
    let client = TestClient::new(ServerErrors::new().wrap(failing("after-start")));

    let res = client.get("/").send().await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text(), "partial");
    assert_eq!(res.app_error(), Some("failed mid-stream"));
}

// ===== All together =====

#[tokio::test]
async fn background_tasks_and_streaming_survive_the_whole_stack() {
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let app = Application::new()
        .route(
            "/",
            get(move |mut tasks: BackgroundTasks| {
                let flag = flag.clone();
                async move {
                    tasks.add(async move {
                        flag.store(true, Ordering::SeqCst);
                        Ok::<(), std::io::Error>(())
                    });
                    let chunks = futures_util::stream::iter(["a".repeat(600), "b".repeat(600)]);
                    (tasks, StreamBody::new(chunks))
                }
            }),
        )
        .layer(GZip::new())
        .layer(Sessions::new(Key::generate()))
        .layer(RequestIds::new())
        .layer(Cors::new().allow_origins(["*"]))
        .layer(ServerErrors::new());
    let client = TestClient::new(app);

    let res = client
        .get("/")
        .header("accept-encoding", "gzip")
        .header("origin", "https://a.example")
        .send()
        .await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.header("access-control-allow-origin"), Some("*"));
    assert!(res.header("x-request-id").is_some());
    assert_eq!(
        gunzip(&res.bytes()),
        format!("{}{}", "a".repeat(600), "b".repeat(600))
    );
    assert!(ran.load(Ordering::SeqCst), "the background task ran");
}
