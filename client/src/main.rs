//! livedash page entry point.

use livedash_client::components::app::App;

/// index.html's static first frame (painted before the bundle arrived).
const FIRST_FRAME_ID: &str = "first-frame";

fn main() {
    // The app's first render replaces it within this task, before the
    // next paint.
    if let Some(frame) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(FIRST_FRAME_ID))
    {
        frame.remove();
    }
    // ECharts comes after the first data is painted (components/app.rs),
    // or after this long when none comes.
    gloo_timers::callback::Timeout::new(
        livedash_client::echarts::FALLBACK_MS,
        livedash_client::echarts::load_script,
    )
    .forget();
    yew::Renderer::<App>::new().render();
}
