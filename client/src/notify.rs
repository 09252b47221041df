//! One browser Notification per alert per browser, not per tab: every tab
//! of the page gets the same `alert` frame; the first to take the Web Lock
//! `livedash-alert-<seq>` (`navigator.locks.request(.., {ifAvailable:
//! true})`) checks and moves the localStorage marker of the last alert
//! notified, and only a tab that moved it shows the Notification. The
//! decisions are pure and tested here; [`crate::hooks::use_notify`] does
//! the browser calls.

/// localStorage key: the seq of the last alert this browser notified.
pub const MARKER_KEY: &str = "livedash.alert.notified";
/// localStorage key: `on` when the person asked for notifications.
pub const OPT_IN_KEY: &str = "livedash.notify";

/// How long the tab that notified keeps an alert's lock (ms): tabs that
/// get the same alert within it find the lock taken and stay silent.
pub const HOLD_MS: i32 = 30_000;

/// The Web Lock name of an alert.
pub fn lock_name(seq: u64) -> String {
    format!("livedash-alert-{seq}")
}

/// The marker as stored (absent or unreadable: nothing notified yet).
pub fn parse_marker(stored: Option<&str>) -> u64 {
    stored.and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// What a tab does with a new alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Show it and store `seq` as the marker.
    Notify,
    /// Another tab (or an earlier load of this one) already did.
    AlreadyNotified,
    /// The person did not allow notifications (or did not ask for them).
    NotAllowed,
}

/// Decide for alert `seq` with the stored marker, whether the browser
/// granted the permission, and whether the person turned them on.
pub fn decide(seq: u64, marker: u64, granted: bool, opted_in: bool) -> Decision {
    if !granted || !opted_in {
        Decision::NotAllowed
    } else if seq <= marker {
        Decision::AlreadyNotified
    } else {
        Decision::Notify
    }
}

/// The Notification's title for an alert level and state.
pub fn title(level: livedash_shared::Level, firing: bool) -> String {
    let l = match level {
        livedash_shared::Level::Info => "info",
        livedash_shared::Level::Warn => "warning",
        livedash_shared::Level::Alert => "alert",
    };
    if firing {
        format!("livedash {l}")
    } else {
        "livedash: resolved".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_tab_notifies_each_alert() {
        // Three tabs see alert 7 one after the other (the lock orders
        // them); the marker moves once.
        let mut marker = parse_marker(None);
        let mut shown = 0;
        for _tab in 0..3 {
            if decide(7, marker, true, true) == Decision::Notify {
                marker = 7;
                shown += 1;
            }
        }
        assert_eq!((shown, marker), (1, 7));
        assert_eq!(decide(7, 7, true, true), Decision::AlreadyNotified);
        assert_eq!(
            decide(6, 7, true, true),
            Decision::AlreadyNotified,
            "an old frame after a reload"
        );
        assert_eq!(decide(8, 7, true, true), Decision::Notify);
    }

    #[test]
    fn nothing_without_permission_and_opt_in() {
        assert_eq!(decide(1, 0, false, true), Decision::NotAllowed);
        assert_eq!(decide(1, 0, true, false), Decision::NotAllowed);
    }

    #[test]
    fn markers_and_names() {
        assert_eq!(parse_marker(Some("41")), 41);
        assert_eq!(parse_marker(Some("junk")), 0);
        assert_eq!(lock_name(41), "livedash-alert-41");
        assert_eq!(title(livedash_shared::Level::Alert, true), "livedash alert");
        assert_eq!(
            title(livedash_shared::Level::Warn, false),
            "livedash: resolved"
        );
    }
}
