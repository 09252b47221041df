//! Decoding a server frame in two light passes instead of serde's derived
//! decoder for an internally tagged enum.
//!
//! The derived `Deserialize` of [`ServerMessage`] (`#[serde(tag = "type")]`)
//! first copies the whole frame into serde's generic `Content` tree, then
//! decodes the variant from that copy: an allocation per string and number
//! of every frame, and a large generic decoder (`ContentDeserializer` for
//! every field type) in the page's wasm. [`decode_server`] reads the `type`
//! (skipping the rest) and then decodes the frame straight into that
//! variant's struct, whose decoder ignores the `type` field. It accepts
//! exactly the frames the derived decoder accepts (tests below compare the
//! two on every variant); the derive stays for the server and the tests.

use crate::{ErrorCode, ServerMessage, Ts};
use serde::de::Error as _;
use serde::Deserialize;
use std::borrow::Cow;

/// A frame's `type`, every other field skipped.
#[derive(Deserialize)]
struct Tag<'a> {
    /// The variant's name (snake_case).
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
}

/// The fields of a `pong`.
#[derive(Deserialize)]
struct Pong {
    /// Echoed as sent, `null` included (see [`crate::ServerMessage::Pong`]).
    #[serde(default, deserialize_with = "crate::present")]
    nonce: Option<serde_json::Value>,
    /// When the server answered.
    ts: Ts,
}

/// The fields of an `error`.
#[derive(Deserialize)]
struct Error {
    /// What was wrong.
    code: ErrorCode,
    /// A sentence for people.
    message: String,
}

/// The variants' names, for the error on an unknown `type`.
const VARIANTS: &[&str] = &[
    "hello", "snapshot", "orders", "system", "clients", "event", "series", "alert", "streams",
    "pong", "error",
];

/// Decode one server text frame (the page's decoder; see the module doc).
pub fn decode_server(text: &str) -> Result<ServerMessage, serde_json::Error> {
    use serde_json::from_str;
    let tag: Tag = from_str(text)?;
    Ok(match &*tag.ty {
        "hello" => ServerMessage::Hello(from_str(text)?),
        "snapshot" => ServerMessage::Snapshot(from_str(text)?),
        "orders" => ServerMessage::Orders(from_str(text)?),
        "system" => ServerMessage::System(from_str(text)?),
        "clients" => ServerMessage::Clients(from_str(text)?),
        "event" => ServerMessage::Event(from_str(text)?),
        "series" => ServerMessage::Series(from_str(text)?),
        "alert" => ServerMessage::Alert(from_str(text)?),
        "streams" => ServerMessage::Streams(from_str(text)?),
        "pong" => {
            let p: Pong = from_str(text)?;
            ServerMessage::Pong {
                nonce: p.nonce,
                ts: p.ts,
            }
        }
        "error" => {
            let e: Error = from_str(text)?;
            ServerMessage::Error {
                code: e.code,
                message: e.message,
            }
        }
        other => return Err(serde_json::Error::unknown_variant(other, VARIANTS)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both decoders on `text`: the same message, or both an error.
    fn same(text: &str) {
        let derived = serde_json::from_str::<ServerMessage>(text);
        let light = decode_server(text);
        match (&derived, &light) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
            (Err(_), Err(_)) => {}
            _ => panic!("{text}: derived {derived:?}, decode_server {light:?}"),
        }
    }

    #[test]
    fn every_variant_decodes_as_the_derived_decoder_does() {
        for text in [
            r#"{"type":"hello","protocol":1,"server_version":"0.1.0","client_id":3,"tick_ms":1000,"system_ms":1000,"lookback_ms":300000,"epoch":"e1"}"#,
            r#"{"type":"orders","seq":7,"ts":5,"window_ms":300000,"num_orders":2,"num_order_items":3,"total_sales":10.5,"delta":{"num_orders":1,"num_order_items":-1,"total_sales":2.5},"by_country":[{"name":"China","revenue":6.0}],"by_traffic_source":[],"records":[],"items_total":4}"#,
            r#"{"type":"clients","seq":1,"ts":2,"count":3}"#,
            r#"{"ts":2,"count":3,"seq":1,"type":"clients"}"#,
            r#"{"type":"event","seq":1,"ts":2,"level":"warn","text":"hi"}"#,
            r#"{"type":"pong","ts":4}"#,
            r#"{"type":"pong","nonce":null,"ts":4}"#,
            r#"{"type":"pong","nonce":{"a":[1,"x"]},"ts":4}"#,
            r#"{"type":"error","code":"bad_json","message":"nope"}"#,
            r#"{"type":"clients","seq":1,"ts":2,"count":3,"future":true}"#,
        ] {
            same(text);
            assert!(decode_server(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn bad_frames_are_errors_for_both() {
        for text in [
            r#"{"type":"nope","seq":1}"#,
            r#"{"seq":1,"ts":2,"count":3}"#,
            r#"{"type":"clients","seq":1}"#,
            r#"{"type":"clients","seq":"1","ts":2,"count":3}"#,
            r#"{"type":7}"#,
            r#"[1,2]"#,
            r#"{"type":"clients""#,
            "",
        ] {
            same(text);
            assert!(decode_server(text).is_err(), "{text}");
        }
    }
}
