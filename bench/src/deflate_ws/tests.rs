use super::*;
use livedash_server::deflate::deflate;
use livedash_server::ws::frame::{self, Head};

/// A server frame as livedash writes it: its header and payload.
fn server_frame(opcode: u8, rsv1: bool, payload: &[u8]) -> Vec<u8> {
    let mut f = Head::new(opcode, rsv1, payload.len()).as_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

/// A frame with any header bits (fragments), through tungstenite's codec.
fn raw_frame(fin: bool, rsv1: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let h = FrameHeader {
        is_final: fin,
        rsv1,
        rsv2: false,
        rsv3: false,
        opcode,
        mask: None,
    };
    let mut f = Vec::new();
    h.format(payload.len() as u64, &mut f).unwrap();
    f.extend_from_slice(payload);
    f
}

fn orders(seq: u64, records: usize) -> String {
    let rec = r#"{"order_id":"o-1","country":"China","category":"Jeans","sale_price":12.5}"#;
    let recs = vec![rec; records].join(",");
    format!(
        r#"{{"type":"orders","seq":{seq},"ts":1700000000000,"num_orders":3,"records":[{recs}]}}"#
    )
}

/// The event of a compressed text message: `text` inflated from `wire` bytes.
fn inflated(text: String, wire: usize) -> Event {
    Event::Text {
        text,
        wire,
        compressed: true,
    }
}

/// Every event of `bytes`, fed one byte at a time (every split point).
fn events(bytes: &[u8]) -> Vec<Event> {
    let mut r = Reader::default();
    let mut out = Vec::new();
    for b in bytes {
        r.buf.push(*b);
        while let Some(e) = r.next_event().unwrap() {
            out.push(e);
        }
    }
    assert!(r.buf.is_empty());
    out
}

#[test]
fn livedash_deflated_frames_round_trip() {
    let (a, b) = (orders(1, 3), orders(2, 3));
    let (za, zb) = (deflate(a.as_bytes()), deflate(b.as_bytes()));
    assert!(za.len() < a.len());
    let hello = r#"{"type":"hello","protocol":1}"#;
    let mut wire = server_frame(frame::TEXT, false, hello.as_bytes());
    wire.extend(server_frame(frame::TEXT, true, &za));
    wire.extend(server_frame(frame::PING, false, b"hb"));
    // Each message was deflated without context: the second inflates on
    // its own, after the first.
    wire.extend(server_frame(frame::TEXT, true, &zb));
    assert_eq!(
        events(&wire),
        vec![
            Event::Text {
                text: hello.into(),
                wire: hello.len(),
                compressed: false
            },
            inflated(a, za.len()),
            Event::Ping(b"hb".to_vec()),
            inflated(b, zb.len()),
        ]
    );
}

#[test]
fn a_big_frame_with_records_inflates_whole() {
    // ~115 KB like a `bigtick` frame: an 8-byte length on the wire too.
    let big = orders(9, 1500);
    let z = deflate(big.as_bytes());
    assert!(
        big.len() > 100_000 && z.len() < 65_536,
        "{} {}",
        big.len(),
        z.len()
    );
    let mut r = Reader::with(server_frame(frame::TEXT, true, &z));
    match r.next_event().unwrap() {
        Some(Event::Text { text, wire, .. }) => assert_eq!((text, wire), (big, z.len())),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_fragmented_compressed_message_is_one_message() {
    let text = orders(3, 20);
    let z = deflate(text.as_bytes());
    let (x, y) = z.split_at(z.len() / 2);
    let mut wire = raw_frame(false, true, OpCode::Data(Data::Text), x);
    // A control frame between fragments is allowed.
    wire.extend(raw_frame(true, false, OpCode::Control(Control::Pong), b""));
    wire.extend(raw_frame(true, false, OpCode::Data(Data::Continue), y));
    assert_eq!(events(&wire), vec![Event::Other, inflated(text, z.len())]);
}

#[test]
fn a_bad_message_is_an_error_not_a_delivery_and_framing_goes_on() {
    let text = orders(4, 5);
    let z = deflate(text.as_bytes());
    let mut wire = server_frame(frame::TEXT, true, b"\xff\xfe\xfd\xfc");
    // Cut short: inflates to part of the text at most.
    wire.extend(server_frame(frame::TEXT, true, &z[..z.len() / 2]));
    wire.extend(server_frame(frame::TEXT, false, b"{\"type\":\"x\"")); // not whole
    wire.extend(server_frame(frame::TEXT, true, &z));
    let ev = events(&wire);
    assert_eq!(ev.len(), 4, "{ev:?}");
    assert!(matches!(ev[0], Event::Bad { wire: 4, .. }), "{ev:?}");
    assert!(matches!(ev[1], Event::Bad { .. }), "{ev:?}");
    assert!(
        matches!(
            ev[2],
            Event::Bad {
                why: "not a JSON object",
                ..
            }
        ),
        "{ev:?}"
    );
    assert_eq!(ev[3], inflated(text, z.len()));
    // An inflate bomb stops at the limit.
    let zeros = deflate(&vec![b'0'; 1 << 20]);
    assert_eq!(inflate(&zeros, 1000), Err("inflated message too big"));
    assert_eq!(inflate(&zeros, 2 << 20).unwrap().len(), 1 << 20);
}

#[test]
fn broken_framing_ends_the_connection() {
    let cases = [
        // A masked server frame.
        vec![0x81, 0x81, 1, 2, 3, 4, b'x' ^ 1],
        // RSV1 on a ping.
        server_frame(frame::PING, true, b""),
        // A continuation of nothing.
        raw_frame(true, false, OpCode::Data(Data::Continue), b"x"),
        // RSV2.
        vec![0xA1, 0],
    ];
    for c in cases {
        let mut r = Reader::with(c.clone());
        assert!(r.next_event().is_err(), "{c:?}");
    }
}

#[test]
fn the_answer_must_accept_deflate_without_server_context() {
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let accept = derive_accept_key(key.as_bytes());
    let head = |ext: &str| {
        format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{ext}\r\n")
    };
    let ok = head("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n");
    let mut with_frame = ok.clone().into_bytes();
    with_frame.extend_from_slice(&[0x81, 0]);
    assert_eq!(
        answer(&with_frame, key),
        Ok(Some(Answer::Deflate(ok.len())))
    );
    assert_eq!(answer(&ok.as_bytes()[..ok.len() - 3], key), Ok(None));
    assert!(matches!(
        answer(head("").as_bytes(), key),
        Ok(Some(Answer::Refused(_)))
    ));
    // Deflate with the server's context kept: these clients cannot read it.
    assert!(matches!(
        answer(head("Sec-WebSocket-Extensions: permessage-deflate\r\n").as_bytes(), key),
        Ok(Some(Answer::Refused(why))) if why.contains("context")
    ));
    assert!(answer(ok.as_bytes(), "b3RoZXIga2V5IGZvciB0ZXN0").is_err());
    assert!(answer(b"HTTP/1.1 403 Forbidden\r\n\r\n", key).is_err());
    assert!(request("h:1", "/ws?history=0", key)
        .contains(&format!("Sec-WebSocket-Extensions: {OFFER}\r\n")));
}

#[test]
fn pongs_are_masked_client_frames() {
    let p = pong(b"beat");
    let h = frame::parse(&p).unwrap();
    assert_eq!((h.fin, h.opcode, h.len), (true, frame::PONG, 4));
    let mut body = p[h.head_len..].to_vec();
    frame::unmask(&mut body, h.mask.expect("masked"));
    assert_eq!(body, b"beat");
}
