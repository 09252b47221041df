//! The page theme: light, dark, or the system's. Pure, tested natively;
//! `hooks/use_theme.rs` applies it (the root element's `data-theme`, the
//! CSS variables under it, and the charts' palette and ECharts theme).
//!
//! Which one: `?theme=light|dark|system` in the page URL wins, then what
//! the person picked last (localStorage), then the system's.

/// localStorage key of the picked theme.
pub const STORAGE_KEY: &str = "livedash.theme";

/// What the person asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemePref {
    /// Always light.
    Light,
    /// Always dark.
    Dark,
    /// Follow the system (`prefers-color-scheme`).
    System,
}

impl ThemePref {
    /// Every choice, in picker order.
    pub const ALL: [ThemePref; 3] = [ThemePref::System, ThemePref::Light, ThemePref::Dark];

    /// From `light`, `dark` or `system`.
    pub fn parse(s: &str) -> Option<ThemePref> {
        match s.trim() {
            "light" => Some(ThemePref::Light),
            "dark" => Some(ThemePref::Dark),
            "system" => Some(ThemePref::System),
            _ => None,
        }
    }

    /// The name (URL value, storage value, picker value).
    pub fn as_str(self) -> &'static str {
        match self {
            ThemePref::Light => "light",
            ThemePref::Dark => "dark",
            ThemePref::System => "system",
        }
    }

    /// What the picker says.
    pub fn label(self) -> &'static str {
        match self {
            ThemePref::Light => "Light",
            ThemePref::Dark => "Dark",
            ThemePref::System => "System",
        }
    }

    /// The theme drawn: `light` or `dark`.
    pub fn resolve(self, system_dark: bool) -> &'static str {
        match self {
            ThemePref::Light => "light",
            ThemePref::Dark => "dark",
            ThemePref::System if system_dark => "dark",
            ThemePref::System => "light",
        }
    }
}

/// The preference at start: the URL's `theme` parameter when valid, else
/// the stored one, else the system's.
pub fn initial(url_theme: Option<&str>, stored: Option<&str>) -> ThemePref {
    url_theme
        .and_then(ThemePref::parse)
        .or_else(|| stored.and_then(ThemePref::parse))
        .unwrap_or(ThemePref::System)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_wins_then_storage_then_the_system() {
        assert_eq!(initial(Some("light"), Some("dark")), ThemePref::Light);
        assert_eq!(initial(Some("bogus"), Some("dark")), ThemePref::Dark);
        assert_eq!(initial(None, Some("system")), ThemePref::System);
        assert_eq!(initial(None, None), ThemePref::System);
        assert_eq!(initial(None, Some("x")), ThemePref::System);
    }

    #[test]
    fn system_follows_the_media_query() {
        assert_eq!(ThemePref::System.resolve(true), "dark");
        assert_eq!(ThemePref::System.resolve(false), "light");
        assert_eq!(ThemePref::Light.resolve(true), "light");
        assert_eq!(ThemePref::Dark.resolve(false), "dark");
        for p in ThemePref::ALL {
            assert_eq!(ThemePref::parse(p.as_str()), Some(p));
        }
    }
}
