//! The activity feed: newest first, last 20.

use crate::format;
use livedash_shared::{Event, Level};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct FeedProps {
    /// The card's heading.
    #[prop_or(AttrValue::Static("Activity"))]
    pub title: AttrValue,
    /// `data-testid` of the list (v1: `feed`).
    #[prop_or(AttrValue::Static("feed"))]
    pub testid: AttrValue,
    /// Oldest first, as kept in state.
    pub events: Vec<Event>,
    /// Local time offset, minutes east of UTC.
    pub offset_min: i64,
}

#[function_component(Feed)]
pub fn feed(p: &FeedProps) -> Html {
    html! {
        <section class="card feed-card">
            <h2>{ &p.title }</h2>
            <ul class="feed" data-testid={p.testid.clone()}>
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
