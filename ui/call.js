// The call view: every report about one call, oldest first, across styles;
// each stream's metrics graded by Plivo's published audio thresholds; the
// CQD class with its reasons; MOS with its model; raw payload on demand.
"use strict";
window.CQ = window.CQ || {};

(function (CQ) {
  const { h, count, num, time, dash, unit } = CQ.dom;

  /** Plivo's audio thresholds (good / average / bad). */
  const GRADES = {
    jitter: (v) => (v <= 10 ? "good" : v < 30 ? "average" : "bad"),
    loss: (v) => (v < 0.5 ? "good" : v < 0.9 ? "average" : "bad"),
    rtt: (v) => (v < 200 ? "good" : v <= 300 ? "average" : "bad"),
  };

  function graded(kind, v, u, digits) {
    if (v === null || v === undefined) return h("td.n", dash);
    const grade = GRADES[kind](v);
    return h("td.n.grade", { class: "n grade " + grade, title: grade, dataset: { grade } }, unit(v, u, digits));
  }

  function plain(v, u, digits) {
    return h("td.n", unit(v, u, digits));
  }

  function legend() {
    return h(
      "div.legend#grade-legend",
      h("strong", "Grades (Plivo's audio thresholds, applied to each stream's averages): "),
      h("span.grade.good", "good"),
      " jitter ≤ 10 ms, loss < 0.5 %, round trip < 200 ms · ",
      h("span.grade.average", "average"),
      " jitter 10–30 ms, loss 0.5–0.9 %, round trip 200–300 ms · ",
      h("span.grade.bad", "bad"),
      " jitter ≥ 30 ms, loss ≥ 0.9 %, round trip > 300 ms. Maxima are shown ungraded.",
    );
  }

  function classCell(s) {
    const c = s.quality_class;
    if (c === undefined) return h("td", dash);
    if (c === null) return h("td", { title: "not an audio stream", text: "n/a" });
    const reasons = (s.poor_reasons || []).map((r) => r.replace("_", " "));
    return h(
      "td",
      { class: "class-" + c, dataset: { class: c }, title: s.quality_classifier || "" },
      h("strong", c),
      reasons.length ? " (" + reasons.join(", ") + ")" : "",
      s.quality_classifier ? h("div.model", s.quality_classifier) : null,
    );
  }

  function streamTable(streams) {
    const body = h("tbody");
    for (const s of streams) {
      body.append(
        h(
          "tr.stream",
          { dataset: { ordinal: s.ordinal, modality: s.modality || "" } },
          h("td", String(s.ordinal)),
          h("td", (s.modality || "unknown") + (s.label ? " · " + s.label : "")),
          h("td.n", s.media_duration_ms == null ? dash : unit(s.media_duration_ms / 1000, "s", 0)),
          h("td.n", count(s.inbound_packets) + " / " + count(s.outbound_packets)),
          graded("jitter", s.avg_inbound_jitter_ms, "ms"),
          graded("jitter", s.avg_outbound_jitter_ms, "ms"),
          plain(s.max_inbound_jitter_ms, "ms"),
          graded("loss", s.avg_inbound_loss_pct, "%", 2),
          graded("loss", s.avg_outbound_loss_pct, "%", 2),
          plain(s.max_inbound_loss_pct, "%", 2),
          graded("rtt", s.avg_inbound_rtt_ms, "ms", 0),
          graded("rtt", s.avg_outbound_rtt_ms, "ms", 0),
          plain(s.max_inbound_rtt_ms, "ms", 0),
          h("td.n", s.mos == null ? dash : num(s.mos, 2), s.mos_model ? h("div.model", s.mos_model) : null),
          classCell(s),
        ),
      );
    }
    return h(
      "table.data.streams",
      h(
        "thead",
        h(
          "tr",
          ["#", "Media", "Duration", "Packets in / out", "Jitter in (avg)", "Jitter out (avg)", "Jitter in (max)", "Loss in (avg)", "Loss out (avg)", "Loss in (max)", "RTT in (avg)", "RTT out (avg)", "RTT in (max)", "MOS (1–5) · model", "CQD class (reasons)"].map((t) => h("th", t)),
        ),
      ),
      body,
    );
  }

  /** XML re-indented from its parsed tree; a document that does not parse is shown as sent. */
  function prettyXml(text) {
    const doc = new DOMParser().parseFromString(text, "application/xml");
    if (doc.getElementsByTagName("parsererror").length) return text;
    const out = [];
    const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    const attrs = (el) => Array.from(el.attributes).map((a) => " " + a.name + '="' + esc(a.value).replace(/"/g, "&quot;") + '"').join("");
    const walk = (node, depth) => {
      const pad = "  ".repeat(depth);
      const kids = Array.from(node.childNodes).filter((n) => n.nodeType !== 3 || n.nodeValue.trim());
      if (!kids.length) return out.push(pad + "<" + node.nodeName + attrs(node) + "/>");
      if (kids.length === 1 && kids[0].nodeType === 3) {
        return out.push(pad + "<" + node.nodeName + attrs(node) + ">" + esc(kids[0].nodeValue.trim()) + "</" + node.nodeName + ">");
      }
      out.push(pad + "<" + node.nodeName + attrs(node) + ">");
      for (const k of kids) {
        if (k.nodeType === 1) walk(k, depth + 1);
        else if (k.nodeType === 3 || k.nodeType === 4) out.push(pad + "  " + esc(k.nodeValue.trim()));
        else if (k.nodeType === 8) out.push(pad + "  <!--" + k.nodeValue + "-->");
      }
      out.push(pad + "</" + node.nodeName + ">");
    };
    walk(doc.documentElement, 0);
    return out.join("\n");
  }

  function pretty(text) {
    const t = (text || "").trim();
    if (t.startsWith("{") || t.startsWith("[")) {
      try {
        return { format: "JSON", text: JSON.stringify(JSON.parse(t), null, 2) };
      } catch (_) {
        return { format: "text", text: t };
      }
    }
    if (t.startsWith("<")) return { format: "XML", text: prettyXml(t) };
    return { format: "text", text: t };
  }

  function rawToggle(reportId) {
    const pre = h("pre.raw", { hidden: true });
    const button = h("button", { type: "button", class: "raw-toggle", text: "Show raw payload" });
    button.addEventListener("click", async () => {
      if (!pre.hidden) {
        pre.hidden = true;
        button.textContent = "Show raw payload";
        return;
      }
      button.disabled = true;
      try {
        // Always the single-report endpoint: the call view may leave large
        // payloads out, this one keeps the whole payload.
        const report = await CQ.api.get("/api/v1/reports/" + encodeURIComponent(reportId));
        const p = pretty(report.raw_payload);
        pre.textContent = p.text;
        pre.dataset.format = p.format;
        pre.hidden = false;
        button.textContent = "Hide raw payload (" + p.format + ")";
      } catch (e) {
        if (e.status !== 401) CQ.notice("Could not load the raw payload: " + e.message);
      } finally {
        button.disabled = false;
      }
    });
    return h("div.raw-box", button, pre);
  }

  function fact(label, value) {
    return value === null || value === undefined || value === "" ? null : h("div.fact", h("dt", label), h("dd", String(value)));
  }

  function reportCard(r) {
    const err = r.error_code ? r.error_code + (r.error_subcode ? " / " + r.error_subcode : "") : null;
    return h(
      "article.report",
      { dataset: { id: r.id, protocol: r.protocol, kind: r.kind } },
      h("h3", h("span.badge." + r.protocol, r.protocol), " ", r.kind, " · ", time(r.received_at)),
      h(
        "dl.facts",
        fact("Rating (1–5)", r.rating),
        fact("Issues", r.issues && r.issues.length ? r.issues.join(", ") : null),
        fact("Notes", r.notes),
        fact("Error code / subcode", err),
        fact("Device", r.device_name),
        fact("Participant", r.participant_id),
        fact("Media leg", r.media_leg_id),
        fact("User agent", r.user_agent),
        fact("Request id", r.request_id),
        fact("Report id", r.id),
      ),
      r.streams && r.streams.length ? streamTable(r.streams) : h("p.muted", "No media streams in this report."),
      rawToggle(r.id),
    );
  }

  async function render(view, callId, isCurrent) {
    view.append(h("h2", "Call ", h("code#call-id", callId)));
    let call;
    try {
      call = await CQ.api.get(CQ.api.callPath(callId));
    } catch (e) {
      if (e.status === 404) {
        view.append(h("p.error", { role: "alert", text: "No report about this call." }));
        view.dataset.state = "ready";
        return;
      }
      throw e;
    }
    if (!isCurrent()) return;
    const s = call.summary;
    CQ.dom.append(view, [
      h(
        "dl.facts.summary#call-summary",
        fact("Reports", s.reports),
        fact("Styles", s.protocols.join(", ")),
        fact("Kinds", s.kinds.join(", ")),
        fact("First", time(s.first_received_at)),
        fact("Last", time(s.last_received_at)),
        fact("Latest rating", s.rating),
        fact("Issues", s.issues.join(", ")),
        fact("Errors", s.errors.join(", ")),
        fact("Streams", s.streams),
        fact("Worst jitter", s.worst_jitter_ms == null ? null : unit(s.worst_jitter_ms, "ms")),
        fact("Worst loss", s.worst_loss_pct == null ? null : unit(s.worst_loss_pct, "%", 2)),
        fact("Worst round trip", s.worst_rtt_ms == null ? null : unit(s.worst_rtt_ms, "ms", 0)),
        fact("Lowest MOS", s.min_mos == null ? null : num(s.min_mos, 2)),
      ),
      call.truncated ? h("p.error", "This call has more than 1000 reports; the newest 1000 are shown.") : null,
      legend(),
      h("p.caveat", CQ.overview.CAVEAT),
      h("a.button", { href: "#/reports?call_id=" + encodeURIComponent(callId), text: "These reports in the explorer" }),
    ]);
    const list = h("div#call-reports");
    for (const r of call.reports) list.append(reportCard(r));
    view.append(list);
    view.dataset.state = "ready";
  }

  CQ.call = { render, GRADES, pretty };
})(window.CQ);
