//! The system widget: the host panel (CPU, cores, memory, swap, network,
//! load) of the latest sample.

use super::Cx;
use crate::components::system_panel::SystemPanel;
use livedash_shared::dashboard::Widget;
use yew::prelude::*;

pub fn view(w: &Widget, cx: &Cx) -> Html {
    html! { <SystemPanel title={w.title.clone()} system={cx.state.system.clone()} /> }
}
