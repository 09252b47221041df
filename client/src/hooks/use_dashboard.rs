//! Load the dashboard the page URL names (`?d=UID` or `?dashboard=UID`,
//! else `default`) from the server the page connects to
//! (`GET /api/dashboards/{uid}`, see [`crate::config::api_base`]). When the
//! server cannot give it (an older server without the API, offline, a
//! timeout) the page draws the built-in v1 layout instead and says why.

use crate::config::{api_base, dashboard_uid};
use crate::hooks::use_connection::resolve_url;
use futures::{select, FutureExt};
use gloo_timers::future::TimeoutFuture;
use livedash_shared::dashboard::{migrate, DEFAULT_UID};
use livedash_shared::Dashboard;
use std::rc::Rc;
use yew::prelude::*;

/// How long the page waits for the dashboard before drawing the default.
const FETCH_TIMEOUT_MS: u32 = 5_000;

/// The dashboard shown, and a note when it is not the one asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// What the widgets are drawn from.
    pub dashboard: Rc<Dashboard>,
    /// Why the built-in layout is shown instead of the server's (shown in a
    /// banner; `None` when the server's dashboard is shown).
    pub note: Option<String>,
    /// The REST API's origin (`http://h:p`), for saving and the picker.
    pub api: Rc<str>,
}

/// When to load: the page asks the server's REST API only once its
/// WebSocket has said which protocol it speaks (a server of another
/// protocol gets no requests at all: the built-in default is drawn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Not yet (the socket is still connecting).
    Wait,
    /// Ask the server.
    Fetch,
    /// Do not ask: draw the built-in default.
    Local,
}

/// The loaded dashboard (`None` while it loads), and a callback that
/// replaces it (after a save, or with the stored one after a conflict).
#[hook]
pub fn use_dashboard(when: When) -> (Option<Loaded>, Callback<Dashboard>) {
    let loaded = use_state(|| None::<Loaded>);
    let started = use_mut_ref(|| false);
    {
        let loaded = loaded.clone();
        use_effect_with(when, move |when| {
            if *when != When::Wait && !*started.borrow() {
                *started.borrow_mut() = true;
                let local = *when == When::Local;
                wasm_bindgen_futures::spawn_local(async move {
                    loaded.set(Some(load(local).await));
                });
            }
        });
    }
    let replace = {
        let loaded = loaded.clone();
        Callback::from(move |d: Dashboard| {
            if let Some(l) = &*loaded {
                loaded.set(Some(Loaded {
                    dashboard: Rc::new(d),
                    note: None,
                    api: l.api.clone(),
                }));
            }
        })
    };
    ((*loaded).clone(), replace)
}

async fn load(local: bool) -> Loaded {
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    let uid = dashboard_uid(&search);
    let api: Rc<str> = api_base(&resolve_url().await).into();
    let fetched = if local {
        Err("the server speaks another protocol".to_string())
    } else {
        select! {
            r = fetch(&api, &uid).fuse() => r,
            _ = TimeoutFuture::new(FETCH_TIMEOUT_MS).fuse() => Err("the server did not answer in time".into()),
        }
    };
    match fetched {
        Ok(d) => Loaded {
            dashboard: Rc::new(d),
            note: None,
            api,
        },
        Err(why) => {
            let note = if uid == DEFAULT_UID {
                // An older server, or offline: the built-in default is the
                // same page, so say nothing beyond the console.
                web_sys::console::warn_1(&format!("dashboard {uid}: {why}").into());
                None
            } else {
                Some(format!(
                    "Dashboard \"{uid}\" could not be loaded ({why}); showing the default."
                ))
            };
            Loaded {
                dashboard: Rc::new(Dashboard::default_v1()),
                note,
                api,
            }
        }
    }
}

/// `GET {api}/api/dashboards/{uid}`, migrated to this build's schema.
pub async fn fetch(api: &str, uid: &str) -> Result<Dashboard, String> {
    let resp = gloo_net::http::Request::get(&format!("{api}/api/dashboards/{uid}"))
        .cache(web_sys::RequestCache::NoCache)
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    if resp.status() == 404 {
        return Err("no such dashboard".into());
    }
    if !resp.ok() {
        return Err(format!("HTTP {}", resp.status()));
    }
    let doc: serde_json::Value = resp.json().await.map_err(|e| format!("not JSON: {e}"))?;
    migrate(doc).map_err(|e| e.to_string())
}
