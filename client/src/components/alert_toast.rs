//! A toast for the newest `alert` frame (`data-testid="alert-toast"`),
//! until the person closes it or a newer alert replaces it.

use livedash_shared::{Alert, AlertState};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct AlertToastProps {
    /// The newest alert frame, if any.
    pub alert: Option<Alert>,
}

#[function_component(AlertToast)]
pub fn alert_toast(props: &AlertToastProps) -> Html {
    // The seq of the alert the person closed.
    let closed = use_state(|| 0u64);
    let Some(a) = props.alert.as_ref().filter(|a| a.seq != *closed) else {
        return html! {};
    };
    let on_close = {
        let (closed, seq) = (closed.clone(), a.seq);
        Callback::from(move |_: MouseEvent| closed.set(seq))
    };
    let state = match a.state {
        AlertState::Firing => "firing",
        AlertState::Resolved => "resolved",
    };
    html! {
        <div class={classes!("toast", format!("toast-{state}"))} role="status"
             data-testid="alert-toast" data-state={state} data-rule-id={a.rule_id.to_string()}>
            <span>{ a.text.clone() }</span>
            <button class="btn" aria-label="Close" onclick={on_close}>{ "×" }</button>
        </div>
    }
}
