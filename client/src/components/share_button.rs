//! The Share control: shows (and copies to the clipboard, where the
//! browser allows) a link to the view on screen, opened read-only
//! ([`crate::share::link`]).

use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ShareProps {
    /// The dashboard shown.
    pub dashboard: AttrValue,
    /// The theme on screen (`light` / `dark`).
    pub theme: AttrValue,
}

/// The link to the current view.
fn current_link(dashboard: &str, theme: &str) -> Option<String> {
    let loc = web_sys::window()?.location();
    let base = format!("{}{}", loc.origin().ok()?, loc.pathname().ok()?);
    Some(crate::share::link(
        &base,
        &loc.search().ok()?,
        dashboard,
        theme,
    ))
}

/// `navigator.clipboard.writeText(text)`, ignoring refusals (the link is
/// shown to copy by hand too).
fn copy(text: &str) {
    let Some(w) = web_sys::window() else {
        return;
    };
    let get = |o: &wasm_bindgen::JsValue, k: &str| js_sys::Reflect::get(o, &k.into()).ok();
    let nav = get(&w.into(), "navigator");
    let Some(clip) = nav
        .and_then(|n| get(&n, "clipboard"))
        .filter(|c| !c.is_undefined())
    else {
        return;
    };
    if let Some(f) = get(&clip, "writeText").and_then(|f| f.dyn_into::<js_sys::Function>().ok()) {
        // A rejected promise (no permission) is left alone.
        let _ = f.call1(&clip, &text.into());
    }
}

use wasm_bindgen::JsCast;

#[function_component(ShareButton)]
pub fn share_button(p: &ShareProps) -> Html {
    let link = use_state(|| None::<String>);
    let onclick = {
        let (link, d, t) = (link.clone(), p.dashboard.clone(), p.theme.clone());
        Callback::from(move |_: MouseEvent| match &*link {
            Some(_) => link.set(None),
            None => {
                let l = current_link(&d, &t);
                if let Some(l) = &l {
                    copy(l);
                }
                link.set(l);
            }
        })
    };
    html! {
        <>
            <button class="btn mini" data-testid="share" onclick={onclick}
                    title="A link to this view (dashboard, filters, theme, time range), read-only">{ "Share" }</button>
            if let Some(l) = &*link {
                <input class="share-link" data-testid="share-link" readonly=true value={l.clone()}
                       aria-label="Link to this view" />
            }
        </>
    }
}
