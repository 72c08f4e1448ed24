//! Host patterns for `Router::host`: `{tenant}.example.com`.

use super::path::PatternError;

/// A host pattern: dot-separated labels, each literal or `{name}` (any one label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPattern {
    labels: Vec<Option<String>>,
}

impl HostPattern {
    pub(crate) fn parse(pattern: &str) -> Result<Self, PatternError> {
        let labels = pattern
            .split('.')
            .map(|label| {
                if label.starts_with('{') && label.ends_with('}') && label.len() > 2 {
                    Ok(None)
                } else if label.is_empty() || label.contains(['{', '}']) {
                    Err(PatternError::new(
                        pattern,
                        "a host label must be text or `{name}`",
                    ))
                } else {
                    Ok(Some(label.to_ascii_lowercase()))
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { labels })
    }

    /// Whether `host` (a `Host` header value, port allowed) matches.
    pub(crate) fn matches(&self, host: &str) -> bool {
        let host = strip_port(host);
        let labels: Vec<&str> = host.split('.').collect();
        labels.len() == self.labels.len()
            && self
                .labels
                .iter()
                .zip(labels)
                .all(|(pattern, label)| match pattern {
                    Some(literal) => literal.eq_ignore_ascii_case(label),
                    None => !label.is_empty(),
                })
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // An IPv6 literal: `[::1]:8000`.
        return host
            .split_once(']')
            .map_or(host, |(addr, _)| &host[..addr.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns_match_labels() {
        let pattern = HostPattern::parse("{tenant}.example.com").unwrap();

        assert!(pattern.matches("acme.example.com"));
        assert!(pattern.matches("ACME.Example.com:8000"));
        assert!(!pattern.matches("example.com"));
        assert!(!pattern.matches("a.b.example.com"));
        assert!(HostPattern::parse("bad{x").is_err());
        assert!(HostPattern::parse("[::1]").unwrap().matches("[::1]:80"));
    }
}
