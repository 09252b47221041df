//! livedash page entry point.

use livedash_client::components::app::App;

fn main() {
    yew::Renderer::<App>::new().render();
}
