//! `--proxy-headers`: the client address and scheme from `X-Forwarded-*`, for trusted peers.

use std::net::{IpAddr, SocketAddr};

use asgi_core::{Headers, Scheme};

use crate::config::ForwardedAllowIps;

/// Applies `X-Forwarded-For` and `X-Forwarded-Proto` when `client` is trusted.
///
/// As Uvicorn: the client becomes the right-most untrusted address in
/// `X-Forwarded-For` (the left-most one if all are trusted), with port 0; the
/// scheme becomes `X-Forwarded-Proto` (`https`/`wss` make a WebSocket `wss`).
pub(crate) fn apply(
    headers: &Headers,
    trusted: &ForwardedAllowIps,
    client: &mut Option<SocketAddr>,
    scheme: &mut Scheme,
    websocket: bool,
) {
    let Some(peer) = *client else { return };
    if !trusted.contains(peer.ip()) {
        return;
    }
    // One pass over the fields with exact compares (a `HeaderName` is always
    // lowercase) rather than two case-insensitive searches: this runs for
    // every request from a trusted peer, and loopback is trusted by default.
    let (mut proto_field, mut for_field) = (None, None);
    for (name, value) in headers {
        match name.as_str() {
            "x-forwarded-proto" => _ = proto_field.get_or_insert(value),
            "x-forwarded-for" => _ = for_field.get_or_insert(value),
            _ => {}
        }
    }
    if let Some(proto) = proto_field {
        let proto = proto.as_bytes().trim_ascii();
        let secure = proto.eq_ignore_ascii_case(b"https") || proto.eq_ignore_ascii_case(b"wss");
        let plain = proto.eq_ignore_ascii_case(b"http") || proto.eq_ignore_ascii_case(b"ws");
        if secure || plain {
            *scheme = match (websocket, secure) {
                (true, true) => Scheme::Wss,
                (true, false) => Scheme::Ws,
                (false, true) => Scheme::Https,
                (false, false) => Scheme::Http,
            };
        }
    }
    if let Some(forwarded) = for_field.and_then(|v| v.to_str().ok()) {
        let hosts: Vec<IpAddr> = forwarded
            .split(',')
            .filter_map(|h| parse_host(h.trim()))
            .collect();
        let chosen = hosts
            .iter()
            .rev()
            .find(|ip| !trusted.contains(**ip))
            .or(hosts.first());
        if let Some(&ip) = chosen {
            *client = Some(SocketAddr::new(ip, 0));
        }
    }
}

fn parse_host(host: &str) -> Option<IpAddr> {
    host.parse::<IpAddr>()
        .ok()
        .or_else(|| host.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| host.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    fn headers(fields: &[(&'static str, &'static str)]) -> Headers {
        fields
            .iter()
            .map(|&(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn forwarded_headers_apply_only_for_trusted_peers() {
        let trusted = ForwardedAllowIps::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        let fields = headers(&[
            ("x-forwarded-for", "1.2.3.4, 10.0.0.5"),
            ("x-forwarded-proto", "https"),
        ]);
        type Case = (&'static str, bool, &'static str, Scheme);
        let cases: &[Case] = &[
            ("127.0.0.1:5000", false, "1.2.3.4:0", Scheme::Https),
            ("127.0.0.1:5000", true, "1.2.3.4:0", Scheme::Wss),
            ("192.168.0.1:5000", false, "192.168.0.1:5000", Scheme::Http),
        ];
        for &(peer, websocket, expected_client, expected_scheme) in cases {
            let mut client = Some(peer.parse().unwrap());
            let mut scheme = if websocket { Scheme::Ws } else { Scheme::Http };

            apply(&fields, &trusted, &mut client, &mut scheme, websocket);

            assert_eq!(client, Some(expected_client.parse().unwrap()), "{peer}");
            assert_eq!(scheme, expected_scheme, "{peer}");
        }
    }

    #[test]
    fn all_trusted_hops_give_the_leftmost() {
        let trusted = ForwardedAllowIps::any();
        let fields = headers(&[
            ("x-forwarded-for", "5.6.7.8, 10.0.0.5"),
            ("x-forwarded-proto", "gopher"),
        ]);
        let mut client = Some("127.0.0.1:1".parse().unwrap());
        let mut scheme = Scheme::Http;

        apply(&fields, &trusted, &mut client, &mut scheme, false);

        assert_eq!(client, Some("5.6.7.8:0".parse().unwrap()));
        assert_eq!(scheme, Scheme::Http);
    }
}
