//! Behind nginx: two instances in an upstream, traffic through nginx on
//! loopback, `X-Forwarded-For` into the scope's client via `--proxy-headers`.
//!
//! Needs the `nginx` binary (`.ci/run` installs it); without it the test
//! prints why it is skipped and returns, unless `REQUIRE_NGINX_TESTS` is set.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use asgi_core::{App, Headers, HttpSend, Scope, app_fn};
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{self, LIMIT};

/// Answers `<instance> <scope client ip> <scheme>`.
fn instance(name: &'static str) -> impl App {
    app_fn(move |scope, _receive, send| async move {
        let Scope::Http(scope) = scope else {
            return Ok(());
        };
        let client = scope
            .client
            .map_or_else(|| String::from("-"), |addr| addr.ip().to_string());
        let body = format!("{name} {client} {}", scope.scheme.as_str());
        send.send(HttpSend::start(StatusCode::OK, Headers::new()))
            .await?;
        send.send(HttpSend::body(body)).await?;
        Ok(())
    })
}

fn find_nginx() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
}

/// nginx in the foreground, one process, everything under `dir`.
struct Nginx {
    child: Child,
    dir: PathBuf,
}

impl Nginx {
    fn start(binary: &Path, upstreams: &[SocketAddr]) -> (Self, SocketAddr) {
        let dir = std::env::temp_dir().join(format!("asgi-nginx-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("logs")).expect("temp dir");
        // A free port for nginx: bind, note it, release it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let servers: String = upstreams
            .iter()
            .map(|addr| format!("        server {addr};\n"))
            .collect();
        let d = dir.display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/logs/error.log warn;\nevents {{ worker_connections 64; }}\n\
             http {{\n    access_log off;\n\
                 client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n\
                 fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n\
                 upstream app {{\n{servers}        keepalive 8;\n    }}\n\
                 server {{\n        listen 127.0.0.1:{port};\n        location / {{\n\
                     proxy_pass http://app;\n            proxy_http_version 1.1;\n\
                     proxy_set_header Connection \"\";\n            proxy_set_header Host $host;\n\
                     proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
                     proxy_set_header X-Forwarded-Proto $scheme;\n        }}\n    }}\n}}\n"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let child = Command::new(binary)
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("logs/error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .spawn()
            .expect("start nginx");
        (
            Self { child, dir },
            SocketAddr::from(([127, 0, 0, 1], port)),
        )
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One request through nginx, claiming to come from `forwarded_for`.
async fn get(addr: SocketAddr, forwarded_for: &str) -> std::io::Result<support::Response> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: example.test\r\nX-Forwarded-For: {forwarded_for}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(LIMIT, stream.read_to_end(&mut raw)).await??;
    support::parse_responses(&raw)
        .into_iter()
        .next()
        .ok_or_else(|| std::io::Error::other(String::from_utf8_lossy(&raw).into_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_balances_two_instances_and_forwards_the_client_address() {
    let Some(binary) = find_nginx() else {
        // CI sets REQUIRE_NGINX_TESTS=1 after installing nginx: missing, it fails there.
        assert!(
            std::env::var_os("REQUIRE_NGINX_TESTS").is_none(),
            "REQUIRE_NGINX_TESTS is set but nginx is not installed"
        );
        println!(
            "SKIPPED nginx_balances_two_instances...: nginx is not installed (apt-get install -y nginx)"
        );
        return;
    };
    // Default --forwarded-allow-ips: 127.0.0.1, where nginx connects from.
    let first = support::serve(instance("first")).await;
    let second = support::serve(instance("second")).await;
    let (nginx, addr) = Nginx::start(&binary, &[first.addr, second.addr]);
    let deadline = Instant::now() + LIMIT;
    while TcpStream::connect(addr).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not start:\n{}",
            nginx.error_log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut bodies = Vec::new();
    for _ in 0..8 {
        let response = get(addr, "203.0.113.7")
            .await
            .expect("response through nginx");
        assert_eq!(
            response.status,
            200,
            "{}\n{}",
            response.text(),
            nginx.error_log()
        );
        bodies.push(response.text());
    }

    // Round robin: both instances served.
    assert!(bodies.iter().any(|b| b.starts_with("first ")), "{bodies:?}");
    assert!(
        bodies.iter().any(|b| b.starts_with("second ")),
        "{bodies:?}"
    );
    // nginx appended its peer (127.0.0.1, trusted); the client is the address before it.
    for body in &bodies {
        assert!(body.ends_with(" 203.0.113.7 http"), "{body}");
    }
    drop(nginx);
    first.stop().await.expect("first stops");
    second.stop().await.expect("second stops");
}
