// The reports explorer: the filters of GET /api/v1/reports, keyset pages
// (the API's cursor) and a CSV download of the same filter.
"use strict";
window.CQ = window.CQ || {};

(function (CQ) {
  const { h, count, num, time, dash } = CQ.dom;
  const PAGE = 50;
  const TEXT_FILTERS = [
    ["call_id", "Call id", "Plivo call UUID, Graph callChainId or UCWA app/conversation"],
    ["issue", "Issue", "e.g. ECHO"],
    ["device", "Device", "Graph deviceName, exact"],
  ];
  /** The filter parameters, in the order the form shows them. */
  const FILTERS = ["protocol", "kind", "call_id", "issue", "device", "min_rating", "max_rating", "since", "until"];

  function select(name, label, options, value) {
    const s = h("select", { name, id: "f-" + name }, h("option", { value: "", text: "any" }));
    for (const o of options) s.append(h("option", { value: o, text: o, selected: o === value }));
    return h("label", label + " ", s);
  }

  function input(name, label, value, attrs) {
    return h("label", label + " ", h("input", Object.assign({ name, id: "f-" + name, value: value || "" }, attrs || {})));
  }

  /** Filter values from the route, as the API takes them. */
  function filterOf(params) {
    const f = {};
    for (const k of FILTERS) {
      const v = params.get(k);
      if (v) f[k] = v;
    }
    return f;
  }

  /** A datetime-local value "YYYY-MM-DDTHH:MM" is taken as UTC. */
  const toApiTime = (v) => (v && /^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(v) ? v + ":00Z" : v);

  function form(filter) {
    const f = h(
      "form.filters#filters",
      {
        on: {
          submit: (ev) => {
            ev.preventDefault();
            const q = new URLSearchParams();
            for (const el of f.elements) {
              if (el.name && el.value.trim()) q.set(el.name, el.value.trim());
            }
            CQ.go("#/reports?" + q.toString());
          },
        },
      },
      select("protocol", "Style", ["ucwa", "graph", "plivo"], filter.protocol),
      select("kind", "Kind", ["feedback", "diagnostics", "device_quality"], filter.kind),
      TEXT_FILTERS.map(([name, label, hint]) => input(name, label, filter[name], { placeholder: hint, size: 24 })),
      input("min_rating", "Rating from", filter.min_rating, { type: "number", min: 1, max: 5, step: 0.5 }),
      input("max_rating", "to", filter.max_rating, { type: "number", min: 1, max: 5, step: 0.5 }),
      input("since", "Received from (UTC)", filter.since, { type: "datetime-local" }),
      input("until", "until (UTC)", filter.until, { type: "datetime-local" }),
      h("button", { type: "submit", id: "apply-filters", text: "Apply" }),
      h("a.button", { href: "#/reports", text: "Clear" }),
    );
    return f;
  }

  function apiFilter(filter) {
    const f = Object.assign({}, filter);
    f.since = toApiTime(f.since);
    f.until = toApiTime(f.until);
    return f;
  }

  function row(r) {
    const callHref = "#/call/" + encodeURIComponent(r.call_id);
    return h(
      "tr",
      { dataset: { id: r.id, protocol: r.protocol, kind: r.kind } },
      h("td.nowrap", time(r.received_at)),
      h("td", r.protocol),
      h("td", r.kind),
      h("td.call", h("a.call-link", { href: callHref, text: r.call_id })),
      h("td.n", num(r.rating, 1)),
      h("td", r.issues.length ? r.issues.join(", ") : dash),
      h("td", r.device_name || dash),
      h("td", r.error_code ? r.error_code + (r.error_subcode ? " / " + r.error_subcode : "") : dash),
      h("td.n", count(r.stream_count)),
      h("td.n", num(r.worst_jitter_ms)),
      h("td.n", num(r.worst_loss_pct, 2)),
      h("td.n", num(r.worst_rtt_ms, 0)),
      h("td.n", num(r.min_mos, 2)),
    );
  }

  async function download(filter, safe, button) {
    button.disabled = true;
    const params = Object.assign(apiFilter(filter), { format: "csv" });
    if (safe) params.csv_safe = "true";
    try {
      const data = await CQ.api.blob("/api/v1/reports", params, "text/csv");
      // The token cannot ride on a plain link, so the file is fetched with
      // the header and handed to the browser as a blob: URL.
      const href = URL.createObjectURL(data);
      const a = h("a", { href, download: safe ? "callq-reports-spreadsheet-safe.csv" : "callq-reports.csv", hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(href), 10000);
      button.dataset.downloaded = String(data.size);
    } catch (e) {
      if (e.status !== 401) CQ.notice("The CSV export failed: " + e.message);
    } finally {
      button.disabled = false;
    }
  }

  async function render(view, params, isCurrent) {
    const filter = filterOf(params);
    const cursor = params.get("cursor") || "";
    const pageNo = Number(params.get("page") || "1");
    view.append(h("h2", "Reports"), form(filter));
    const safe = h("input", { type: "checkbox", id: "csv-safe" });
    const dl = h("button", { type: "button", id: "download-csv", text: "Download CSV" });
    dl.addEventListener("click", () => download(filter, safe.checked, dl));
    view.append(
      h(
        "div.actions",
        dl,
        h("label.check", { title: "Prefix ' to cells starting with = + - @, so spreadsheets show them as text instead of running them as formulas" }, safe, " safe for spreadsheets"),
      ),
    );
    let page;
    try {
      page = await CQ.api.get("/api/v1/reports", Object.assign(apiFilter(filter), { limit: PAGE, cursor }));
    } catch (e) {
      if (e.status === 400) {
        view.append(h("p.error#filter-error", { role: "alert", text: "The filter was refused" + (e.parameter ? " (" + e.parameter + ")" : "") + ": " + e.message }));
        view.dataset.state = "ready";
        return;
      }
      throw e;
    }
    if (!isCurrent()) return;
    const body = h("tbody#report-rows");
    for (const r of page.reports) body.append(row(r));
    if (!page.reports.length) body.append(h("tr", h("td", { colspan: 13, text: "No report matches this filter." })));
    view.append(
      h(
        "table.data.reports",
        h(
          "thead",
          h(
            "tr",
            ["Received (UTC)", "Style", "Kind", "Call", "Rating (1–5)", "Issues", "Device", "Error code / subcode", "Streams", "Worst jitter (ms)", "Worst loss (%)", "Worst RTT (ms)", "Min MOS"].map((t) => h("th", t)),
          ),
        ),
        body,
      ),
    );
    const base = new URLSearchParams(filter);
    const nav = h("div.pager", h("span#page-info", "Page " + pageNo + " · " + page.reports.length + " reports, newest first"));
    if (cursor) nav.append(h("a.button#first-page", { href: "#/reports?" + base.toString(), text: "First page" }));
    if (page.next_cursor) {
      const next = new URLSearchParams(filter);
      next.set("cursor", page.next_cursor);
      next.set("page", String(pageNo + 1));
      nav.append(h("a.button#next-page", { href: "#/reports?" + next.toString(), text: "Next page" }));
    }
    view.append(nav);
    view.dataset.state = "ready";
  }

  CQ.explorer = { render };
})(window.CQ);
