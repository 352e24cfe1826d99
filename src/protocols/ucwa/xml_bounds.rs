//! Caps that keep XML decoding linear in the size of the body.
//!
//! quick-xml's duplicate-attribute check compares each attribute with every
//! earlier one of its element, and every name lookup walks the namespace
//! bindings in scope: 40,000 attributes on one element, or 30,000 namespace
//! declarations, cost seconds of CPU per request. Both UCWA XML readers (the
//! `<input>` decoder and the MS-QoE extractor) therefore check each start tag
//! against a [`Budget`] *before* anything looks at its attributes: the count
//! is taken with the checks off (one linear pass), and only an element within
//! the caps is read further, where the duplicate check then costs at most
//! `MAX_ATTRIBUTES²` comparisons.
//!
//! Real documents are far inside every cap: a UCWA `<input>` has a handful of
//! `<property>` elements with one or two attributes; an MS-QoE report has a
//! few hundred elements, ten levels deep, and declares four or five
//! namespaces.

use quick_xml::events::BytesStart;

/// The limits one document is read under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Attributes on one element (namespace declarations included).
    pub attributes_per_element: usize,
    /// Namespace declarations (`xmlns`, `xmlns:p`) in the whole document.
    pub namespace_bindings: usize,
    /// Elements in the whole document.
    pub elements: usize,
    /// Elements open at once.
    pub depth: usize,
}

/// Attributes on any one element, in every UCWA document.
pub const MAX_ATTRIBUTES: usize = 64;
/// Namespace declarations in one UCWA document.
pub const MAX_NAMESPACE_BINDINGS: usize = 64;

impl Limits {
    /// A UCWA `<input>` document. Links and embedded resources the decoder
    /// skips may nest a little; properties are a handful.
    pub const UCWA_INPUT: Limits = Limits {
        attributes_per_element: MAX_ATTRIBUTES,
        namespace_bindings: MAX_NAMESPACE_BINDINGS,
        elements: 4096,
        depth: 32,
    };

    /// An MS-QoE `VQReportEvent` (at most 300 KB, 64 media lines of about a
    /// hundred elements each).
    pub const MS_QOE: Limits = Limits {
        attributes_per_element: MAX_ATTRIBUTES,
        namespace_bindings: MAX_NAMESPACE_BINDINGS,
        elements: 20_000,
        depth: 64,
    };
}

/// Which cap a document went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Exceeded {
    #[error("an element has more than {0} attributes")]
    Attributes(usize),
    #[error("the document declares more than {0} namespaces")]
    NamespaceBindings(usize),
    #[error("the document has more than {0} elements")]
    Elements(usize),
    #[error("elements are nested more than {0} deep")]
    Depth(usize),
}

/// What one document has used of its [`Limits`] so far.
#[derive(Debug)]
pub struct Budget {
    limits: Limits,
    elements: usize,
    bindings: usize,
}

impl Budget {
    pub fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            elements: 0,
            bindings: 0,
        }
    }

    /// Accounts for a start (or empty) tag opened with `open_before` elements
    /// already open. Linear in the tag's length whatever it holds.
    pub fn admit(&mut self, start: &BytesStart, open_before: usize) -> Result<(), Exceeded> {
        let limits = self.limits;
        if open_before >= limits.depth {
            return Err(Exceeded::Depth(limits.depth));
        }
        self.elements += 1;
        if self.elements > limits.elements {
            return Err(Exceeded::Elements(limits.elements));
        }
        let mut attributes = 0usize;
        for attribute in start.attributes().with_checks(false) {
            attributes += 1;
            if attributes > limits.attributes_per_element {
                return Err(Exceeded::Attributes(limits.attributes_per_element));
            }
            // A malformed attribute is the reader's to report, with its own message.
            let Ok(attribute) = attribute else { break };
            if attribute.key.as_namespace_binding().is_some() {
                self.bindings += 1;
                if self.bindings > limits.namespace_bindings {
                    return Err(Exceeded::NamespaceBindings(limits.namespace_bindings));
                }
            }
        }
        Ok(())
    }
}

/// The first character XML 1.0 does not allow anywhere in a document
/// (`Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]`),
/// with its byte offset. quick-xml does not check this; U+0000 in particular
/// would otherwise reach the database, which cannot store it.
pub fn forbidden_character(document: &str) -> Option<(usize, char)> {
    document.char_indices().find(|&(_, c)| {
        !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(tag: &str) -> BytesStart<'_> {
        BytesStart::from_content(tag, tag.find(' ').unwrap_or(tag.len()))
    }

    fn tag_with(n: usize, attribute: impl Fn(usize) -> String) -> String {
        let mut tag = String::from("e");
        for i in 0..n {
            tag.push(' ');
            tag.push_str(&attribute(i));
        }
        tag
    }

    #[test]
    fn attributes_past_the_cap_are_refused_even_when_duplicated() {
        let ok = tag_with(MAX_ATTRIBUTES, |i| format!("a{i}=\"1\""));
        assert_eq!(
            Budget::new(Limits::UCWA_INPUT).admit(&start(&ok), 0),
            Ok(())
        );
        for hostile in [
            tag_with(40_000, |i| format!("a{i}=\"1\"")),
            tag_with(40_000, |_| "a=\"1\"".to_owned()),
        ] {
            assert_eq!(
                Budget::new(Limits::UCWA_INPUT).admit(&start(&hostile), 0),
                Err(Exceeded::Attributes(MAX_ATTRIBUTES))
            );
        }
    }

    #[test]
    fn namespace_declarations_are_counted_across_the_document() {
        let mut budget = Budget::new(Limits::MS_QOE);
        let tag = tag_with(32, |i| format!("xmlns:p{i}=\"urn:{i}\""));
        assert_eq!(budget.admit(&start(&tag), 0), Ok(()));
        assert_eq!(budget.admit(&start(&tag), 1), Ok(()));
        assert_eq!(
            budget.admit(&start("e xmlns=\"urn:x\""), 2),
            Err(Exceeded::NamespaceBindings(MAX_NAMESPACE_BINDINGS))
        );
    }

    #[test]
    fn depth_and_element_count_are_capped() {
        let mut budget = Budget::new(Limits::UCWA_INPUT);
        assert_eq!(budget.admit(&start("e"), 31), Ok(()));
        assert_eq!(budget.admit(&start("e"), 32), Err(Exceeded::Depth(32)));
        let mut budget = Budget::new(Limits::UCWA_INPUT);
        for _ in 0..Limits::UCWA_INPUT.elements {
            budget.admit(&start("e"), 1).unwrap();
        }
        assert_eq!(
            budget.admit(&start("e"), 1),
            Err(Exceeded::Elements(Limits::UCWA_INPUT.elements))
        );
    }

    #[test]
    fn characters_outside_xml_are_found() {
        assert_eq!(forbidden_character("<a>\t\r\n✓\u{10000}</a>"), None);
        assert_eq!(forbidden_character("<a>\0</a>"), Some((3, '\0')));
        assert_eq!(forbidden_character("<a b=\"\u{1}\"/>"), Some((6, '\u{1}')));
        assert_eq!(forbidden_character("\u{FFFE}"), Some((0, '\u{FFFE}')));
    }
}
