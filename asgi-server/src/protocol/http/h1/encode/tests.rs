use super::*;
use http::HeaderValue;

fn ctx(version: HttpVersion, is_head: bool, keep_alive: bool) -> HeadContext<'static> {
    HeadContext {
        version,
        is_head,
        keep_alive,
        date: false,
        server: b"server: t\r\n",
        defaults: b"",
    }
}

fn headers(fields: &[(&'static str, &'static str)]) -> Headers {
    fields
        .iter()
        .map(|&(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
        .collect()
}

#[test]
fn framing_follows_status_method_version_and_app_headers() {
    use HttpVersion::{Http10, Http11};
    type Case = (
        u16,
        &'static [(&'static str, &'static str)],
        HttpVersion,
        bool,
        Option<u64>,
        &'static str,
        Framing,
        bool,
    );
    // (status, app headers, version, HEAD?, body_len, expected head, framing, keep-alive)
    let cases: &[Case] = &[
        (
            200,
            &[],
            Http11,
            false,
            Some(5),
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nserver: t\r\n\r\n",
            Framing::Length(5),
            true,
        ),
        (
            200,
            &[],
            Http11,
            false,
            None,
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nserver: t\r\n\r\n",
            Framing::Chunked,
            true,
        ),
        (
            200,
            &[],
            Http10,
            false,
            None,
            "HTTP/1.1 200 OK\r\nconnection: close\r\nserver: t\r\n\r\n",
            Framing::CloseDelimited,
            false,
        ),
        (
            200,
            &[],
            Http10,
            false,
            Some(2),
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\nserver: t\r\n\r\n",
            Framing::Length(2),
            true,
        ),
        (
            200,
            &[("content-length", "3")],
            Http11,
            false,
            None,
            "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nserver: t\r\n\r\n",
            Framing::Length(3),
            true,
        ),
        (
            200,
            &[("transfer-encoding", "gzip")],
            Http11,
            false,
            Some(1),
            "HTTP/1.1 200 OK\r\ncontent-length: 1\r\nserver: t\r\n\r\n",
            Framing::Length(1),
            true,
        ),
        (
            200,
            &[("content-length", "x1")],
            Http11,
            false,
            None,
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nserver: t\r\n\r\n",
            Framing::Chunked,
            true,
        ),
        (
            200,
            &[("connection", "close")],
            Http11,
            false,
            Some(0),
            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\nserver: t\r\n\r\n",
            Framing::Length(0),
            false,
        ),
        (
            204,
            &[("content-length", "0")],
            Http11,
            false,
            Some(0),
            "HTTP/1.1 204 No Content\r\nserver: t\r\n\r\n",
            Framing::Empty,
            true,
        ),
        (
            304,
            &[("etag", "\"x\"")],
            Http11,
            false,
            Some(0),
            "HTTP/1.1 304 Not Modified\r\netag: \"x\"\r\nserver: t\r\n\r\n",
            Framing::Empty,
            true,
        ),
        (
            200,
            &[("content-length", "9")],
            Http11,
            true,
            Some(0),
            "HTTP/1.1 200 OK\r\ncontent-length: 9\r\nserver: t\r\n\r\n",
            Framing::Empty,
            true,
        ),
        (
            200,
            &[],
            Http11,
            true,
            Some(0),
            "HTTP/1.1 200 OK\r\nserver: t\r\n\r\n",
            Framing::Empty,
            true,
        ),
        (
            200,
            &[("server", "app")],
            Http11,
            false,
            Some(0),
            "HTTP/1.1 200 OK\r\nserver: app\r\ncontent-length: 0\r\n\r\n",
            Framing::Length(0),
            true,
        ),
        (
            299,
            &[],
            Http11,
            false,
            Some(0),
            "HTTP/1.1 299 Unknown\r\ncontent-length: 0\r\nserver: t\r\n\r\n",
            Framing::Length(0),
            true,
        ),
    ];
    for &(status, fields, version, is_head, body_len, expected, framing, keep_alive) in cases {
        let mut dst = BytesMut::new();
        let status = StatusCode::from_u16(status).unwrap();

        let encoded = encode_head(
            &mut dst,
            status,
            &headers(fields),
            ctx(version, is_head, true),
            body_len,
        );

        assert_eq!(String::from_utf8_lossy(&dst), expected);
        assert_eq!(
            encoded,
            Encoded {
                framing,
                keep_alive
            },
            "{expected}"
        );
    }
}

#[test]
fn closing_connection_is_announced() {
    let mut dst = BytesMut::new();

    let encoded = encode_head(
        &mut dst,
        StatusCode::OK,
        &Headers::new(),
        ctx(HttpVersion::Http11, false, false),
        Some(0),
    );

    assert!(!encoded.keep_alive);
    assert!(String::from_utf8_lossy(&dst).contains("connection: close\r\n"));
}

#[test]
fn date_header_is_added_unless_the_app_set_one() {
    let mut with = ctx(HttpVersion::Http11, false, true);
    with.date = true;
    let mut dst = BytesMut::new();
    encode_head(&mut dst, StatusCode::OK, &Headers::new(), with, Some(0));
    assert_eq!(String::from_utf8_lossy(&dst).matches("date: ").count(), 1);

    let mut dst = BytesMut::new();
    encode_head(
        &mut dst,
        StatusCode::OK,
        &headers(&[("date", "x")]),
        with,
        Some(0),
    );
    assert_eq!(String::from_utf8_lossy(&dst).matches("date: ").count(), 1);
}

#[test]
fn chunk_sizes_are_hex() {
    let cases: &[(usize, &str)] = &[
        (1, "1\r\n"),
        (10, "a\r\n"),
        (255, "ff\r\n"),
        (4096, "1000\r\n"),
    ];
    for &(len, expected) in cases {
        let mut dst = BytesMut::new();

        encode_chunk_size(&mut dst, len);

        assert_eq!(dst, expected.as_bytes(), "{len}");
    }
}

#[test]
fn error_responses_are_complete() {
    let mut dst = BytesMut::new();

    encode_error(
        &mut dst,
        StatusCode::BAD_REQUEST,
        ctx(HttpVersion::Http11, false, false),
    );

    assert_eq!(
        String::from_utf8_lossy(&dst),
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 11\r\nconnection: close\r\nserver: t\r\n\r\nBad Request"
    );
}

#[test]
fn decimals_are_written_without_fmt() {
    for n in [0u64, 7, 10, 12345, u64::MAX] {
        let mut dst = BytesMut::new();
        write_decimal(&mut dst, n);
        assert_eq!(dst, n.to_string().as_bytes());
    }
}

#[test]
fn fixed_headers_keep_defaults_when_the_app_sets_server() {
    let defaults = vec![(
        HeaderName::from_static("x-d"),
        HeaderValue::from_static("1"),
    )];
    let (server, rest) = encode_fixed_headers(Some("asgi-server"), &defaults);
    let context = HeadContext {
        server: &server,
        defaults: &rest,
        ..ctx(HttpVersion::Http11, false, true)
    };
    let mut dst = BytesMut::new();

    encode_head(
        &mut dst,
        StatusCode::OK,
        &headers(&[("server", "app")]),
        context,
        Some(0),
    );

    let text = String::from_utf8_lossy(&dst);
    assert!(
        text.contains("server: app\r\n") && !text.contains("asgi-server"),
        "{text}"
    );
    assert!(text.contains("x-d: 1\r\n"), "{text}");
}

#[test]
fn a_server_default_header_replaces_the_builtin_one() {
    let defaults = vec![(
        HeaderName::from_static("server"),
        HeaderValue::from_static("custom"),
    )];

    let (server, rest) = encode_fixed_headers(Some("asgi-server"), &defaults);

    assert_eq!(server, b"server: custom\r\n");
    assert!(rest.is_empty());
    assert_eq!(encode_fixed_headers(None, &[]).0, b"");
}
