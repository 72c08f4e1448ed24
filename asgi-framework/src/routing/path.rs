//! Route patterns: `/items/{id:int}` parsed, compiled for `matchit`, checked and reversed.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// A path parameter converter, written `{name:conv}` in a pattern.
///
/// As in Starlette: `str` (the default) matches one segment, `int` digits,
/// `float` digits with an optional fraction, `uuid` a hyphenated UUID and
/// `path` the rest of the path, slashes included. A value that does not fit
/// its converter means the route does not match (404), as in Starlette;
/// for 422 errors on a bad value, use `{name}` and a typed [`Path`](crate::Path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converter {
    /// One path segment, not empty.
    Str,
    /// `[0-9]+`.
    Int,
    /// `[0-9]+(\.[0-9]+)?`.
    Float,
    /// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits.
    Uuid,
    /// The rest of the path, `/` included.
    Path,
}

impl Converter {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "str" => Converter::Str,
            "int" => Converter::Int,
            "float" => Converter::Float,
            "uuid" => Converter::Uuid,
            "path" => Converter::Path,
            _ => return None,
        })
    }

    /// Whether `value` fits this converter.
    pub fn accepts(self, value: &str) -> bool {
        match self {
            Converter::Str => !value.is_empty() && !value.contains('/'),
            Converter::Int => !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()),
            Converter::Float => {
                let (whole, fraction) = value.split_once('.').unwrap_or((value, "0"));
                [whole, fraction]
                    .iter()
                    .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
            }
            Converter::Uuid => {
                value.len() == 36
                    && value.bytes().enumerate().all(|(i, b)| match i {
                        8 | 13 | 18 | 23 => b == b'-',
                        _ => b.is_ascii_hexdigit(),
                    })
            }
            Converter::Path => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String, Converter),
}

/// A parsed route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathPattern {
    raw: String,
    segments: Vec<Segment>,
}

/// Why a route pattern is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pattern: String,
    reason: &'static str,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid route pattern {:?}: {}",
            self.pattern, self.reason
        )
    }
}

impl std::error::Error for PatternError {}

impl PatternError {
    pub(crate) fn new(pattern: &str, reason: &'static str) -> Self {
        Self {
            pattern: pattern.to_owned(),
            reason,
        }
    }
}

impl PathPattern {
    /// Parses `/items/{id:int}/{rest:path}`.
    pub(crate) fn parse(raw: &str) -> Result<Self, PatternError> {
        let error = |reason| PatternError {
            pattern: raw.to_owned(),
            reason,
        };
        if !raw.starts_with('/') {
            return Err(error("a pattern must start with '/'"));
        }
        let mut segments = Vec::new();
        let mut rest = raw;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .map(|i| open + i)
                .ok_or_else(|| error("unclosed '{'"))?;
            if open > 0 {
                segments.push(Segment::Literal(rest[..open].to_owned()));
            }
            let inner = &rest[open + 1..close];
            let (name, converter) = match inner.split_once(':') {
                Some((name, conv)) => (
                    name,
                    Converter::parse(conv).ok_or_else(|| error("unknown converter"))?,
                ),
                None => (inner, Converter::Str),
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(error("a parameter name must be letters, digits or '_'"));
            }
            if converter == Converter::Path && close + 1 != rest.len() {
                return Err(error("a 'path' parameter must end the pattern"));
            }
            segments.push(Segment::Param(name.to_owned(), converter));
            rest = &rest[close + 1..];
        }
        if rest.contains('}') {
            return Err(error("unmatched '}'"));
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest.to_owned()));
        }
        Ok(Self {
            raw: raw.to_owned(),
            segments,
        })
    }

    /// The pattern as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.raw
    }

    /// The `matchit` form: `{id}` for one segment, `{*rest}` for a `path` parameter.
    pub(crate) fn to_matchit(&self) -> String {
        let mut out = String::with_capacity(self.raw.len());
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(&text.replace('{', "{{").replace('}', "}}")),
                Segment::Param(name, Converter::Path) => {
                    out.push_str("{*");
                    out.push_str(name);
                    out.push('}');
                }
                Segment::Param(name, _) => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            }
        }
        out
    }

    /// The parameter names, in pattern order.
    pub(crate) fn param_names(&self) -> impl Iterator<Item = &str> {
        self.converters().map(|(name, _)| name)
    }

    fn converters(&self) -> impl Iterator<Item = (&str, Converter)> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Param(name, converter) => Some((name.as_str(), *converter)),
            Segment::Literal(_) => None,
        })
    }

    /// Whether a converter restricts values beyond what the radix tree
    /// matches (one non-empty segment for `str`, anything for `path`), so
    /// that [`accepts`](Self::accepts) has to run.
    pub(crate) fn is_checked(&self) -> bool {
        self.converters()
            .any(|(_, converter)| !matches!(converter, Converter::Str | Converter::Path))
    }

    /// Whether every matched value, in pattern order, fits its converter.
    pub(crate) fn accepts<'v>(&self, mut values: impl Iterator<Item = &'v str>) -> bool {
        self.converters()
            .all(|(_, converter)| values.next().is_some_and(|value| converter.accepts(value)))
    }

    /// A new pattern with `prefix` (a pattern too) in front: `/api` + `/items` is `/api/items`.
    ///
    /// # Errors
    ///
    /// When the joined pattern is invalid (a `path` parameter in the prefix).
    pub(crate) fn with_prefix(&self, prefix: &str) -> Result<PathPattern, PatternError> {
        PathPattern::parse(&format!("{}{}", prefix.trim_end_matches('/'), self.raw))
    }

    /// Fills the parameters in, percent-encoding values (`path` keeps its `/`).
    ///
    /// # Errors
    ///
    /// When a parameter is missing or its value does not fit its converter.
    pub(crate) fn format(&self, params: &[(&str, &str)]) -> Result<String, &'static str> {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Param(name, converter) => {
                    let value = params
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| *v)
                        .ok_or("a path parameter is missing")?;
                    if !converter.accepts(value) {
                        return Err("a value does not fit its converter");
                    }
                    let set = if *converter == Converter::Path {
                        PATH_VALUE
                    } else {
                        SEGMENT_VALUE
                    };
                    out.extend(utf8_percent_encode(value, set));
                }
            }
        }
        Ok(out)
    }
}

/// Bytes escaped in a path segment value: all but unreserved characters.
const SEGMENT_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// As [`SEGMENT_VALUE`], but `/` separates segments of a `path` value.
const PATH_VALUE: &AsciiSet = &SEGMENT_VALUE.remove(b'/');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile_to_matchit_syntax() {
        let cases = [
            ("/", "/"),
            ("/items/{id}", "/items/{id}"),
            ("/items/{id:int}/x", "/items/{id}/x"),
            ("/files/{rest:path}", "/files/{*rest}"),
            ("/v{n:int}.json", "/v{n}.json"),
        ];
        for (pattern, expected) in cases {
            assert_eq!(PathPattern::parse(pattern).unwrap().to_matchit(), expected);
        }
    }

    #[test]
    fn invalid_patterns_are_rejected() {
        for pattern in [
            "items",
            "/{id",
            "/{id:bogus}",
            "/{}",
            "/{rest:path}/x",
            "/a}",
        ] {
            assert!(PathPattern::parse(pattern).is_err(), "{pattern}");
        }
    }

    #[test]
    fn converters_accept_only_their_values() {
        let cases = [
            (Converter::Int, "42", true),
            (Converter::Int, "-1", false),
            (Converter::Int, "4a", false),
            (Converter::Float, "4.5", true),
            (Converter::Float, "4.", false),
            (Converter::Float, "7", true),
            (
                Converter::Uuid,
                "67e55044-10b1-426f-9247-bb680e5fe0c8",
                true,
            ),
            (Converter::Uuid, "67e5504410b1426f9247bb680e5fe0c8", false),
            (Converter::Str, "", false),
            (Converter::Path, "a/b", true),
        ];
        for (converter, value, expected) in cases {
            assert_eq!(converter.accepts(value), expected, "{converter:?} {value}");
        }
    }

    #[test]
    fn accepts_checks_each_parameter() {
        let pattern = PathPattern::parse("/items/{id:int}/{name}").unwrap();

        assert!(pattern.is_checked());
        assert!(
            !PathPattern::parse("/f/{name}/{rest:path}")
                .unwrap()
                .is_checked()
        );
        assert!(pattern.accepts(["3", "ann"].into_iter()));
        assert!(!pattern.accepts(["x", "ann"].into_iter()));
        assert!(!pattern.accepts(["3"].into_iter()));
        assert_eq!(pattern.param_names().collect::<Vec<_>>(), ["id", "name"]);
    }

    #[test]
    fn format_encodes_values() {
        let pattern = PathPattern::parse("/u/{name}/{rest:path}").unwrap();

        let url = pattern.format(&[("name", "a b?c"), ("rest", "x/y z")]);

        assert_eq!(url.as_deref(), Ok("/u/a%20b%3Fc/x/y%20z"));
        assert!(pattern.format(&[("name", "a/b"), ("rest", "x")]).is_err());
        assert!(pattern.format(&[("name", "a")]).is_err());
    }

    #[test]
    fn prefix_joins_patterns() {
        let joined = PathPattern::parse("/items/{id}")
            .unwrap()
            .with_prefix("/api/");
        let root = PathPattern::parse("/").unwrap().with_prefix("/api");

        assert_eq!(joined.unwrap().to_matchit(), "/api/items/{id}");
        assert_eq!(root.unwrap().as_str(), "/api/");
    }
}
