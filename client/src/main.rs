//! livedash page entry point.

use livedash_client::components::app::App;

/// index.html's static first frame (painted before the bundle arrived).
const FIRST_FRAME_ID: &str = "first-frame";
/// ECharts (built by Trunk.toml's pre_build hook from client/echarts.js).
const ECHARTS_SRC: &str = "echarts.min.js";

fn main() {
    let document = web_sys::window().and_then(|w| w.document());
    if let Some(doc) = &document {
        // Fetched now rather than beside the wasm, so the wasm has the
        // network to itself first: the KPI cards draw without it and the
        // charts are created once it has run (components/chart.rs).
        if let (Ok(script), Some(body)) = (doc.create_element("script"), doc.body()) {
            let _ = script.set_attribute("src", ECHARTS_SRC);
            let _ = body.append_child(&script);
        }
        // The app's first render replaces the static frame within this
        // task, before the next paint.
        if let Some(frame) = doc.get_element_by_id(FIRST_FRAME_ID) {
            frame.remove();
        }
    }
    yew::Renderer::<App>::new().render();
}
