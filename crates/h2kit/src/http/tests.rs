use ::http::HeaderValue;
use h2kit_hpack::Representation;

use super::*;

fn f(name: &'static str, value: &'static str) -> Field {
    Field::new(name, value)
}

/// `(name, value, never indexed)` of each field, as text.
fn pairs(fields: &[Field]) -> Vec<(String, String, bool)> {
    fields
        .iter()
        .map(|f| {
            (
                String::from_utf8_lossy(&f.name).into_owned(),
                String::from_utf8_lossy(&f.value).into_owned(),
                f.repr == Representation::NeverIndexed,
            )
        })
        .collect()
}

fn owned(list: &[(&str, &str, bool)]) -> Vec<(String, String, bool)> {
    list.iter()
        .map(|(n, v, s)| ((*n).to_owned(), (*v).to_owned(), *s))
        .collect()
}

fn is_static(bytes: &Bytes, within: &'static [u8]) -> bool {
    within.as_ptr_range().contains(&bytes.as_ptr())
}

// ---------------------------------------------------------------- sending

#[test]
fn request_fields_match_the_request_and_reuse_the_origin_authority() {
    let authority: Authority = "example.com:8080".parse().unwrap();
    let origin = Origin::new(Scheme::HTTP, Some(authority.clone()));
    let mut secret = HeaderValue::from_static("s3cret");
    secret.set_sensitive(true);
    let head = Request::get("http://example.com:8080/a?b=1")
        .header("accept-encoding", "gzip, deflate, br")
        .header("x-token", secret)
        .body(())
        .unwrap();
    let fields = request_fields(&head, &origin);
    assert_eq!(
        pairs(&fields),
        owned(&[
            (":method", "GET", false),
            (":scheme", "http", false),
            (":path", "/a?b=1", false),
            (":authority", "example.com:8080", false),
            ("accept-encoding", "gzip, deflate, br", false),
            ("x-token", "s3cret", true),
        ])
    );
    // The origin's value is shared, not copied; the same for each request.
    let again = request_fields(&head, &origin);
    assert_eq!(fields[3].value.as_ptr(), again[3].value.as_ptr());
    assert_eq!(
        origin.authority.value(&authority).as_ptr(),
        fields[3].value.as_ptr()
    );

    let other = Request::builder()
        .method("PURGE")
        .uri("https://other.test/")
        .body(())
        .unwrap();
    assert_eq!(
        pairs(&request_fields(&other, &origin)),
        owned(&[
            (":method", "PURGE", false),
            (":scheme", "https", false),
            (":path", "/", false),
            (":authority", "other.test", false),
        ])
    );

    let connect = Request::builder()
        .method("CONNECT")
        .uri("proxy.test:443")
        .body(())
        .unwrap();
    assert_eq!(
        pairs(&request_fields(&connect, &Origin::default())),
        owned(&[
            (":method", "CONNECT", false),
            (":authority", "proxy.test:443", false)
        ])
    );
}

#[test]
fn extended_connect_round_trips_its_protocol() {
    let mut ws = Request::builder()
        .method("CONNECT")
        .uri("https://example.com/chat?room=1")
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    ws.extensions_mut()
        .insert(Protocol::from_static("websocket"));
    let fields = request_fields(&ws, &Origin::default());
    assert_eq!(
        pairs(&fields),
        owned(&[
            (":method", "CONNECT", false),
            (":protocol", "websocket", false),
            (":scheme", "https", false),
            (":path", "/chat?room=1", false),
            (":authority", "example.com", false),
            ("sec-websocket-version", "13", false),
        ])
    );
    let parts = request_parts(&fields, &mut HeadCache::default()).unwrap();
    assert_eq!(parts.method, Method::CONNECT);
    assert_eq!(parts.uri, "https://example.com/chat?room=1");
    assert_eq!(parts.extensions.get::<Protocol>().unwrap(), "websocket");

    // The extension means nothing on other methods, and a plain CONNECT has none.
    let mut get = Request::get("https://example.com/").body(()).unwrap();
    get.extensions_mut()
        .insert(Protocol::from_static("websocket"));
    assert!(
        request_fields(&get, &Origin::default())
            .iter()
            .all(|f| f.name != ":protocol")
    );
    let plain = [f(":method", "CONNECT"), f(":authority", "proxy.test:443")];
    let parts = request_parts(&plain, &mut HeadCache::default()).unwrap();
    assert!(parts.extensions.get::<Protocol>().is_none());

    // A received `:protocol` that is not a token (validation off) is refused, not kept.
    let mut bad = fields.clone();
    bad[1] = f(":protocol", "web socket");
    assert_eq!(
        request_parts(&bad, &mut HeadCache::default()).map(|_| ()),
        Err(HeaderError::InvalidProtocol)
    );
    assert_eq!(
        "connect-udp".parse::<Protocol>().unwrap().to_string(),
        "connect-udp"
    );
    assert_eq!(Protocol::try_from(""), Err(HeaderError::InvalidProtocol));
}

#[test]
fn the_origin_completes_a_relative_uri() {
    let relative = Request::get("/x").body(()).unwrap();
    assert_eq!(
        pairs(&request_fields(&relative, &Origin::default())),
        owned(&[
            (":method", "GET", false),
            (":scheme", "https", false),
            (":path", "/x", false),
        ])
    );
    let origin = Origin::new(Scheme::HTTP, Some("h.test".parse().unwrap()));
    assert_eq!(origin.scheme(), &Scheme::HTTP);
    assert_eq!(origin.authority().map(Authority::as_str), Some("h.test"));
    assert_eq!(
        pairs(&request_fields(&relative, &origin)),
        owned(&[
            (":method", "GET", false),
            (":scheme", "http", false),
            (":path", "/x", false),
            (":authority", "h.test", false),
        ])
    );
}

#[test]
fn fields_http2_forbids_are_left_out() {
    let mut head = Request::get("https://a.test/");
    for name in crate::headers::CONNECTION_SPECIFIC {
        head = head.header(name, "x");
    }
    let head = head
        .header("te", "trailers")
        .header("te", "gzip")
        .header("x-kept", "1")
        .body(())
        .unwrap();
    let fields = request_fields(&head, &Origin::default());
    let regular: Vec<_> = pairs(&fields).into_iter().skip(4).collect();
    assert_eq!(
        regular,
        owned(&[("te", "trailers", false), ("x-kept", "1", false)])
    );

    let response = Response::builder()
        .header("connection", "close")
        .header("transfer-encoding", "chunked")
        .header("content-type", "text/plain")
        .body(())
        .unwrap();
    assert_eq!(
        pairs(&response_fields(&response)),
        owned(&[
            (":status", "200", false),
            ("content-type", "text/plain", false)
        ])
    );
}

#[test]
fn static_values_for_methods_schemes_statuses_and_common_fields() {
    for (method, text) in [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::HEAD, "HEAD"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::PATCH, "PATCH"),
        (Method::TRACE, "TRACE"),
        (Method::from_bytes(b"PURGE").unwrap(), "PURGE"),
    ] {
        assert_eq!(method_value(&method), text);
    }
    assert_eq!(scheme_value(&Scheme::HTTP), "http");
    assert_eq!(scheme_value(&Scheme::HTTPS), "https");
    assert_eq!(scheme_value(&"ftp".parse().unwrap()), "ftp");
    for code in 100..=999u16 {
        let status = StatusCode::from_u16(code).unwrap();
        let value = status_value(status);
        assert_eq!(value, status.as_str(), "{code}");
        assert!(is_static(&value, &STATUS_DIGITS), "{code}");
    }

    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    headers.insert("x-custom", HeaderValue::from_static("*/*"));
    let fields = trailer_fields(&headers);
    assert_eq!(
        pairs(&fields),
        owned(&[
            ("content-type", "text/html", false),
            ("accept", "*/*", false),
            ("x-custom", "*/*", false),
        ])
    );
    // Copies are owned buffers; static bytes are never copied, so converting twice gives the
    // same pointers for the common name and values, new ones for the custom field.
    let again = trailer_fields(&headers);
    for i in 0..2 {
        assert_eq!(fields[i].name.as_ptr(), again[i].name.as_ptr());
        assert_eq!(fields[i].value.as_ptr(), again[i].value.as_ptr());
    }
    assert_ne!(fields[2].name.as_ptr(), again[2].name.as_ptr());
}

#[test]
fn extend_response_fields_appends_to_a_reused_list() {
    let mut fields = Vec::with_capacity(8);
    let mut headers = HeaderMap::new();
    headers.insert("x-a", HeaderValue::from_static("1"));
    extend_response_fields(&mut fields, StatusCode::NOT_FOUND, &headers);
    assert_eq!(
        pairs(&fields),
        owned(&[(":status", "404", false), ("x-a", "1", false)])
    );
}

// ---------------------------------------------------------------- receiving

#[test]
fn requests_round_trip() {
    let mut cache = HeadCache::default();
    let requests = [
        Request::get("https://example.com/a?b=1")
            .header("accept", "*/*")
            .header("accept", "text/html")
            .header("x-custom", "v")
            .body(())
            .unwrap(),
        Request::post("http://example.com:8080/upload")
            .header("content-length", "12")
            .body(())
            .unwrap(),
        Request::builder()
            .method("CONNECT")
            .uri("proxy.test:443")
            .body(())
            .unwrap(),
        Request::builder()
            .method("PURGE")
            .uri("https://example.com/")
            .body(())
            .unwrap(),
    ];
    for request in requests {
        let fields = request_fields(&request, &Origin::default());
        let parts = request_parts(&fields, &mut cache).unwrap();
        assert_eq!(parts.method, *request.method());
        assert_eq!(parts.uri, *request.uri());
        assert_eq!(parts.headers, *request.headers());
        let one_off = request_from_fields(&fields).unwrap();
        assert_eq!(one_off.uri(), request.uri());
        assert_eq!(one_off.headers(), request.headers());
    }
}

#[test]
fn responses_and_trailers_round_trip() {
    let mut cache = HeadCache::default();
    let response = Response::builder()
        .status(StatusCode::PARTIAL_CONTENT)
        .header("server", "x")
        .header("set-cookie", "a=1")
        .header("set-cookie", "b=2")
        .header("content-length", "12")
        .header("x-custom", "v")
        .body(())
        .unwrap();
    let fields = response_fields(&response);
    let parts = response_parts(&fields, &mut cache).unwrap();
    assert_eq!(parts.status, response.status());
    assert_eq!(parts.headers, *response.headers());
    assert_eq!(parts.version, response.version());
    let one_off = response_from_fields(&fields).unwrap();
    assert_eq!(one_off.headers(), response.headers());

    let fields = trailer_fields(response.headers());
    assert_eq!(
        header_map(&fields, &mut cache).unwrap(),
        *response.headers()
    );
    assert!(header_map(&[], &mut cache).unwrap().is_empty());
}

#[test]
fn received_bytes_are_shared_not_copied() {
    let fields = vec![
        f(":method", "GET"),
        f(":scheme", "https"),
        f(":authority", "example.com"),
        f(":path", "/long/enough/path?query"),
        f("x-custom", "some value"),
    ];
    let parts = request_parts(&fields, &mut HeadCache::default()).unwrap();
    let path = parts.uri.path_and_query().unwrap().as_str();
    assert_eq!(path.as_ptr(), fields[3].value.as_ptr());
    assert_eq!(
        parts.uri.authority().unwrap().as_str().as_ptr(),
        fields[2].value.as_ptr()
    );
    assert_eq!(
        parts.headers["x-custom"].as_bytes().as_ptr(),
        fields[4].value.as_ptr()
    );
}

#[test]
fn host_stands_in_for_a_missing_authority() {
    let fields = vec![
        f(":method", "GET"),
        f(":scheme", "https"),
        f(":path", "/"),
        f("host", "example.com"),
    ];
    let request = request_from_fields(&fields).unwrap();
    assert_eq!(request.uri(), "https://example.com/");
    assert_eq!(request.headers()["host"], "example.com");
    // `:authority` wins over `host`.
    let mut with_both = fields.clone();
    with_both.insert(3, f(":authority", "a.test"));
    assert_eq!(
        request_from_fields(&with_both).unwrap().uri().host(),
        Some("a.test")
    );
}

#[test]
fn invalid_fields_give_typed_errors() {
    use HeaderError as E;
    let req = |extra: &[Field]| {
        let mut fields = vec![
            f(":method", "GET"),
            f(":scheme", "https"),
            f(":authority", "a.test"),
            f(":path", "/"),
        ];
        fields.extend_from_slice(extra);
        fields
    };
    let replace = |i: usize, field: Field| {
        let mut fields = req(&[]);
        fields[i] = field;
        fields
    };
    let drop_at = |i: usize| {
        let mut fields = req(&[]);
        fields.remove(i);
        fields
    };
    let cases: Vec<(Vec<Field>, HeaderError)> = vec![
        (req(&[f("bad name", "v")]), E::InvalidNameChar),
        (req(&[f("", "v")]), E::EmptyName),
        (req(&[f("x", "a\nb")]), E::InvalidValueChar),
        (req(&[f("x", "a\x01b")]), E::InvalidValueChar),
        (req(&[f(":status", "200")]), E::UnknownPseudo),
        (replace(0, f(":method", "GE T")), E::InvalidMethod),
        (drop_at(0), E::MissingMethod),
        (replace(1, f(":scheme", "ht tp")), E::InvalidScheme),
        (
            replace(2, f(":authority", "bad authority")),
            E::InvalidAuthority,
        ),
        (replace(2, f(":authority", "")), E::EmptyAuthority),
        (replace(3, f(":path", "/a b")), E::InvalidPath),
        (drop_at(1), E::MissingScheme),
        (drop_at(2), E::MissingAuthority),
        (drop_at(3), E::MissingPath),
    ];
    for (fields, want) in cases {
        assert_eq!(
            request_parts(&fields, &mut HeadCache::default()).unwrap_err(),
            want,
            "{fields:?}"
        );
        assert_eq!(request_from_fields(&fields).unwrap_err(), want);
    }

    let responses: Vec<(Vec<Field>, HeaderError)> = vec![
        (vec![f(":status", "2000")], E::InvalidStatus),
        (vec![f(":status", "abc")], E::InvalidStatus),
        (vec![f("server", "x")], E::MissingStatus),
        (vec![f(":status", "200"), f(":path", "/")], E::UnknownPseudo),
        (
            vec![f(":status", "200"), f("bad name", "v")],
            E::InvalidNameChar,
        ),
        (
            vec![f(":status", "200"), f("x", "a\nb")],
            E::InvalidValueChar,
        ),
    ];
    for (fields, want) in responses {
        assert_eq!(
            response_from_fields(&fields).unwrap_err(),
            want,
            "{fields:?}"
        );
    }

    let mut cache = HeadCache::default();
    assert_eq!(
        header_map(&[f(":status", "200")], &mut cache),
        Err(E::PseudoInTrailers)
    );
    assert_eq!(
        header_map(&[f("x", "ok"), f("y z", "v")], &mut cache),
        Err(E::InvalidNameChar)
    );
    assert_eq!(
        header_map(&[f("x", "\r")], &mut cache),
        Err(E::InvalidValueChar)
    );
}

#[test]
fn the_authority_cache_reuses_an_equal_authority_and_parses_a_new_one() {
    let req = |authority: &'static str, extra: &[(&'static str, &'static str)]| {
        let mut fields = vec![
            f(":method", "GET"),
            f(":scheme", "http"),
            f(":authority", authority),
            f(":path", "/a?b"),
        ];
        fields.extend(extra.iter().map(|(n, v)| f(n, v)));
        fields
    };
    let mut cache = HeadCache::default();
    let a = request_parts(&req("example.com:8080", &[]), &mut cache).unwrap();
    assert_eq!(a.uri.to_string(), "http://example.com:8080/a?b");
    assert!(a.headers.is_empty());
    // Equal bytes from another buffer: the cached parse (sharing the first buffer).
    let owned = Bytes::from(b"example.com:8080".to_vec());
    let mut fields = req("x", &[("accept", "*/*"), ("accept", "text/html")]);
    fields[2].value = owned.clone();
    let b = request_parts(&fields, &mut cache).unwrap();
    assert_eq!(b.uri.authority().unwrap().as_str(), "example.com:8080");
    assert_ne!(b.uri.authority().unwrap().as_str().as_ptr(), owned.as_ptr());
    assert_eq!(b.uri.port_u16(), Some(8080));
    assert_eq!(b.headers.get_all("accept").iter().count(), 2);
    // A different authority is parsed, not taken from the cache.
    let c = request_parts(&req("other.example", &[]), &mut cache).unwrap();
    assert_eq!(c.uri.host(), Some("other.example"));
    // An invalid one fails and leaves the cache as it was.
    assert_eq!(
        request_parts(&req("bad authority", &[]), &mut cache).unwrap_err(),
        HeaderError::InvalidAuthority
    );
    assert_eq!(
        cache.authority.authority().map(Authority::as_str),
        Some("other.example")
    );
    let d = request_parts(&req("other.example", &[]), &mut cache).unwrap();
    assert_eq!(d.uri.host(), Some("other.example"));
}

// ---------------------------------------------------------------- the name cache

#[test]
fn common_names_match_the_http_parser() {
    let mut seen = std::collections::HashSet::new();
    for (name, constant) in COMMON_NAMES {
        assert!(seen.insert(*name), "{name} twice");
        let want = HeaderName::from_bytes(name.as_bytes()).unwrap();
        assert_eq!(*constant, want, "{name}");
        assert_eq!(constant.as_str(), *name);
        assert_eq!(common_header(name.as_bytes()), Some(want.clone()), "{name}");
        let text = common_text(name.as_bytes()).unwrap();
        assert_eq!(text.name, *name);
        for value in text.values {
            assert!(HeaderValue::from_static(value).to_str().is_ok());
            assert_eq!(text.value(value.as_bytes()), Some(*value));
        }
        assert_eq!(text.value(b"something else"), None);
        let ours = NameCache::default().parse(name.as_bytes()).unwrap();
        assert_eq!(ours, want);
    }
    // Near misses and other names are not common names.
    for name in ["tf", "Date", "dates", "content-typo", "x", "x-custom", ""] {
        assert!(common_header(name.as_bytes()).is_none(), "{name}");
        assert!(common_text(name.as_bytes()).is_none(), "{name}");
    }
}

#[test]
fn cached_header_names_equal_parsed_ones() {
    let mut cache = NameCache::default();
    let mut names: Vec<String> = [
        "accept",
        "user-agent",
        "x-custom",
        "te",
        "a",
        "content-type",
        "X-Upper",
        "sec-ch-ua-platform",
        "accept-encoding",
        "accept-language",
        "cookie",
    ]
    .iter()
    .map(|n| n.to_string())
    .collect();
    names.extend((0..200).map(|i| format!("x-h{i}")));
    names.push("x-".repeat(40));
    // Several rounds, so hits, misses and slot replacements all happen.
    for _ in 0..3 {
        for n in &names {
            let want = HeaderName::from_bytes(n.as_bytes()).unwrap();
            assert_eq!(cache.parse(n.as_bytes()), Ok(want), "{n}");
        }
    }
    assert_eq!(cache.parse(b""), Err(HeaderError::EmptyName));
    assert_eq!(cache.parse(b"bad name"), Err(HeaderError::InvalidNameChar));
    assert_eq!(cache.parse(b"x:y"), Err(HeaderError::InvalidNameChar));
}

/// The slot holding `name`, if it holds it.
fn cached(cache: &NameCache, name: &str) -> Option<HeaderName> {
    let slot = NameCache::slot(name.as_bytes())?;
    cache.slots[slot].clone().filter(|n| n.as_str() == name)
}

#[test]
fn the_name_cache_hits_misses_and_replaces() {
    let mut cache = NameCache::default();
    // Two custom names sharing a slot.
    let names: Vec<String> = (0..64).map(|i| format!("x-h{i}")).collect();
    let (a, b) = names
        .iter()
        .enumerate()
        .find_map(|(i, a)| {
            let slot = NameCache::slot(a.as_bytes());
            names[i + 1..]
                .iter()
                .find(|b| NameCache::slot(b.as_bytes()) == slot)
                .map(|b| (a.clone(), b.clone()))
        })
        .expect("two names in one slot");

    // Miss: parsed and kept.
    let first = cache.parse(a.as_bytes()).unwrap();
    assert_eq!(cached(&cache, &a), Some(first.clone()));
    // Hit: the kept name (a custom name shares its bytes with the cached one).
    let hit = cache.parse(a.as_bytes()).unwrap();
    assert_eq!(hit, first);
    assert_eq!(hit.as_str().as_ptr(), first.as_str().as_ptr());
    // Another name in the slot replaces it.
    let other = cache.parse(b.as_bytes()).unwrap();
    assert_eq!(other, HeaderName::from_bytes(b.as_bytes()).unwrap());
    assert_eq!(cached(&cache, &a), None);
    assert_eq!(cached(&cache, &b), Some(other));
    // And the first is parsed again (a new buffer).
    let again = cache.parse(a.as_bytes()).unwrap();
    assert_eq!(again, first);
    assert_ne!(again.as_str().as_ptr(), first.as_str().as_ptr());

    // Common names take no slot; long names are not kept; uppercase is lowered.
    cache.parse(b"content-type").unwrap();
    assert!(cached(&cache, "content-type").is_none());
    let long = "x".repeat(NAME_MAX + 1);
    assert_eq!(cache.parse(long.as_bytes()).unwrap().as_str(), long);
    assert!(cached(&cache, &long).is_none());
    assert_eq!(cache.parse(b"X-Mixed").unwrap().as_str(), "x-mixed");
}

#[test]
fn a_kept_response_head_is_copied_for_the_same_bytes_only() {
    let fields = vec![
        f(":status", "200"),
        Field::new("etag", Bytes::copy_from_slice(b"\"a\"")),
        Field::new("x-kept", Bytes::copy_from_slice(b"1")),
    ];
    let mut cache = HeadCache::default();
    let parts = response_parts(&fields, &mut cache).unwrap();
    cache.keep_response(&fields, &parts);
    // Clones share the bytes: a copy of the kept head, whose values share them too.
    let again = response_parts(&fields.clone(), &mut cache).unwrap();
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.headers, parts.headers);
    assert_eq!(
        again.headers["x-kept"].as_bytes().as_ptr(),
        fields[2].value.as_ptr()
    );
    // The same octets elsewhere, and other octets: made afresh, not the kept head.
    let equal: Vec<Field> = fields
        .iter()
        .map(|x| Field::new(x.name.to_vec(), x.value.to_vec()))
        .collect();
    let made = response_parts(&equal, &mut cache).unwrap();
    assert_eq!(made.headers, parts.headers);
    assert_eq!(
        made.headers["x-kept"].as_bytes().as_ptr(),
        equal[2].value.as_ptr()
    );
    let other = vec![f(":status", "404"), fields[1].clone()];
    let made = response_parts(&other, &mut cache).unwrap();
    assert_eq!(made.status, StatusCode::NOT_FOUND);
    assert_eq!(made.headers.len(), 1);
    // Forgotten: made afresh again.
    cache.forget_response();
    let made = response_parts(&fields, &mut cache).unwrap();
    assert_eq!(made.headers, parts.headers);
}
