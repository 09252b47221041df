//! The button that asks for browser notifications of alerts
//! (`data-testid="notify-permission"`), and what the browser answered.

use crate::hooks::use_notify::{ask, opted_in, permission};
use yew::prelude::*;

#[function_component(NotifyButton)]
pub fn notify_button() -> Html {
    // The permission as last read (`granted`, `denied`, `default`, `unsupported`).
    let state = use_state(permission);
    let on = *state == "granted" && opted_in();
    let on_click = {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| {
            let state = state.clone();
            ask(Callback::from(move |p: String| state.set(p)));
        })
    };
    let (label, title) = match state.as_str() {
        "unsupported" => (
            "Notifications unavailable",
            "this browser has no notifications",
        ),
        "denied" => (
            "Notifications blocked",
            "allow them in the browser's site settings",
        ),
        _ if on => (
            "Notifications on",
            "one notification per alert for this browser",
        ),
        _ => (
            "Notify me",
            "show a browser notification when an alert fires",
        ),
    };
    html! {
        <button class={classes!("btn", "mini", on.then_some("active"))} data-testid="notify-permission"
                data-permission={(*state).clone()} title={title}
                disabled={*state == "unsupported" || *state == "denied"} onclick={on_click}>{ label }</button>
    }
}
