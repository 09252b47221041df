//! The browser's `EventSource` as a stream of frames: the page's fallback
//! transport (`/api/stream`, Server-Sent Events) when a WebSocket cannot
//! open. One listener per frame type (the server names each event after
//! its frame's `type`); an error of any kind ends the stream, and the
//! connection task decides when to reconnect (the browser's own retry is
//! cut short by closing the source).

use futures::channel::mpsc;
use futures::stream::Fuse;
use futures::StreamExt;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{EventSource, MessageEvent};

/// The `event:` names of the server's frames.
const NAMES: [&str; 8] = [
    "hello", "snapshot", "orders", "system", "clients", "event", "series", "streams",
];

/// What the source delivered.
pub enum Item {
    /// One frame's JSON text, and the stream's last event id after it
    /// (`""`: nothing to resume from).
    Frame { data: String, id: String },
    /// The source failed (refused, dropped, or the server went away).
    Failed,
}

/// An open `EventSource`; closed when dropped.
pub struct Events {
    /// The browser object.
    source: EventSource,
    /// Frames and failures, in arrival order.
    rx: Fuse<mpsc::UnboundedReceiver<Item>>,
    /// The listeners must live as long as the source.
    _frames: Vec<Closure<dyn FnMut(MessageEvent)>>,
    /// The `error` listener.
    _failed: Closure<dyn FnMut(web_sys::Event)>,
}

impl Events {
    /// Open `url` (same origin, or a server whose CORS allows the page).
    pub fn open(url: &str) -> Result<Events, JsValue> {
        let source = EventSource::new(url)?;
        let (tx, rx) = mpsc::unbounded();
        let mut frames = Vec::new();
        for name in NAMES {
            let tx = tx.clone();
            let f = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let data = e.data().as_string().unwrap_or_default();
                let id = e.last_event_id();
                let _ = tx.unbounded_send(Item::Frame { data, id });
            });
            source.add_event_listener_with_callback(name, f.as_ref().unchecked_ref())?;
            frames.push(f);
        }
        let failed = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            let _ = tx.unbounded_send(Item::Failed);
        });
        source.set_onerror(Some(failed.as_ref().unchecked_ref()));
        Ok(Events {
            source,
            rx: rx.fuse(),
            _frames: frames,
            _failed: failed,
        })
    }

    /// The delivered items.
    pub fn items(&mut self) -> &mut Fuse<mpsc::UnboundedReceiver<Item>> {
        &mut self.rx
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.source.set_onerror(None);
        self.source.close();
    }
}
