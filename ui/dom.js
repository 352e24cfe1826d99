// DOM and formatting helpers shared by every view. Elements are built with
// textContent only (never innerHTML), so nothing a client sent can become markup.
"use strict";
window.CQ = window.CQ || {};

(function (CQ) {
  /** h("tag.class#id", {attr: value, on: {click: fn}}, ...children) */
  function h(spec, attrs, ...children) {
    const m = /^([a-z0-9]+)((?:[.#][\w-]+)*)$/i.exec(spec);
    const el = document.createElement(m ? m[1] : spec);
    if (m && m[2]) {
      for (const part of m[2].match(/[.#][\w-]+/g)) {
        if (part[0] === ".") el.classList.add(part.slice(1));
        else el.id = part.slice(1);
      }
    }
    if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
      children.unshift(attrs);
      attrs = null;
    }
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "on") {
        for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      } else if (k === "dataset") {
        for (const [dk, dv] of Object.entries(v)) {
          if (dv !== null && dv !== undefined) el.dataset[dk] = String(dv);
        }
      } else if (k === "text") {
        el.textContent = String(v);
      } else if (k in el && typeof v !== "string") {
        el[k] = v;
      } else {
        el.setAttribute(k, v === true ? "" : String(v));
      }
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  const dash = "—";

  /** A number with at most `digits` decimals, or a dash. */
  function num(v, digits = 1) {
    if (v === null || v === undefined || Number.isNaN(v)) return dash;
    return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  }

  function count(v) {
    return v === null || v === undefined ? dash : String(v);
  }

  /** A ratio 0..1 as a percentage. */
  function pct(ratio, digits = 1) {
    return ratio === null || ratio === undefined ? dash : (ratio * 100).toFixed(digits) + " %";
  }

  /** An RFC 3339 time, shown in UTC as YYYY-MM-DD HH:MM:SS. */
  function time(iso) {
    if (!iso) return dash;
    return iso.replace("T", " ").replace(/\.\d+/, "").replace(/(Z|\+00:00)$/, " UTC");
  }

  /** A value with its unit, or a dash. */
  function unit(v, u, digits = 1) {
    return v === null || v === undefined ? dash : num(v, digits) + " " + u;
  }

  CQ.dom = { h, append, clear, num, count, pct, time, unit, dash };
})(window.CQ);
