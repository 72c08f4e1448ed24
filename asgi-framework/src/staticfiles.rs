//! [`StaticFiles`]: a directory served over HTTP, traversal-safe.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use asgi_core::{App, AppFuture, Receiver, Scope, Sender};
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};

use crate::error::{Error, HttpError};
use crate::request::{Request, route_path};
use crate::response::{FileResponse, IntoResponse, Redirect, Response};

/// Serves the files under a directory (Starlette's `StaticFiles`).
///
/// Mount it under a prefix; the rest of the path names the file. Only
/// `GET` and `HEAD` are allowed (405 otherwise). Files are sent as
/// [`FileResponse`]s, so they get `ETag`, `Last-Modified`, 304s, ranges and
/// pathsend. A path that leaves the directory in any way (`..`, its
/// percent-encoded form, backslashes, NUL bytes, or a symlink pointing
/// outside, checked by canonicalizing) is 404, exactly as a missing file.
///
/// In [`html`](Self::html) mode, a directory serves its `index.html`
/// (redirecting `/dir` to `/dir/` first, so relative links work), and a
/// missing file serves the root's `404.html` with status 404, if there is one.
///
/// # Example
///
/// ```no_run
/// use asgi_framework::{Application, StaticFiles};
///
/// let app = Application::new()
///     .mount("/static", StaticFiles::new("static"))
///     .mount("/", StaticFiles::new("site").html(true));
/// # let _: &dyn asgi_core::App = &app;
/// ```
#[derive(Clone)]
pub struct StaticFiles {
    config: Arc<Config>,
}

#[derive(Debug, Clone)]
struct Config {
    root: PathBuf,
    html: bool,
    cache_control: Option<HeaderValue>,
}

impl StaticFiles {
    /// Serves the files under `directory` (resolved per request, so it may be created later).
    pub fn new(directory: impl Into<PathBuf>) -> Self {
        Self {
            config: Arc::new(Config {
                root: directory.into(),
                html: false,
                cache_control: None,
            }),
        }
    }

    /// Turns HTML mode on or off: `index.html` for directories, `404.html` for missing files.
    #[must_use]
    pub fn html(mut self, html: bool) -> Self {
        Arc::make_mut(&mut self.config).html = html;
        self
    }

    /// Adds this `Cache-Control` value to every file served (`public, max-age=3600`).
    ///
    /// An invalid value is ignored.
    #[must_use]
    pub fn cache_control(mut self, value: &str) -> Self {
        Arc::make_mut(&mut self.config).cache_control = HeaderValue::from_str(value).ok();
        self
    }
}

impl fmt::Debug for StaticFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticFiles")
            .field("root", &self.config.root)
            .field("html", &self.config.html)
            .finish_non_exhaustive()
    }
}

/// What a request path resolves to.
#[derive(Debug, PartialEq, Eq)]
enum Lookup {
    /// A regular file inside the root (canonical path).
    File(PathBuf),
    /// A directory with an `index.html`, asked for without the trailing slash.
    AddSlash,
    /// Nothing to serve; the root's `404.html` in HTML mode, if any.
    NotFound(Option<PathBuf>),
}

impl App for StaticFiles {
    fn call(&self, scope: Scope, receive: Receiver, send: Sender) -> AppFuture {
        let config = self.config.clone();
        Box::pin(async move {
            let Scope::Http(scope) = scope else {
                return Err("StaticFiles serves only HTTP scopes".into());
            };
            let request = Request::new(scope, receive);
            let response = serve(&config, &request).await;
            let response = if *request.method() == Method::HEAD {
                response.into_head()
            } else {
                response
            };
            response.send(&send, &request.scope().extensions).await
        })
    }
}

async fn serve(config: &Arc<Config>, request: &Request) -> Response {
    if *request.method() != Method::GET && *request.method() != Method::HEAD {
        return HttpError::new(StatusCode::METHOD_NOT_ALLOWED)
            .with_header(header::ALLOW, HeaderValue::from_static("GET, HEAD"))
            .into_response();
    }
    let relative = route_path(request.path(), request.root_path()).to_owned();
    let Some(components) = safe_components(&relative) else {
        return HttpError::not_found().into_response();
    };
    let (lookup_config, trailing_slash) = (config.clone(), relative.ends_with('/'));
    let lookup = request
        .blocking_pool()
        .run(move || lookup(&lookup_config, &components, trailing_slash))
        .await;
    let lookup = match lookup {
        Ok(lookup) => lookup,
        Err(error) => return Error::from(error).into_response(),
    };
    let file = |path: PathBuf| {
        let response = FileResponse::new(path);
        match &config.cache_control {
            Some(value) => response.header(header::CACHE_CONTROL, value.clone()),
            None => response,
        }
    };
    match lookup {
        Lookup::File(path) => file(path).respond(request).await,
        Lookup::AddSlash => {
            let scope = request.scope();
            let mut location = String::from_utf8_lossy(&scope.target.raw_path).into_owned();
            location.push('/');
            if !scope.target.query_string.is_empty() {
                location.push('?');
                location.push_str(&String::from_utf8_lossy(&scope.target.query_string));
            }
            Redirect::to(location).into_response()
        }
        Lookup::NotFound(Some(page)) => {
            file(page)
                .status(StatusCode::NOT_FOUND)
                .respond(request)
                .await
        }
        Lookup::NotFound(None) => HttpError::not_found().into_response(),
    }
}

/// The path's components below the root, or `None` if any could step outside it.
///
/// The path is already percent-decoded, so `%2e%2e` arrives here as `..`.
fn safe_components(path: &str) -> Option<Vec<String>> {
    let mut components = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            part if part.contains(['\\', '\0']) => return None,
            // A Windows drive or stream (`C:`, `file:stream`) is not a file name here either.
            part if cfg!(windows) && part.contains(':') => return None,
            part => components.push(part.to_owned()),
        }
    }
    Some(components)
}

/// Resolves `components` under the root on the file system (run on the blocking pool).
fn lookup(config: &Config, components: &[String], trailing_slash: bool) -> Lookup {
    let root = match config.root.canonicalize() {
        Ok(root) => root,
        Err(error) => {
            tracing::warn!(root = %config.root.display(), %error, "static files directory is unavailable");
            return Lookup::NotFound(None);
        }
    };
    let mut candidate = root.clone();
    candidate.extend(components);
    match inside(&root, &candidate) {
        Some(path) if path.is_file() => return Lookup::File(path),
        Some(path) if path.is_dir() && config.html => {
            if let Some(index) = inside(&root, &path.join("index.html")).filter(|p| p.is_file()) {
                // `/dir` must become `/dir/` first, or the page's relative links break.
                return if trailing_slash || components.is_empty() {
                    Lookup::File(index)
                } else {
                    Lookup::AddSlash
                };
            }
        }
        _ => {}
    }
    let page = config
        .html
        .then(|| inside(&root, &root.join("404.html")))
        .flatten()
        .filter(|p| p.is_file());
    Lookup::NotFound(page)
}

/// The canonical form of `path` if it exists and stays inside `root` once
/// symlinks are resolved.
fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    let canonical = path.canonicalize().ok()?;
    canonical.starts_with(root).then_some(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_components_are_refused() {
        assert_eq!(
            safe_components("/css/app.css"),
            Some(vec!["css".to_owned(), "app.css".to_owned()])
        );
        assert_eq!(
            safe_components("//etc/./passwd"),
            Some(vec!["etc".to_owned(), "passwd".to_owned()])
        );
        assert_eq!(safe_components("/"), Some(vec![]));
        assert_eq!(safe_components("/../secret"), None);
        assert_eq!(safe_components("/a/../../secret"), None);
        assert_eq!(safe_components("/..\\secret"), None);
        assert_eq!(safe_components("/a\0b"), None);
    }
}
