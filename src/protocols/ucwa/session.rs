//! The audioVideoSession resource: the session of an audio/video call, and
//! where a client finds the link to publishCallQualityFeedback.
//!
//! callq does not run calls, so the resource it serves is a stand-in built
//! only from the request's own path: every href points under the client's
//! application and conversation, `state` is `Established` (the one
//! SessionState member under which feedback makes sense), and the two
//! descriptive properties, which callq has no knowledge of, are empty (UCWA
//! writes an empty value as `""` in JSON and an empty `<property/>` in XML).
//! The `resumeAudio`/`resumeAudioVideo` links are left out: they belong to a
//! suspended session.

use quick_xml::escape::escape;
use serde::Serialize;

use super::UCWA_NAMESPACE;
use super::enums::SessionState;
use crate::style::Style;

/// The `rel` of the resource.
const REL: &str = "session";

/// The resource for one application and conversation; ids as they appear in
/// the request path (still percent-encoded), so hrefs route back here.
pub struct Session<'a> {
    pub application: &'a str,
    pub conversation: &'a str,
    pub state: SessionState,
}

impl Session<'_> {
    fn conversation_href(&self) -> String {
        format!(
            "{}v1/applications/{}/communication/conversations/{}",
            Style::Ucwa.prefix(),
            self.application,
            self.conversation
        )
    }

    /// Link rels and hrefs, `self` first, in the order the resource page shows them.
    fn links(&self) -> [(&'static str, String); 7] {
        let conv = self.conversation_href();
        let session = format!("{conv}/audioVideo/audioVideoSession");
        [
            ("self", session.clone()),
            ("applicationSharing", format!("{conv}/applicationSharing")),
            ("audioVideo", format!("{conv}/audioVideo")),
            ("conversation", conv.clone()),
            ("dataCollaboration", format!("{conv}/dataCollaboration")),
            (
                "publishCallQualityFeedback",
                format!("{session}/publishCallQualityFeedback"),
            ),
            ("renegotiations", format!("{session}/renegotiations")),
        ]
    }

    fn properties(&self) -> [(&'static str, &'static str); 3] {
        [
            ("remoteEndpoint", ""),
            ("sessionContext", ""),
            ("state", self.state.as_str()),
        ]
    }

    /// `{"rel": "session", <properties>, "_links": {rel: {"href": …}}}`.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Href {
            href: String,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Links {
            #[serde(rename = "self")]
            self_: Href,
            application_sharing: Href,
            audio_video: Href,
            conversation: Href,
            data_collaboration: Href,
            publish_call_quality_feedback: Href,
            renegotiations: Href,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Resource<'a> {
            rel: &'a str,
            remote_endpoint: &'a str,
            session_context: &'a str,
            state: &'a str,
            #[serde(rename = "_links")]
            links: Links,
        }
        let [s, a, av, c, d, p, r] = self.links().map(|(_, href)| Href { href });
        let [remote, context, state] = self.properties().map(|(_, v)| v);
        let resource = Resource {
            rel: REL,
            remote_endpoint: remote,
            session_context: context,
            state,
            links: Links {
                self_: s,
                application_sharing: a,
                audio_video: av,
                conversation: c,
                data_collaboration: d,
                publish_call_quality_feedback: p,
                renegotiations: r,
            },
        };
        serde_json::to_string_pretty(&resource).unwrap_or_default()
    }

    /// `<resource rel href xmlns>` with a `<link>` per relation (the self link
    /// is the element's own `href`) and a `<property>` per property.
    pub fn to_xml(&self) -> String {
        let links = self.links();
        let mut out = String::with_capacity(1200);
        out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        out.push_str(&format!(
            "<resource rel=\"{REL}\" href=\"{}\" xmlns=\"{UCWA_NAMESPACE}\">\n",
            escape(&links[0].1)
        ));
        for (rel, href) in &links[1..] {
            out.push_str(&format!(
                "  <link rel=\"{rel}\" href=\"{}\" />\n",
                escape(href)
            ));
        }
        out.push_str(&format!("  <property name=\"rel\">{REL}</property>\n"));
        for (name, value) in self.properties() {
            if value.is_empty() {
                out.push_str(&format!("  <property name=\"{name}\" />\n"));
            } else {
                out.push_str(&format!("  <property name=\"{name}\">{value}</property>\n"));
            }
        }
        out.push_str("</resource>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: Session = Session {
        application: "192",
        conversation: "137",
        state: SessionState::Established,
    };

    #[test]
    fn json_has_the_seed_shape_with_hrefs_from_the_path() {
        let v: serde_json::Value = serde_json::from_str(&SESSION.to_json()).unwrap();
        assert_eq!(v["rel"], "session");
        assert_eq!(v["state"], "Established");
        let base = "/ucwa/v1/applications/192/communication/conversations/137";
        assert_eq!(
            v["_links"]["self"]["href"],
            format!("{base}/audioVideo/audioVideoSession")
        );
        assert_eq!(v["_links"]["conversation"]["href"], base);
        assert_eq!(
            v["_links"]["publishCallQualityFeedback"]["href"],
            format!("{base}/audioVideo/audioVideoSession/publishCallQualityFeedback")
        );
        assert_eq!(v["_links"].as_object().unwrap().len(), 7);
        // Key order follows the resource page: rel, properties, then _links.
        let text = SESSION.to_json();
        assert!(text.find("\"rel\"") < text.find("\"state\""));
        assert!(text.find("\"state\"") < text.find("\"_links\""));
    }

    #[test]
    fn xml_escapes_path_text() {
        let s = Session {
            application: "a&b",
            conversation: "c",
            state: SessionState::Established,
        };
        let x = s.to_xml();
        assert!(x.contains("href=\"/ucwa/v1/applications/a&amp;b/communication/conversations/c/audioVideo/audioVideoSession\""));
        assert!(x.contains("<property name=\"state\">Established</property>"));
        assert!(!x.contains("rel=\"self\""));
    }
}
