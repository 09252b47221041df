//! An ECharts chart through Charming: created once after the first render,
//! then updated in place (`setOption` merge) on every new option, resized
//! with the window, disposed when the component goes away. ECharts fixes
//! its theme at init: when the page theme changes the chart is disposed and
//! created again in the new one.

use charming::{theme::Theme, Chart as Options, Echarts, WasmRenderer};
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
    /// The options to show.
    pub options: Options,
    /// `dark` or `light`: the ECharts theme it is created in.
    #[prop_or(AttrValue::Static("dark"))]
    pub theme: AttrValue,
    /// Called with the category name of a clicked bar or slice
    /// (click-to-filter on breakdown charts).
    #[prop_or_default]
    pub on_click: Option<Callback<String>>,
}

/// Register `listener` for ECharts' `click` on instance `e`.
fn listen_click(e: &JsValue, listener: &Closure<dyn Fn(JsValue)>) {
    if let Ok(f) = js_sys::Reflect::get(e, &JsValue::from_str("on")) {
        if let Some(f) = f.dyn_ref::<js_sys::Function>() {
            let _ = f.call2(e, &JsValue::from_str("click"), listener.as_ref());
        }
    }
}

/// Call a method without arguments on a JS object, ignoring failures.
fn call0(obj: &JsValue, name: &str) {
    if let Ok(f) = js_sys::Reflect::get(obj, &JsValue::from_str(name)) {
        if let Some(f) = f.dyn_ref::<js_sys::Function>() {
            let _ = f.call0(obj);
        }
    }
}

#[function_component(Chart)]
pub fn chart(props: &ChartProps) -> Html {
    let handle: Rc<RefCell<Option<Echarts>>> = use_mut_ref(|| None);
    // The theme the instance was created in.
    let made_in: Rc<RefCell<AttrValue>> = use_mut_ref(|| props.theme.clone());
    // The newest click callback, read by the one listener per instance.
    let on_click: Rc<RefCell<Option<Callback<String>>>> = use_mut_ref(|| None);
    *on_click.borrow_mut() = props.on_click.clone();
    let listener = use_mut_ref(|| {
        let on_click = on_click.clone();
        Closure::<dyn Fn(JsValue)>::new(move |params: JsValue| {
            let name = js_sys::Reflect::get(&params, &JsValue::from_str("name"))
                .ok()
                .and_then(|n| n.as_string());
            if let (Some(cb), Some(name)) = (on_click.borrow().as_ref(), name) {
                cb.emit(name);
            }
        })
    });
    {
        // Create on mount; resize with the window; dispose on unmount.
        let handle = handle.clone();
        use_effect_with((), move |_| {
            let on_resize = {
                let handle = handle.clone();
                Closure::<dyn Fn()>::new(move || {
                    if let Some(e) = handle.borrow().as_ref() {
                        e.resize(JsValue::UNDEFINED);
                    }
                })
            };
            let window = web_sys::window().expect("a window");
            let _ = window
                .add_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref());
            move || {
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
                match h.as_ref() {
                    Some(e) => WasmRenderer::update(e, options),
                    None => {
                        let t = if theme.as_str() == "light" {
                            Theme::Default
                        } else {
                            Theme::Dark
                        };
                        match WasmRenderer::new_opt(None, None)
                            .theme(t)
                            .render(&id, options)
                        {
                            Ok(e) => {
                                listen_click(&e, &listener.borrow());
                                *h = Some(e)
                            }
                            Err(e) => {
                                web_sys::console::error_1(&format!("chart {id}: {e:?}").into())
                            }
                        }
                    }
                }
            },
        );
    }
    let testid = props.testid.clone().unwrap_or_else(|| props.id.clone());
    html! { <div class="chart" id={props.id.clone()} data-testid={testid} data-theme={props.theme.clone()}></div> }
}
