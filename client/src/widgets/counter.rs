//! The counter widget: order items streamed since the server started.

use super::Cx;
use crate::components::live_counter::LiveCounter;
use livedash_shared::dashboard::Widget;
use yew::prelude::*;

pub fn view(w: &Widget, cx: &Cx) -> Html {
    html! {
        <LiveCounter title={w.title.clone()} testid={w.id.clone()}
                     value={cx.state.items_total} frames={cx.state.frames} />
    }
}
