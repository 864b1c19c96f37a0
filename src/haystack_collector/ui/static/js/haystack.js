// Haystack UI core: API calls with retry and the "API down" banner, the token, safe DOM
// building, tables, the confirmation dialog and the live stream. Every page script uses it.
//
// Safety rule: data from the API (scraped content) only ever reaches the page as text nodes
// (textContent) or checked attribute values; never through innerHTML.
"use strict";

const Haystack = (() => {
  const TOKEN_KEY = "haystack.apiToken";
  const RETRY_MAX_MS = 8000;

  class ApiError extends Error {
    constructor(status, detail) {
      super(typeof detail === "string" ? detail : JSON.stringify(detail));
      this.status = status;
      this.detail = detail;
    }
  }

  // --- the token ------------------------------------------------------------------------

  function token() {
    try {
      return localStorage.getItem(TOKEN_KEY) || "";
    } catch (_) {
      return "";
    }
  }

  function setToken(value) {
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
    showTokenState();
  }

  function showTokenState() {
    const state = document.getElementById("token-state");
    if (state) state.textContent = token() ? "token set" : "no token";
  }

  // --- the banner -----------------------------------------------------------------------

  const DATABASE = "database"; // the stream's key for "the API is up, its database is not"
  const failing = new Set(); // what is failing now: request keys, or DATABASE

  function showBanner() {
    const banner = document.getElementById("api-banner");
    if (!banner) return;
    if (failing.size === 0) {
      banner.hidden = true;
      banner.textContent = "";
      return;
    }
    banner.hidden = false;
    banner.textContent = failing.size === 1 && failing.has(DATABASE)
      ? "The database is not reachable right now; the page shows what it last saw and catches up when it is back."
      : "Haystack's API is not answering right now (or its database is away); retrying… The page keeps working and catches up when it is back.";
  }

  function markDown(key) {
    failing.add(key);
    showBanner();
  }

  function markUp(key) {
    if (failing.delete(key)) showBanner();
  }

  // --- API calls ------------------------------------------------------------------------

  function url(path, query) {
    const target = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") target.searchParams.set(name, value);
    }
    return target.pathname + target.search;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // GETs are retried (with the banner up) until the API answers; writes are tried once.
  async function api(path, options = {}) {
    const method = (options.method || "GET").toUpperCase();
    const retry = options.retry ?? method === "GET";
    const headers = { Accept: "application/json" };
    const secret = token();
    if (secret) headers.Authorization = "Bearer " + secret;
    let body;
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.body);
    }
    const target = url(path, options.query);
    const key = method + " " + path;
    let wait = 500;
    for (;;) {
      let response;
      try {
        response = await fetch(target, { method, headers, body, cache: "no-store" });
      } catch (error) {
        response = null;
      }
      const answered = response !== null && options.acceptStatus && options.acceptStatus.includes(response.status);
      const unavailable = !answered && (response === null || [502, 503, 504].includes(response.status));
      if (unavailable && retry) {
        markDown(key);
        await sleep(wait);
        wait = Math.min(wait * 2, RETRY_MAX_MS);
        continue;
      }
      if (response !== null && response.status === 429 && retry) {
        // Over the per-client rate limit: wait as told, quietly (the API is up).
        const after = Number(response.headers.get("Retry-After")) || 1;
        await sleep(Math.min(after, 30) * 1000);
        continue;
      }
      if (response === null) {
        markDown(key);
        setTimeout(() => markUp(key), 5000);
        throw new ApiError(0, "the API is not reachable");
      }
      markUp(key);
      const text = await response.text();
      let data = null;
      if (text) {
        try {
          data = JSON.parse(text);
        } catch (_) {
          data = text;
        }
      }
      if (!response.ok && !answered) {
        const detail = data && typeof data === "object" && "detail" in data ? data.detail : data;
        throw new ApiError(response.status, detail || response.statusText);
      }
      return data;
    }
  }

  function describeError(error) {
    if (error instanceof ApiError) {
      if (error.status === 401) return "This needs an API token: paste one into \"API token\" at the top (haystack token create NAME).";
      if (error.status === 403) return "The API token is not allowed to do this.";
      const detail = Array.isArray(error.detail)
        ? error.detail.map((d) => (d && d.msg ? (d.loc || []).join(".") + ": " + d.msg : JSON.stringify(d))).join("; ")
        : typeof error.detail === "string" ? error.detail : JSON.stringify(error.detail);
      return (error.status ? "Error " + error.status + ": " : "") + detail;
    }
    return String(error && error.message ? error.message : error);
  }

  function notify(message, kind = "info") {
    const notice = document.getElementById("notice");
    if (!notice) return;
    notice.textContent = message;
    notice.className = "notice" + (kind === "error" ? " error" : "");
    notice.hidden = !message;
  }

  // Runs a write; reports success or the error in the notice; returns the result or null.
  async function write(path, options, success) {
    try {
      const result = await api(path, { retry: false, ...options });
      if (success) notify(typeof success === "function" ? success(result) : success);
      return result ?? {};
    } catch (error) {
      notify(describeError(error), "error");
      return null;
    }
  }

  // --- safe DOM -------------------------------------------------------------------------

  // Only http(s) and same-site links become hrefs: a scraped "javascript:" URI stays text.
  function safeHref(value) {
    if (typeof value !== "string") return null;
    if (value.startsWith("/") && !value.startsWith("//")) return value;
    try {
      const parsed = new URL(value);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name === "href") {
        const href = safeHref(value);
        if (href) node.setAttribute("href", href);
      } else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
      else if (name in node && typeof value !== "string") node[name] = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function fmt(value) {
    if (value === undefined || value === null || value === "") return "—";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function fmtTime(value) {
    if (!value) return "—";
    const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : value + "Z");
    return isNaN(date) ? String(value) : date.toISOString().replace("T", " ").slice(0, 19);
  }

  // The first present field of several spellings (the API's shapes are read tolerantly).
  function pick(object, ...names) {
    if (!object || typeof object !== "object") return undefined;
    for (const name of names) {
      if (object[name] !== undefined && object[name] !== null) return object[name];
    }
    return undefined;
  }

  // A list from a response that is a list or an object holding one under one of ``keys``.
  function asList(data, ...keys) {
    if (Array.isArray(data)) return data;
    if (data && typeof data === "object") {
      for (const key of keys) if (Array.isArray(data[key])) return data[key];
      const first = Object.values(data).find(Array.isArray);
      if (first) return first;
    }
    return [];
  }

  function badge(value) {
    const text = fmt(value);
    return el("span", { class: "badge state-" + text.toLowerCase().replace(/\s+/g, "-") }, text);
  }

  function renderKV(target, object, prefix = "") {
    if (!prefix) target.replaceChildren();
    for (const [key, value] of Object.entries(object || {})) {
      if (value && typeof value === "object" && !Array.isArray(value)) {
        renderKV(target, value, prefix + key + ".");
      } else {
        target.append(el("dt", {}, prefix + key), el("dd", {}, fmt(value)));
      }
    }
  }

  // Fills ``table``'s body; ``columns`` are [label, row => string|Node]; without columns they
  // are the rows' keys (and the header is rewritten to match).
  function fillTable(table, rows, columns, empty = "nothing here") {
    const body = table.tBodies[0] || table.appendChild(document.createElement("tbody"));
    if (!columns) {
      const keys = [...new Set(rows.flatMap((row) => Object.keys(row || {})))];
      columns = keys.map((key) => [key, (row) => fmt(row[key])]);
      const head = table.tHead || table.createTHead();
      head.replaceChildren(el("tr", {}, columns.map(([label]) => el("th", {}, label))));
    }
    body.replaceChildren(
      ...(rows.length
        ? rows.map((row) => el("tr", {}, columns.map(([, get]) => {
            const value = get(row);
            return el("td", {}, value instanceof Node ? value : fmt(value));
          })))
        : [el("tr", { class: "empty" }, el("td", { colspan: Math.max(columns.length, 1), class: "muted" }, empty))])
    );
  }

  // --- confirmation ---------------------------------------------------------------------

  function confirmAction(message) {
    const dialog = document.getElementById("confirm-dialog");
    document.getElementById("confirm-text").textContent = message;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  // --- refresh and the live stream ------------------------------------------------------

  // Calls ``fn`` now and then every ``ms`` (after each call finishes), skipping hidden tabs.
  function every(ms, fn) {
    let timer = null;
    let stopped = false;
    const tick = async () => {
      if (!document.hidden) {
        try {
          await fn();
        } catch (error) {
          notify(describeError(error), "error");
        }
      }
      if (!stopped) timer = setTimeout(tick, ms);
    };
    tick();
    return {
      stop() { stopped = true; clearTimeout(timer); },
      now() { clearTimeout(timer); tick(); },
    };
  }

  // Subscribes to /api/stream; ``handler(type, data)`` gets every event, and
  // ``onState(connected, reason)`` each change of the connection ("unauthorized" when the
  // API wants a token the page does not have, or does not accept the one it has).
  //
  // Read with fetch() rather than EventSource, which cannot send the Authorization header:
  // when reads need a token (api_read_access = "token"), the stream gets it the same way
  // every other API call does. The token never goes into a URL. The text/event-stream body
  // is parsed here (event:/data:/id:/retry: lines, a blank line ends an event). After a drop
  // the stream reconnects by itself, sending Last-Event-ID (the last Status row's id) so it
  // resumes where it left off; the page says so while it is disconnected. Saving another
  // token reconnects at once with it.
  const EVENT_TYPES = ["message", "status", "run", "database"];
  const STREAM_RETRY_MAX_MS = 30000;
  const UNAUTHORIZED_RETRY_MS = 30000;

  // An SSE parser fed text chunks; calls ``dispatch(type, data, id)`` for each event.
  function sseParser(dispatch, onRetry) {
    let buffer = "";
    let type = "";
    let data = [];
    let id = null; // the last event id seen (sticky, as the SSE format says)
    const line = (text) => {
      if (text === "") {
        if (data.length) dispatch(type || "message", data.join("\n"), id);
        type = "";
        data = [];
        return;
      }
      if (text.startsWith(":")) return; // a comment (the server's keep-alives)
      const colon = text.indexOf(":");
      const field = colon < 0 ? text : text.slice(0, colon);
      let value = colon < 0 ? "" : text.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
      else if (field === "id" && !value.includes("\0")) id = value;
      else if (field === "retry" && /^\d+$/.test(value)) onRetry(Number(value));
    };
    return {
      feed(chunk) {
        buffer += chunk;
        // Lines end with \r\n, \n or \r; a trailing \r may be the first half of a \r\n.
        const pattern = /\r\n|\n|\r(?!$)/g;
        let at = 0;
        let match;
        while ((match = pattern.exec(buffer)) !== null) {
          line(buffer.slice(at, match.index));
          at = match.index + match[0].length;
        }
        buffer = buffer.slice(at);
      },
      // A new connection: an event cut off by the drop is dropped; the id carries on.
      reset() {
        buffer = "";
        type = "";
        data = [];
      },
      get lastId() {
        return id;
      },
    };
  }

  // The short "live" label pages show beside a live list, for ``onState``.
  function liveLabel(connected, reason) {
    if (connected) return "● live";
    return reason === "unauthorized" ? "cannot read: needs an API token" : "reconnecting…";
  }

  function stream(handler, { path = "/api/stream", query, onState } = {}) {
    const state = document.getElementById("live-state");
    let retryMs = 1000; // the server's "retry:" field replaces it
    let failures = 0;
    let controller = null;
    let timer = null;
    let closed = false;
    let connected = null;

    const report = (ok, reason) => {
      if (state) {
        state.hidden = ok;
        state.textContent = ok ? ""
          : reason === "unauthorized"
            ? "Live updates cannot be read without a valid API token: paste one into \"API token\" at the top."
            : "Live updates disconnected; reconnecting…";
      }
      const now = ok ? "ok" : reason || "lost";
      if (connected !== now && onState) onState(ok, ok ? undefined : reason || "disconnected");
      connected = now;
    };

    const deliver = (type, raw) => {
      if (!EVENT_TYPES.includes(type)) return;
      let data = raw;
      try {
        data = JSON.parse(raw);
      } catch (_) {
        /* plain text lines are passed on as they are */
      }
      if (type === "database") {
        if (data && data.ok === false) markDown(DATABASE);
        else markUp(DATABASE);
        return;
      }
      handler(type, data);
    };
    const parser = sseParser(deliver, (ms) => { retryMs = ms; });

    const later = (ms) => {
      clearTimeout(timer);
      if (!closed) timer = setTimeout(connect, ms);
    };

    async function connect() {
      clearTimeout(timer);
      if (closed) return;
      if (controller) controller.abort();
      const mine = (controller = new AbortController());
      const headers = { Accept: "text/event-stream" };
      const secret = token();
      if (secret) headers.Authorization = "Bearer " + secret;
      if (parser.lastId !== null) headers["Last-Event-ID"] = parser.lastId;
      parser.reset();
      let response;
      try {
        response = await fetch(url(path, query), { headers, cache: "no-store", signal: mine.signal });
      } catch (_) {
        if (mine.signal.aborted) return; // replaced by a newer connection, or closed
        failures += 1;
        report(false);
        later(Math.min(retryMs * 2 ** Math.min(failures - 1, 5), STREAM_RETRY_MAX_MS));
        return;
      }
      if (response.status === 401 || response.status === 403) {
        // Not for want of trying: say so, and wait for a token (the form reconnects at once).
        report(false, "unauthorized");
        response.body && response.body.cancel().catch(() => {});
        later(UNAUTHORIZED_RETRY_MS);
        return;
      }
      if (!response.ok || !response.body) {
        failures += 1;
        report(false);
        response.body && response.body.cancel().catch(() => {});
        // The route answered (e.g. 404 or 503): try again, more slowly each time.
        later(Math.min(Math.max(retryMs, 3000) * 2 ** Math.min(failures - 1, 3), STREAM_RETRY_MAX_MS));
        return;
      }
      failures = 0;
      report(true);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
      } catch (_) {
        if (mine.signal.aborted) return;
        report(false); // the connection broke mid-stream
      }
      if (mine.signal.aborted || closed) return;
      // The server ended the stream (it does every few minutes, and when it stops): reconnect
      // after its retry delay; the page says "disconnected" only if that fails.
      later(retryMs);
    }

    document.addEventListener("haystack:token", () => {
      failures = 0;
      connect();
    });
    connect();
    return {
      close() {
        closed = true;
        clearTimeout(timer);
        if (controller) controller.abort();
      },
    };
  }

  // --- page start -----------------------------------------------------------------------

  function init() {
    const form = document.getElementById("token-form");
    if (form) {
      const input = document.getElementById("api-token");
      input.value = token();
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        setToken(input.value.trim());
        notify(token() ? "API token saved in this browser." : "API token removed.");
        // Pages whose reads need the token (the admin) load again with it.
        document.dispatchEvent(new CustomEvent("haystack:token"));
      });
    }
    showTokenState();
  }

  document.addEventListener("DOMContentLoaded", init);

  return {
    ApiError, api, write, describeError, notify, token, setToken, el, fmt, fmtTime, pick, asList,
    badge, renderKV, fillTable, confirmAction, every, stream, liveLabel, safeHref, url, sleep, markDown, markUp, DATABASE,
  };
})();
