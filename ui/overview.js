// The overview: headline numbers and charts for one time range, all drawn
// from /api/v1/stats answers for exactly that range (requested in parallel),
// so every number on the page is one the JSON API gives.
"use strict";
window.CQ = window.CQ || {};

(function (CQ) {
  const { h, count, pct, num } = CQ.dom;
  const HOUR = 3600;
  const DAY = 86400;
  const RANGES = [
    ["1h", "Last hour", HOUR],
    ["24h", "24 hours", DAY],
    ["7d", "7 days", 7 * DAY],
    ["30d", "30 days", 30 * DAY],
  ];
  const STYLES = ["ucwa", "graph", "plivo"];
  const KINDS = ["feedback", "diagnostics", "device_quality"];
  const REASONS = [
    ["round_trip", "Round trip > 500 ms"],
    ["packet_loss", "Packet loss > 10 %"],
    ["jitter", "Jitter > 30 ms"],
  ];
  const CAVEAT =
    "Poor means the network conditions for good audio were not met, not that the user heard bad audio " +
    "(Microsoft CQD's audio classifier: average round trip > 500 ms, or packet loss > 10 %, or jitter > 30 ms, " +
    "over more than 500 packets).";

  const iso = (s) => new Date(s * 1000).toISOString().replace(".000Z", "Z");
  /** "2026-11-24T08:00" (a datetime-local value, read as UTC) → unix seconds. */
  const fromLocalInput = (v) => (v ? Date.parse(v + ":00Z") / 1000 : NaN);
  const toLocalInput = (s) => iso(s).slice(0, 16);

  /** The range the route asks for: {key, since, until} in unix seconds. */
  function chosenRange(params) {
    const key = params.get("range") || "24h";
    if (key === "custom") {
      const since = fromLocalInput(params.get("since"));
      const until = fromLocalInput(params.get("until"));
      if (since < until) return { key, since, until };
    }
    const found = RANGES.find((r) => r[0] === key) || RANGES[1];
    // Up to the next whole minute, so that reports of the last seconds count.
    const until = Math.ceil(Date.now() / 60000) * 60;
    return { key: found[0], since: until - found[2], until };
  }

  function picker(range) {
    const buttons = RANGES.map(([key, label]) =>
      h("a.range", { href: "#/overview?range=" + key, class: "range" + (range.key === key ? " current" : ""), text: label, dataset: { range: key } }),
    );
    const since = h("input", { type: "datetime-local", id: "custom-since", value: toLocalInput(range.since) });
    const until = h("input", { type: "datetime-local", id: "custom-until", value: toLocalInput(range.until) });
    const form = h(
      "form.custom",
      {
        on: {
          submit: (ev) => {
            ev.preventDefault();
            if (!(fromLocalInput(since.value) < fromLocalInput(until.value))) {
              CQ.notice("The custom range must end after it starts.");
              return;
            }
            CQ.go("#/overview?range=custom&since=" + since.value + "&until=" + until.value);
          },
        },
      },
      h("label", "From ", since),
      h("label", " to ", until),
      " UTC ",
      h("button", { type: "submit", id: "custom-apply", class: range.key === "custom" ? "current" : "", text: "Custom range" }),
    );
    return h("div.picker", buttons, form);
  }

  /** Every bucket start of the range, and the stats key of each. */
  function buckets(range, step) {
    const first = Math.floor(range.since / step) * step;
    const times = [];
    for (let t = first; t < range.until; t += step) times.push(t);
    return times;
  }

  function keyTime(key) {
    return Date.parse(key) / 1000;
  }

  function tile(id, label, value, text, note) {
    return h(
      "div.tile",
      { id, dataset: { value: value === null || value === undefined ? "" : value } },
      h("span.tile-label", label),
      h("span.tile-value", { text }),
      note ? h("span.tile-note", note) : null,
    );
  }

  const settledValue = (r) => (r.status === "fulfilled" ? r.value : null);

  async function render(view, params, isCurrent) {
    const started = performance.now();
    const range = chosenRange(params);
    const step = range.until - range.since >= 7 * DAY ? DAY : HOUR;
    const base = { since: iso(range.since), until: iso(range.until) };
    view.append(h("h2", "Overview"), picker(range));
    const shown = h("p.range-shown#range-shown", {
      dataset: { since: base.since, until: base.until, groupBy: step === DAY ? "day" : "hour" },
      text: "From " + CQ.dom.time(base.since) + " to " + CQ.dom.time(base.until) + " (until exclusive)",
    });
    const status = h("p.loading", "Loading…");
    view.append(shown, status);

    const stats = (extra) => CQ.api.get("/api/v1/stats", Object.assign({}, base, extra));
    const asked = [
      stats({ group_by: step === DAY ? "day" : "hour" }),
      stats({}),
      stats({ protocol: "plivo" }),
      stats({ protocol: "ucwa", group_by: "error_code" }),
      stats({ protocol: "ucwa", group_by: "error_subcode" }),
      stats({ group_by: "device" }),
    ];
    const answers = await Promise.allSettled(asked);
    if (!isCurrent()) return;
    const unauthorized = answers.find((a) => a.status === "rejected" && a.reason && a.reason.status === 401);
    if (unauthorized) throw unauthorized.reason;
    const [series, totals, plivo, codes, subcodes, devices] = answers.map(settledValue);
    /** Why a panel has no data: the API's own message. */
    const why = (i) => (answers[i].status === "rejected" ? "Not available: " + answers[i].reason.message : "");
    if (!series || !totals) {
      const why = answers.find((a) => a.status === "rejected");
      throw why ? why.reason : new Error("no statistics");
    }
    status.remove();

    const all = totals.groups[0] || { reports: 0 };
    const pl = (plivo && plivo.groups[0]) || { reports: 0, rating: { count: 0, distribution: {} }, issues: {} };
    if (!plivo) CQ.notice("Plivo statistics: " + why(2));
    const classified = all.audio_streams == null ? null : all.audio_streams - (all.unclassified_audio_streams || 0);
    view.append(
      h(
        "div.tiles#tiles",
        tile("tile-reports", "Reports", all.reports, count(all.reports)),
        tile("tile-audio", "Audio streams", all.audio_streams, count(all.audio_streams)),
        tile("tile-poor", "Poor audio streams", all.poor_audio_streams, count(all.poor_audio_streams),
          all.unclassified_audio_streams != null ? count(all.unclassified_audio_streams) + " unclassified" : null),
        tile("tile-poor-rate", "Poor-stream rate", all.poor_rate, pct(all.poor_rate), "of classified audio streams"),
        tile("tile-mos", "MOS p50", all.mos && all.mos.p50, num(all.mos && all.mos.p50, 2), "1–5"),
        tile("tile-rating", "Plivo mean rating", pl.rating.mean, num(pl.rating.mean, 2),
          count(pl.rating.count) + " ratings, 1–5"),
      ),
      h("p.caveat#caveat", CAVEAT),
    );

    // Time series.
    const times = buckets(range, step);
    const byTime = new Map(series.groups.filter((g) => g.key).map((g) => [keyTime(g.key), g]));
    const at = (fn) => times.map((t) => (byTime.has(t) ? fn(byTime.get(t)) : null));
    const perBucket = step === DAY ? "per day" : "per hour";
    const xLabel = "time (UTC), " + (step === DAY ? "days" : "hours");
    const grid = h("div.grid");
    view.append(grid);

    const splits = await splitCounts(series, base, step);
    if (!isCurrent()) return;
    CQ.charts.stacked(grid, {
      id: "reports-by-style",
      title: "Reports by style (stacked)",
      yLabel: "reports " + perBucket,
      xLabel,
      unit: "reports",
      times,
      series: STYLES.map((s) => ({ label: s, values: times.map((t) => splits.protocols(t, s)) })),
    });
    CQ.charts.stacked(grid, {
      id: "reports-by-kind",
      title: "Reports by kind (stacked)",
      yLabel: "reports " + perBucket,
      xLabel,
      unit: "reports",
      times,
      series: KINDS.map((k) => ({ label: k, values: times.map((t) => splits.kinds(t, k)) })),
    });
    const rateBox = h("div.cell");
    grid.append(rateBox);
    CQ.charts.lines(rateBox, {
      id: "poor-rate",
      title: "Poor-stream rate, % of classified audio streams (CQD audio classifier)",
      yLabel: "poor streams (%)",
      xLabel,
      unit: "%",
      ymax: 10,
      times,
      series: [{ label: "poor rate", values: at((g) => (g.poor_rate == null ? null : g.poor_rate * 100)) }],
    });
    rateBox.append(h("p.caveat.small", CAVEAT));
    const reasons = all.poor_reasons || {};
    CQ.charts.bars(grid, {
      id: "poor-reasons",
      title: "Audio streams by reason of poorness",
      caption: "Share of classified audio streams (" + count(classified) + ") failing each condition; one stream can fail several.",
      rows: REASONS.map(([key, label]) => ({
        key,
        label,
        value: reasons[key] || 0,
        text: count(reasons[key] || 0) + " · " + pct(classified ? (reasons[key] || 0) / classified : null),
      })),
      max: classified || 1,
      unitNote: "bar length: % of classified audio streams",
    });
    CQ.charts.lines(grid, {
      id: "mos",
      title: "MOS p10 and p50",
      yLabel: "MOS (1–5)",
      xLabel,
      digits: 2,
      ymin: 1,
      ymax: 5,
      times,
      series: [
        { label: "p10", values: at((g) => (g.mos ? g.mos.p10 ?? null : null)), dash: [6, 4] },
        { label: "p50", values: at((g) => (g.mos ? g.mos.p50 : null)) },
      ],
    });
    for (const [id, field, title, unit, label] of [
      ["jitter", "jitter_ms", "Jitter p50 and p90", "ms", "jitter (ms)"],
      ["loss", "loss_pct", "Packet loss p50 and p90", "%", "packet loss (%)"],
      ["rtt", "rtt_ms", "Round trip p50 and p90", "ms", "round trip (ms)"],
    ]) {
      CQ.charts.lines(grid, {
        id,
        title,
        yLabel: label,
        xLabel,
        unit,
        times,
        series: [
          { label: "p50", values: at((g) => g[field].p50) },
          { label: "p90", values: at((g) => g[field].p90), dash: [6, 4] },
        ],
      });
    }

    // Categories.
    const cats = h("div.grid");
    view.append(cats);
    const dist = pl.rating.distribution || {};
    CQ.charts.bars(cats, {
      id: "rating-distribution",
      title: "Plivo rating distribution",
      caption: "Mean " + num(pl.rating.mean, 2) + " over " + count(pl.rating.count) + " ratings (scale 1–5).",
      rows: Object.keys(dist)
        .sort((a, b) => Number(a) - Number(b))
        .map((k) => ({ key: k, label: "★ " + k, value: dist[k], text: count(dist[k]) + " · " + pct(pl.rating.count ? dist[k] / pl.rating.count : null) })),
      unitNote: "bar length: number of ratings",
    });
    const issues = Object.entries(pl.issues || {}).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
    CQ.charts.bars(cats, {
      id: "top-issues",
      title: "Top Plivo issues",
      caption: "Share of Plivo reports (" + count(pl.reports) + ") naming the issue.",
      rows: issues.map(([k, n]) => ({ key: k, label: k, value: n, text: count(n) + " · " + pct(pl.reports ? n / pl.reports : null), href: "#/reports?protocol=plivo&issue=" + encodeURIComponent(k) })),
      unitNote: "bar length: reports",
    });
    for (const [id, answer, title, failed] of [
      ["error-codes", codes, "Top UCWA error codes", why(3)],
      ["error-subcodes", subcodes, "Top UCWA error subcodes", why(4)],
    ]) {
      const rows = answer
        ? answer.groups.filter((g) => g.key !== null).sort((a, b) => b.reports - a.reports || (a.key < b.key ? -1 : 1)).slice(0, 10)
        : [];
      CQ.charts.bars(cats, {
        id,
        title,
        rows: rows.map((g) => ({ key: g.key, label: g.key, value: g.reports, text: count(g.reports) + (g.reports === 1 ? " report" : " reports") })),
        empty: answer ? "No UCWA error codes in this range." : failed,
        unitNote: "bar length: UCWA reports with the code",
      });
    }
    view.append(deviceTable(devices, why(5)));
    view.dataset.ms = String(Math.round(performance.now() - started));
    view.dataset.state = "ready";
  }

  /** Worst devices first: highest poor-stream rate, then most poor streams. */
  function deviceTable(answer, failed) {
    const box = h("figure.chart.devices", h("figcaption", "Worst devices by poor-stream rate"));
    if (!answer) {
      box.append(h("p.error", failed));
      return box;
    }
    const rows = answer.groups
      .filter((g) => g.key !== null && g.poor_rate !== null && g.poor_rate !== undefined)
      .sort((a, b) => b.poor_rate - a.poor_rate || b.poor_audio_streams - a.poor_audio_streams || (a.key < b.key ? -1 : 1))
      .slice(0, 15);
    const body = h("tbody#device-rows");
    for (const g of rows) {
      body.append(
        h(
          "tr",
          { dataset: { key: g.key, poorRate: g.poor_rate, reports: g.reports } },
          h("td", h("a", { href: "#/reports?device=" + encodeURIComponent(g.key), text: g.key })),
          h("td.n", count(g.reports)),
          h("td.n", count(g.audio_streams)),
          h("td.n", count(g.poor_audio_streams)),
          h("td.n", pct(g.poor_rate)),
        ),
      );
    }
    if (!rows.length) body.append(h("tr", h("td", { colspan: 5, text: "No device with classified audio streams in this range." })));
    box.append(
      h(
        "table.data",
        h("thead", h("tr", h("th", "Device (Graph deviceName)"), h("th.n", "Reports"), h("th.n", "Audio streams"), h("th.n", "Poor streams"), h("th.n", "Poor rate (%)"))),
        body,
      ),
      h("p.caveat.small", CAVEAT),
    );
    return box;
  }

  /** Per-bucket counts by style and by kind: from the groups' own
   * `protocols`/`kinds` counts when the server gives them, else from one
   * filtered request per style and kind. */
  async function splitCounts(series, base, step) {
    const byTime = new Map(series.groups.filter((g) => g.key).map((g) => [keyTime(g.key), g]));
    const sample = series.groups[0];
    if (!sample || (sample.protocols && sample.kinds)) {
      const pick = (field) => (t, name) => {
        const g = byTime.get(t);
        return g && g[field] ? g[field][name] || 0 : 0;
      };
      return { protocols: pick("protocols"), kinds: pick("kinds") };
    }
    const groupBy = step === DAY ? "day" : "hour";
    const fetchSplit = async (field, names) => {
      const answers = await Promise.all(names.map((n) => CQ.api.get("/api/v1/stats", Object.assign({}, base, { group_by: groupBy, [field]: n }))));
      const maps = names.map((n, i) => [n, new Map(answers[i].groups.filter((g) => g.key).map((g) => [keyTime(g.key), g.reports]))]);
      const m = new Map(maps);
      return (t, name) => m.get(name).get(t) || 0;
    };
    const [protocols, kinds] = await Promise.all([fetchSplit("protocol", STYLES), fetchSplit("kind", KINDS)]);
    return { protocols, kinds };
  }

  CQ.overview = { render, CAVEAT };
})(window.CQ);
