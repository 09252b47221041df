//! Browser Notifications for `alert` frames, one per browser (see
//! [`crate::notify`]): the Web Lock and the localStorage marker, and the
//! permission asked for by a button. Called through `js_sys::Reflect` so
//! no web-sys feature is needed for Notification or the Web Locks API.

use crate::notify::{self, Decision, MARKER_KEY, OPT_IN_KEY};
use js_sys::{Function, Object, Reflect};
use livedash_shared::{Alert, AlertState};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use yew::prelude::*;

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// `Notification.permission` (`granted`, `denied`, `default`), or
/// `unsupported` when the browser has no Notification.
pub fn permission() -> String {
    let n = web_sys::window().map(|w| get(&w, "Notification"));
    match n {
        Some(n) if !n.is_undefined() => get(&n, "permission").as_string().unwrap_or_default(),
        _ => "unsupported".into(),
    }
}

/// Whether the person turned notifications on in this browser.
pub fn opted_in() -> bool {
    local()
        .and_then(|s| s.get_item(OPT_IN_KEY).ok().flatten())
        .is_some_and(|v| v == "on")
}

/// Ask for the permission (the button), remember the choice, then call
/// `done` with the permission the browser answered.
pub fn ask(done: Callback<String>) {
    let Some(w) = web_sys::window() else {
        return;
    };
    let n = get(&w, "Notification");
    let Some(request) = get(&n, "requestPermission").dyn_into::<Function>().ok() else {
        done.emit("unsupported".into());
        return;
    };
    let Ok(p) = request
        .call0(&n)
        .and_then(|p| p.dyn_into::<js_sys::Promise>())
    else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let answer = wasm_bindgen_futures::JsFuture::from(p)
            .await
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default();
        if let Some(s) = local() {
            let _ = s.set_item(OPT_IN_KEY, if answer == "granted" { "on" } else { "off" });
        }
        done.emit(answer);
    });
}

/// Decide under the lock (or without one) and show it.
fn decide_and_show(a: &Alert) {
    let Some(store) = local() else {
        return;
    };
    let marker = notify::parse_marker(store.get_item(MARKER_KEY).ok().flatten().as_deref());
    let granted = permission() == "granted";
    if notify::decide(a.seq, marker, granted, opted_in()) != Decision::Notify {
        return;
    }
    let _ = store.set_item(MARKER_KEY, &a.seq.to_string());
    let Some(w) = web_sys::window() else {
        return;
    };
    let ctor = get(&w, "Notification");
    let Ok(ctor) = ctor.dyn_into::<Function>() else {
        return;
    };
    let opts = Object::new();
    let _ = Reflect::set(&opts, &"body".into(), &a.text.clone().into());
    // The tag makes the system replace, not stack, a duplicate.
    let _ = Reflect::set(&opts, &"tag".into(), &notify::lock_name(a.seq).into());
    let title = notify::title(a.level, a.state == AlertState::Firing);
    let args = js_sys::Array::of2(&title.into(), &opts);
    let _ = Reflect::construct(&ctor, &args);
}

/// Notify `a` once per browser: under the Web Lock of its seq when the
/// browser has Web Locks, else by the marker alone.
fn notify_once(a: Alert) {
    let locks = web_sys::window().map(|w| get(&get(&w, "navigator"), "locks"));
    let request = locks.as_ref().map(|l| get(l, "request"));
    let (Some(locks), Some(Ok(request))) = (locks, request.map(|r| r.dyn_into::<Function>()))
    else {
        decide_and_show(&a);
        return;
    };
    let opts = Object::new();
    let _ = Reflect::set(&opts, &"ifAvailable".into(), &true.into());
    let name = notify::lock_name(a.seq);
    let cb = Closure::once_into_js(move |lock: JsValue| -> JsValue {
        if lock.is_null() {
            // Another tab holds this alert's lock: it notifies.
            return JsValue::UNDEFINED;
        }
        decide_and_show(&a);
        // Keep the lock a while: tabs that see the alert a moment later
        // (frames relayed from another tab, a slower tab) find it taken.
        // The localStorage marker alone is not enough: another tab's
        // process may read it before this write reaches it.
        js_sys::Promise::new(&mut |resolve, _| {
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                    &resolve,
                    notify::HOLD_MS,
                );
            }
        })
        .into()
    });
    let _ = request.call3(&locks, &name.into(), &opts, &cb);
}

/// Notify each new alert the page receives (when allowed).
#[hook]
pub fn use_notify(alert: Option<Alert>) {
    use_effect_with(alert, |a| {
        if let Some(a) = a.clone() {
            if opted_in() && permission() == "granted" {
                notify_once(a);
            }
        }
    });
}
