// Sign-in, sign-out and the hash router (#/overview, #/reports?…, #/call/<id>,
// #/explain).
"use strict";

(function (CQ) {
  const { h, clear } = CQ.dom;
  const $ = (id) => document.getElementById(id);

  /** #token=… in the address: taken into sessionStorage, then erased from
   * the address bar and the history entry, so it is never bookmarked, sent
   * in a Referer or shown over a shoulder. The fragment never reaches the
   * server in the first place. */
  function takeTokenFromFragment() {
    const m = /^#token=([^&]*)(?:&(.*))?$/.exec(location.hash);
    if (!m) return false;
    let t = "";
    try {
      t = decodeURIComponent(m[1]).trim();
    } catch (_) {
      t = "";
    }
    history.replaceState(null, "", location.pathname + location.search + "#/overview");
    if (t) CQ.api.token.set(t);
    return true;
  }

  function showSignIn(message) {
    clear($("view"));
    $("nav").hidden = true;
    $("sign-out").hidden = true;
    $("sign-in").hidden = false;
    const err = $("sign-in-error");
    err.textContent = message || "";
    err.hidden = !message;
    $("token-input").value = "";
    $("token-input").focus();
  }

  function showSignedIn() {
    $("sign-in").hidden = true;
    $("nav").hidden = false;
    $("sign-out").hidden = false;
  }

  /** Any 401 from the API: the stored token is no good any more. */
  CQ.onUnauthorized = function () {
    CQ.api.token.clear();
    showSignIn("The ops token was refused (401 invalid token). Check it and sign in again.");
  };

  /** Checks the token with one cheap authenticated call. */
  async function verify() {
    try {
      await CQ.api.get("/api/v1/reports", { limit: 1 });
      return true;
    } catch (e) {
      if (e.status !== 401) {
        // The server or database is unwell; the token may be fine.
        showSignedIn();
        notice("callq could not be reached: " + e.message);
        return true;
      }
      return false;
    }
  }

  function notice(message) {
    const n = $("notice");
    n.textContent = message || "";
    n.hidden = !message;
  }
  CQ.notice = notice;

  /** The current route: view name, path rest and query parameters. */
  function route() {
    const raw = location.hash.replace(/^#\/?/, "");
    const [path, query] = raw.split("?");
    const params = new URLSearchParams(query || "");
    const [view, ...rest] = path.split("/");
    return { view: view || "overview", rest: rest.join("/"), params };
  }

  /** Sets the hash without adding a history entry per keystroke. */
  CQ.go = function (hash, replace) {
    if (replace) {
      history.replaceState(null, "", location.pathname + hash);
      render();
    } else if (location.hash === hash) {
      render();
    } else {
      location.hash = hash;
    }
  };

  let generation = 0;
  async function render() {
    if (!CQ.api.token.get()) return showSignIn();
    showSignedIn();
    notice("");
    const r = route();
    const mine = ++generation;
    const view = clear($("view"));
    // Tests and people alike read "ready" as "this route's data is shown".
    view.dataset.state = "loading";
    delete view.dataset.ms;
    for (const a of document.querySelectorAll("#nav a")) {
      a.classList.toggle("current", a.dataset.view === r.view);
    }
    const isCurrent = () => mine === generation;
    try {
      if (r.view === "reports") await CQ.explorer.render(view, r.params, isCurrent);
      else if (r.view === "call") await CQ.call.render(view, decodeURIComponent(r.rest), isCurrent);
      else if (r.view === "explain") await CQ.explain.render(view);
      else await CQ.overview.render(view, r.params, isCurrent);
    } catch (e) {
      if (e instanceof CQ.api.ApiError && e.status === 401) return;
      if (isCurrent()) {
        view.append(h("p.error", { role: "alert", text: "Could not load this view: " + e.message }));
      }
    }
  }

  async function start() {
    takeTokenFromFragment();
    $("sign-in-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const t = $("token-input").value.trim();
      if (!t) return;
      CQ.api.token.set(t);
      $("sign-in-button").disabled = true;
      const ok = await verify();
      $("sign-in-button").disabled = false;
      if (ok) render();
    });
    $("sign-out").addEventListener("click", () => {
      CQ.api.token.clear();
      history.replaceState(null, "", location.pathname + "#/overview");
      showSignIn("Signed out.");
    });
    window.addEventListener("hashchange", () => {
      if (!takeTokenFromFragment() || CQ.api.token.get()) render();
    });
    // A refused token has already shown the sign-in form with its message.
    if (!CQ.api.token.get()) showSignIn();
    else if (await verify()) render();
  }

  document.addEventListener("DOMContentLoaded", start);
})(window.CQ);
