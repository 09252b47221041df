//! RFC 6455 frame headers, pure: encoding the server's (never masked) and
//! decoding the client's (always masked).

/// Opcodes (RFC 6455 §5.2).
pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// A server frame's header, kept inline (no allocation): at most 10 bytes
/// (two, plus an extended length of 2 or 8; server frames carry no mask).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The encoded bytes; only `len` of them are used.
    bytes: [u8; 10],
    /// How many of `bytes` are the header.
    len: u8,
}

impl Head {
    /// The header of one final (unfragmented) frame: `opcode`, RSV1 when
    /// the payload is permessage-deflated, the payload length.
    pub fn new(opcode: u8, rsv1: bool, payload_len: usize) -> Head {
        let mut bytes = [0u8; 10];
        bytes[0] = 0x80 | (u8::from(rsv1) << 6) | (opcode & 0x0f);
        let len = match payload_len {
            n if n < 126 => {
                bytes[1] = n as u8;
                2
            }
            n if n <= u16::MAX as usize => {
                bytes[1] = 126;
                bytes[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                4
            }
            n => {
                bytes[1] = 127;
                bytes[2..10].copy_from_slice(&(n as u64).to_be_bytes());
                10
            }
        };
        Head { bytes, len }
    }

    /// The encoded header.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// A client frame's header as read from the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHead {
    /// FIN: the last frame of its message.
    pub fin: bool,
    /// RSV1..3 as the top three bits of a nibble (none negotiated here:
    /// compressed frames were inflated below, see [`crate::deflate`]).
    pub rsv: u8,
    /// The opcode.
    pub opcode: u8,
    /// The masking key; `None` is a protocol violation from a client.
    pub mask: Option<[u8; 4]>,
    /// Payload length.
    pub len: u64,
    /// Bytes the header itself took.
    pub head_len: usize,
}

/// Decode a header from the start of `buf`; `None` while incomplete.
pub fn parse(buf: &[u8]) -> Option<ClientHead> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    let masked = b1 & 0x80 != 0;
    let (len, mut at) = match b1 & 0x7f {
        126 => (
            u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as u64,
            4,
        ),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
        n => (n as u64, 2),
    };
    let mask = match masked {
        true => {
            let m: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
            at += 4;
            Some(m)
        }
        false => None,
    };
    Some(ClientHead {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0x7,
        opcode: b0 & 0x0f,
        mask,
        len,
        head_len: at,
    })
}

/// XOR `buf` with the masking key (RFC 6455 §5.3).
pub fn unmask(buf: &mut [u8], mask: [u8; 4]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_headers_use_the_shortest_length() {
        assert_eq!(Head::new(TEXT, false, 5).as_bytes(), [0x81, 5]);
        assert_eq!(Head::new(TEXT, true, 125).as_bytes(), [0xC1, 125]);
        assert_eq!(Head::new(TEXT, false, 126).as_bytes(), [0x81, 126, 0, 126]);
        assert_eq!(
            Head::new(BINARY, false, 65_535).as_bytes(),
            [0x82, 126, 0xff, 0xff]
        );
        assert_eq!(
            Head::new(TEXT, false, 114_302).as_bytes(),
            [0x81, 127, 0, 0, 0, 0, 0, 0x01, 0xBE, 0x7E]
        );
        assert_eq!(Head::new(PING, false, 0).as_bytes(), [0x89, 0]);
    }

    #[test]
    fn client_headers_decode_and_wait_for_missing_bytes() {
        let frame = [
            0x81,
            0x85,
            1,
            2,
            3,
            4,
            b'h' ^ 1,
            b'e' ^ 2,
            b'l' ^ 3,
            b'l' ^ 4,
            b'o' ^ 1,
        ];
        for cut in 0..6 {
            assert_eq!(parse(&frame[..cut]), None, "cut at {cut}");
        }
        let h = parse(&frame).unwrap();
        assert_eq!(
            h,
            ClientHead {
                fin: true,
                rsv: 0,
                opcode: TEXT,
                mask: Some([1, 2, 3, 4]),
                len: 5,
                head_len: 6
            }
        );
        let mut p = frame[6..].to_vec();
        unmask(&mut p, [1, 2, 3, 4]);
        assert_eq!(p, b"hello");
        // Extended lengths, an unmasked frame, RSV bits, a fragment.
        let h = parse(&[0x01, 0xFE, 0x01, 0x00, 0, 0, 0, 0]).unwrap();
        assert_eq!((h.fin, h.len, h.head_len), (false, 256, 8));
        let h = parse(&[0xC1, 0x7F, 0, 0, 0, 1, 0, 0, 0, 0]).unwrap();
        assert_eq!((h.rsv, h.mask, h.len), (4, None, 1 << 32));
    }
}
