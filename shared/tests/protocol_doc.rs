//! Every JSON example in PROTOCOL.md decodes as a protocol v1 message, and
//! every message type has an example: the document cannot drift.

use livedash_shared::{ClientMessage, ServerMessage};
use std::collections::BTreeSet;

fn examples() -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../PROTOCOL.md"))
        .expect("PROTOCOL.md at the workspace root");
    let mut out = Vec::new();
    let mut rest = doc.as_str();
    while let Some(start) = rest.find("```json\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("closed json block");
        out.push(body[..end].to_string());
        rest = &body[end + 3..];
    }
    out
}

#[test]
fn every_example_decodes_and_every_type_has_one() {
    let mut server = BTreeSet::new();
    let mut client = BTreeSet::new();
    let blocks = examples();
    assert!(blocks.len() >= 14, "found only {} examples", blocks.len());
    for b in &blocks {
        let v: serde_json::Value = serde_json::from_str(b).unwrap_or_else(|e| panic!("{e}: {b}"));
        let ty = v["type"].as_str().expect("a type").to_string();
        if let Ok(m) = serde_json::from_str::<ServerMessage>(b) {
            // Round trip keeps every field the document shows.
            let back: serde_json::Value = serde_json::from_str(&m.to_json()).unwrap();
            assert_eq!(back, v, "server example changes on a round trip: {b}");
            // The page's decoder reads the example the same.
            let light = livedash_shared::decode_server(b).unwrap_or_else(|e| panic!("{e}: {b}"));
            assert_eq!(light, m, "decode_server differs on {b}");
            server.insert(ty);
        } else if let Ok(m) = serde_json::from_str::<ClientMessage>(b) {
            let back: serde_json::Value = serde_json::from_str(&m.to_json()).unwrap();
            assert_eq!(back, v, "client example changes on a round trip: {b}");
            client.insert(ty);
        } else {
            panic!("example decodes as neither a server nor a client message: {b}");
        }
    }
    let want_server = [
        "hello", "snapshot", "orders", "system", "clients", "event", "series", "alert", "streams",
        "pong", "error",
    ];
    let want_client = [
        "ping",
        "subscribe",
        "unsubscribe",
        "pause",
        "resume",
        "resync",
        "auth",
        "tabs",
        "filter",
    ];
    assert_eq!(server, want_server.iter().map(|s| s.to_string()).collect());
    assert_eq!(client, want_client.iter().map(|s| s.to_string()).collect());
}
