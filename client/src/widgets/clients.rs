//! The clients widget: how many viewers the server counts now.

use super::Cx;
use livedash_shared::dashboard::Widget;
use yew::prelude::*;

pub fn view(w: &Widget, cx: &Cx) -> Html {
    let n = cx
        .state
        .clients
        .map(crate::format::int)
        .unwrap_or_else(|| "–".into());
    html! {
        <section class="card counter">
            <h2>{ &w.title }</h2>
            <div class="counter-value" data-testid={w.id.clone()}>{ n }</div>
            <p class="muted">{ "viewers connected to the server" }</p>
        </section>
    }
}
