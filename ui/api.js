// The read API client: every request carries the ops token as a bearer
// header (never in a URL), and a 401 signs the page out with a message.
"use strict";
window.CQ = window.CQ || {};

(function (CQ) {
  const KEY = "callq.ops_token";

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || "HTTP " + status);
      this.status = status;
      this.code = body && body.error;
      this.parameter = body && body.parameter;
    }
  }

  const token = {
    get: () => sessionStorage.getItem(KEY),
    set: (t) => sessionStorage.setItem(KEY, t),
    clear: () => sessionStorage.removeItem(KEY),
  };

  /** "/api/v1/x" + the non-empty entries of `params` as a query string. */
  function url(path, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
    }
    const s = q.toString();
    return s ? path + "?" + s : path;
  }

  async function request(path, params, accept) {
    const t = token.get();
    if (!t) throw new ApiError(401, { error: "missing_token", message: "Not signed in." });
    let response;
    try {
      response = await fetch(url(path, params), {
        headers: { Authorization: "Bearer " + t, Accept: accept },
        cache: "no-store",
        credentials: "omit",
      });
    } catch (e) {
      throw new ApiError(0, { error: "network", message: "callq did not answer: " + e.message });
    }
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch (_) {
        body = null;
      }
      const error = new ApiError(response.status, body);
      if (response.status === 401 && CQ.onUnauthorized) CQ.onUnauthorized(error);
      throw error;
    }
    return response;
  }

  async function get(path, params) {
    return (await request(path, params, "application/json")).json();
  }

  async function blob(path, params, accept) {
    return (await request(path, params, accept)).blob();
  }

  /** The path of one call: each segment escaped, UCWA's slash kept. */
  function callPath(id) {
    return "/api/v1/calls/" + id.split("/").map(encodeURIComponent).join("/");
  }

  CQ.api = { ApiError, token, url, get, blob, callPath };
})(window.CQ);
