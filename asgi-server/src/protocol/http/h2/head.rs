//! The HTTP/2 side of a request and a response head: scope fields from the
//! request's pseudo-headers, and response fields without HTTP/1.1's.

use std::cell::RefCell;

use asgi_core::{Headers, HttpScope, HttpVersion};
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};

use crate::protocol::http::{date, proxy, service};
use crate::protocol::{ConnInfo, ServiceContext};

/// Builds the `http` scope of one stream from its request head.
///
/// `:authority` becomes a leading `host` field (ASGI: servers should do so
/// for HTTP/2), the other pseudo-headers are already gone, and `cookie`
/// fields split by the client are joined again (RFC 9113 8.2.3). The field
/// values are moved into the scope, not copied.
pub(super) fn http_scope(
    parts: http::request::Parts,
    info: &ConnInfo,
    ctx: &ServiceContext,
) -> HttpScope {
    let http::request::Parts {
        method,
        uri,
        headers: fields,
        ..
    } = parts;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let authority = uri.authority().map_or("", |a| a.as_str());
    // One buffer for both: the target and the `host` value are views of it
    // (as is any later clone of either), where a copy each would allocate twice.
    let mut both = BytesMut::with_capacity(authority.len() + path.len());
    both.extend_from_slice(authority.as_bytes());
    both.extend_from_slice(path.as_bytes());
    let mut authority = both.freeze();
    let target = authority.split_off(authority.len() - path.len());
    let mut scope = HttpScope::new(method, target);
    scope.http_version = HttpVersion::Http2;
    scope.scheme = info.scheme;
    let mut headers = Headers::with_capacity(fields.len() + 1);
    let authority = (!authority.is_empty())
        .then(|| HeaderValue::from_maybe_shared(authority).ok())
        .flatten();
    let has_authority = authority.is_some();
    if let Some(authority) = authority {
        headers.push(header::HOST, authority);
    }
    let mut cookies: Vec<HeaderValue> = Vec::new();
    // Whether proxy headers need a look: most requests carry none.
    let mut forwarded = false;
    // `HeaderMap::into_iter` names a field once for all its values.
    let mut name: Option<HeaderName> = None;
    for (next, value) in fields {
        if let Some(next) = next {
            forwarded |= next.as_str().starts_with("x-forwarded-");
            name = Some(next);
        }
        let Some(name) = &name else { continue };
        if *name == header::COOKIE {
            cookies.push(value);
        } else if !(has_authority && *name == header::HOST) {
            headers.push(name.clone(), value);
        }
    }
    if !cookies.is_empty() {
        let parts: Vec<&[u8]> = cookies.iter().map(HeaderValue::as_bytes).collect();
        if let Ok(joined) = HeaderValue::from_bytes(&parts.join(&b"; "[..])) {
            headers.push(header::COOKIE, joined);
        }
    }
    scope.extensions.trailers = service::accepts_trailers(&headers);
    scope.extensions.tls.clone_from(&info.tls);
    scope.headers = headers;
    scope.client = info.client;
    scope.server.clone_from(&ctx.server_addr);
    scope.root_path.clone_from(&ctx.config.root_path);
    scope.state = ctx.state.clone();
    if ctx.config.proxy_headers && forwarded {
        proxy::apply(
            &scope.headers,
            &ctx.config.forwarded_allow_ips,
            &mut scope.client,
            &mut scope.scheme,
            false,
        );
    }
    scope
}

/// Whether a response with `status` has no body.
pub(super) fn is_bodiless(status: StatusCode) -> bool {
    status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED
}

/// The response head for the app's start message.
///
/// Connection-specific fields (RFC 9113 8.2.2) are dropped, since HTTP/2
/// forbids them; `content-length` is added when the whole body is known
/// (`body_len`); `date`, `server` and `--header` fields as on HTTP/1.1.
pub(super) fn response(
    status: StatusCode,
    headers: Headers,
    body_len: Option<u64>,
    ctx: &ServiceContext,
) -> Response<()> {
    let headers = headers.into_vec();
    // Room for the app's fields and the server's (`content-length`, `date`,
    // `server`): one allocation, no regrowth.
    let mut map = HeaderMap::with_capacity(headers.len() + 3);
    let mut has_len = false;
    let mut has_date = false;
    let mut has_server = false;
    for (name, value) in headers {
        if is_connection_specific(&name) {
            continue;
        }
        if name == header::CONTENT_LENGTH {
            if has_len || is_bodiless(status) {
                continue;
            }
            has_len = true;
        } else if name == header::DATE {
            has_date = true;
        } else if name == header::SERVER {
            has_server = true;
        }
        map.append(name, value);
    }
    if let Some(len) = body_len
        && !has_len
        && !is_bodiless(status)
    {
        map.insert(header::CONTENT_LENGTH, content_length(len));
    }
    add_server_fields(&mut map, has_date, has_server, ctx);
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.headers_mut() = map;
    response
}

/// A plain-text response for a server-side error (413, 500, 503).
pub(super) fn error_response(
    status: StatusCode,
    ctx: &ServiceContext,
) -> (Response<()>, &'static str) {
    let reason = status.canonical_reason().unwrap_or("Error");
    let mut response = Response::new(());
    *response.status_mut() = status;
    let map = response.headers_mut();
    map.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    map.insert(header::CONTENT_LENGTH, HeaderValue::from(reason.len()));
    add_server_fields(map, false, false, ctx);
    (response, reason)
}

/// Adds `date` (unless the app sent one), then `server` and the other
/// `--header` fields.
fn add_server_fields(
    map: &mut HeaderMap,
    app_has_date: bool,
    app_has_server: bool,
    ctx: &ServiceContext,
) {
    if ctx.config.date_header
        && !app_has_date
        && let Some(value) = date_value()
    {
        map.append(header::DATE, value);
    }
    for (name, value) in service::extra_headers(ctx, app_has_server) {
        map.append(name, value);
    }
}

thread_local! {
    /// The last `content-length` value made on this thread, and its number:
    /// responses of one app often have the same length, and a clone shares
    /// the bytes where `HeaderValue::from(u64)` allocates twice.
    static CONTENT_LENGTH: RefCell<Option<(u64, HeaderValue)>> = const { RefCell::new(None) };

    /// The last `date` value made on this thread: a clone shares its bytes,
    /// where a new value would allocate and copy them per response.
    static DATE: RefCell<Option<HeaderValue>> = const { RefCell::new(None) };
}

/// The current date as a field value (made anew once a second per thread).
fn date_value() -> Option<HeaderValue> {
    date::with_date(|now| {
        DATE.try_with(|cached| {
            let mut cached = cached.borrow_mut();
            match &*cached {
                Some(value) if value.as_bytes() == now => Some(value.clone()),
                _ => {
                    let value = HeaderValue::from_maybe_shared(Bytes::copy_from_slice(now)).ok()?;
                    *cached = Some(value.clone());
                    Some(value)
                }
            }
        })
        .ok()
        .flatten()
    })
}

/// A `content-length` value for `len`.
fn content_length(len: u64) -> HeaderValue {
    CONTENT_LENGTH
        .try_with(|cached| {
            let mut cached = cached.borrow_mut();
            match &*cached {
                Some((cached_len, value)) if *cached_len == len => value.clone(),
                _ => {
                    let value = HeaderValue::from(len);
                    *cached = Some((len, value.clone()));
                    value
                }
            }
        })
        .unwrap_or_else(|_| HeaderValue::from(len))
}

/// Fields that only mean something to one HTTP/1.1 connection.
fn is_connection_specific(name: &HeaderName) -> bool {
    *name == header::CONNECTION
        || *name == header::TRANSFER_ENCODING
        || *name == header::UPGRADE
        || *name == header::TE
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

/// The trailer fields of `headers`, from `http.response.trailers`.
pub(super) fn trailers(headers: Headers) -> HeaderMap {
    let headers = headers.into_vec();
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if !is_connection_specific(&name) {
            map.append(name, value);
        }
    }
    map
}
