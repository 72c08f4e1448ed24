//! The [`Cookies`] extractor: the request's cookies by name.

use std::convert::Infallible;

use asgi_core::Headers;
use cookie::Cookie;

use super::{FromRequestParts, ParamInfo, ParamLocation};
use crate::request::Request;

/// The cookies the client sent, from every `Cookie` header, percent-decoded.
///
/// # Example
///
/// ```
/// use asgi_framework::Cookies;
///
/// async fn theme(cookies: Cookies) -> String {
///     cookies.get("theme").unwrap_or("light").to_owned()
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cookies {
    pairs: Vec<(String, String)>,
}

impl Cookies {
    /// Parses the `Cookie` headers; malformed pairs are skipped.
    pub fn from_headers(headers: &Headers) -> Self {
        let pairs = headers
            .get_all("cookie")
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| Cookie::split_parse_encoded(value.to_owned()))
            .filter_map(Result::ok)
            .map(|cookie| (cookie.name().to_owned(), cookie.value().to_owned()))
            .collect();
        Self { pairs }
    }

    /// The value of cookie `name` (the first, if sent twice).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every cookie, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many cookies there are.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl FromRequestParts for Cookies {
    type Rejection = Infallible;

    async fn from_request_parts(request: &mut Request) -> Result<Self, Infallible> {
        Ok(request.cookies())
    }

    fn describe() -> Vec<ParamInfo> {
        vec![ParamInfo::new(ParamLocation::Cookie, None, "Cookies")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use http::header::COOKIE;

    #[test]
    fn cookies_come_from_every_cookie_header() {
        let headers = Headers::new()
            .with(COOKIE, HeaderValue::from_static("a=1; b=hello%20world"))
            .with(COOKIE, HeaderValue::from_static("c=3; junk"));

        let cookies = Cookies::from_headers(&headers);

        assert_eq!(cookies.get("b"), Some("hello world"));
        assert_eq!(cookies.get("c"), Some("3"));
        assert_eq!(cookies.len(), 3);
    }
}
