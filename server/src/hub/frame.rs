//! The published frame: one serialization shared by every client.

use crate::metrics::Fanout;
use livedash_shared::{ServerMessage, Topic};
use std::sync::Arc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// One published frame: serialized once, shared by every client.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Its topic, for per-client subscription filters; `None` for control
    /// frames that every live connection gets (`streams`).
    pub topic: Option<Topic>,
    /// Its topic `seq`, to skip what a snapshot already covered (0 for
    /// control frames).
    pub seq: u64,
    /// The JSON text; cloning is a refcount increment.
    pub text: Utf8Bytes,
    /// For `orders` frames with records: the same frame with `records`
    /// empty, for clients that asked for `?records=0` (pages draw the
    /// aggregates only). Also serialized once per publish.
    pub lite: Option<Utf8Bytes>,
    /// For topic frames: counts the connections still writing it, for
    /// `livedash_fanout_seconds` (shared by every clone of the frame).
    pub fanout: Option<Arc<Fanout>>,
    /// For topic frames: the permessage-deflate bytes, made by the first
    /// connection that negotiated it and written by all that did.
    pub deflated: Option<Arc<crate::deflate::Deflated>>,
    /// The stream's epoch changed (Redis lost its data): seqs start over,
    /// so every connection takes a fresh snapshot. A control frame.
    pub reset: bool,
}

/// A topic frame's text, and for `orders` with records the records-free
/// copy (`?records=0`).
pub(super) fn serialize(mut msg: ServerMessage) -> (Utf8Bytes, Option<Utf8Bytes>) {
    let text = Utf8Bytes::from(msg.to_json());
    let lite = match &mut msg {
        ServerMessage::Orders(o) if !o.records.is_empty() => {
            o.records = Vec::new();
            Some(Utf8Bytes::from(msg.to_json()))
        }
        _ => None,
    };
    (text, lite)
}

/// A frame read back from a Redis stream for one client's resume (not
/// filed anywhere): the entry's JSON with its seq put in.
pub fn frame_from_entry(topic: Topic, seq: u64, json: &str) -> Option<Frame> {
    let mut msg: ServerMessage = serde_json::from_str(json).ok()?;
    match &mut msg {
        ServerMessage::Orders(o) => o.seq = seq,
        ServerMessage::System(s) => s.seq = seq,
        ServerMessage::Event(e) => e.seq = seq,
        ServerMessage::Series(s) => s.seq = seq,
        ServerMessage::Clients(c) => c.seq = seq,
        ServerMessage::Alert(a) => a.seq = seq,
        _ => return None,
    }
    let (text, lite) = serialize(msg);
    Some(Frame {
        topic: Some(topic),
        seq,
        text,
        lite,
        fanout: None,
        deflated: Some(Arc::default()),
        reset: false,
    })
}
