//! Matched path parameters: names shared with the route, values kept as places in the path.

use std::fmt;
use std::iter::FusedIterator;
use std::sync::Arc;

/// The parameter names of one route, in pattern order, shared by every
/// request it matches (a count increment per request, not a copy).
pub(crate) type ParamNames = Arc<[Box<str>]>;

/// Values kept as places in the path, without allocating; a route with
/// more parameters gets owned copies.
const INLINE: usize = 4;

/// The path parameters a request owns.
///
/// Values are byte ranges of the percent-decoded path the router matched
/// (`scope.target.path`), which already holds every value: routing copies
/// nothing, and reading a value is slicing. The request that owns them
/// [detaches](Self::detach) them before its path can change.
#[derive(Clone, Default)]
pub(crate) struct Params {
    /// `None` for a route without parameters.
    names: Option<ParamNames>,
    values: Values,
}

#[derive(Clone)]
enum Values {
    /// The first `len` entries: start and end of each value in the path.
    InPath {
        len: u8,
        ranges: [(u16, u16); INLINE],
    },
    /// Owned copies: more than [`INLINE`] values, a path too long for `u16`
    /// offsets, or a path that may change.
    Owned(Box<[Box<str>]>),
}

impl Default for Values {
    fn default() -> Self {
        Values::InPath {
            len: 0,
            ranges: [(0, 0); INLINE],
        }
    }
}

impl Params {
    /// The parameters of a match: `names` from the route, `values` the
    /// matched values, slices of `path` (the path the request keeps) as the
    /// router returns them. A value that is not such a slice is copied.
    pub(crate) fn new<'v>(
        names: Option<&ParamNames>,
        path: &str,
        mut values: impl ExactSizeIterator<Item = &'v str>,
    ) -> Self {
        let Some(names) = names else {
            return Self::default();
        };
        debug_assert_eq!(names.len(), values.len(), "one value per route parameter");
        let mut ranges = [(0, 0); INLINE];
        let mut len = 0;
        while let Some(value) = values.next() {
            match (ranges.get_mut(len), range_in(path, value)) {
                (Some(slot), Some(range)) => {
                    *slot = range;
                    len += 1;
                }
                _ => {
                    // Copies of those found so far, this one and the rest.
                    let found = ranges[..len]
                        .iter()
                        .map(|&range| Box::from(slice(path, range)));
                    let owned = found
                        .chain(std::iter::once(value).chain(values).map(Box::from))
                        .collect();
                    return Self {
                        names: Some(names.clone()),
                        values: Values::Owned(owned),
                    };
                }
            }
        }
        Self {
            names: Some(names.clone()),
            values: Values::InPath {
                // At most INLINE, which fits.
                len: len as u8,
                ranges,
            },
        }
    }

    /// The number of parameters.
    pub(crate) fn len(&self) -> usize {
        match &self.values {
            Values::InPath { len, .. } => usize::from(*len),
            Values::Owned(values) => values.len(),
        }
    }

    /// Parameter `index` as `(name, value)`; `path` is the request's path.
    pub(crate) fn get<'a>(&'a self, path: &'a str, index: usize) -> Option<(&'a str, &'a str)> {
        let name = self.names.as_ref()?.get(index)?;
        let value = match &self.values {
            Values::InPath { len, ranges } => {
                if index >= usize::from(*len) {
                    return None;
                }
                slice(path, ranges[index])
            }
            Values::Owned(values) => values.get(index)?,
        };
        Some((name, value))
    }

    /// The parameters as a view of `(name, value)` pairs; `path` is the request's path.
    pub(crate) fn iter<'a>(&'a self, path: &'a str) -> PathParams<'a> {
        PathParams {
            params: self,
            path,
            front: 0,
            back: self.len(),
        }
    }

    /// Replaces places in `path` by owned copies, so the values survive a
    /// change of the path.
    pub(crate) fn detach(&mut self, path: &str) {
        if let Values::InPath { len, ranges } = &self.values {
            let owned = ranges[..usize::from(*len)]
                .iter()
                .map(|&range| Box::from(slice(path, range)))
                .collect();
            self.values = Values::Owned(owned);
        }
    }
}

/// Where `value` sits in `path`, if it is a slice of it with `u16` offsets.
fn range_in(path: &str, value: &str) -> Option<(u16, u16)> {
    // Addresses compared, not contents: the router's values point into the path.
    let start = (value.as_ptr() as usize).checked_sub(path.as_ptr() as usize)?;
    let end = start.checked_add(value.len())?;
    // In bounds and on character boundaries, so slicing it back cannot fail.
    path.get(start..end)?;
    Some((u16::try_from(start).ok()?, u16::try_from(end).ok()?))
}

/// The value at `range` of `path`; empty if the path no longer has it
/// (which [`Params::detach`] prevents).
fn slice(path: &str, (start, end): (u16, u16)) -> &str {
    path.get(usize::from(start)..usize::from(end))
        .unwrap_or_default()
}

/// The path parameters of a request: `(name, value)` pairs in pattern order.
///
/// Returned by [`Request::path_params`](crate::Request::path_params). Values
/// are percent-decoded, as the router matched them; names are those of the
/// route pattern (`id` for `/items/{id}`). Nothing is copied: the names are
/// the route's and the values are slices of the request's path.
///
/// # Example
///
/// ```
/// use asgi_framework::Request;
///
/// async fn show(request: Request) -> String {
///     let pairs: Vec<String> = request
///         .path_params()
///         .map(|(name, value)| format!("{name}={value}"))
///         .collect();
///     pairs.join("&")
/// }
/// ```
#[derive(Clone)]
pub struct PathParams<'a> {
    params: &'a Params,
    path: &'a str,
    front: usize,
    back: usize,
}

impl<'a> PathParams<'a> {
    /// The value of parameter `name`, if the route has one of that name.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.clone()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }
}

impl<'a> Iterator for PathParams<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        let pair = self.params.get(self.path, self.front)?;
        self.front += 1;
        Some(pair)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self.back - self.front;
        (len, Some(len))
    }
}

impl DoubleEndedIterator for PathParams<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        let pair = self.params.get(self.path, self.back - 1)?;
        self.back -= 1;
        Some(pair)
    }
}

impl ExactSizeIterator for PathParams<'_> {}

impl FusedIterator for PathParams<'_> {}

impl fmt::Debug for PathParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.clone()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> ParamNames {
        list.iter().map(|name| Box::from(*name)).collect()
    }

    #[test]
    fn values_are_places_in_the_path() {
        let path = "/users/ann/posts/7";
        let names = names(&["user", "post"]);

        let params = Params::new(Some(&names), path, [&path[7..10], &path[17..]].into_iter());

        assert!(matches!(params.values, Values::InPath { len: 2, .. }));
        assert_eq!(
            params.iter(path).collect::<Vec<_>>(),
            [("user", "ann"), ("post", "7")]
        );
        assert_eq!(params.iter(path).get("post"), Some("7"));
        assert_eq!(params.iter(path).get("nope"), None);
        assert_eq!(params.iter(path).next_back(), Some(("post", "7")));
    }

    #[test]
    fn values_from_elsewhere_or_too_many_are_copied() {
        let path = "/a/b/c/d/e";
        let elsewhere = String::from("x");
        let two = names(&["one", "two"]);
        let five = names(&["a", "b", "c", "d", "e"]);
        let segments = [
            &path[1..2],
            &path[3..4],
            &path[5..6],
            &path[7..8],
            &path[9..],
        ];

        let mixed = Params::new(
            Some(&two),
            path,
            [&path[1..2], elsewhere.as_str()].into_iter(),
        );
        let many = Params::new(Some(&five), path, segments.into_iter());

        assert!(matches!(mixed.values, Values::Owned(_)));
        assert_eq!(
            mixed.iter(path).collect::<Vec<_>>(),
            [("one", "a"), ("two", "x")]
        );
        assert!(matches!(many.values, Values::Owned(_)));
        assert_eq!(many.iter(path).map(|(_, v)| v).collect::<String>(), "abcde");
    }

    #[test]
    fn detached_values_survive_a_new_path() {
        let path = String::from("/items/42");
        let names = names(&["id"]);
        let mut params = Params::new(Some(&names), &path, [&path[7..]].into_iter());

        params.detach(&path);
        let other = "/elsewhere";

        assert_eq!(params.iter(other).collect::<Vec<_>>(), [("id", "42")]);
    }

    #[test]
    fn no_route_parameters_is_empty() {
        let params = Params::new(None, "/", std::iter::empty());

        assert_eq!(params.len(), 0);
        assert_eq!(params.iter("/").next(), None);
    }
}
