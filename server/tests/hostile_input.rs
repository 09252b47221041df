//! Hostile input: fuzzers for every parser a client can reach (run in plain
//! `cargo test`, bounded), a 10-million-execution decoder fuzz run (ignored;
//! `cargo test --release -p livedash-server --test hostile_input -- --ignored
//! --nocapture`), and a barrage of garbage at a running server after which a
//! normal client must still be served correctly.

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use livedash_server::routes::{cache_control, origin_allowed, parse_history};
use livedash_server::{run, Config};
use livedash_shared::{decode_client, ClientMessage, ErrorCode};
use proptest::prelude::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

const VALID: &[&str] = &[
    r#"{"type":"ping","nonce":42}"#,
    r#"{"type":"subscribe","topics":["orders","events"]}"#,
    r#"{"type":"unsubscribe","topics":["system"]}"#,
    r#"{"type":"pause"}"#,
    r#"{"type":"resume"}"#,
    r#"{"type":"resync"}"#,
];

/// Decode, and check what an Ok means: re-encoding decodes to the same.
fn check_decode(s: &str) {
    match decode_client(s) {
        Ok(m) => assert_eq!(decode_client(&m.to_json()).unwrap(), m, "{s:?}"),
        Err(e) => assert!(matches!(e.code, ErrorCode::BadJson | ErrorCode::BadMessage)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn decoder_never_panics_on_strings(s in ".{0,200}") {
        check_decode(&s);
    }

    #[test]
    fn decoder_never_panics_on_mutated_messages(i in 0..VALID.len(), pos in 0usize..64, byte in any::<u8>(), cut in 0usize..64) {
        let mut b = VALID[i].as_bytes().to_vec();
        let p = pos % b.len();
        b[p] = byte;
        b.truncate(b.len() - cut.min(b.len()));
        check_decode(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn decoder_never_panics_on_json_shapes(ty in "[a-z_]{0,12}", nonce in any::<i128>(), topics in prop::collection::vec("[a-z]{0,8}", 0..5)) {
        let v = serde_json::json!({"type": ty, "nonce": nonce.to_string().parse::<f64>().unwrap_or(0.0), "topics": topics});
        check_decode(&v.to_string());
    }

    #[test]
    fn http_parameter_parsers_never_panic(k in ".{0,20}", v in ".{0,40}", origin in ".{0,60}", host in ".{0,40}", path in ".{0,80}") {
        let q = HashMap::from([(k, v.clone()), ("history".to_string(), v)]);
        if let Ok(Some(n)) = parse_history(&q) {
            prop_assert!(n <= 1_000_000);
        }
        let allowed = origin_allowed(Some(&origin), Some(&host), &[], &[]);
        let o = origin.trim_end_matches('/').to_ascii_lowercase();
        let h = host.to_ascii_lowercase();
        let own = o == format!("http://{h}") || o == format!("https://{h}");
        let expected = (own && livedash_server::web::host_trusted(&host, &[]))
            || o == "http://127.0.0.1:8080" || o == "http://localhost:8080";
        prop_assert_eq!(allowed, expected, "origin {:?} host {:?}", origin, host);
        let _ = cache_control(&path);
    }
}

/// A tiny deterministic generator for the long fuzz run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
#[ignore = "long: 10 million decoder executions"]
fn fuzz_decoder_10m() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let dict: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b":",
        b",",
        b"type",
        b"nonce",
        b"topics",
        b"ping",
        b"subscribe",
        b"orders",
        b"null",
        b"1e999",
        b"-0",
        b"\\u0000",
        b"\xff",
    ];
    let t = Instant::now();
    let n = 10_000_000u64;
    let mut ok = 0u64;
    for _ in 0..n {
        let mut b = VALID[(rng.next() % VALID.len() as u64) as usize]
            .as_bytes()
            .to_vec();
        for _ in 0..(rng.next() % 4) {
            let p = (rng.next() as usize) % (b.len() + 1);
            match rng.next() % 4 {
                0 if !b.is_empty() => {
                    let at = p.min(b.len() - 1);
                    b[at] = rng.next() as u8;
                }
                1 => b
                    .splice(
                        p..p,
                        dict[(rng.next() as usize) % dict.len()].iter().copied(),
                    )
                    .for_each(drop),
                2 => b.truncate(p),
                _ => {
                    let len = b.len();
                    b.extend_from_within(p.min(len)..);
                }
            }
        }
        if let Ok(m) = decode_client(&String::from_utf8_lossy(&b)) {
            ok += 1;
            assert_eq!(decode_client(&m.to_json()).unwrap(), m);
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{n} executions in {s:.1} s ({:.0}/s), {ok} decoded as valid messages, no panic",
        n as f64 / s
    );
}

#[tokio::test]
async fn garbage_floods_and_broken_handshakes_leave_the_server_serving() {
    let data = tempfile::tempdir().unwrap(); // never ./livedash-data in the repo
    let config = Config::try_parse_from([
        "livedash",
        "--dist",
        "/nonexistent",
        "--tick-ms",
        "20",
        "--data-dir",
        data.path().to_str().unwrap(),
    ])
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run(listener, config, async {
        let _ = stop_rx.await;
    }));
    let url = format!("ws://{addr}/ws");
    let mut attacks = Vec::new();
    // Half-finished handshakes and raw garbage on TCP.
    for i in 0..50u8 {
        attacks.push(tokio::spawn(async move {
            let Ok(mut s) = TcpStream::connect(addr).await else {
                return;
            };
            let junk: Vec<u8> = if i % 2 == 0 {
                b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websock".to_vec()
            } else {
                (0..2048u32)
                    .map(|j| (j.wrapping_mul(2654435761) >> (i % 24)) as u8)
                    .collect()
            };
            let _ = s.write_all(&junk).await;
            let mut buf = [0u8; 256];
            let _ = timeout(Duration::from_millis(500), s.read(&mut buf)).await;
        }));
    }
    // Abrupt disconnects right after the upgrade.
    for _ in 0..50 {
        let url = url.clone();
        attacks.push(tokio::spawn(async move {
            if let Ok((ws, _)) = tokio_tungstenite::connect_async(url).await {
                drop(ws);
            }
        }));
    }
    // Garbage, binary, oversized frames and ping floods over WebSockets.
    for i in 0..20 {
        let url = url.clone();
        attacks.push(tokio::spawn(async move {
            let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url).await else {
                return;
            };
            for j in 0..200 {
                let m = match (i + j) % 5 {
                    0 => Message::text("{\"type\":"),
                    1 => Message::binary(vec![0u8; 100]),
                    2 => Message::text(
                        ClientMessage::Ping {
                            nonce: Some(j.into()),
                        }
                        .to_json(),
                    ),
                    3 => Message::text("\u{0}\u{1}garbage"),
                    _ => Message::text(format!(
                        "{{\"type\":\"ping\",\"nonce\":{}}}",
                        "9".repeat(40)
                    )),
                };
                if ws.send(m).await.is_err() {
                    return;
                }
            }
            if i % 4 == 0 {
                let _ = ws.send(Message::text("x".repeat(100_000))).await;
            }
            // Read whatever comes back until the server closes or 1 s passes.
            let _ = timeout(Duration::from_secs(1), async {
                while let Some(Ok(_)) = ws.next().await {}
            })
            .await;
        }));
    }
    for a in attacks {
        timeout(Duration::from_secs(15), a)
            .await
            .expect("attack finished")
            .expect("no panic in the attacker");
    }
    // A normal client is still served correctly.
    let (mut ws, _) = timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(url.as_str()),
    )
    .await
    .unwrap()
    .unwrap();
    let mut types = Vec::new();
    let mut last_orders = None;
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let Ok(Some(Ok(Message::Text(t)))) = timeout(Duration::from_secs(2), ws.next()).await
        else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
        let ty = v["type"].as_str().unwrap().to_string();
        if ty == "snapshot" {
            last_orders = v["seq"]["orders"].as_u64();
        }
        if ty == "orders" {
            let seq = v["seq"].as_u64().unwrap();
            assert_eq!(
                Some(seq),
                last_orders.map(|s| s + 1),
                "orders seq continuity"
            );
            last_orders = Some(seq);
        }
        types.push(ty);
    }
    assert_eq!(types[0], "hello");
    assert_eq!(types[1], "snapshot");
    assert!(
        types.iter().filter(|t| *t == "orders").count() >= 20,
        "{types:?}"
    );
    let _ = stop_tx.send(());
    timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
