//! Signed-cookie sessions: Starlette's `SessionMiddleware` on the `cookie` crate's signed jar.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use asgi_core::{App, AppFuture, Headers, Receiver, Scope, Sender, SharedApp};
use cookie::{Cookie, CookieJar, Key, SameSite};
use http::header::{self, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::Middleware;
use super::rewrite::on_response_start;
use crate::extract::{FromRequestParts, Rejection};
use crate::request::Request;

/// Sessions kept in a signed cookie (Starlette's `SessionMiddleware`).
///
/// The session is a JSON object stored in the cookie `session`, signed with
/// HMAC-SHA256 by the `cookie` crate's signed jar: the client can read it but
/// not change it. A cookie that is missing, tampered with or not a JSON
/// object gives an empty session. Handlers read and change it through the
/// [`Session`] extractor; the cookie is sent back (`Set-Cookie`) only when
/// the session was modified, and removed when a modified session is empty.
///
/// Defaults as Starlette's: `max_age` 14 days, path `/`, `SameSite=Lax`,
/// `HttpOnly`, `Secure` only with [`https_only`](Self::https_only).
///
/// Unlike Starlette, which sends the cookie with every response, an
/// unchanged session sends none, so `max_age` counts from the last change,
/// not the last visit. WebSocket handlers can read the session (the
/// handshake carries the cookie) but their changes are not saved: a
/// WebSocket has no response to set a cookie on.
///
/// # Example
///
/// ```
/// use asgi_framework::middleware::{Session, Sessions};
/// use cookie::Key;
///
/// let sessions = Sessions::new(Key::generate());
///
/// async fn visit(session: Session) -> String {
///     let count = session.get::<u64>("count").unwrap_or(0) + 1;
///     session.insert("count", count).expect("a number serializes");
///     format!("visit {count}")
/// }
///
/// let app = asgi_framework::Application::new()
///     .route("/", asgi_framework::get(|| async { "hi" }))
///     .layer(sessions);
/// # let _: &dyn asgi_core::App = &app;
/// ```
#[derive(Clone)]
pub struct Sessions {
    config: Arc<Config>,
}

#[derive(Clone)]
struct Config {
    key: Key,
    cookie_name: String,
    max_age: Option<Duration>,
    path: String,
    same_site: SameSite,
    https_only: bool,
    domain: Option<String>,
}

/// The secret given to [`Sessions::from_secret`] is too short to sign with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKeyError {
    len: usize,
}

impl fmt::Display for SessionKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a session secret needs at least 64 bytes, got {}",
            self.len
        )
    }
}

impl std::error::Error for SessionKeyError {}

impl Sessions {
    /// Sessions signed with `key` (for example `Key::generate()`, or one loaded from configuration).
    pub fn new(key: Key) -> Self {
        Self {
            config: Arc::new(Config {
                key,
                cookie_name: "session".to_owned(),
                max_age: Some(Duration::from_secs(14 * 24 * 60 * 60)),
                path: "/".to_owned(),
                same_site: SameSite::Lax,
                https_only: false,
                domain: None,
            }),
        }
    }

    /// Sessions signed with a key made from `secret`, which must be at least 64 bytes.
    ///
    /// # Errors
    ///
    /// [`SessionKeyError`] for a shorter secret.
    pub fn from_secret(secret: &[u8]) -> Result<Self, SessionKeyError> {
        let key = Key::try_from(secret).map_err(|_| SessionKeyError { len: secret.len() })?;
        Ok(Self::new(key))
    }

    fn config(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// The cookie's name (`session` by default).
    #[must_use]
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.config().cookie_name = name.into();
        self
    }

    /// The cookie's `Max-Age` (14 days by default); `None` makes a browser-session cookie.
    #[must_use]
    pub fn max_age(mut self, max_age: Option<Duration>) -> Self {
        self.config().max_age = max_age;
        self
    }

    /// The cookie's `Path` (`/` by default).
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.config().path = path.into();
        self
    }

    /// The cookie's `SameSite` (`Lax` by default).
    #[must_use]
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.config().same_site = same_site;
        self
    }

    /// Whether the cookie is `Secure`, sent only over HTTPS (off by default).
    #[must_use]
    pub fn https_only(mut self, https_only: bool) -> Self {
        self.config().https_only = https_only;
        self
    }

    /// The cookie's `Domain` (none by default: the request's host only).
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.config().domain = Some(domain.into());
        self
    }
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("cookie_name", &self.config.cookie_name)
            .field("max_age", &self.config.max_age)
            .field("path", &self.config.path)
            .field("same_site", &self.config.same_site)
            .field("https_only", &self.config.https_only)
            .finish_non_exhaustive()
    }
}

impl Middleware for Sessions {
    fn wrap(self, app: SharedApp) -> SharedApp {
        Arc::new(SessionApp {
            config: self.config,
            inner: app,
        })
    }
}

impl Config {
    /// The session in the request's signed cookie; `None` if absent, tampered or malformed.
    fn load(&self, headers: &Headers) -> Option<Map<String, Value>> {
        let mut jar = CookieJar::new();
        headers
            .get_all("cookie")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| Cookie::split_parse_encoded(v.to_owned()))
            .filter_map(Result::ok)
            .filter(|c| c.name() == self.cookie_name)
            .take(1)
            .for_each(|c| jar.add_original(c));
        let verified = jar.signed(&self.key).get(&self.cookie_name)?;
        match serde_json::from_str::<Value>(verified.value()) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        }
    }

    /// The `Set-Cookie` value storing `data`, or removing the cookie when `data` is `None`.
    fn set_cookie(&self, data: Option<&Map<String, Value>>) -> Option<HeaderValue> {
        let mut jar = CookieJar::new();
        let value = match data {
            Some(map) => serde_json::to_string(map).ok()?,
            None => String::new(),
        };
        let mut cookie = Cookie::new(self.cookie_name.clone(), value);
        cookie.set_path(self.path.clone());
        cookie.set_http_only(true);
        cookie.set_same_site(self.same_site);
        cookie.set_secure(self.https_only);
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.clone());
        }
        if data.is_none() {
            cookie.make_removal();
            return HeaderValue::from_str(&cookie.encoded().to_string()).ok();
        }
        if let Some(max_age) = self.max_age {
            let seconds = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
            cookie.set_max_age(cookie::time::Duration::seconds(seconds));
        }
        jar.signed_mut(&self.key).add(cookie);
        let signed = jar.get(&self.cookie_name)?;
        let encoded = signed.encoded().to_string();
        if encoded.len() > 4096 {
            tracing::warn!(
                bytes = encoded.len(),
                "session cookie exceeds 4096 bytes; browsers may drop it"
            );
        }
        HeaderValue::from_str(&encoded).ok()
    }
}

struct SessionApp {
    config: Arc<Config>,
    inner: SharedApp,
}

impl fmt::Debug for SessionApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionApp").finish_non_exhaustive()
    }
}

impl App for SessionApp {
    fn call(&self, mut scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
        let (headers, extensions) = match &mut scope {
            Scope::Http(http) => (&http.headers, &mut http.extensions.other),
            Scope::WebSocket(ws) => (&ws.headers, &mut ws.extensions.other),
            Scope::Lifespan(_) => return self.inner.call(scope, receive, send),
        };
        let loaded = self.config.load(headers);
        let had_cookie = loaded.is_some();
        let session = Session::from_map(loaded.unwrap_or_default());
        extensions.insert(session.clone());
        if !matches!(scope, Scope::Http(_)) {
            return self.inner.call(scope, receive, send);
        }
        let config = self.config.clone();
        let send = on_response_start(send, move |_status, headers| {
            let data = session.lock();
            if !data.modified {
                return;
            }
            let value = if data.map.is_empty() {
                if !had_cookie {
                    return;
                }
                config.set_cookie(None)
            } else {
                config.set_cookie(Some(&data.map))
            };
            match value {
                Some(value) => headers.push(header::SET_COOKIE, value),
                None => tracing::error!("session could not be encoded as a cookie"),
            }
        });
        self.inner.call(scope, receive, send)
    }
}

/// The current request's session: a JSON object, shared with the [`Sessions`] middleware.
///
/// Take it as a handler argument (or from [`Request::extensions`]). Clones
/// share the same data; changes are written back to the cookie when the
/// response starts. Without the `Sessions` middleware the extractor fails
/// with a 500, as a missing middleware is a programming error.
#[derive(Clone, Default)]
pub struct Session {
    inner: Arc<Mutex<SessionData>>,
}

#[derive(Debug, Default)]
struct SessionData {
    map: Map<String, Value>,
    modified: bool,
}

impl Session {
    fn from_map(map: Map<String, Value>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(SessionData {
                map,
                modified: false,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SessionData> {
        // Every critical section is a plain map operation: poison cannot leave it torn.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value at `key` as a `T`; `None` if absent or of another shape.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let value = self.lock().map.get(key).cloned()?;
        serde_json::from_value(value).ok()
    }

    /// The raw JSON value at `key`.
    pub fn get_value(&self, key: &str) -> Option<Value> {
        self.lock().map.get(key).cloned()
    }

    /// Stores `value` at `key`, marking the session modified.
    ///
    /// # Errors
    ///
    /// The serialization error, if `value` cannot be JSON.
    pub fn insert(
        &self,
        key: impl Into<String>,
        value: impl Serialize,
    ) -> Result<(), serde_json::Error> {
        let value = serde_json::to_value(value)?;
        let mut data = self.lock();
        data.map.insert(key.into(), value);
        data.modified = true;
        Ok(())
    }

    /// Removes `key`, returning its value; marks the session modified if it was there.
    pub fn remove(&self, key: &str) -> Option<Value> {
        let mut data = self.lock();
        let removed = data.map.remove(key);
        data.modified |= removed.is_some();
        removed
    }

    /// Empties the session (logging out); the cookie is removed.
    pub fn clear(&self) {
        let mut data = self.lock();
        data.modified |= !data.map.is_empty();
        data.map.clear();
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.lock().map.contains_key(key)
    }

    /// How many keys are set.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether the session is empty.
    pub fn is_empty(&self) -> bool {
        self.lock().map.is_empty()
    }

    /// Whether the session changed during this request.
    pub fn is_modified(&self) -> bool {
        self.lock().modified
    }

    /// A copy of the whole session.
    pub fn to_map(&self) -> Map<String, Value> {
        self.lock().map.clone()
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.lock();
        f.debug_struct("Session")
            .field("keys", &data.map.keys().collect::<Vec<_>>())
            .field("modified", &data.modified)
            .finish()
    }
}

impl FromRequestParts for Session {
    type Rejection = Rejection;

    async fn from_request_parts(request: &mut Request) -> Result<Self, Rejection> {
        request
            .extensions()
            .get::<Session>()
            .cloned()
            .ok_or(Rejection::MissingState(
                "Session (add the Sessions middleware)",
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        (*Sessions::new(Key::generate()).config).clone()
    }

    fn cookie_header(set_cookie: &HeaderValue) -> Headers {
        let pair = set_cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        Headers::new().with(header::COOKIE, HeaderValue::from_str(&pair).unwrap())
    }

    #[test]
    fn a_signed_session_round_trips() {
        let config = config();
        let mut map = Map::new();
        map.insert("user".into(), Value::from("ada; \"quoted\""));

        let set = config.set_cookie(Some(&map)).unwrap();
        let loaded = config.load(&cookie_header(&set));

        assert_eq!(loaded, Some(map));
        let text = set.to_str().unwrap();
        assert!(
            text.contains("HttpOnly")
                && text.contains("SameSite=Lax")
                && text.contains("Max-Age=1209600"),
            "{text}"
        );
    }

    #[test]
    fn a_cookie_signed_with_another_key_is_ignored() {
        let mut map = Map::new();
        map.insert("admin".into(), Value::Bool(true));
        let set = config().set_cookie(Some(&map)).unwrap();

        assert_eq!(config().load(&cookie_header(&set)), None);
    }
}
