use super::*;

const NOW: u64 = 1_764_000_000_000;

fn ok(body: &str, precision: Precision) -> Batch {
    parse(body.as_bytes(), precision, NOW).unwrap_or_else(|e| panic!("{e:?}"))
}

fn err(body: &[u8]) -> InfluxError {
    parse(body, Precision::Ns, NOW).unwrap_err()
}

fn pts(b: &Batch, name: &str) -> Vec<(u64, f64)> {
    b.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {b:?}"))
        .1
        .iter()
        .map(|p| (p.ts, p.value))
        .collect()
}

#[test]
fn fields_become_named_series_with_sorted_tags() {
    let b = ok(
        "cpu,region=west,host=a usage=1.5,idle=98i,ctx=7u,up=true,state=\"ok\" 1764000000123456789\n\
         cpu,host=a,region=west usage=2.5 1764000001000000000\n\
         mem used=0 1764000002000000000",
        Precision::Ns,
    );
    let names: Vec<&str> = b.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "cpu.usage{host=a,region=west}",
            "cpu.idle{host=a,region=west}",
            "cpu.ctx{host=a,region=west}",
            "cpu.up{host=a,region=west}",
            "mem.used",
        ],
        "the string field is skipped; tag order does not matter"
    );
    assert_eq!(
        pts(&b, "cpu.usage{host=a,region=west}"),
        [(1_764_000_000_123, 1.5), (1_764_000_001_000, 2.5)]
    );
    assert_eq!(
        pts(&b, "cpu.idle{host=a,region=west}"),
        [(1_764_000_000_123, 98.0)]
    );
    assert_eq!(
        pts(&b, "cpu.ctx{host=a,region=west}"),
        [(1_764_000_000_123, 7.0)]
    );
    assert_eq!(
        pts(&b, "cpu.up{host=a,region=west}"),
        [(1_764_000_000_123, 1.0)]
    );
    assert_eq!(pts(&b, "mem.used"), [(1_764_000_002_000, 0.0)]);
}

#[test]
fn precision_converts_to_milliseconds() {
    let cases = [
        (Precision::S, "1764000000", 1_764_000_000_000),
        (Precision::Ms, "1764000000123", 1_764_000_000_123),
        (Precision::Us, "1764000000123456", 1_764_000_000_123),
        (Precision::Ns, "1764000000123456789", 1_764_000_000_123),
    ];
    for (p, t, want) in cases {
        let b = ok(&format!("m v=1 {t}"), p);
        assert_eq!(pts(&b, "m.v"), [(want, 1.0)], "{p:?}");
    }
    // No timestamp: the server's clock.
    assert_eq!(pts(&ok("m v=1", Precision::S), "m.v"), [(NOW, 1.0)]);
    assert_eq!(Precision::from_query(None), Ok(Precision::Ns));
    assert_eq!(Precision::from_query(Some("u")), Ok(Precision::Us));
    let e = Precision::from_query(Some("h")).unwrap_err();
    assert_eq!((e.status, e.code()), (StatusCode::BAD_REQUEST, "invalid"));
    let e = parse(b"m v=1 9223372036854775807", Precision::S, NOW).unwrap_err();
    assert!(e.message.contains("out of range"), "{}", e.message);
    let e = err(b"m v=1 -5");
    assert!(e.message.contains("before 1970"), "{}", e.message);
}

#[test]
fn the_first_bad_line_is_named_and_nothing_is_taken() {
    let body = "m v=1 1\n\n# a comment\nm v=2 2\nm v= 3\nm v=4 4\n";
    let e = err(body.as_bytes());
    assert_eq!((e.status, e.code()), (StatusCode::BAD_REQUEST, "invalid"));
    assert!(e.message.starts_with("line 5: "), "{}", e.message);
    // Blank lines, comments and CRLF are fine.
    let b = ok(
        "\r\n# hi\r\nm v=1 1000000\r\n\r\nm v=2 2000000\r\n",
        Precision::Ns,
    );
    assert_eq!(pts(&b, "m.v"), [(1, 1.0), (2, 2.0)]);
    // A quoted string may hold a newline: line numbers still count it.
    let e = err(b"m s=\"a\nb\",v=1 1\nm v=x 2\n");
    assert!(e.message.starts_with("line 3: "), "{}", e.message);
}

#[test]
fn hostile_lines_are_refused() {
    let cases: [(&[u8], &str); 9] = [
        (b"m v=1.5 17640", ""),
        (b"m", "line 1"),
        (b"m,host v=1", "line 1"),
        (b"m v=1i2", "line 1"),
        (b"m v=NaN", "line 1"),
        (b"m v=inf", "line 1"),
        (b"m v=1e999", "not a finite number"),
        (b"m v=-1e999", "not a finite number"),
        (b"m,a=1,a=2 v=1", "duplicate"),
    ];
    for (body, want) in &cases[1..] {
        let e = err(body);
        assert_eq!(e.status, StatusCode::BAD_REQUEST, "{body:?}: {e:?}");
        assert!(
            e.message.to_lowercase().contains(want),
            "{:?}: {}",
            String::from_utf8_lossy(body),
            e.message
        );
    }
    assert_eq!(
        ok(std::str::from_utf8(cases[0].0).unwrap(), Precision::Ms).len(),
        1
    );
    // Invalid UTF-8 on line 2.
    let e = err(b"m v=1\nm,host=\xff v=2\n");
    assert_eq!(e.message, "line 2: invalid UTF-8");
    // Empty bodies and comment-only bodies.
    for body in [&b""[..], b"\n\n", b"# nothing\n"] {
        assert_eq!(err(body).message, "writing requires points");
    }
    // A name longer than the bound.
    let long = format!("m,t={} v=1", "x".repeat(series::MAX_NAME_BYTES));
    let e = err(long.as_bytes());
    assert!(e.message.contains("longer than"), "{}", e.message);
}

#[test]
fn a_line_of_only_strings_is_valid_and_adds_nothing() {
    let b = ok("log msg=\"hello\"", Precision::Ns);
    assert!(b.is_empty());
}

#[test]
fn a_long_line_is_parsed_or_refused_quickly() {
    // 1 MB of fields in one line: parsed (the series bound is the hub's).
    let fields: Vec<String> = (0..100_000).map(|i| format!("f{i}={i}")).collect();
    let line = format!("m {} 1", fields.join(","));
    let t = std::time::Instant::now();
    let b = ok(&line, Precision::Ns);
    assert_eq!(b.len(), 100_000);
    assert_eq!(pts(&b, "m.f99999"), [(0, 99_999.0)]);
    // A 2 MB measurement name is refused (the crate's 64 KiB bound).
    let e = err(format!("{} v=1", "m".repeat(2 << 20)).as_bytes());
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}

proptest::proptest! {
    /// Valid bodies with one byte changed never panic: they parse, or name
    /// a line within the body.
    #[test]
    fn any_body_parses_or_names_a_line(
        at in 0usize..10_000,
        byte in proptest::num::u8::ANY,
        junk in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
    ) {
        let _ = parse(&junk, Precision::Ns, NOW);
        let mut body = b"cpu,host=a usage=1.5,n=2i 1\nmem used=3u 2\nx,t=y\\ z v=true 3\n".to_vec();
        let i = at % body.len();
        body[i] = byte;
        let lines = body.split(|&b| b == b'\n').count();
        if let Err(e) = parse(&body, Precision::Ns, NOW) {
            proptest::prop_assert_eq!(e.status, StatusCode::BAD_REQUEST);
            let n: Option<usize> = e.message.strip_prefix("line ")
                .and_then(|r| r.split(':').next())
                .and_then(|n| n.parse().ok());
            proptest::prop_assert!(
                n.is_some_and(|n| (1..=lines).contains(&n))
                    || e.message == "writing requires points",
                "{:?}", e
            );
        }
    }
}
