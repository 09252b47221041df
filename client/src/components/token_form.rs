//! The in-page token form (instead of `window.prompt`): shown when the
//! server refuses the viewer token or wants one. Submit keeps the token in
//! sessionStorage and connects; Cancel leaves the page offline with the
//! Connect toggle off.

use crate::hooks::use_connection::store_token;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct TokenFormProps {
    /// `Some(token)` on submit (already stored), `None` on cancel.
    pub on_done: Callback<Option<String>>,
}

#[function_component(TokenForm)]
pub fn token_form(p: &TokenFormProps) -> Html {
    let input = use_node_ref();
    {
        let input = input.clone();
        use_effect_with((), move |_| {
            if let Some(el) = input.cast::<web_sys::HtmlInputElement>() {
                let _ = el.focus();
            }
        });
    }
    let onsubmit = {
        let (input, cb) = (input.clone(), p.on_done.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(el) = input.cast::<web_sys::HtmlInputElement>() else {
                return;
            };
            let token = el.value().trim().to_string();
            if token.is_empty() {
                return;
            }
            store_token(&token);
            el.set_value("");
            cb.emit(Some(token));
        })
    };
    let oncancel = {
        let cb = p.on_done.clone();
        Callback::from(move |_| cb.emit(None))
    };
    html! {
        <form class="token-form card" data-testid="token-form" onsubmit={onsubmit}
              aria-labelledby="token-form-title">
            <h2 id="token-form-title">{ "Viewer token needed" }</h2>
            <p class="muted">{ "This dashboard is protected. The token is kept for this tab only." }</p>
            <label for="token-input">{ "Viewer token" }</label>
            <input id="token-input" type="password" autocomplete="off" required=true
                   data-testid="token-input" ref={input} />
            <div class="token-actions">
                <button type="submit" class="btn primary" data-testid="token-submit">{ "Connect" }</button>
                <button type="button" class="btn" data-testid="token-cancel" onclick={oncancel}>{ "Cancel" }</button>
            </div>
        </form>
    }
}
