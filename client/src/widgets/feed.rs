//! The feed widget: the activity feed, newest first, at most `limit`
//! entries (what the page keeps: 20).

use super::Cx;
use crate::components::feed::Feed;
use livedash_shared::dashboard::Widget;
use yew::prelude::*;

pub fn view(w: &Widget, cx: &Cx) -> Html {
    let limit = w
        .options
        .limit
        .map(|l| l as usize)
        .unwrap_or(crate::state::FEED);
    let all: Vec<_> = cx.state.feed.iter().cloned().collect();
    let events = all[all.len().saturating_sub(limit)..].to_vec();
    html! {
        <Feed title={w.title.clone()} testid={w.id.clone()} events={events}
              offset_min={cx.offset_min} />
    }
}
