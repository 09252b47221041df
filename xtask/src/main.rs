//! `cargo xtask <run|test|bench>`: livedash's project automation.

mod bench;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench::main(&args[1..]),
        other => Err(format!("unknown command {other:?}; try run | test | bench")),
    };
    if let Err(e) = result {
        eprintln!("xtask: {e}");
        std::process::exit(1);
    }
}
