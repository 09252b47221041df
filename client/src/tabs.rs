//! One socket per browser, the pure half (`hooks/tab_share.rs` is the
//! web-sys half): what tabs say to each other on their `BroadcastChannel`,
//! the lock and channel name of a stream, the opt-out, and the holder's
//! memory of the last snapshot and the frames after it (so a tab that joins
//! draws at once, without a snapshot from the server).
//!
//! The tab holding the Web Lock `livedash-socket/2 <socket URL>` owns the
//! socket and posts every frame it receives, unchanged; the others apply
//! them through their own `seq` checks (PROTOCOL.md, "One socket per
//! browser").

use crate::state::ConnStatus;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Frames after the last snapshot that the holder keeps for joining tabs;
/// beyond that a joining tab gets a fresh snapshot from the server
/// (`resync`) instead.
pub const REPLAY_FRAMES: usize = 256;

/// What tabs of one stream tell each other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TabMsg {
    /// A frame the holder received, as received.
    Frame { text: String },
    /// The holder's connection status (`ConnStatus::key`, and the seconds
    /// to the next try while reconnecting).
    Status { state: String, in_secs: u32 },
    /// A tab needs a snapshot: it joined, saw a `seq` gap, or resumed.
    Want { tab: u64 },
    /// The holder's answer to `Want` from `tab`: its last snapshot and the
    /// frames after it, in order.
    Catchup { tab: u64, texts: Vec<String> },
}

impl TabMsg {
    /// The message for a status.
    pub fn status(s: ConnStatus) -> TabMsg {
        let in_secs = match s {
            ConnStatus::Reconnecting { in_secs } => in_secs,
            _ => 0,
        };
        TabMsg::Status {
            state: s.key().to_string(),
            in_secs,
        }
    }

    /// The status a `Status` message carries (`None` for other messages or
    /// an unknown state).
    pub fn as_status(&self) -> Option<ConnStatus> {
        let TabMsg::Status { state, in_secs } = self else {
            return None;
        };
        Some(match state.as_str() {
            "connecting" => ConnStatus::Connecting,
            "live" => ConnStatus::Live,
            "reconnecting" => ConnStatus::Reconnecting { in_secs: *in_secs },
            "offline" => ConnStatus::Offline,
            "incompatible" => ConnStatus::Incompatible,
            _ => return None,
        })
    }
}

/// Whether this tab shares its socket: on unless the page URL says
/// `share=0` (or `false`/`off`).
pub fn share_wanted(search: &str) -> bool {
    let q = search.trim_start_matches('?');
    !q.split('&').any(|kv| {
        matches!(
            kv.split_once('=').unwrap_or((kv, "")),
            ("share", "0" | "false" | "off")
        )
    })
}

/// The Web Lock and BroadcastChannel name of a stream: tabs that would open
/// the same socket URL (server, records, filters) share one socket. The
/// `/2` is the version of [`TabMsg`]'s JSON (2: externally tagged, since
/// the page stopped carrying serde's decoder for internally tagged enums),
/// so tabs of an older build, still open after a deploy, keep to their own
/// socket instead of relaying messages this build cannot read.
pub fn lock_name(socket_url: &str) -> String {
    format!("livedash-socket/2 {socket_url}")
}

/// How many tabs a stream has, from a `navigator.locks.query()` result:
/// the holder of `name` plus the tabs waiting for it.
pub fn tabs_of(held: &[String], pending: &[String], name: &str) -> u32 {
    let n = held.iter().chain(pending).filter(|h| *h == name).count();
    n.max(1) as u32
}

/// The holder's memory: the last snapshot and the frames after it.
#[derive(Debug, Default)]
pub struct Replay {
    /// The last snapshot's text.
    snapshot: Option<String>,
    /// Frames received after it, oldest first.
    after: VecDeque<String>,
    /// More than [`REPLAY_FRAMES`] came after it: too long to replay.
    overflowed: bool,
}

impl Replay {
    /// Remember a received frame.
    pub fn push(&mut self, text: &str, is_snapshot: bool) {
        if is_snapshot {
            self.snapshot = Some(text.to_string());
            self.after.clear();
            self.overflowed = false;
        } else if self.snapshot.is_some() && !self.overflowed {
            if self.after.len() == REPLAY_FRAMES {
                self.overflowed = true;
                self.after.clear();
            } else {
                self.after.push_back(text.to_string());
            }
        }
    }

    /// Forget everything (a new connection: its snapshot comes next).
    pub fn clear(&mut self) {
        *self = Replay::default();
    }

    /// The snapshot and the frames after it, or `None` when there is no
    /// snapshot or too much came after it.
    pub fn catchup(&self) -> Option<Vec<String>> {
        let snap = self.snapshot.as_ref().filter(|_| !self.overflowed)?;
        Some(
            std::iter::once(snap.clone())
                .chain(self.after.iter().cloned())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_is_on_unless_the_url_says_share_0() {
        assert!(share_wanted(""));
        assert!(share_wanted("?dashboard=ops&theme=dark"));
        assert!(share_wanted("?share=1"));
        assert!(!share_wanted("?share=0"));
        assert!(!share_wanted("?dashboard=ops&share=off"));
        assert!(!share_wanted("share=false"));
        // Only the exact parameter name counts.
        assert!(share_wanted("?noshare=0"));
    }

    #[test]
    fn tabs_are_the_holder_and_the_waiting_tabs_of_one_stream() {
        let name = lock_name("ws://h/ws?records=0");
        let other = lock_name("ws://h/ws");
        let held = vec![name.clone(), other.clone()];
        let pending = vec![name.clone(), other.clone(), name.clone()];
        assert_eq!(tabs_of(&held, &pending, &name), 3);
        assert_eq!(tabs_of(&held, &pending, &other), 2);
        // The holder always counts itself, even before the query sees it.
        assert_eq!(tabs_of(&[], &[], &name), 1);
    }

    #[test]
    fn status_messages_round_trip_through_json() {
        for s in [
            ConnStatus::Connecting,
            ConnStatus::Live,
            ConnStatus::Reconnecting { in_secs: 7 },
            ConnStatus::Offline,
            ConnStatus::Incompatible,
        ] {
            let json = serde_json::to_string(&TabMsg::status(s)).unwrap();
            let back: TabMsg = serde_json::from_str(&json).unwrap();
            assert_eq!(back.as_status(), Some(s), "{json}");
        }
        let f = TabMsg::Frame { text: "{}".into() };
        assert_eq!(f.as_status(), None);
    }

    #[test]
    fn messages_are_externally_tagged_as_lock_names_version_2_says() {
        let f = TabMsg::Frame { text: "{}".into() };
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"frame":{"text":"{}"}}"#
        );
        let c: TabMsg = serde_json::from_str(r#"{"catchup":{"tab":4,"texts":["a","b"]}}"#).unwrap();
        assert_eq!(
            c,
            TabMsg::Catchup {
                tab: 4,
                texts: vec!["a".into(), "b".into()]
            }
        );
        // The version-1 shape is not read (such tabs use another lock).
        assert!(serde_json::from_str::<TabMsg>(r#"{"k":"want","tab":1}"#).is_err());
        assert!(lock_name("ws://h/ws").starts_with("livedash-socket/2 "));
    }

    #[test]
    fn replay_is_the_last_snapshot_and_what_followed_it() {
        let mut r = Replay::default();
        // Frames before any snapshot cannot be replayed.
        r.push("o1", false);
        assert_eq!(r.catchup(), None);
        r.push("s1", true);
        r.push("o2", false);
        r.push("o3", false);
        assert_eq!(r.catchup().unwrap(), ["s1", "o2", "o3"]);
        // A newer snapshot replaces all of it.
        r.push("s2", true);
        r.push("o4", false);
        assert_eq!(r.catchup().unwrap(), ["s2", "o4"]);
        r.clear();
        assert_eq!(r.catchup(), None);
    }

    #[test]
    fn a_replay_too_long_asks_for_a_snapshot_instead() {
        let mut r = Replay::default();
        r.push("s", true);
        for i in 0..REPLAY_FRAMES {
            r.push(&format!("f{i}"), false);
        }
        assert_eq!(r.catchup().unwrap().len(), REPLAY_FRAMES + 1);
        r.push("one too many", false);
        assert_eq!(r.catchup(), None);
        // Until the next snapshot.
        r.push("s'", true);
        assert_eq!(r.catchup().unwrap(), ["s'"]);
    }
}
