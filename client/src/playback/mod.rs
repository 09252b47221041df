//! Playback of a past range (`?from=&to=`): the range the URL names, the
//! cursor, play / pause and speed, as a pure reducer tested natively. The
//! hook [`crate::hooks::use_playback`] does the I/O (URL, `/api/history`,
//! the play timer); [`view`] turns the fetched points into the state the
//! widgets draw at the cursor.
//!
//! The live state keeps receiving frames during playback (the socket
//! stays open and the reducer applies every frame): going back to live
//! only switches what is drawn, so the stream continues by `seq` with no
//! gap and no duplicate by construction.

pub mod view;

use livedash_shared::time::parse_time;
use std::collections::BTreeMap;
use std::rc::Rc;
use yew::Reducible;

/// The speeds a person can pick (times real time).
pub const SPEEDS: [u32; 6] = [1, 2, 5, 10, 30, 60];

/// Points fetched per series (`max_points` of `/api/history`).
pub const MAX_POINTS: usize = 2000;

/// A range the URL (or the person) opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// `from` as written (`now-5m`, or Unix ms): kept for the URL so a
    /// shared link means the same relative range.
    pub from_text: String,
    /// `to` as written (`now` when the URL left it out).
    pub to_text: String,
    /// Start, Unix ms, resolved when the range opened.
    pub from: u64,
    /// End, Unix ms, resolved when the range opened.
    pub to: u64,
}

/// The range a page query string (`?from=now-5m&to=now&d=x`) names:
/// `None` without `from`; an error for a bad time or from after to.
pub fn range_of(search: &str, now: u64) -> Option<Result<Range, String>> {
    let q = search.strip_prefix('?').unwrap_or(search);
    let get = |key: &str| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let from_text = get("from")?;
    let to_text = get("to").unwrap_or_else(|| "now".into());
    Some(resolve(&from_text, &to_text, now))
}

/// Resolve `from` / `to` texts at `now`.
pub fn resolve(from_text: &str, to_text: &str, now: u64) -> Result<Range, String> {
    let from = parse_time(from_text, now).map_err(|e| format!("from: {e}"))?;
    let to = parse_time(to_text, now).map_err(|e| format!("to: {e}"))?;
    if from >= to {
        return Err(format!("from ({from_text}) must be before to ({to_text})"));
    }
    Ok(Range {
        from_text: from_text.to_string(),
        to_text: to_text.to_string(),
        from,
        to,
    })
}

/// The points of each series fetched for a range, oldest first.
pub type Series = BTreeMap<String, Vec<(u64, f64)>>;

/// Where the data of an open range stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// `/api/history` asked, no answer yet.
    Loading,
    /// The points (shared: cloning the model copies a pointer).
    Ready(Rc<Series>),
    /// Why it could not be had (shown in the bar).
    Failed(String),
}

/// An open range and where the cursor is.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The range.
    pub range: Range,
    /// The time drawn, Unix ms, within the range.
    pub cursor: u64,
    /// Playing (the cursor moves with the clock × speed) or paused.
    pub playing: bool,
    /// Times real time, one of [`SPEEDS`].
    pub speed: u32,
    /// The fetched points.
    pub data: Data,
}

/// Playback: nothing open (live), or a session.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Model {
    /// The open range, if any.
    pub session: Option<Session>,
}

/// What changes playback.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// Open a range: the cursor at its end, paused, 1×.
    Open(Range),
    /// `/api/history` answered for the range starting at `from`.
    Loaded { from: u64, series: Rc<Series> },
    /// `/api/history` failed for the range starting at `from`.
    Failed { from: u64, why: String },
    /// Move the cursor (clamped to the range).
    Seek(u64),
    /// Play or pause; playing at the end starts over from the start.
    Toggle,
    /// Pick a speed (ignored unless one of [`SPEEDS`]).
    Speed(u32),
    /// The play timer: `ms` of real time passed.
    Tick(u64),
    /// Back to live.
    Close,
}

impl Session {
    fn apply(&mut self, msg: Msg) {
        let r = &self.range;
        match msg {
            Msg::Loaded { from, series } if from == r.from => self.data = Data::Ready(series),
            Msg::Failed { from, why } if from == r.from => self.data = Data::Failed(why),
            Msg::Seek(t) => self.cursor = t.clamp(r.from, r.to),
            Msg::Toggle if self.playing => self.playing = false,
            Msg::Toggle => {
                if self.cursor >= r.to {
                    self.cursor = r.from;
                }
                self.playing = true;
            }
            Msg::Speed(s) if SPEEDS.contains(&s) => self.speed = s,
            Msg::Tick(ms) if self.playing => {
                let next = self
                    .cursor
                    .saturating_add(ms.saturating_mul(self.speed as u64));
                self.cursor = next.min(r.to);
                self.playing = self.cursor < r.to;
            }
            _ => {}
        }
    }
}

impl Model {
    /// Apply one message in place.
    pub fn apply(&mut self, msg: Msg) {
        match msg {
            Msg::Open(range) => {
                self.session = Some(Session {
                    cursor: range.to,
                    range,
                    playing: false,
                    speed: 1,
                    data: Data::Loading,
                })
            }
            Msg::Close => self.session = None,
            other => {
                if let Some(s) = self.session.as_mut() {
                    s.apply(other);
                }
            }
        }
    }
}

impl Reducible for Model {
    type Action = Msg;

    fn reduce(self: Rc<Self>, msg: Msg) -> Rc<Self> {
        let mut next = (*self).clone();
        next.apply(msg);
        Rc::new(next)
    }
}

/// Series one `/api/history` request may name (the server's bound).
pub const SERIES_PER_REQUEST: usize = 16;

/// The `/api/history` query strings for a range: the built-in series and
/// the breakdowns among `known` (from `/api/series`; a series the server
/// does not know yet is not asked for), at most
/// [`SERIES_PER_REQUEST`] per request, with the viewer token if any.
pub fn history_queries(known: &[String], r: &Range, token: Option<&str>) -> Vec<String> {
    let names: Vec<&str> = view::base_series()
        .map(|b| -> &str { b })
        .filter(|b| known.iter().any(|k| k == b))
        .chain(
            known
                .iter()
                .map(String::as_str)
                .filter(|k| view::is_breakdown(k)),
        )
        .collect();
    names
        .chunks(SERIES_PER_REQUEST)
        .map(|chunk| {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for n in chunk {
                q.append_pair("series", n);
            }
            q.append_pair("from", &r.from.to_string())
                .append_pair("to", &r.to.to_string())
                .append_pair("max_points", &MAX_POINTS.to_string());
            if let Some(t) = token {
                q.append_pair("token", t);
            }
            q.finish()
        })
        .collect()
}

/// The page's query string with the range set (`Some((from, to))`) or
/// taken out (`None`), every other parameter kept in order: what the
/// address bar shows, so a link shares the range.
pub fn search_with(search: &str, range: Option<(&str, &str)>) -> String {
    let q = search.strip_prefix('?').unwrap_or(search);
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        if k != "from" && k != "to" {
            out.append_pair(&k, &v);
        }
    }
    if let Some((from, to)) = range {
        out.append_pair("from", from).append_pair("to", to);
    }
    let s = out.finish();
    if s.is_empty() {
        s
    } else {
        format!("?{s}")
    }
}

/// The points of `points` (time-ordered) at or before `cursor`.
pub fn visible(points: &[(u64, f64)], cursor: u64) -> &[(u64, f64)] {
    &points[..points.partition_point(|p| p.0 <= cursor)]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    #[test]
    fn the_url_names_a_range() {
        assert_eq!(range_of("?d=x", NOW), None);
        let r = range_of("?d=x&from=now-5m&to=now", NOW).unwrap().unwrap();
        assert_eq!((r.from, r.to), (NOW - 300_000, NOW));
        assert_eq!(
            (r.from_text.as_str(), r.to_text.as_str()),
            ("now-5m", "now")
        );
        let r = range_of("from=1000&to=5000", NOW).unwrap().unwrap();
        assert_eq!((r.from, r.to), (1000, 5000));
        let r = range_of("?from=now%2D1h", NOW).unwrap().unwrap();
        assert_eq!((r.from, r.to), (NOW - 3_600_000, NOW), "to defaults to now");
        let r = range_of("?from=now-1d&to=now-1h", NOW).unwrap().unwrap();
        assert_eq!(r.to - r.from, 23 * 3_600_000);
        assert!(range_of("?from=5000&to=1000", NOW).unwrap().is_err());
        assert!(range_of("?from=soon", NOW)
            .unwrap()
            .unwrap_err()
            .starts_with("from:"));
        assert!(range_of("?from=now-1h&to=later", NOW)
            .unwrap()
            .unwrap_err()
            .starts_with("to:"));
    }

    fn open() -> Model {
        let mut m = Model::default();
        m.apply(Msg::Open(resolve("1000", "11000", NOW).unwrap()));
        m
    }

    #[test]
    fn opening_puts_the_cursor_at_the_end_paused() {
        let m = open();
        let s = m.session.as_ref().unwrap();
        assert_eq!((s.cursor, s.playing, s.speed), (11_000, false, 1));
        assert_eq!(s.data, Data::Loading);
    }

    #[test]
    fn seeking_is_clamped_and_playing_moves_by_speed_then_stops_at_the_end() {
        let mut m = open();
        m.apply(Msg::Seek(0));
        assert_eq!(m.session.as_ref().unwrap().cursor, 1000);
        m.apply(Msg::Seek(99_999));
        assert_eq!(m.session.as_ref().unwrap().cursor, 11_000);
        m.apply(Msg::Seek(2000));
        m.apply(Msg::Tick(500));
        assert_eq!(m.session.as_ref().unwrap().cursor, 2000, "paused: no move");
        m.apply(Msg::Toggle);
        m.apply(Msg::Speed(7));
        m.apply(Msg::Speed(10));
        m.apply(Msg::Tick(250));
        let s = m.session.as_ref().unwrap();
        assert_eq!((s.cursor, s.speed, s.playing), (4500, 10, true));
        m.apply(Msg::Tick(10_000));
        let s = m.session.as_ref().unwrap();
        assert_eq!((s.cursor, s.playing), (11_000, false), "stops at the end");
        m.apply(Msg::Toggle);
        let s = m.session.as_ref().unwrap();
        assert_eq!(
            (s.cursor, s.playing),
            (1000, true),
            "play at the end restarts"
        );
        m.apply(Msg::Close);
        assert_eq!(m, Model::default());
        m.apply(Msg::Tick(5));
        assert_eq!(m, Model::default(), "nothing open: ignored");
    }

    #[test]
    fn answers_for_another_range_are_ignored() {
        let mut m = open();
        let series = Rc::new(Series::from([("a".to_string(), vec![(1000, 1.0)])]));
        m.apply(Msg::Loaded {
            from: 5,
            series: series.clone(),
        });
        assert_eq!(m.session.as_ref().unwrap().data, Data::Loading);
        m.apply(Msg::Loaded {
            from: 1000,
            series: series.clone(),
        });
        assert_eq!(m.session.as_ref().unwrap().data, Data::Ready(series));
        m.apply(Msg::Failed {
            from: 1000,
            why: "HTTP 500".into(),
        });
        assert_eq!(
            m.session.as_ref().unwrap().data,
            Data::Failed("HTTP 500".into())
        );
    }

    #[test]
    fn history_is_asked_for_known_series_sixteen_at_a_time() {
        let r = resolve("1000", "2000", NOW).unwrap();
        let mut known: Vec<String> = vec!["orders.num_orders".into(), "system.cpu_percent".into()];
        assert_eq!(
            history_queries(&known, &r, None),
            vec!["series=orders.num_orders&series=system.cpu_percent&from=1000&to=2000&max_points=2000"]
        );
        known.extend(view::base_series().map(String::from));
        known.extend((0..10).map(|i| format!("orders.revenue.country.Land {i}")));
        known.push("room.temp".into());
        let qs = history_queries(&known, &r, Some("t&k"));
        assert_eq!(qs.len(), 2);
        assert_eq!(qs[0].matches("series=").count(), 16);
        assert_eq!(qs[1].matches("series=").count(), 5);
        assert!(qs[1].contains("series=orders.revenue.country.Land+9&"));
        assert!(qs[1].ends_with("&token=t%26k"));
        assert!(!qs.iter().any(|q| q.contains("room.temp")));
    }

    #[test]
    fn the_address_bar_carries_the_range() {
        assert_eq!(
            search_with("?d=ops&from=1&to=2&theme=dark", Some(("now-5m", "now"))),
            "?d=ops&theme=dark&from=now-5m&to=now"
        );
        assert_eq!(search_with("?from=now-5m&to=now&d=ops", None), "?d=ops");
        assert_eq!(search_with("?from=now-5m&to=now", None), "");
        assert_eq!(search_with("", Some(("1", "2"))), "?from=1&to=2");
    }

    #[test]
    fn visible_points_end_at_the_cursor() {
        let p = [(10, 1.0), (20, 2.0), (30, 3.0)];
        assert_eq!(visible(&p, 5), &[] as &[(u64, f64)]);
        assert_eq!(visible(&p, 20), &p[..2]);
        assert_eq!(visible(&p, 25), &p[..2]);
        assert_eq!(visible(&p, 99), &p[..]);
    }
}
