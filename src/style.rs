//! The wire styles callq speaks, and the part of the URL space each owns.
//!
//! A style owns every path under its prefixes: its router serves them
//! (with a catch-all answering 404 in the style's error body), and whatever
//! answers a request before or instead of the handler (the timeout's 503,
//! the in-flight cap, an unknown `Content-Encoding`, the metric labels) asks
//! [`Style::of_path`] whose error format to speak. The prefix strings are
//! written here and nowhere else.
//!
//! A style is the HTTP side of a [`Protocol`]: the model records which
//! protocol a report arrived in and knows nothing of URLs; the style adds
//! where in the URL space that protocol is spoken. Names are the protocol's.

use crate::model::Protocol;

/// One wire style: a protocol module under `protocols/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Style {
    /// Skype for Business UCWA (`protocols::ucwa`).
    Ucwa,
    /// Microsoft Graph (`protocols::graph`).
    Graph,
    /// Plivo call insights (`protocols::plivo`).
    Plivo,
}

impl Style {
    /// Every style.
    pub const ALL: [Style; 3] = [Style::Ucwa, Style::Graph, Style::Plivo];

    /// The protocol its reports are stored as.
    pub const fn protocol(self) -> Protocol {
        match self {
            Style::Ucwa => Protocol::Ucwa,
            Style::Graph => Protocol::Graph,
            Style::Plivo => Protocol::Plivo,
        }
    }

    /// The style's name (its protocol's): metric label and log field.
    pub fn name(self) -> &'static str {
        self.protocol().as_str()
    }

    /// The path prefixes the style owns, each ending in `/`. Graph has one
    /// per API version (`/v1.0/`, `/beta/`); the two share one schema.
    pub const fn prefixes(self) -> &'static [&'static str] {
        match self {
            Style::Ucwa => &["/ucwa/"],
            Style::Graph => &["/v1.0/", "/beta/"],
            Style::Plivo => &["/v1/"],
        }
    }

    /// The first of [`Style::prefixes`]: the only one for UCWA and Plivo,
    /// Graph's `v1.0`.
    pub const fn prefix(self) -> &'static str {
        self.prefixes()[0]
    }

    /// The style owning `path`, if any. The prefixes do not overlap
    /// (`/v1.0/x` is not under `/v1/`), so at most one matches.
    pub fn of_path(path: &str) -> Option<Style> {
        Style::ALL
            .into_iter()
            .find(|style| style.prefixes().iter().any(|p| path.starts_with(p)))
    }
}

#[cfg(test)]
mod tests {
    use super::Style;

    #[test]
    fn each_path_belongs_to_at_most_one_style() {
        let cases = [
            ("/ucwa/v1/applications/1/x", Some(Style::Ucwa)),
            ("/v1.0/communications/calls/x", Some(Style::Graph)),
            ("/beta/communications/calls/x", Some(Style::Graph)),
            ("/v1/Call/x/Feedback/", Some(Style::Plivo)),
            ("/v1/", Some(Style::Plivo)),
            ("/v1", None),
            ("/v1.0", None),
            ("/ucwa", None),
            ("/api/v1/reports", None),
            ("/healthz", None),
        ];
        for (path, style) in cases {
            assert_eq!(Style::of_path(path), style, "{path}");
        }
        let names: Vec<_> = Style::ALL.into_iter().map(Style::name).collect();
        assert_eq!(names, ["ucwa", "graph", "plivo"]);
        for style in Style::ALL {
            for prefix in style.prefixes() {
                assert!(prefix.starts_with('/') && prefix.ends_with('/'));
                let owners: Vec<_> = Style::ALL
                    .into_iter()
                    .filter(|s| s.prefixes().iter().any(|p| prefix.starts_with(p)))
                    .collect();
                assert_eq!(owners, [style], "{prefix}");
            }
        }
    }
}
