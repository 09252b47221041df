//! The activity feed: newest first, last 20.

use crate::format;
use livedash_shared::{Event, Level};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct FeedProps {
    /// Oldest first, as kept in state.
    pub events: Vec<Event>,
    /// Local time offset, minutes east of UTC.
    pub offset_min: i64,
}

#[function_component(Feed)]
pub fn feed(p: &FeedProps) -> Html {
    html! {
        <section class="card feed-card">
            <h2>{ "Activity" }</h2>
            <ul class="feed" data-testid="feed">
                { for p.events.iter().rev().map(|e| {
                    let level = match e.level { Level::Info => "info", Level::Warn => "warn", Level::Alert => "alert" };
                    html! {
                        <li key={e.seq} class={classes!("feed-item", level)}>
                            <span class="feed-time">{ format::clock(e.ts, p.offset_min) }</span>
                            <span class={classes!("badge", level)}>{ level }</span>
                            <span class="feed-text">{ &e.text }</span>
                        </li>
                    }
                }) }
            </ul>
            if p.events.is_empty() { <p class="muted">{ "Nothing yet." }</p> }
        </section>
    }
}
