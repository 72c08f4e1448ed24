//! An ordered list of header fields, as ASGI carries them.

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// Header fields in the order they were received or sent, duplicates kept.
///
/// ASGI represents headers as a list of `[name, value]` byte pairs: order and
/// repeated names are preserved, and names are lowercase. [`HeaderName`] is
/// lowercase by construction, so the second rule holds by type. Unlike
/// [`HeaderMap`], this list keeps interleaved duplicates in their original
/// order, which matters for `Set-Cookie`, proxies and signatures.
///
/// An empty list does not allocate.
///
/// # Example
///
/// ```
/// use asgi_core::Headers;
/// use http::header::{CONTENT_TYPE, HeaderValue};
///
/// let mut headers = Headers::new();
/// headers.push(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
/// assert_eq!(headers.get("content-type").unwrap(), "text/plain");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<(HeaderName, HeaderValue)>,
}

impl Headers {
    /// An empty list.
    pub const fn new() -> Self {
        Self { fields: Vec::new() }
    }

    /// An empty list with room for `capacity` fields.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            fields: Vec::with_capacity(capacity),
        }
    }

    /// Appends a field, keeping any earlier field of the same name.
    pub fn push(&mut self, name: HeaderName, value: HeaderValue) {
        self.fields.push((name, value));
    }

    /// Builder form of [`push`](Self::push).
    #[must_use]
    pub fn with(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.push(name, value);
        self
    }

    /// The value of the first field called `name` (compared case-insensitively).
    pub fn get(&self, name: impl AsRef<str>) -> Option<&HeaderValue> {
        let name = name.as_ref();
        self.fields
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every value of the fields called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a HeaderValue> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether a field called `name` is present.
    pub fn contains(&self, name: impl AsRef<str>) -> bool {
        self.get(name).is_some()
    }

    /// Removes every field called `name`, returning how many were removed.
    pub fn remove(&mut self, name: impl AsRef<str>) -> usize {
        let name = name.as_ref();
        let before = self.fields.len();
        self.fields
            .retain(|(n, _)| !n.as_str().eq_ignore_ascii_case(name));
        before - self.fields.len()
    }

    /// Replaces every field called `name` with one field holding `value`.
    pub fn insert(&mut self, name: HeaderName, value: HeaderValue) {
        self.remove(name.as_str());
        self.push(name, value);
    }

    /// The fields in order.
    pub fn iter(&self) -> std::slice::Iter<'_, (HeaderName, HeaderValue)> {
        self.fields.iter()
    }

    /// How many fields there are (duplicates counted).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Converts into a [`HeaderMap`], which groups duplicates by name.
    pub fn to_header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.fields.len());
        for (name, value) in &self.fields {
            map.append(name.clone(), value.clone());
        }
        map
    }

    /// The underlying list.
    pub fn as_slice(&self) -> &[(HeaderName, HeaderValue)] {
        &self.fields
    }

    /// Consumes the list, returning the underlying vector.
    pub fn into_vec(self) -> Vec<(HeaderName, HeaderValue)> {
        self.fields
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.fields.iter().map(|(n, v)| (n, v)))
            .finish()
    }
}

impl From<Vec<(HeaderName, HeaderValue)>> for Headers {
    fn from(fields: Vec<(HeaderName, HeaderValue)>) -> Self {
        Self { fields }
    }
}

impl From<&HeaderMap> for Headers {
    fn from(map: &HeaderMap) -> Self {
        Self {
            fields: map.iter().map(|(n, v)| (n.clone(), v.clone())).collect(),
        }
    }
}

impl FromIterator<(HeaderName, HeaderValue)> for Headers {
    fn from_iter<I: IntoIterator<Item = (HeaderName, HeaderValue)>>(iter: I) -> Self {
        Self {
            fields: iter.into_iter().collect(),
        }
    }
}

impl Extend<(HeaderName, HeaderValue)> for Headers {
    fn extend<I: IntoIterator<Item = (HeaderName, HeaderValue)>>(&mut self, iter: I) {
        self.fields.extend(iter);
    }
}

impl IntoIterator for Headers {
    type Item = (HeaderName, HeaderValue);
    type IntoIter = std::vec::IntoIter<(HeaderName, HeaderValue)>;

    fn into_iter(self) -> Self::IntoIter {
        self.fields.into_iter()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a (HeaderName, HeaderValue);
    type IntoIter = std::slice::Iter<'a, (HeaderName, HeaderValue)>;

    fn into_iter(self) -> Self::IntoIter {
        self.fields.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{CONTENT_TYPE, SET_COOKIE};

    fn v(s: &'static str) -> HeaderValue {
        HeaderValue::from_static(s)
    }

    #[test]
    fn interleaved_duplicates_keep_their_order() {
        let headers: Headers = vec![
            (SET_COOKIE, v("a=1")),
            (CONTENT_TYPE, v("text/plain")),
            (SET_COOKIE, v("b=2")),
        ]
        .into();

        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();

        assert_eq!(names, ["set-cookie", "content-type", "set-cookie"]);
        assert_eq!(headers.get_all("Set-Cookie").count(), 2);
    }

    #[test]
    fn get_is_case_insensitive_and_returns_first() {
        let headers = Headers::new()
            .with(SET_COOKIE, v("a=1"))
            .with(SET_COOKIE, v("b=2"));

        assert_eq!(headers.get("SET-COOKIE").unwrap(), "a=1");
        assert!(headers.get("x-missing").is_none());
    }

    #[test]
    fn insert_replaces_all_and_remove_counts() {
        let mut headers = Headers::new()
            .with(SET_COOKIE, v("a=1"))
            .with(SET_COOKIE, v("b=2"));

        headers.insert(SET_COOKIE, v("c=3"));

        assert_eq!(headers.len(), 1);
        assert_eq!(headers.remove("set-cookie"), 1);
        assert!(headers.is_empty());
    }

    #[test]
    fn header_map_round_trip_keeps_values() {
        let headers = Headers::new()
            .with(CONTENT_TYPE, v("a"))
            .with(SET_COOKIE, v("b"));

        let map = headers.to_header_map();

        assert_eq!(Headers::from(&map), headers);
    }
}
