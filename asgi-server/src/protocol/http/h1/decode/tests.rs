use super::*;

const LIMIT: usize = 64 * 1024;

fn parse(input: &[u8]) -> Result<Option<RequestHead>, HeadError> {
    parse_head(&mut BytesMut::from(input), LIMIT, &mut Vec::new())
}

#[test]
fn well_formed_heads_parse() {
    type Case = (&'static [u8], BodyKind, bool, bool, bool);
    // (input, body, keep_alive, expect_continue, upgrade_websocket)
    let cases: &[Case] = &[
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", BodyKind::Length(0), true, false, false),
        (b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", BodyKind::Length(0), true, false, false),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: \xe9t\xe9\r\n\r\n", BodyKind::Length(0), true, false, false),
        (b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", BodyKind::Length(0), false, false, false),
        (b"GET / HTTP/1.0\r\n\r\n", BodyKind::Length(0), false, false, false),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", BodyKind::Length(0), true, false, false),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", BodyKind::Length(5), true, false, false),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", BodyKind::Length(5), true, false, false),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", BodyKind::Length(5), true, false, false),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", BodyKind::Chunked, true, false, false),
        (b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", BodyKind::Length(1), true, true, false),
        (b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", BodyKind::Length(1), false, false, false),
        (b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\r\n", BodyKind::Length(0), true, false, true),
        (b"POST /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", BodyKind::Length(0), true, false, false),
        (b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", BodyKind::Length(0), true, false, false),
    ];
    for &(input, body, keep_alive, expect_continue, upgrade) in cases {
        let head = parse(input).unwrap().unwrap();

        assert_eq!(head.body, body, "{}", String::from_utf8_lossy(input));
        assert_eq!(
            head.keep_alive,
            keep_alive,
            "{}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(
            head.expect_continue,
            expect_continue,
            "{}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(
            head.upgrade_websocket,
            upgrade,
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn head_fields_are_sliced_and_ordered() {
    let mut buf = BytesMut::from(
        &b"GET /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nX-Empty:\r\n\r\nNEXT"[..],
    );

    let head = parse_head(&mut buf, LIMIT, &mut Vec::new())
        .unwrap()
        .unwrap();

    assert_eq!(head.method, Method::GET);
    assert_eq!(head.target, &b"/a%20b?x=1"[..]);
    assert_eq!(head.version, HttpVersion::Http11);
    let fields: Vec<(&str, &[u8])> = head
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    assert_eq!(
        fields,
        [
            ("host", &b"h"[..]),
            ("x-a", b"1"),
            ("x-a", b"2"),
            ("x-empty", b"")
        ]
    );
    assert_eq!(&buf[..], b"NEXT");
}

#[test]
fn incomplete_heads_need_more() {
    for input in [
        &b""[..],
        b"GET",
        b"GET / HTTP/1.1\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n",
    ] {
        assert!(
            parse(input).unwrap().is_none(),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn bad_heads_are_rejected_with_their_status() {
    let cases: &[(&[u8], StatusCode)] = &[
        (b"GET / HTTP/2.0\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"GET / HTTP/1.1\nHost: a\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"GET / HTTP/1.1\r\nHost: a\n\r\n", StatusCode::BAD_REQUEST),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", StatusCode::BAD_REQUEST),
        (b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"GET / HTTP/1.1\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  folded\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", StatusCode::BAD_REQUEST),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", StatusCode::NOT_IMPLEMENTED),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", StatusCode::NOT_IMPLEMENTED),
    ];
    for &(input, status) in cases {
        let error = parse(input).unwrap_err();

        assert_eq!(
            error.status(),
            status,
            "{}: {error:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn oversized_heads_are_431_or_414() {
    let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..MAX_HEADERS {
        many.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let mut big = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 200));
    let mut long_target = b"GET /".to_vec();
    long_target.extend(std::iter::repeat_n(b'a', 200));
    let mut complete_long_target = long_target.clone();
    complete_long_target.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");

    assert_eq!(parse(&many).unwrap_err(), HeadError::HeadTooLarge);
    assert_eq!(
        parse_head(&mut BytesMut::from(&big[..]), 100, &mut Vec::new()).unwrap_err(),
        HeadError::HeadTooLarge
    );
    assert_eq!(
        parse_head(&mut BytesMut::from(&long_target[..]), 100, &mut Vec::new()).unwrap_err(),
        HeadError::UriTooLong
    );
}

fn decode_all(input: &[u8]) -> Result<(Vec<u8>, bool, usize), ChunkError> {
    // Feed one byte at a time to exercise every resumption point.
    let mut decoder = ChunkedDecoder::new(1024);
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    for &b in input {
        buf.extend_from_slice(&[b]);
        while let Some(chunk) = decoder.decode(&mut buf, 4)? {
            match chunk {
                Chunk::Data(data) => body.extend_from_slice(&data),
                Chunk::End => return Ok((body, true, buf.len())),
            }
        }
    }
    Ok((body, decoder.is_done(), buf.len()))
}

#[test]
fn chunked_bodies_decode() {
    let cases: &[(&[u8], &[u8], bool)] = &[
        (b"0\r\n\r\n", b"", true),
        (b"5\r\nhello\r\n0\r\n\r\n", b"hello", true),
        (
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            b"hello world",
            true,
        ),
        (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789", true),
        (b"5;name=value;x\r\nhello\r\n0;last\r\n\r\n", b"hello", true),
        (b"5 ;ext\r\nhello\r\n0\r\n\r\n", b"hello", true),
        (
            b"5\r\nhello\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n",
            b"hello",
            true,
        ),
        (b"005\r\nhello\r\n0000\r\n\r\n", b"hello", true),
        (
            b"000000000000000000005\r\nhello\r\n00000000000000000000\r\n\r\n",
            b"hello",
            true,
        ),
        (b"5\r\nhel", b"hel", false),
    ];
    for &(input, body, done) in cases {
        let (decoded, finished, _) = decode_all(input).unwrap();

        assert_eq!(decoded, body, "{}", String::from_utf8_lossy(input));
        assert_eq!(finished, done, "{}", String::from_utf8_lossy(input));
    }
}

#[test]
fn bytes_after_the_body_are_left_for_the_next_request() {
    let mut decoder = ChunkedDecoder::new(1024);
    let mut buf = BytesMut::from(&b"1\r\na\r\n0\r\n\r\nGET /"[..]);

    assert_eq!(
        decoder.decode(&mut buf, 64).unwrap(),
        Some(Chunk::Data(Bytes::from_static(b"a")))
    );
    assert_eq!(decoder.decode(&mut buf, 64).unwrap(), Some(Chunk::End));
    assert_eq!(&buf[..], b"GET /");
}

#[test]
fn bad_chunked_bodies_are_rejected() {
    let cases: &[&[u8]] = &[
        b"x\r\n",
        b"\r\n",
        b";ext\r\n",
        b"-5\r\nhello\r\n",
        b"0x5\r\nhello\r\n",
        b"5\nhello\r\n",
        b"5\r\nhelloX\r\n",
        b"5\r\nhello\rX",
        b"5\r\nhello\r\n0\r\n bad\r\n\r\n",
        b"5\r\nhello\r\n0\r\nX: \0\r\n\r\n",
        b"5;a\0b\r\n",
        b"11111111111111111\r\n",
        b"00010000000000000000\r\n",
        b"5 x\r\n",
        b"0\r\n\rX",
    ];
    for &input in cases {
        assert!(
            decode_all(input).is_err(),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn leading_zeros_count_towards_the_line_limit_only() {
    let mut zeros = vec![b'0'; 300];
    zeros.extend_from_slice(b"5\r\nhello\r\n0\r\n\r\n");
    let mut endless = vec![b'0'; MAX_CHUNK_LINE + 1];
    endless.extend_from_slice(b"5\r\n");

    let (decoded, finished, _) = decode_all(&zeros).unwrap();
    let rejected = decode_all(&endless);

    assert_eq!((&decoded[..], finished), (&b"hello"[..], true));
    assert!(rejected.is_err());
}

#[test]
fn oversized_trailers_and_size_lines_are_rejected() {
    let mut trailers = b"0\r\n".to_vec();
    for _ in 0..100 {
        trailers.extend_from_slice(b"X-Long: aaaaaaaaaaaaaaaaaaaa\r\n");
    }
    let mut ext = b"1;".to_vec();
    ext.extend(std::iter::repeat_n(b'a', MAX_CHUNK_LINE + 1));

    assert_eq!(
        decode_all(&trailers).unwrap_err(),
        ChunkError("trailers too large")
    );
    assert_eq!(
        decode_all(&ext).unwrap_err(),
        ChunkError("chunk size line too long")
    );
}

/// A deterministic stand-in for the fuzz targets: mutated requests never panic.
#[test]
fn random_mutations_never_panic() {
    let seeds: &[&[u8]] = &[
        b"GET /a?b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n",
        b"GET / HTTP/1.0\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
    ];
    let alphabet = b"\r\n :;,\t\x00\x7f\xff0aZ-/?%HTTP/1.1chunked";
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let seed = seeds[(next() % seeds.len() as u64) as usize];
        let mut input = seed.to_vec();
        for _ in 0..(next() % 4 + 1) {
            let at = (next() % (input.len() as u64 + 1)) as usize;
            let byte = alphabet[(next() % alphabet.len() as u64) as usize];
            match next() % 3 {
                0 if at < input.len() => input[at] = byte,
                1 => input.insert(at, byte),
                _ if at < input.len() => {
                    input.remove(at);
                }
                _ => {}
            }
        }
        let mut buf = BytesMut::from(&input[..]);
        if let Ok(Some(head)) = parse_head(&mut buf, 256, &mut Vec::new())
            && head.body == BodyKind::Chunked
        {
            let mut decoder = ChunkedDecoder::new(64);
            while let Ok(Some(Chunk::Data(_))) = decoder.decode(&mut buf, 3) {}
        }
    }
}

#[test]
fn bare_lf_is_found_anywhere_in_a_head() {
    let crlf_only =
        b"GET /a-long-enough-path HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\n\r\n";
    assert!(!has_bare_lf(crlf_only));
    assert!(!has_bare_lf(b""));
    assert!(has_bare_lf(b"\n"));
    assert!(has_bare_lf(b"\nGET / HTTP/1.1\r\n\r\n"));
    // Every position, so that each lane and the tail of a vectorized loop is covered.
    for at in 1..crlf_only.len() {
        let mut head = crlf_only.to_vec();
        if head[at - 1] == b'\r' {
            continue;
        }
        head[at] = b'\n';
        assert!(has_bare_lf(&head), "LF at {at}");
    }
}

#[test]
fn te_trailers_is_noted_on_http11_only() {
    let cases: &[(&[u8], bool)] = &[
        (b"GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n", true),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nte: gzip, Trailers\r\n\r\n",
            true,
        ),
        (b"GET / HTTP/1.1\r\nHost: a\r\nTE: gzip\r\n\r\n", false),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\nHost: a\r\nTE: trailers\r\n\r\n", false),
    ];
    for &(input, expected) in cases {
        let head = parse(input).unwrap().unwrap();

        assert_eq!(
            head.accepts_trailers,
            expected,
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}
