//! Command-line flags; every flag is also read from a `LIVEDASH_*`
//! environment variable.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Smallest accepted `--tick-ms`.
pub const MIN_TICK_MS: u64 = 20;
/// Smallest useful `--system-ms`: sysinfo's minimum CPU update interval.
pub const MIN_SYSTEM_MS: u64 = 200;

/// livedash: a real-time dashboard server. Streams live theLook eCommerce
/// orders and host metrics over WebSockets and serves the dashboard page.
#[derive(Parser, Debug, Clone)]
#[command(name = "livedash", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "LIVEDASH_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,

    /// Directory of the built page bundle (trunk's dist/) served at `/`.
    #[arg(long, env = "LIVEDASH_DIST", default_value = "dist")]
    pub dist: PathBuf,

    /// Period of `orders` frames in milliseconds (at least 20).
    #[arg(long, env = "LIVEDASH_TICK_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(MIN_TICK_MS..))]
    pub tick_ms: u64,

    /// Period of `system` samples in milliseconds; values below 200 (sysinfo's
    /// minimum CPU interval) are raised to 200 with a warning.
    #[arg(long, env = "LIVEDASH_SYSTEM_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub system_ms: u64,

    /// Mean generated orders per second (theLook generator).
    #[arg(long, env = "LIVEDASH_ORDERS_PER_SEC", default_value_t = 2.0, value_parser = parse_rate)]
    pub orders_per_sec: f64,

    /// KPI window, e.g. `5m`, `300s`, `1h`.
    #[arg(long, env = "LIVEDASH_LOOKBACK", default_value = "5m", value_parser = parse_lookback)]
    pub lookback: Duration,

    /// Points of KPI and system history kept for snapshots.
    #[arg(long, env = "LIVEDASH_HISTORY", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub history: u64,

    /// Seed of the generator (default: random); the same seed gives the same orders.
    #[arg(long, env = "LIVEDASH_SEED")]
    pub seed: Option<u64>,

    /// Extra browser origin allowed to open /ws (repeatable; comma-separated in the env var),
    /// e.g. the CDN that serves the page: `--allowed-origin https://dash.example.com`.
    #[arg(
        long = "allowed-origin",
        env = "LIVEDASH_ALLOWED_ORIGIN",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// Maximum concurrent WebSocket connections; more get HTTP 503.
    #[arg(long, env = "LIVEDASH_MAX_CONNECTIONS", default_value_t = 50_000)]
    pub max_connections: u64,

    /// Maximum concurrent WebSocket connections per client IP (0 = no cap;
    /// loopback is exempt unless --limit-loopback, so local load tests work).
    #[arg(long, env = "LIVEDASH_MAX_PER_IP", default_value_t = 0)]
    pub max_per_ip: u64,

    /// Apply --max-per-ip to loopback addresses too (a server behind a local
    /// reverse proxy, or a test of the cap).
    #[arg(long, env = "LIVEDASH_LIMIT_LOOPBACK")]
    pub limit_loopback: bool,

    /// Frames the broadcast ring holds; a client further behind gets a
    /// snapshot instead (and after 10 such lags in a minute, close 4008).
    #[arg(long, env = "LIVEDASH_RING_CAPACITY", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(16..=65536))]
    pub ring_capacity: u64,

    /// Frames (all topics together) kept for resume by seq: a client that
    /// reconnects with `?since=` or `resume {since}` gets what it missed
    /// from these instead of a snapshot. At the default rates (about four
    /// frames a second) 4096 frames are ~17 minutes; each holds its JSON
    /// (and the records-free copy of `orders`), ~1-6 KiB: ~4-25 MiB.
    #[arg(long, env = "LIVEDASH_RESUME_FRAMES", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(512..=1_000_000))]
    pub resume_frames: u64,

    /// Several replicas on one stream: Redis assigns every topic frame its
    /// `seq` (one Lua script appends it to the topic's stream) and every
    /// replica serves what it reads back, so all serve the same frames with
    /// the same seqs. e.g. `redis://127.0.0.1:6379/` or
    /// `redis+unix:///run/redis.sock`. Without it, seqs come from this
    /// process (one replica).
    #[arg(long, env = "LIVEDASH_REDIS", value_parser = crate::broker::redis::parse_url)]
    pub redis: Option<String>,

    /// Entries kept per topic stream in Redis (`XADD MAXLEN ~`): how far
    /// back a client can resume on any replica.
    #[arg(long, env = "LIVEDASH_REDIS_STREAM_LEN", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=10_000_000))]
    pub redis_stream_len: u64,

    /// A write to a client blocked this long closes it as too slow (4008).
    #[arg(long, env = "LIVEDASH_WRITE_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..))]
    pub write_timeout_ms: u64,

    /// Server heartbeat: ping every N ms; a client silent for 2 periods is closed.
    #[arg(long, env = "LIVEDASH_PING_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(100..))]
    pub ping_ms: u64,

    /// Kernel send buffer per connection in KiB (0 = the kernel's autotuning).
    /// A frozen tab can hold at most this much before writes to it block.
    #[arg(long, env = "LIVEDASH_SEND_BUFFER_KIB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(0..=65536))]
    pub send_buffer_kib: u64,

    /// Refuse every `/ws` upgrade (403), as a network or proxy that blocks
    /// WebSockets would, so pages use `/api/stream` (Server-Sent Events).
    /// For tests of that fallback; hidden from `--help`.
    #[arg(long, env = "LIVEDASH_DISABLE_WEBSOCKET", hide = true)]
    pub disable_websocket: bool,

    /// Token viewers must present (`?token=` on /ws and /api/snapshot, or an
    /// `auth` frame first); default: open to anyone allowed by Origin.
    #[arg(long, env = "LIVEDASH_VIEWER_TOKEN", hide_env_values = true)]
    pub viewer_token: Option<Secret>,

    /// Token for the control endpoints `POST /api/streams/{orders|system}/{start|stop}`
    /// (`Authorization: Bearer TOKEN`); without it they are disabled.
    #[arg(long, env = "LIVEDASH_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,

    /// A DNS name this server is reached by (repeatable; comma-separated in
    /// the env var), e.g. `--public-host dash.example.com`. IP addresses and
    /// `localhost` always work; for other names the page's own origin may
    /// open /ws and /api/* answers only when listed (DNS-rebinding defence).
    #[arg(
        long = "public-host",
        env = "LIVEDASH_PUBLIC_HOST",
        value_delimiter = ',',
        value_parser = parse_public_host
    )]
    pub public_hosts: Vec<String>,

    /// Another livedash the page may connect to (repeatable; comma-separated
    /// in the env var), added to the page's CSP `connect-src`: for pages
    /// pointed elsewhere with `?server=`, e.g. `--connect-src https://data.example.com`.
    #[arg(
        long = "connect-src",
        env = "LIVEDASH_CONNECT_SRC",
        value_delimiter = ',',
        value_parser = parse_connect_src
    )]
    pub connect_src: Vec<String>,

    /// Who may embed the page in a frame: CSP `frame-ancestors` sources
    /// (comma- or space-separated), e.g. `--frame-ancestors https://portal.example.com`.
    /// Default: nobody (`frame-ancestors 'none'` and `X-Frame-Options: DENY`).
    #[arg(
        long = "frame-ancestors",
        env = "LIVEDASH_FRAME_ANCESTORS",
        value_delimiter = ',',
        value_parser = parse_frame_ancestors
    )]
    pub frame_ancestors: Vec<String>,

    /// Where `orders` come from: `generator` (the built-in theLook
    /// generator; HTTP-ingested records are added when --ingest-token is
    /// set), `ingest` (only records pushed to `POST /api/ingest/orders`;
    /// needs --ingest-token) or `postgres` (rows inserted into
    /// `ecommerce.order_items`; the default when --postgres is given).
    #[arg(long, env = "LIVEDASH_SOURCE", value_enum, default_value_t = SourceKind::Generator,
          default_value_if("postgres", clap::builder::ArgPredicate::IsPresent, Some("postgres")))]
    pub source: SourceKind,

    /// PostgreSQL to tail theLook orders from, as a URL
    /// (`postgresql://user:password@host:5432/db`) or key=value conninfo
    /// (`host=/run/postgresql dbname=thelook`). livedash creates its own
    /// objects in schema `livedash` and a trigger on `ecommerce.order_items`
    /// (see the README). Never logged: it may hold a password.
    #[arg(long, env = "LIVEDASH_POSTGRES", hide_env_values = true,
          value_parser = PostgresParser, required_if_eq("source", "postgres"))]
    pub postgres: Option<Secret>,

    /// Token for `POST /api/ingest/orders` (`Authorization: Bearer TOKEN`);
    /// without it the endpoint answers 404.
    #[arg(
        long,
        env = "LIVEDASH_INGEST_TOKEN",
        hide_env_values = true,
        required_if_eq("source", "ingest")
    )]
    pub ingest_token: Option<Secret>,

    /// Largest accepted ingest body in bytes (after gzip decoding); a
    /// bigger one gets 413 and is not read further.
    #[arg(long, env = "LIVEDASH_INGEST_MAX_BYTES", default_value_t = 10 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1024..=1024 * 1024 * 1024))]
    pub ingest_max_bytes: u64,

    /// Directory of the embedded store (SQLite: dashboards; created when
    /// missing). Keep it across restarts; one directory per server.
    #[arg(long, env = "LIVEDASH_DATA_DIR", default_value = "./livedash-data")]
    pub data_dir: PathBuf,

    /// Ingested records waiting for the next orders tick, at most; a request
    /// that would exceed it gets 429 with `Retry-After`.
    #[arg(long, env = "LIVEDASH_INGEST_QUEUE", default_value_t = 200_000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub ingest_queue: u64,

    /// Most order records a `/compat/thelook/ws` frame holds (the newest of
    /// the lookback window); each is ~250 bytes of every frame to every
    /// socket, every 5 s.
    #[arg(long, env = "LIVEDASH_COMPAT_MAX_RECORDS", default_value_t = 20_000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub compat_max_records: u64,

    /// Distinct filter sets (`?var-country=...`) aggregated at once; each
    /// costs one aggregator and one frame per tick, shared by every tab
    /// that uses it. A connection asking for one more gets an error frame.
    /// 0 turns filters off (and the window of records kept to fill them).
    #[arg(long, env = "LIVEDASH_MAX_FILTER_SETS", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub max_filter_sets: u64,

    /// Distinct named series `POST /api/v2/write` may create (every
    /// measurement/field/tag-set is one); a request that would pass it is
    /// refused whole with 422.
    #[arg(long, env = "LIVEDASH_MAX_SERIES", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_series: u64,

    /// Points kept per named series for snapshots (a new tab draws them at
    /// once).
    #[arg(long, env = "LIVEDASH_SERIES_POINTS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub series_points: u64,

    /// How long every series is kept at full resolution in memory
    /// (`/api/history`); older points are in the minute tier only.
    #[arg(long, env = "LIVEDASH_HISTORY_RETENTION", default_value = "24h",
          value_parser = parse_retention)]
    pub history_retention: Duration,

    /// Full-resolution points kept over all series, at most (12 bytes
    /// each); past it the oldest go first. The default holds 24 h of about
    /// 115 points a second (the default series need ~31).
    #[arg(long, env = "LIVEDASH_HISTORY_MAX_POINTS", default_value_t = 10_000_000,
          value_parser = clap::value_parser!(u64).range(10_000..=1_000_000_000))]
    pub history_max_points: u64,

    /// Days the 1-minute tier (min/max/avg/count per series and minute) is
    /// kept in the store under --data-dir.
    #[arg(long, env = "LIVEDASH_HISTORY_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub history_days: u64,
}

/// livedash: a real-time dashboard server. Streams live theLook eCommerce
/// orders and host metrics over WebSockets and serves the dashboard page.
/// Without a subcommand it serves; `livedash produce` writes fake theLook
/// data into PostgreSQL instead.
#[derive(Parser, Debug)]
#[command(name = "livedash", version, about, long_about = None)]
pub struct Cli {
    /// A subcommand instead of the server.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The server's flags (used when there is no subcommand).
    #[command(flatten)]
    pub server: Config,
}

/// What `livedash` can do besides serving.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Write fake theLook users, orders and order items into PostgreSQL
    /// (schema `ecommerce`, the tutorial's tables) until stopped.
    Produce(crate::produce::Args),
}

/// Where the `orders` stream's records come from.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// The built-in theLook generator (plus ingested records, if enabled).
    Generator,
    /// Only records pushed to `POST /api/ingest/orders`.
    Ingest,
    /// Rows inserted into `ecommerce.order_items` in `--postgres`.
    Postgres,
}

impl SourceKind {
    /// The name `/healthz` reports.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Generator => "generator",
            SourceKind::Ingest => "ingest",
            SourceKind::Postgres => "postgres",
        }
    }
}

/// A token: its `Debug` never shows the value, so it cannot reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("a token cannot be empty".into());
        }
        Ok(Secret(s.to_string()))
    }
}

impl Secret {
    /// Whether `presented` is this token (constant time in the token).
    pub fn matches(&self, presented: &str) -> bool {
        token_eq(presented, &self.0)
    }
}

/// Compare a presented token with the expected one in time that depends
/// only on their lengths, not on where they differ.
pub fn token_eq(presented: &str, expected: &str) -> bool {
    let (a, b) = (presented.as_bytes(), expected.as_bytes());
    let mut diff = (a.len() ^ b.len()) as u64;
    for (i, &x) in b.iter().enumerate() {
        diff |= (a.get(i).copied().unwrap_or(0) ^ x) as u64;
    }
    diff == 0
}

fn parse_public_host(s: &str) -> Result<String, String> {
    let name = s.trim();
    match crate::web::host_name(name) {
        Some(n) if !name.ends_with(']') && n == name.trim_end_matches('.').to_ascii_lowercase() => {
            Ok(n)
        }
        _ => Err(format!(
            "{s:?} is not a host name (give the name alone, without scheme or port)"
        )),
    }
}

fn parse_connect_src(s: &str) -> Result<String, String> {
    if crate::web::connect_sources(s).is_empty() {
        return Err(format!(
            "{s:?} is not a server address (try https://dash.example.com or ws://10.0.0.5:8000)"
        ));
    }
    Ok(s.trim().to_string())
}

fn parse_frame_ancestors(s: &str) -> Result<String, String> {
    let v = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if v.is_empty() || v.contains(|c: char| c == ';' || c.is_control() || !c.is_ascii()) {
        return Err(format!(
            "{s:?} is not a list of CSP frame-ancestors sources"
        ));
    }
    Ok(v)
}

/// Parses `--postgres`: a URL or conninfo that tokio-postgres accepts. Its
/// error never repeats the value (clap's usual "invalid value '...'" would
/// print the password).
#[derive(Clone)]
struct PostgresParser;

impl clap::builder::TypedValueParser for PostgresParser {
    type Value = Secret;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Secret, clap::Error> {
        let bad = |why: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!(
                    "--postgres is not a PostgreSQL URL or conninfo ({why}); try \
                     postgresql://user:password@host:5432/db or \"host=/run/postgresql dbname=thelook\"\n"
                ),
            )
            .with_cmd(cmd)
        };
        let s = value.to_str().ok_or_else(|| bad("not UTF-8".into()))?;
        match s.parse::<tokio_postgres::Config>() {
            Ok(_) => Ok(Secret(s.to_string())),
            Err(e) => Err(bad(e.to_string())),
        }
    }
}

pub(crate) fn parse_rate(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if !(0.0..=100_000.0).contains(&v) || v.is_nan() {
        return Err("must be between 0 and 100000".into());
    }
    Ok(v)
}

fn parse_lookback(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (try 5m, 300s or 1h)"))?;
    if d < Duration::from_secs(1) || d > Duration::from_secs(7 * 24 * 3600) {
        return Err("must be between 1s and 7 days".into());
    }
    Ok(d)
}

fn parse_retention(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (try 24h or 2d)"))?;
    if d < Duration::from_secs(60) || d > Duration::from_secs(31 * 24 * 3600) {
        return Err("must be between 1m and 31 days".into());
    }
    Ok(d)
}

impl Default for Config {
    fn default() -> Self {
        Config::parse_from(["livedash"])
    }
}

impl Config {
    /// The system sample period after clamping to sysinfo's minimum.
    pub fn system_period(&self) -> Duration {
        Duration::from_millis(self.system_ms.max(MIN_SYSTEM_MS))
    }

    /// The orders tick period.
    pub fn tick_period(&self) -> Duration {
        Duration::from_millis(self.tick_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_spec() {
        let c = Config::default();
        assert_eq!(c.addr.to_string(), "127.0.0.1:8000");
        assert_eq!(c.tick_ms, 1000);
        assert_eq!(c.system_ms, 1000);
        assert_eq!(c.orders_per_sec, 2.0);
        assert_eq!(c.lookback, Duration::from_secs(300));
        assert_eq!(c.history, 3600);
        assert!(c.max_connections >= 20_000);
        assert_eq!(c.data_dir, PathBuf::from("./livedash-data"));
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(token_eq("s3cret", "s3cret"));
        assert!(!token_eq("s3cre", "s3cret"));
        assert!(!token_eq("s3cret!", "s3cret"));
        assert!(!token_eq("S3cret", "s3cret"));
        assert!(!token_eq("", "s3cret"));
        let c = Config::try_parse_from(["livedash", "--viewer-token", "hunter2"]).unwrap();
        assert!(
            !format!("{c:?}").contains("hunter2"),
            "tokens never show in Debug"
        );
        assert!(c.viewer_token.unwrap().matches("hunter2"));
    }

    #[test]
    fn bad_values_are_refused_with_a_message() {
        assert!(Config::try_parse_from(["livedash", "--tick-ms", "19"]).is_err());
        assert!(Config::try_parse_from(["livedash", "--tick-ms", "20"]).is_ok());
        let e = Config::try_parse_from(["livedash", "--lookback", "5 parsecs"]).unwrap_err();
        assert!(e.to_string().contains("lookback"), "{e}");
        assert!(Config::try_parse_from(["livedash", "--addr", "nope"]).is_err());
        let c = Config::try_parse_from(["livedash", "--system-ms", "50"]).unwrap();
        assert_eq!(c.system_period(), Duration::from_millis(200));
        let c = Config::try_parse_from([
            "livedash",
            "--allowed-origin",
            "https://a.example",
            "--allowed-origin",
            "https://b.example",
        ])
        .unwrap();
        assert_eq!(c.allowed_origins.len(), 2);
    }

    #[test]
    fn source_flags() {
        let c = Config::default();
        assert_eq!(c.source, SourceKind::Generator);
        assert!(c.ingest_token.is_none());
        assert_eq!(c.ingest_max_bytes, 10 * 1024 * 1024);
        let e = Config::try_parse_from(["livedash", "--source", "ingest"]).unwrap_err();
        assert!(e.to_string().contains("ingest-token"), "{e}");
        let c = Config::try_parse_from(["livedash", "--source", "ingest", "--ingest-token", "t0k"])
            .unwrap();
        assert_eq!(c.source, SourceKind::Ingest);
        assert!(!format!("{c:?}").contains("t0k"));
        let e = Config::try_parse_from(["livedash", "--source", "postgres"]).unwrap_err();
        assert!(e.to_string().contains("--postgres"), "{e}");
        assert_eq!((c.max_series, c.series_points), (10_000, 300));
        assert!(Config::try_parse_from(["livedash", "--max-series", "0"]).is_err());
    }

    #[test]
    fn postgres_flag_selects_the_postgres_source_and_stays_secret() {
        let url = "postgresql://shop:hunter2@db.example:5432/thelook";
        let c = Config::try_parse_from(["livedash", "--postgres", url]).unwrap();
        assert_eq!(c.source, SourceKind::Postgres);
        assert_eq!(c.postgres.as_ref().unwrap().0, url);
        assert!(!format!("{c:?}").contains("hunter2"));
        let c =
            Config::try_parse_from(["livedash", "--postgres", "host=/tmp user=postgres"]).unwrap();
        assert_eq!(c.source, SourceKind::Postgres);
        let e = Config::try_parse_from([
            "livedash",
            "--postgres",
            "postgresql://u:hunter2@h:notaport/db",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("is not a PostgreSQL URL"), "{e}");
        assert!(!e.contains("hunter2"), "the password is never echoed: {e}");
    }
}
