//! Each stream's switch (an admin can stop and start it) and its producer's
//! health (the supervisor marks it failed while it restarts a producer that
//! died). The hub publishes the combined status as `streams` frames.

use livedash_shared::{SourceStatus, StreamState, StreamStatus, Streams};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Mutex;

/// The streams livedash produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Orders,
    System,
}

impl Stream {
    /// Its name in URLs, `/healthz` and the feed.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Orders => "orders",
            Stream::System => "system",
        }
    }

    /// The stream named in a URL.
    pub fn parse(name: &str) -> Option<Stream> {
        match name {
            "orders" => Some(Stream::Orders),
            "system" => Some(Stream::System),
            _ => None,
        }
    }
}

/// One stream's switch and health.
struct Switch {
    /// Whether it should run (admins flip it).
    on: AtomicBool,
    /// Producer health: `None` while healthy, else the last failure.
    failure: Mutex<Option<String>>,
    /// Producer restarts since start.
    restarts: Mutex<u32>,
}

impl Default for Switch {
    fn default() -> Self {
        Switch {
            on: AtomicBool::new(true),
            failure: Mutex::new(None),
            restarts: Mutex::new(0),
        }
    }
}

/// Both streams' switches.
#[derive(Default)]
pub struct StreamSwitches {
    /// The orders stream.
    orders: Switch,
    /// The system stream.
    system: Switch,
    /// The orders stream's data source (kind, reachable, last error): set
    /// by a source task that can lose its database ([`crate::sources::postgres`]).
    source: Mutex<SourceStatus>,
}

impl StreamSwitches {
    fn get(&self, s: Stream) -> &Switch {
        match s {
            Stream::Orders => &self.orders,
            Stream::System => &self.system,
        }
    }

    /// Whether the stream should produce frames now.
    pub fn is_on(&self, s: Stream) -> bool {
        self.get(s).on.load(Relaxed)
    }

    /// Turn a stream on or off; returns whether it was on.
    pub fn set_on(&self, s: Stream, on: bool) -> bool {
        self.get(s).on.swap(on, Relaxed)
    }

    /// Record that the stream's producer failed (and will be restarted).
    pub fn failed(&self, s: Stream, why: String) {
        let sw = self.get(s);
        *sw.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }

    /// Record that the stream's producer was restarted and runs again.
    pub fn restarted(&self, s: Stream) {
        let sw = self.get(s);
        *sw.failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *sw.restarts.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }

    fn one(&self, s: Stream) -> StreamStatus {
        let sw = self.get(s);
        let failure = sw.failure.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let restarts = *sw.restarts.lock().unwrap_or_else(|e| e.into_inner());
        let state = match (&failure, sw.on.load(Relaxed)) {
            (Some(_), _) => StreamState::Failed,
            (None, false) => StreamState::Stopped,
            (None, true) => StreamState::Running,
        };
        StreamStatus {
            state,
            error: failure,
            restarts,
        }
    }

    /// Both streams' status now.
    pub fn status(&self) -> Streams {
        Streams {
            orders: self.one(Stream::Orders),
            system: self.one(Stream::System),
            source: Box::new(self.source()),
        }
    }

    /// Set the source's status; returns whether it changed (then the
    /// caller publishes a `streams` frame).
    pub fn set_source(&self, status: SourceStatus) -> bool {
        let mut s = self.source.lock().unwrap_or_else(|e| e.into_inner());
        let changed = *s != status;
        *s = status;
        changed
    }

    /// The source's status now.
    pub fn source(&self) -> SourceStatus {
        self.source
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_switches_and_failures() {
        let s = StreamSwitches::default();
        assert_eq!(s.status().orders.state, StreamState::Running);
        assert!(s.set_on(Stream::Orders, false));
        assert_eq!(s.status().orders.state, StreamState::Stopped);
        s.failed(Stream::System, "panicked: boom".into());
        let st = s.status();
        assert_eq!(st.system.state, StreamState::Failed);
        assert_eq!(st.system.error.as_deref(), Some("panicked: boom"));
        s.restarted(Stream::System);
        let st = s.status();
        assert_eq!(st.system.state, StreamState::Running);
        assert_eq!(st.system.restarts, 1);
        assert!(st.source.ok, "a healthy generator by default");
        let down = SourceStatus {
            kind: "postgres".into(),
            ok: false,
            error: Some("connection refused".into()),
        };
        assert!(s.set_source(down.clone()));
        assert!(!s.set_source(down.clone()), "unchanged");
        assert_eq!(*s.status().source, down);
    }
}
