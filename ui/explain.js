// The Explain view: paste a request as a client sends it (a whole HTTP
// message, or its method, path, headers and body), and see what callq makes
// of it through POST /api/v1/explain: the style and operation, every
// normalized field with its source, raw value and conversion, what was
// ignored or tolerated, and the answer the real endpoint would give.
// Nothing is stored by an explain call.
"use strict";
window.CQ = window.CQ || {};

(function (CQ) {
  const { h, dash } = CQ.dom;

  const STANDARD_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"];

  class MessageError extends Error {
    constructor(line, message) {
      super("line " + line + ": " + message);
    }
  }

  /** A pasted HTTP message (request line, headers, empty line, body) as the
   * explain request's fields, by the rules of `callq explain FILE`
   * (src/http_message.rs): LF or CRLF; `METHOD TARGET [HTTP/x.y]` with an
   * absolute URL or a path; a standard method in another case is read
   * upper-cased; with a Content-Length the body is exactly that many bytes
   * (only line endings may follow), without one the rest less one final
   * line ending. Errors name the line. */
  function parseMessage(text) {
    const lines = text.split("\n");
    const notes = [];
    let i = 0;
    const line = () => lines[i].replace(/\r$/, "");
    while (i < lines.length && line().trim() === "") i++;
    if (i >= lines.length) throw new MessageError(1, "no request line: paste a request such as POST https://host/path HTTP/1.1");
    const parts = line().split(/[ \t]+/).filter(Boolean);
    if (parts.length < 2 || parts.length > 3) {
      throw new MessageError(i + 1, "expected the request line `METHOD TARGET [HTTP/1.1]`, such as `POST https://host/path HTTP/1.1`");
    }
    let [method, target, version] = parts;
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method)) throw new MessageError(i + 1, JSON.stringify(method) + " is not an HTTP method");
    const upper = method.toUpperCase();
    if (upper !== method && STANDARD_METHODS.includes(upper)) {
      notes.push("line " + (i + 1) + ": method " + JSON.stringify(method) + " read as " + upper);
      method = upper;
    }
    if (version !== undefined && !/^HTTP\/(1\.0|1\.1|2|2\.0|3|3\.0)$/.test(version)) {
      throw new MessageError(i + 1, JSON.stringify(version) + " is not an HTTP version");
    }
    if (!target.startsWith("/") && !/^https?:\/\//i.test(target)) {
      throw new MessageError(i + 1, "the request target must be an absolute URL (https://host/path) or a path starting with /");
    }
    i++;
    const headers = {};
    let contentLength = null;
    let blank = false;
    for (; i < lines.length; i++) {
      const l = line();
      if (l === "") {
        blank = true;
        i++;
        break;
      }
      if (/^[ \t]/.test(l)) throw new MessageError(i + 1, "a header line continued on the next line is not supported: put the value on one line");
      const colon = l.indexOf(":");
      const name = colon > 0 ? l.slice(0, colon) : "";
      if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
        const hint = /^[{<[]/.test(l) ? " (the body must follow an empty line after the headers)" : "";
        throw new MessageError(i + 1, "expected a header `Name: value`, or the empty line that ends the headers" + hint);
      }
      const value = l.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
      const existing = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
      if (existing) headers[existing] += ", " + value;
      else headers[name] = value;
      if (name.toLowerCase() === "content-length") {
        if (!/^\d+$/.test(value)) throw new MessageError(i + 1, "Content-Length " + JSON.stringify(value) + " is not a number of bytes");
        contentLength = { line: i + 1, n: Number(value) };
      }
      if (name.toLowerCase() === "transfer-encoding") throw new MessageError(i + 1, "Transfer-Encoding is not supported: paste the decoded body");
    }
    let body = blank ? lines.slice(i).join("\n") : "";
    if (contentLength) {
      const bytes = new TextEncoder().encode(body);
      if (contentLength.n > bytes.length) {
        throw new MessageError(contentLength.line, "Content-Length says " + contentLength.n + " bytes but " + bytes.length + " follow the empty line");
      }
      const rest = new TextDecoder().decode(bytes.slice(contentLength.n));
      if (!/^[\r\n]*$/.test(rest)) {
        throw new MessageError(contentLength.line, "the body runs past its Content-Length of " + contentLength.n + " bytes");
      }
      body = new TextDecoder().decode(bytes.slice(0, contentLength.n));
    } else {
      body = body.replace(/\r?\n$/, "");
    }
    return { method, path: target, headers, body, notes };
  }

  /** "Name: value" lines as a header map (the parts form). */
  function parseHeaderLines(text) {
    const headers = {};
    text.split("\n").forEach((raw, n) => {
      const l = raw.replace(/\r$/, "");
      if (!l.trim()) return;
      const colon = l.indexOf(":");
      if (colon <= 0) throw new Error("headers, line " + (n + 1) + ": expected `Name: value`");
      headers[l.slice(0, colon).trim()] = l.slice(colon + 1).trim();
    });
    return headers;
  }

  async function post(path, body) {
    const t = CQ.api.token.get();
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        headers: { Authorization: "Bearer " + t, Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (e) {
      throw new CQ.api.ApiError(0, { error: "network", message: "callq did not answer: " + e.message });
    }
    let answer = null;
    try {
      answer = await response.json();
    } catch (_) {
      answer = null;
    }
    if (!response.ok) {
      const error = new CQ.api.ApiError(response.status, answer);
      if (response.status === 401 && CQ.onUnauthorized) CQ.onUnauthorized(error);
      throw error;
    }
    return answer;
  }

  /** The reason phrases of the statuses the styles answer. */
  const REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Entity", 429: "Too Many Requests", 503: "Service Unavailable",
  };

  const SOURCE_KINDS = { json_pointer: "JSON", xml_path: "XML", path_segment: "path", header: "header", computed: "computed" };

  function sourceCell(source) {
    return h("td", h("span.muted", SOURCE_KINDS[source.kind] || source.kind), " ", h("code", source.at));
  }

  /** The stored value a provenance field names (`rating`,
   * `streams[0].avg_inbound_jitter_ms`) in the report and its streams. */
  function valueAt(explanation, field) {
    let at = Object.assign({}, explanation.report || {}, { streams: explanation.streams || [] });
    for (const part of field.split(".")) {
      const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
      if (!m) return undefined;
      if (m[1]) at = at == null ? undefined : at[m[1]];
      for (const idx of m[2].match(/\d+/g) || []) at = at == null ? undefined : at[Number(idx)];
    }
    return at;
  }

  function show(v) {
    if (v === undefined) return dash;
    if (typeof v === "string") return v;
    return JSON.stringify(v);
  }

  function conversion(p) {
    const parts = [];
    if (p.conversion) parts.push(p.conversion);
    if (p.model) {
      const inputs = Object.entries(p.model.inputs || {}).map(([k, v]) => k + "=" + show(v));
      parts.push(p.model.name + " " + p.model.version + (inputs.length ? " (" + inputs.join(", ") + ")" : ""));
    }
    return parts.length ? parts.join("; ") : "as sent";
  }

  function fieldsTable(explanation) {
    if (!explanation.provenance.length) return h("p.muted#explain-no-fields", "No normalized field: nothing would be stored.");
    const body = h("tbody");
    for (const p of explanation.provenance) {
      body.append(
        h(
          "tr.provenance",
          { dataset: { field: p.field, kind: p.source.kind, at: p.source.at } },
          h("td", h("code", p.field)),
          h("td.value", show(valueAt(explanation, p.field))),
          sourceCell(p.source),
          h("td", p.raw === null || p.raw === undefined ? dash : h("code", p.raw)),
          h("td", conversion(p)),
        ),
      );
    }
    return h("table.data#explain-fields", h("thead", h("tr", ["Field", "Value", "Source", "Raw", "Conversion"].map((t) => h("th", t)))), body);
  }

  function list(id, title, items, empty, line) {
    return h(
      "section#" + id,
      h("h3", title),
      items.length ? h("ul", items.map((it) => h("li", line(it)))) : h("p.muted", empty),
    );
  }

  function responseBlock(r) {
    const body = r.body.text !== undefined ? r.body.text : "(base64) " + r.body.base64;
    const p = CQ.call.pretty(body);
    return h(
      "section#explain-response",
      { dataset: { status: r.status } },
      h("h3", "Response the real endpoint would give"),
      h("p", h("strong#explain-status", String(r.status)), REASONS[r.status] ? " " + REASONS[r.status] : ""),
      r.headers.length ? h("pre.raw.headers", r.headers.map((x) => x.name + ": " + x.value).join("\n")) : null,
      body ? h("pre.raw#explain-response-body", { dataset: { format: p.format } }, p.text) : h("p.muted", "No body."),
    );
  }

  function result(explanation, notes) {
    const e = explanation;
    return h(
      "div#explain-result",
      { dataset: { style: e.style || "", operation: e.operation || "", wouldStore: String(e.would_store) } },
      h(
        "dl.facts#explain-summary",
        h("div.fact", h("dt", "Style"), h("dd", e.style || "none")),
        h("div.fact", h("dt", "Operation"), h("dd", e.operation || "none")),
        h("div.fact", h("dt", "Would store"), h("dd", e.would_store ? "yes" : "no")),
      ),
      h("p.muted", "Nothing was stored: an explain call writes no report, no retry entry and no ingest metric."),
      h("h3", "Fields"),
      fieldsTable(e),
      list("explain-ignored", "Ignored (kept only in the raw payload)", e.ignored, "Nothing.", (i) => [h("code", i.source.at), " — ", i.reason]),
      list("explain-tolerated", "Tolerated", e.tolerated.concat(notes.map((n) => ({ note: n }))), "Nothing.", (t) =>
        t.note ? ["reading the message, " + t.note] : [h("strong", t.shape), " at ", h("code", t.source.at), " — ", t.description],
      ),
      responseBlock(e.response),
      e.report ? h("details.raw-box", h("summary", "The report as it would be stored"), h("pre.raw#explain-report", JSON.stringify(Object.assign({}, e.report, { streams: e.streams }), null, 2))) : null,
    );
  }

  function field(label, control) {
    return h("label.stacked", h("span", label), control);
  }

  async function render(view) {
    const message = h("textarea#explain-message", {
      rows: 14,
      spellcheck: "false",
      placeholder: "POST https://stats.plivo.com/v1/Call/<call uuid>/Feedback/ HTTP/1.1\nAuthorization: Basic …\nContent-Type: application/json\n\n{\"rating\": \"4\", \"issues\": [\"AUDIO_LAG\"]}",
    });
    const method = h("select#explain-method", ["POST", "GET"].map((m) => h("option", { value: m, text: m })));
    const path = h("input#explain-path", { size: 60, placeholder: "/v1/Call/<call uuid>/Feedback/ or https://host/path" });
    const headers = h("textarea#explain-headers", { rows: 4, spellcheck: "false", placeholder: "Authorization: Basic …\nContent-Type: application/json" });
    const body = h("textarea#explain-body", { rows: 6, spellcheck: "false" });
    const out = h("div#explain-out");
    const error = h("p.error#explain-error", { role: "alert", hidden: true });
    const button = h("button#explain-button", { type: "submit", text: "Explain" });

    const form = h(
      "form#explain-form.explain-form",
      {
        on: {
          submit: async (ev) => {
            ev.preventDefault();
            error.hidden = true;
            let request;
            let notes = [];
            try {
              if (message.value.trim()) {
                const m = parseMessage(message.value);
                notes = m.notes;
                request = { method: m.method, path: m.path, headers: m.headers, body: m.body ? { text: m.body } : null };
              } else {
                if (!path.value.trim()) throw new Error("Paste a whole request, or give at least its path.");
                request = { method: method.value, path: path.value.trim(), headers: parseHeaderLines(headers.value), body: body.value ? { text: body.value } : null };
              }
            } catch (e) {
              error.textContent = "This request cannot be read: " + e.message;
              error.hidden = false;
              view.dataset.state = "ready";
              return;
            }
            button.disabled = true;
            view.dataset.state = "loading";
            CQ.dom.clear(out);
            try {
              const explanation = await post("/api/v1/explain", request);
              out.append(result(explanation, notes));
            } catch (e) {
              if (e.status === 401) return;
              error.textContent = "callq could not explain this request" + (e.status ? " (" + e.status + ")" : "") + ": " + e.message;
              error.hidden = false;
            } finally {
              button.disabled = false;
              view.dataset.state = "ready";
            }
          },
        },
      },
      field("The whole request, as a client sends it (request line, headers, an empty line, the body)", message),
      h(
        "details#explain-parts",
        h("summary", "Or give its parts (used when the box above is empty)"),
        h("div.filters", field("Method", method), field("Path or URL", path)),
        field("Headers, one `Name: value` a line", headers),
        field("Body", body),
      ),
      h("div.actions", button, h("span.muted", "Your tenant's credentials must be in the request's Authorization header; another tenant's are refused.")),
    );
    CQ.dom.append(view, [
      h("h2", "Explain a request"),
      h(
        "p",
        "What callq makes of a request, field by field, run through the same code as the real endpoint — and what that endpoint would answer. ",
        h("strong", "Nothing is stored."),
      ),
      form,
      error,
      out,
    ]);
    view.dataset.state = "ready";
  }

  CQ.explain = { render, parseMessage };
})(window.CQ);
