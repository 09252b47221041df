//! The live counter: order items streamed since the server started.

use crate::format;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct LiveCounterProps {
    /// The card's heading.
    #[prop_or(AttrValue::Static("Live counter"))]
    pub title: AttrValue,
    /// `data-testid` of the number (v1: `live-counter`).
    #[prop_or(AttrValue::Static("live-counter"))]
    pub testid: AttrValue,
    pub value: u64,
    /// Frames applied since the page loaded (shown small, for the curious).
    pub frames: u64,
}

#[function_component(LiveCounter)]
pub fn live_counter(p: &LiveCounterProps) -> Html {
    html! {
        <section class="card counter">
            <h2>{ &p.title }</h2>
            // Keyed by value so the pulse animation replays on every change.
            <div class="counter-value pulse" key={p.value.to_string()} data-testid={p.testid.clone()}>
                { format::int(p.value) }
            </div>
            <p class="muted">{ "order items streamed since the server started" }</p>
            <p class="muted small">{ format!("{} frames received by this tab", format::int(p.frames)) }</p>
        </section>
    }
}
