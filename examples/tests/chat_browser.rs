//! The chat example end to end in a real browser: two headless Chromium
//! pages join the room, one sends a message, the other shows it.
//!
//! Chromium is driven through chromedriver's W3C WebDriver HTTP API with a
//! few requests made by `reqwest` (already a dependency of the examples), so
//! the test needs no extra crate and no Python: only the Debian packages
//! `chromium` and `chromium-driver`. Without them the test prints a SKIP
//! line on the terminal and passes, unless `REQUIRE_BROWSER_TESTS=1` is set
//! (as CI should), in which case it fails.

mod support;

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Served, bounded};

/// The W3C key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long to wait for something to appear on a page.
const PAGE_TIMEOUT: Duration = Duration::from_secs(15);

/// The first of `names` found on `PATH`.
fn find_on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Says on the terminal (even under the test harness's capture) that the test did not run.
fn skip(reason: &str) {
    let line = format!(
        "SKIP chat_browser: {reason}; install with `apt-get install -y chromium chromium-driver`\n"
    );
    if std::env::var_os("REQUIRE_BROWSER_TESTS").is_some_and(|v| v == "1") {
        panic!("{line}(REQUIRE_BROWSER_TESTS=1)");
    }
    // Written to the process's stderr directly: the harness captures only `eprintln!`.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// chromedriver, started on a free port and killed on drop.
struct Driver {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Driver {
    async fn start(chromedriver: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("a client"),
        };
        let started = Instant::now();
        loop {
            let ready = async {
                let status: Value = driver
                    .http
                    .get(format!("{}/status", driver.url))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                status["value"]["ready"].as_bool()
            };
            if ready.await == Some(true) {
                return driver;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One WebDriver command; returns its `value`, panicking with the driver's error.
    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("chromedriver answers");
        let status = response.status();
        let reply: Value = response.json().await.expect("a JSON reply");
        assert!(status.is_success(), "WebDriver {path}: {status} {reply}");
        reply["value"].clone()
    }

    /// A new headless Chromium with its own profile folder.
    async fn session(&self, chromium: &Path, profile: &Path) -> Session<'_> {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ]
        .map(str::to_owned)
        .into_iter()
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": chromium, "args": args }
                }
            }
        });
        let value = self
            .command(reqwest::Method::POST, "/session", Some(capabilities))
            .await;
        let id = value["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        Session { driver: self, id }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser.
struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.id);
        self.driver.command(method, &path, body).await
    }

    async fn open(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn element(&self, css: &str) -> String {
        let value = self
            .command(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        value[ELEMENT_KEY]
            .as_str()
            .expect("an element reference")
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        let path = format!("/element/{element}/value");
        self.command(reqwest::Method::POST, &path, Some(json!({ "text": text })))
            .await;
    }

    async fn click(&self, css: &str) {
        let element = self.element(css).await;
        let path = format!("/element/{element}/click");
        self.command(reqwest::Method::POST, &path, Some(json!({})))
            .await;
    }

    async fn text(&self, css: &str) -> String {
        let element = self.element(css).await;
        let path = format!("/element/{element}/text");
        let value = self.command(reqwest::Method::GET, &path, None).await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the text of `css` contains `expected`; returns the text.
    async fn wait_for_text(&self, css: &str, expected: &str) -> String {
        let started = Instant::now();
        loop {
            let text = self.text(css).await;
            if text.contains(expected) {
                return text;
            }
            assert!(
                started.elapsed() < PAGE_TIMEOUT,
                "{css} never showed {expected:?}; it shows {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn join(&self, url: &str, name: &str) {
        self.open(url).await;
        self.type_into("#name", name).await;
        self.click("#join").await;
        self.wait_for_text("#status", &format!("connected as {name}"))
            .await;
    }

    async fn quit(self) {
        self.driver
            .command(
                reqwest::Method::DELETE,
                &format!("/session/{}", self.id),
                None,
            )
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_in_one_page_shows_in_the_other() {
    let Some(chromedriver) = find_on_path(&["chromedriver"]) else {
        skip("chromedriver is not installed");
        return;
    };
    let Some(chromium) = find_on_path(&["chromium", "chromium-browser", "google-chrome"]) else {
        skip("chromium is not installed");
        return;
    };

    bounded(async {
        let server = Served::start(examples::chat::app(examples::chat::default_page_dir())).await;
        let driver = Driver::start(&chromedriver).await;
        let profiles = std::env::temp_dir().join(format!("chat-browser-{}", std::process::id()));
        let alice = driver.session(&chromium, &profiles.join("alice")).await;
        let bob = driver.session(&chromium, &profiles.join("bob")).await;
        let url = server.url("/");

        alice.join(&url, "alice").await;
        bob.join(&url, "bob").await;
        alice.wait_for_text("#messages", "bob joined").await;
        alice.type_into("#message", "hello from alice").await;
        alice.click("#send").await;
        let bobs_view = bob
            .wait_for_text("#messages", "alice: hello from alice")
            .await;
        let alices_view = alice
            .wait_for_text("#messages", "alice: hello from alice")
            .await;

        alice.quit().await;
        bob.quit().await;
        drop(driver);
        let _ = std::fs::remove_dir_all(&profiles);
        server.stop().await;
        assert!(bobs_view.contains("alice: hello from alice"), "{bobs_view}");
        assert!(alices_view.contains("bob joined"), "{alices_view}");
    })
    .await;
}
