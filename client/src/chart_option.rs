//! The ECharts option the page builds: the parts of charming's
//! [`charming::Chart`] its widgets use, built from charming's own types
//! (axes, grid, legend, tooltip, bar/line/pie/gauge series).
//!
//! Why not `charming::Chart` itself: its `Serialize` and drop code cover
//! every ECharts component and all 22 series kinds (3D axes, polar, radar,
//! toolbox, data zoom, sankey, treemap…). The compiler cannot know that the
//! page never builds most of them, so all of that shipped in the wasm: its
//! serializer was the largest function of the bundle. This type has the
//! same builder methods for the parts the page uses and serializes to the
//! JSON charming writes for the same calls (a test compares the two).

use charming::component::{Axis, Grid, Legend};
use charming::element::{Color, Tooltip};
use charming::series::{Bar, Gauge, Line, Pie};
use serde::{Serialize, Serializer};

/// A chart's option (charming's field names and order).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Chart {
    /// `false` for live charts (see `charts::base`).
    #[serde(skip_serializing_if = "Option::is_none")]
    animation: Option<bool>,
    /// The hover tooltip.
    #[serde(skip_serializing_if = "Option::is_none")]
    tooltip: Option<Tooltip>,
    /// The series legend (multi-series charts).
    #[serde(skip_serializing_if = "Option::is_none")]
    legend: Option<Legend>,
    /// The plot areas of cartesian charts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    grid: Vec<Grid>,
    /// X axes: one is written as an object, as charming does.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "one_or_many")]
    x_axis: Vec<Axis>,
    /// Y axes, likewise.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "one_or_many")]
    y_axis: Vec<Axis>,
    /// The chart's colour list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    color: Vec<Color>,
    /// The canvas background (transparent: the card shows through).
    #[serde(skip_serializing_if = "Option::is_none")]
    background_color: Option<Color>,
    /// What it draws.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    series: Vec<Series>,
}

/// The series kinds the widgets draw (each carries its ECharts `type`).
// Unboxed like charming's own `Series`: a chart holds one to a few, built
// per redraw and serialized, never stored in bulk.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Series {
    /// Bars (bar widgets, revenue breakdowns).
    Bar(Bar),
    /// Lines and areas (history widgets, sparklines, the series chart).
    Line(Line),
    /// Pie and donut slices.
    Pie(Pie),
    /// One gauge.
    Gauge(Gauge),
}

impl Serialize for Series {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Series::Bar(x) => x.serialize(s),
            Series::Line(x) => x.serialize(s),
            Series::Pie(x) => x.serialize(s),
            Series::Gauge(x) => x.serialize(s),
        }
    }
}

macro_rules! series_from {
    ($($kind:ident),*) => {$(
        impl From<$kind> for Series {
            fn from(x: $kind) -> Series {
                Series::$kind(x)
            }
        }
    )*};
}
series_from!(Bar, Line, Pie, Gauge);

/// One item as itself, several as an array (serde_with's `OneOrMany<_,
/// PreferOne>`, which charming uses for axes).
fn one_or_many<S: Serializer, T: Serialize>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
    match v {
        [one] => one.serialize(s),
        many => many.serialize(s),
    }
}

impl Chart {
    /// An empty option.
    pub fn new() -> Chart {
        Chart::default()
    }

    /// Animate updates or not.
    pub fn animation(mut self, on: bool) -> Chart {
        self.animation = Some(on);
        self
    }

    /// The tooltip.
    pub fn tooltip(mut self, t: Tooltip) -> Chart {
        self.tooltip = Some(t);
        self
    }

    /// The legend.
    pub fn legend(mut self, l: Legend) -> Chart {
        self.legend = Some(l);
        self
    }

    /// Add a plot area.
    pub fn grid(mut self, g: Grid) -> Chart {
        self.grid.push(g);
        self
    }

    /// Add an x axis.
    pub fn x_axis(mut self, a: Axis) -> Chart {
        self.x_axis.push(a);
        self
    }

    /// Add a y axis.
    pub fn y_axis(mut self, a: Axis) -> Chart {
        self.y_axis.push(a);
        self
    }

    /// The colour list.
    pub fn color(mut self, c: Vec<Color>) -> Chart {
        self.color = c;
        self
    }

    /// The background colour.
    pub fn background_color(mut self, c: Color) -> Chart {
        self.background_color = Some(c);
        self
    }

    /// Add a series.
    pub fn series(mut self, s: impl Into<Series>) -> Chart {
        self.series.push(s.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use charming::element::{AxisType, ItemStyle, Trigger};
    use charming::series::GaugeDetail;
    use serde_json::{json, Value};

    /// The same builder calls on charming's `Chart` and on ours, as JSON.
    macro_rules! both {
        ($($call:tt)*) => {
            (
                serde_json::to_value(charming::Chart::new() $($call)*).unwrap(),
                serde_json::to_value(Chart::new() $($call)*).unwrap(),
            )
        };
    }

    #[test]
    fn every_part_serializes_as_charming_writes_it() {
        let (theirs, ours): (Value, Value) = both! {
            .background_color(Color::from("transparent"))
            .animation(false)
            .tooltip(Tooltip::new().trigger(Trigger::Axis).formatter("{b}: {c}"))
            .legend(Legend::new().data(vec!["a", "b"]))
            .grid(Grid::new().left(8).right(20).top(16).bottom(4).contain_label(true))
            .x_axis(Axis::new().type_(AxisType::Category).data(vec!["DE", "FR"]))
            .y_axis(Axis::new().type_(AxisType::Value).scale(true))
            .color(vec![Color::from("#5b8cff"), Color::from("#2fd08b")])
            .series(Bar::new().name("a").item_style(ItemStyle::new().border_radius(4)).data(vec![3.0, 1.5]))
            .series(Line::new().name("b").show_symbol(false).data(vec![1.0, 2.0]))
            .series(Pie::new().radius(vec!["40%", "70%"]).data(vec![(5.0, "x")]))
            .series(Gauge::new().detail(GaugeDetail::new().formatter("{value} %")).data(vec![(12.5, "CPU")]))
        };
        assert_eq!(ours, theirs);
        // The parts are really there (not two empty objects).
        assert_eq!(ours["xAxis"]["data"], json!(["DE", "FR"]));
        assert_eq!(ours["series"][0]["type"], json!("bar"));
        assert_eq!(ours["series"][3]["type"], json!("gauge"));
        assert_eq!(ours["legend"]["data"][1]["name"], json!("b"));
        assert_eq!(ours["animation"], json!(false));
        assert_eq!(ours["color"][1], json!("#2fd08b"));
    }

    #[test]
    fn one_axis_is_an_object_two_are_an_array_and_nothing_is_left_out() {
        let (theirs, ours) = both! {
            .x_axis(Axis::new().type_(AxisType::Category))
            .y_axis(Axis::new().type_(AxisType::Value))
            .y_axis(Axis::new().type_(AxisType::Log))
        };
        assert_eq!(ours, theirs);
        assert!(ours["xAxis"].is_object(), "{ours}");
        assert_eq!(ours["yAxis"][1]["type"], json!("log"));
        let (theirs, ours) = both! {};
        assert_eq!(ours, theirs);
        assert_eq!(ours, json!({}));
    }
}
