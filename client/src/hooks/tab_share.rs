//! One socket per browser, the web-sys half (the pure half is
//! [`crate::tabs`]): the stream's `BroadcastChannel` as a stream of
//! [`TabMsg`]s, and the Web Lock that makes one tab the socket's holder.
//! The Web Locks API is reached through `js_sys::Reflect` (web-sys keeps it
//! behind its unstable-API flag).

use crate::tabs::{tabs_of, TabMsg};
use futures::channel::{mpsc, oneshot};
use futures::future::Fuse as FusedOnce;
use futures::stream::Fuse;
use futures::{FutureExt, StreamExt};
use js_sys::{Array, Function, Promise, Reflect};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, BroadcastChannel, MessageEvent};

/// `navigator.locks`, when the browser has the Web Locks API.
fn locks() -> Option<JsValue> {
    let nav = web_sys::window()?.navigator();
    let locks = Reflect::get(&nav, &"locks".into()).ok()?;
    (!locks.is_undefined() && !locks.is_null()).then_some(locks)
}

/// Whether this browser can share a socket between tabs (Web Locks and
/// BroadcastChannel); without them every tab opens its own.
pub fn available() -> bool {
    let has_channel = web_sys::window()
        .and_then(|w| Reflect::get(&w, &"BroadcastChannel".into()).ok())
        .is_some_and(|c| c.is_function());
    has_channel && locks().is_some()
}

/// A number unique to this tab (among the tabs of one browser).
pub fn tab_id() -> u64 {
    let r = js_sys::Math::random() * 9_007_199_254_740_991.0;
    r as u64 ^ (js_sys::Date::now() as u64)
}

/// The stream's channel: what this tab posts and what the others posted.
pub struct Channel {
    /// The browser object.
    channel: BroadcastChannel,
    /// Messages from the other tabs, in arrival order.
    rx: Fuse<mpsc::UnboundedReceiver<TabMsg>>,
    /// The listener must live as long as the channel.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl Channel {
    /// Join the channel `name`.
    pub fn open(name: &str) -> Result<Channel, JsValue> {
        let channel = BroadcastChannel::new(name)?;
        let (tx, rx) = mpsc::unbounded();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            // Another livedash version's message, or garbage: ignored.
            let Some(text) = e.data().as_string() else {
                return;
            };
            if let Ok(m) = serde_json::from_str::<TabMsg>(&text) {
                let _ = tx.unbounded_send(m);
            }
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Ok(Channel {
            channel,
            rx: rx.fuse(),
            _on_message: on_message,
        })
    }

    /// Post to every other tab of the stream.
    pub fn post(&self, m: &TabMsg) {
        if let Ok(text) = serde_json::to_string(m) {
            let _ = self.channel.post_message(&JsValue::from_str(&text));
        }
    }

    /// Messages from the other tabs.
    pub fn messages(&mut self) -> &mut Fuse<mpsc::UnboundedReceiver<TabMsg>> {
        &mut self.rx
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

/// A request for the stream's lock: granted once every earlier holder let
/// go (closed, crashed, or released); released on drop (or withdrawn while
/// still waiting).
pub struct Lock {
    /// Fires when the lock is granted.
    granted: FusedOnce<oneshot::Receiver<()>>,
    /// Resolves the promise the lock callback returned: releases the lock.
    release: Rc<RefCell<Option<Function>>>,
    /// Withdraws the request while it waits.
    abort: Option<AbortController>,
    /// Set once granted (a granted request is released, not aborted).
    held: Rc<Cell<bool>>,
    /// The callbacks must live as long as the request.
    _on_grant: Closure<dyn FnMut(JsValue) -> JsValue>,
    _on_reject: Closure<dyn FnMut(JsValue)>,
}

impl Lock {
    /// Ask for the lock `name` (exclusive). `None` without Web Locks.
    pub fn request(name: &str) -> Option<Lock> {
        let locks = locks()?;
        let request: Function = Reflect::get(&locks, &"request".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let (tx, rx) = oneshot::channel();
        let tx = RefCell::new(Some(tx));
        let release: Rc<RefCell<Option<Function>>> = Rc::default();
        let held = Rc::new(Cell::new(false));
        let on_grant = {
            let (release, held) = (release.clone(), held.clone());
            Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |_lock: JsValue| {
                held.set(true);
                if let Some(tx) = tx.borrow_mut().take() {
                    let _ = tx.send(());
                }
                // Held until this promise resolves (or the tab goes away).
                let release = release.clone();
                Promise::new(&mut |resolve, _| *release.borrow_mut() = Some(resolve)).into()
            })
        };
        // A withdrawn request rejects its promise: nothing to report.
        let on_reject = Closure::<dyn FnMut(JsValue)>::new(|_| {});
        let abort = AbortController::new().ok();
        let options = js_sys::Object::new();
        if let Some(a) = &abort {
            let _ = Reflect::set(&options, &"signal".into(), &a.signal());
        }
        let promise = request
            .call3(
                &locks,
                &name.into(),
                &options,
                on_grant.as_ref().unchecked_ref(),
            )
            .ok()?;
        if let Ok(p) = promise.dyn_into::<Promise>() {
            let _ = p.catch(&on_reject);
        }
        Some(Lock {
            granted: rx.fuse(),
            release,
            abort,
            held,
            _on_grant: on_grant,
            _on_reject: on_reject,
        })
    }

    /// Wait until the lock is this tab's.
    pub async fn granted(&mut self) {
        if (&mut self.granted).await.is_err() {
            // The request is gone (withdrawn): never granted.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if let Some(resolve) = self.release.borrow_mut().take() {
            let _ = resolve.call0(&JsValue::NULL);
        }
        if !self.held.get() {
            if let Some(a) = &self.abort {
                a.abort();
            }
        }
    }
}

/// The names in one list of a `navigator.locks.query()` result.
fn names(list: &JsValue) -> Vec<String> {
    Array::from(list)
        .iter()
        .filter_map(|l| Reflect::get(&l, &"name".into()).ok()?.as_string())
        .collect()
}

/// How many tabs use the stream `name` now: its holder and the tabs
/// waiting for it (`None` when the browser cannot say).
pub async fn tab_count(name: &str) -> Option<u32> {
    let locks = locks()?;
    let query: Function = Reflect::get(&locks, &"query".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let promise: Promise = query.call0(&locks).ok()?.dyn_into().ok()?;
    let snapshot = JsFuture::from(promise).await.ok()?;
    let held = names(&Reflect::get(&snapshot, &"held".into()).ok()?);
    let pending = names(&Reflect::get(&snapshot, &"pending".into()).ok()?);
    Some(tabs_of(&held, &pending, name))
}
