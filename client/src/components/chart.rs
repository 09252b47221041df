//! An ECharts chart through Charming: created once after the first render
//! (through `chart_queue`: once ECharts' async script has run, in short
//! slices of main-thread time), then
//! updated in place (`setOption` merge) on every new option, resized
//! with the window, disposed when the component goes away. ECharts fixes
//! its theme at init: when the page theme changes the chart is disposed and
//! created again in the new one.

use super::chart_queue;
use crate::echarts::{self, Echarts};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ChartProps {
    /// Element id (charming looks the element up by id).
    pub id: AttrValue,
    /// The element's `data-testid` (the element id when not given).
    #[prop_or_default]
    pub testid: Option<AttrValue>,
    /// The options to show: a charming option as JSON text
    /// ([`echarts::json`]), compared and kept as text.
    pub options: AttrValue,
    /// `dark` or `light`: the ECharts theme it is created in.
    #[prop_or(AttrValue::Static("dark"))]
    pub theme: AttrValue,
    /// Called with the category name of a clicked bar or slice
    /// (click-to-filter on breakdown charts).
    #[prop_or_default]
    pub on_click: Option<Callback<String>>,
}

/// Call a method without arguments on a JS object, ignoring failures.
fn call0(obj: &JsValue, name: &str) {
    if let Ok(f) = js_sys::Reflect::get(obj, &JsValue::from_str(name)) {
        if let Some(f) = f.dyn_ref::<js_sys::Function>() {
            let _ = f.call0(obj);
        }
    }
}

/// `obj[key]`.
fn get(obj: &JsValue, key: &str) -> Option<JsValue> {
    js_sys::Reflect::get(obj, &JsValue::from_str(key)).ok()
}

/// `obj.name(a, b)`.
fn call2(obj: &JsValue, name: &str, a: &JsValue, b: &JsValue) -> Option<JsValue> {
    let f: js_sys::Function = get(obj, name)?.dyn_into().ok()?;
    f.call2(obj, a, b).ok()
}

/// A category name: a string, or an object's `value`.
fn category_name(v: &JsValue) -> Option<String> {
    v.as_string().or_else(|| get(v, "value")?.as_string())
}

/// The x-axis category under a click on instance `i` (anywhere in its
/// band of the grid, not only on the bar: thin bars stay easy to hit).
fn category_at(i: &JsValue, ev: &JsValue) -> Option<String> {
    let (x, y) = (get(ev, "offsetX")?, get(ev, "offsetY")?);
    let p: JsValue = js_sys::Array::of2(&x, &y).into();
    if !call2(i, "containPixel", &JsValue::from_str("grid"), &p)?.as_bool()? {
        return None;
    }
    let opt = js_sys::Function::from(get(i, "getOption")?).call0(i).ok()?;
    let axis = js_sys::Array::from(&get(&opt, "xAxis")?).get(0);
    if get(&axis, "type")?.as_string()? != "category" {
        return None;
    }
    let finder = js_sys::Object::new();
    js_sys::Reflect::set(&finder, &"gridIndex".into(), &0.into()).ok()?;
    let at = call2(i, "convertFromPixel", &finder, &p)?;
    let k = match js_sys::Array::is_array(&at) {
        true => js_sys::Array::from(&at).get(0),
        false => at,
    };
    let k = k.as_f64()?.round();
    let data = js_sys::Array::from(&get(&axis, "data")?);
    (k >= 0.0 && k < data.length() as f64).then(|| category_name(&data.get(k as u32)))?
}

/// Register the click listeners of instance `e`: its canvas (a click in a
/// category's band) and its items (a pie slice).
fn listen_click(e: &JsValue, on_zr: &Closure<dyn Fn(JsValue)>, on_item: &Closure<dyn Fn(JsValue)>) {
    let click = JsValue::from_str("click");
    if let Some(zr) = get(e, "getZr")
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call0(e).ok())
    {
        let _ = call2(&zr, "on", &click, on_zr.as_ref());
    }
    let _ = call2(e, "on", &click, on_item.as_ref());
}

/// A new ECharts instance in element `id`, in `theme`, showing `options`.
fn create(id: &str, options: &str, theme: &str) -> Option<Echarts> {
    echarts::create(id, options, theme != "light")
        .map_err(|e| web_sys::console::error_1(&format!("chart {id}: {e}").into()))
        .ok()
}

#[function_component(Chart)]
pub fn chart(props: &ChartProps) -> Html {
    let handle: Rc<RefCell<Option<Echarts>>> = use_mut_ref(|| None);
    // The theme the instance was created in.
    let made_in: Rc<RefCell<AttrValue>> = use_mut_ref(|| props.theme.clone());
    // The newest click callback, read by the one listener per instance.
    let on_click: Rc<RefCell<Option<Callback<String>>>> = use_mut_ref(|| None);
    *on_click.borrow_mut() = props.on_click.clone();
    // Category bands of cartesian charts, through the canvas.
    let on_zr = use_mut_ref(|| {
        let (on_click, handle) = (on_click.clone(), handle.clone());
        Closure::<dyn Fn(JsValue)>::new(move |ev: JsValue| {
            let name = handle.borrow().as_ref().and_then(|i| category_at(i, &ev));
            if let (Some(cb), Some(name)) = (on_click.borrow().clone(), name) {
                cb.emit(name);
            }
        })
    });
    // Items of other charts (pie slices): ECharts' own click.
    let on_item = use_mut_ref(|| {
        let on_click = on_click.clone();
        Closure::<dyn Fn(JsValue)>::new(move |params: JsValue| {
            let pie = get(&params, "seriesType").and_then(|t| t.as_string()) == Some("pie".into());
            let name = get(&params, "name")
                .and_then(|n| n.as_string())
                .filter(|_| pie);
            if let (Some(cb), Some(name)) = (on_click.borrow().clone(), name) {
                cb.emit(name);
            }
        })
    });
    // Options (and theme) waiting for the instance, which `chart_queue`
    // creates in a later task. Only the newest options wait.
    let waiting: Rc<RefCell<Option<(AttrValue, AttrValue)>>> = use_mut_ref(|| None);
    // False once unmounted: a creation still waiting is dropped.
    let alive: Rc<RefCell<bool>> = use_mut_ref(|| true);
    {
        // Resize with the window; dispose on unmount.
        let (handle, alive) = (handle.clone(), alive.clone());
        use_effect_with((), move |_| {
            let on_resize = {
                let handle = handle.clone();
                Closure::<dyn Fn()>::new(move || {
                    if let Some(e) = handle.borrow().as_ref() {
                        e.resize();
                    }
                })
            };
            let window = web_sys::window().expect("a window");
            let _ = window
                .add_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref());
            move || {
                *alive.borrow_mut() = false;
                let _ = window.remove_event_listener_with_callback(
                    "resize",
                    on_resize.as_ref().unchecked_ref(),
                );
                if let Some(e) = handle.borrow_mut().take() {
                    call0(&e, "dispose");
                }
            }
        });
    }
    {
        let handle = handle.clone();
        let id = props.id.clone();
        use_effect_with(
            (props.options.clone(), props.theme.clone()),
            move |(options, theme)| {
                let mut h = handle.borrow_mut();
                if *made_in.borrow() != *theme {
                    // A new theme: ECharts needs a new instance.
                    if let Some(e) = h.take() {
                        call0(&e, "dispose");
                    }
                    *made_in.borrow_mut() = theme.clone();
                }
                if let Some(e) = h.as_ref() {
                    if let Err(err) = echarts::set(e, options) {
                        web_sys::console::error_1(&format!("chart {id}: {err}").into());
                    }
                    return;
                }
                // The creation may run at once and fills the handle.
                drop(h);
                let first = waiting
                    .borrow_mut()
                    .replace((options.clone(), theme.clone()))
                    .is_none();
                if first {
                    let (handle, waiting) = (handle.clone(), waiting.clone());
                    let (on_zr, on_item) = (on_zr.clone(), on_item.clone());
                    chart_queue::push(Box::new(move || {
                        let Some((options, theme)) = waiting.borrow_mut().take() else {
                            return;
                        };
                        if !*alive.borrow() {
                            return;
                        }
                        let e = create(&id, &options, &theme);
                        if let Some(e) = &e {
                            listen_click(e, &on_zr.borrow(), &on_item.borrow());
                        }
                        *handle.borrow_mut() = e;
                    }));
                }
            },
        );
    }
    let testid = props.testid.clone().unwrap_or_else(|| props.id.clone());
    html! { <div class="chart" id={props.id.clone()} data-testid={testid} data-theme={props.theme.clone()}></div> }
}
