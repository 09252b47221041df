//! Apply the theme ([`crate::theme`]): set `data-theme` on the root
//! element (the CSS variables follow), keep a pick in localStorage and in
//! the page URL's `?theme=` when one is there, and follow the system's
//! `prefers-color-scheme` while the pick is "system".

use crate::connection::take_param;
use crate::theme::{initial, ThemePref, STORAGE_KEY};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use yew::prelude::*;

const DARK_QUERY: &str = "(prefers-color-scheme: dark)";

fn system_dark() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media(DARK_QUERY).ok().flatten())
        .map(|m| m.matches())
        .unwrap_or(true)
}

fn stored() -> Option<String> {
    web_sys::window()?
        .local_storage()
        .ok()??
        .get_item(STORAGE_KEY)
        .ok()?
}

fn url_theme() -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    take_param(&search, "theme").0
}

/// The theme as the page uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// What the person asked for.
    pub pref: ThemePref,
    /// What is drawn: `light` or `dark`.
    pub resolved: &'static str,
    /// Pick another.
    pub set: Callback<ThemePref>,
}

#[hook]
pub fn use_theme() -> Theme {
    let pref = use_state(|| initial(url_theme().as_deref(), stored().as_deref()));
    let dark = use_state(system_dark);
    {
        // Follow the system while mounted.
        let dark = dark.clone();
        use_effect_with((), move |_| {
            let mql = web_sys::window().and_then(|w| w.match_media(DARK_QUERY).ok().flatten());
            let on_change = Closure::<dyn Fn()>::new(move || dark.set(system_dark()));
            if let Some(m) = &mql {
                let _ = m
                    .add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
            }
            move || {
                if let Some(m) = &mql {
                    let _ = m.remove_event_listener_with_callback(
                        "change",
                        on_change.as_ref().unchecked_ref(),
                    );
                }
            }
        });
    }
    let resolved = pref.resolve(*dark);
    use_effect_with(resolved, |r| {
        if let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = root.set_attribute("data-theme", r);
        }
    });
    let set = {
        let pref = pref.clone();
        Callback::from(move |p: ThemePref| {
            remember(p);
            pref.set(p);
        })
    };
    Theme {
        pref: *pref,
        resolved,
        set,
    }
}

/// Keep a pick: localStorage, and the URL's `theme` when it has one (so a
/// reload shows what was picked, and a shared link carries it).
fn remember(p: ThemePref) {
    let Some(w) = web_sys::window() else {
        return;
    };
    if let Ok(Some(s)) = w.local_storage() {
        let _ = s.set_item(STORAGE_KEY, p.as_str());
    }
    let loc = w.location();
    let Ok(search) = loc.search() else {
        return;
    };
    let (had, rest) = take_param(&search, "theme");
    if had.is_none() {
        return;
    }
    let sep = if rest.is_empty() { '?' } else { '&' };
    let url = format!(
        "{}{rest}{sep}theme={}{}",
        loc.pathname().unwrap_or_default(),
        p.as_str(),
        loc.hash().unwrap_or_default()
    );
    if let Ok(h) = w.history() {
        let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}
