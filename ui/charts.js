// Charts: time series drawn with uPlot (vendored), category bars as plain
// HTML. Every chart names its axes' units.
"use strict";
window.CQ = window.CQ || {};

(function (CQ) {
  const { h } = CQ.dom;
  const COLORS = ["#2f6fb3", "#e07b28", "#3a9a5b", "#9b4fb0", "#c0392b", "#7f8c8d"];

  /** Drawn plots and their boxes, resized with the window. */
  let live = [];
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      live = live.filter(([, box]) => box.isConnected);
      for (const [plot, box] of live) plot.setSize({ width: width(box), height: 220 });
    }, 150);
  });

  function width(el) {
    return Math.max(280, Math.floor((el.clientWidth || 560) - 8));
  }

  /** Axis values of a time axis, in UTC. */
  const utc = (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");

  /** Tick labels in UTC, 24-hour: "HH:MM" within two days, else "MM-DD";
   * the first tick and each midnight also name the day. */
  function timeTicks(u, splits) {
    const span = (u.scales.x.max || 0) - (u.scales.x.min || 0);
    return splits.map((ts, i) => {
      const d = new Date(ts * 1000).toISOString();
      if (span > 2 * 86400) return d.slice(5, 10);
      const hm = d.slice(11, 16);
      return i === 0 || hm === "00:00" ? hm + "\n" + d.slice(5, 10) : hm;
    });
  }

  /**
   * A line chart over time.
   * opts: { title, yLabel, xLabel, times: [unix s], series: [{label, values, dash}] , ymin, ymax }
   */
  function lines(container, opts) {
    const box = h("figure.chart", h("figcaption", opts.title));
    container.append(box);
    const data = [opts.times, ...opts.series.map((s) => s.values)];
    const plot = new uPlot(
      {
        width: width(box),
        height: 220,
        tzDate: utc,
        scales: {
          x: { time: true },
          y: { range: (u, min, max) => [opts.ymin ?? Math.min(0, min ?? 0), Math.max(opts.ymax ?? 0, max ?? 1, opts.yfloor ?? 0)] },
        },
        axes: [
          { label: opts.xLabel, labelSize: 20, values: timeTicks },
          { label: opts.yLabel, labelSize: 20, size: 56 },
        ],
        series: [
          { label: "time (UTC)" },
          ...opts.series.map((s, i) => ({
            label: s.label,
            stroke: COLORS[i % COLORS.length],
            width: 2,
            dash: s.dash,
            spanGaps: false,
            points: { show: opts.times.length < 40 },
            value: (u, v) => (v === null || v === undefined ? "—" : v.toFixed(opts.digits ?? 1) + " " + (opts.unit || "")),
          })),
        ],
      },
      data,
      box,
    );
    box.dataset.chart = opts.id || "";
    live.push([plot, box]);
    return plot;
  }

  /**
   * Stacked columns over time: each series sits on the ones before it.
   * The legend shows each series' own value, not the running total.
   */
  function stacked(container, opts) {
    const box = h("figure.chart", h("figcaption", opts.title));
    container.append(box);
    const n = opts.times.length;
    const cumulative = [];
    let running = new Array(n).fill(0);
    for (const s of opts.series) {
      running = running.map((r, i) => r + (s.values[i] || 0));
      cumulative.push(running.slice());
    }
    // Drawn tallest first so each shorter stack shows on top of it.
    const order = opts.series.map((_, i) => i).reverse();
    const bars = uPlot.paths.bars({ size: [0.8, 60] });
    const plot = new uPlot(
      {
        width: width(box),
        height: 220,
        tzDate: utc,
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
        axes: [
          { label: opts.xLabel, labelSize: 20, values: timeTicks },
          { label: opts.yLabel, labelSize: 20, size: 56 },
        ],
        series: [
          { label: "time (UTC)" },
          ...order.map((i) => ({
            label: opts.series[i].label,
            stroke: COLORS[i % COLORS.length],
            fill: COLORS[i % COLORS.length],
            paths: bars,
            points: { show: false },
            value: (u, v, si, idx) => (idx === null || idx === undefined ? "—" : String(opts.series[i].values[idx] || 0) + " " + (opts.unit || "")),
          })),
        ],
      },
      // An empty stack draws no bar at all rather than a flat line at zero.
      [opts.times, ...order.map((i) => cumulative[i].map((v) => (v > 0 ? v : null)))],
      box,
    );
    box.dataset.chart = opts.id || "";
    live.push([plot, box]);
    return plot;
  }

  /**
   * Horizontal bars for categories: rows [{label, value, text, href, note}],
   * bar length relative to `max` (default: the largest value).
   */
  function bars(container, opts) {
    const box = h("figure.chart.bars", h("figcaption", opts.title));
    if (opts.caption) box.append(h("p.caption", opts.caption));
    const max = opts.max ?? Math.max(0, ...opts.rows.map((r) => r.value || 0));
    const list = h("ol.barlist", { id: opts.id });
    if (!opts.rows.length) list.append(h("li.empty", opts.empty || "Nothing in this range."));
    for (const r of opts.rows) {
      const bar = h("span.bar");
      bar.style.width = (max > 0 ? (100 * (r.value || 0)) / max : 0).toFixed(1) + "%";
      const label = r.href ? h("a", { href: r.href, text: r.label }) : h("span", { text: r.label });
      list.append(
        h(
          "li",
          { dataset: { key: r.key ?? r.label, value: r.value } },
          h("span.label", label),
          h("span.track", bar),
          h("span.value", { text: r.text }),
        ),
      );
    }
    box.append(list);
    if (opts.unitNote) box.append(h("p.axis", opts.unitNote));
    container.append(box);
    return box;
  }

  CQ.charts = { lines, stacked, bars, COLORS };
})(window.CQ);
