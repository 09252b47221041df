//! The page's binding to ECharts (the global `echarts` that
//! client/echarts.js defines): create an instance, give it an option.
//!
//! Options go over as JSON text ([`json`]), parsed by the browser's
//! `JSON.parse`: serde_json is then the only serializer of charming's
//! option types in the bundle (the CSV/JSON export reads the same text),
//! where charming's own `WasmRenderer` adds a second one
//! (serde-wasm-bindgen) of the same large types. The chart component keeps
//! and compares the text, not the option tree (no deep clone or equality
//! code for it either). The option an instance gets is the one the unit
//! tests read (`serde_json::to_value`).

use crate::chart_option::Chart as Options;
use wasm_bindgen::prelude::*;
use yew::AttrValue;

#[wasm_bindgen]
extern "C" {
    /// An ECharts instance.
    #[wasm_bindgen(js_name = EChartsType)]
    pub type Echarts;

    #[wasm_bindgen(catch, js_namespace = echarts, js_name = init)]
    fn init(element: &web_sys::Element, theme: &str) -> Result<Echarts, JsValue>;

    #[wasm_bindgen(catch, method, js_name = setOption)]
    fn set_option(this: &Echarts, option: &JsValue) -> Result<(), JsValue>;

    /// Fit the instance to its element's size.
    #[wasm_bindgen(method)]
    pub fn resize(this: &Echarts);
}

/// ECharts' script, beside index.html (built from client/echarts.js).
const SCRIPT: &str = "echarts.min.js";

thread_local! {
    /// Whether [`load_script`] inserted the script already.
    static REQUESTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Insert ECharts' script (once; an inserted script runs `async`: it blocks
/// neither this task nor a paint). The page asks for it only once its
/// first data is painted ([`load_after_paint`]; `main` asks again after
/// [`FALLBACK_MS`] in case no data comes), not in index.html: on a slow
/// network its 150 KB would share the bandwidth with the wasm and the
/// dashboard's requests that come before the first data, and the KPI
/// cards need no ECharts (`components/chart_queue.rs` creates the charts
/// once it has run).
pub fn load_script() {
    if REQUESTED.with(|r| r.replace(true)) {
        return;
    }
    if let Err(e) = insert_script() {
        web_sys::console::error_1(&format!("ECharts: {e}").into());
    }
}

/// How long after the start `main` loads ECharts even without data, ms.
pub const FALLBACK_MS: u32 = 5_000;

fn insert_script() -> Result<(), String> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let script = document
        .create_element("script")
        .map_err(|e| format!("create script: {e:?}"))?;
    script
        .set_attribute("src", SCRIPT)
        .map_err(|e| format!("script src: {e:?}"))?;
    let body = document.body().ok_or("no body")?;
    body.append_child(&script)
        .map(|_| ())
        .map_err(|e| format!("append script: {e:?}"))
}

/// [`load_script`] right after the next paint (a timeout set in an
/// animation frame runs once that frame is painted).
pub fn load_after_paint() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let after_frame = Closure::once_into_js(|| {
        gloo_timers::callback::Timeout::new(0, load_script).forget();
    });
    if window
        .request_animation_frame(after_frame.unchecked_ref())
        .is_err()
    {
        load_script();
    }
}

/// The JSON text of `options`, as charts take them.
pub fn json(options: &Options) -> AttrValue {
    AttrValue::from(serde_json::to_string(options).unwrap_or_else(|_| "{}".into()))
}

/// A new instance in the element `id`, in ECharts' `dark` theme or its
/// default one, showing `options` (JSON text).
pub fn create(id: &str, options: &str, dark: bool) -> Result<Echarts, String> {
    let element = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .ok_or_else(|| format!("no element with id {id:?}"))?;
    let e = init(&element, if dark { "dark" } else { "" })
        .map_err(|e| format!("echarts.init: {e:?}"))?;
    set(&e, options)?;
    Ok(e)
}

/// Give instance `e` new options (JSON text; merged with the ones it has).
pub fn set(e: &Echarts, options: &str) -> Result<(), String> {
    let value = js_sys::JSON::parse(options).map_err(|e| format!("JSON.parse: {e:?}"))?;
    e.set_option(&value)
        .map_err(|e| format!("setOption: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use charming::{component::Axis, element::AxisType, series::Bar};

    #[test]
    fn the_text_is_the_option_the_tests_read() {
        let c = Options::new()
            .x_axis(Axis::new().type_(AxisType::Category).data(vec!["DE", "FR"]))
            .series(Bar::new().data(vec![3, 1]));
        let text = json(&c);
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, serde_json::to_value(&c).unwrap());
        assert_eq!(back["series"][0]["data"], serde_json::json!([3, 1]));
        assert_eq!(back["xAxis"]["data"], serde_json::json!(["DE", "FR"]));
    }
}
