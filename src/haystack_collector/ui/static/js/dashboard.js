// Dashboard: health, pool, counts and events (polled), the chart, and live recent activity.
"use strict";
(() => {
  const H = Haystack;
  const MAX_ACTIVITY = 50;

  function show(id, object) {
    H.renderKV(document.getElementById(id), object);
  }

  // /health answers 503 (same shape) while the database is away: shown, not retried.
  async function refreshHealth() {
    const health = await H.api("/health", { acceptStatus: [503] });
    const database = H.pick(health, "database") || {};
    if (database.ok === false) H.markDown(H.DATABASE);
    else H.markUp(H.DATABASE);
    const dl = document.getElementById("health");
    dl.replaceChildren();
    const facts = [
      ["status", H.badge(H.pick(health, "status"))],
      ["version", H.fmt(H.pick(health, "version"))],
      ["database", H.fmt(database.dialect) + (database.ok ? " · ok" : " · down")],
      ["latency", database.latency_ms === undefined ? "—" : Number(database.latency_ms).toFixed(1) + " ms"],
    ];
    if (database.error) facts.push(["error", H.fmt(database.error)]);
    for (const [name, value] of facts) dl.append(H.el("dt", {}, name), H.el("dd", {}, value));
    show("pool", H.pick(health, "pool") || {});
    show("events", H.pick(health, "events") || { pending: "—", claimed: "—", done: "—", dead: "—" });
    H.fillTable(document.getElementById("workers"), H.pick(health, "workers") || [], [
      ["Worker", (w) => H.pick(w, "owner")],
      ["State", (w) => H.badge(H.pick(w, "state"))],
      ["Started", (w) => H.fmtTime(H.pick(w, "started"))],
      ["Seen", (w) => H.fmtTime(H.pick(w, "seen"))],
      ["Finished", (w) => H.pick(w, "finished")],
      ["Failed", (w) => H.pick(w, "failed")],
    ], "no worker seen recently");
  }

  async function refreshCounts() {
    const page = await H.api("/api/items", { query: { limit: 1 } });
    const counts = { items: (H.pick(page, "total_exact") === false ? "about " : "") + H.fmt(H.pick(page, "total")) };
    const engines = H.asList(await H.api("/api/engines"), "engines");
    counts.engines = engines.length;
    counts["engines enabled"] = engines.filter((e) => H.pick(e, "enabled") !== false).length;
    show("counts", counts);
  }

  // Fetched with the token (an <img src> could not send it when reads need one) and shown
  // from a blob: an SVG in an <img> never runs scripts.
  async function refreshChart() {
    const chart = document.getElementById("items-chart");
    const headers = H.token() ? { Authorization: "Bearer " + H.token() } : {};
    let response;
    try {
      response = await fetch("/ui/charts/items-per-day.svg?days=30", { headers, cache: "no-store" });
    } catch (_) {
      return; // the banner is up already; the next round tries again
    }
    if (!response.ok) return;
    const previous = chart.dataset.blob;
    const blobUrl = URL.createObjectURL(await response.blob());
    chart.dataset.blob = blobUrl;
    chart.src = blobUrl;
    if (previous) URL.revokeObjectURL(previous);
  }

  function statusLine(row) {
    const when = H.fmtTime(H.pick(row, "date", "created", "status_date", "StatusDate", "time"));
    const who = [H.pick(row, "engine", "engine_name"), H.pick(row, "action", "action_name")].filter(Boolean).join(" / ");
    const message = H.pick(row, "message", "StatusMessage", "text");
    return H.el("li", {}, H.el("span", { class: "muted" }, when + " "), who ? H.el("strong", {}, who + ": ") : null,
      message !== undefined ? H.fmt(message) : H.fmt(row));
  }

  function addActivity(row, atTop = true) {
    const list = document.getElementById("activity");
    const line = statusLine(row);
    if (atTop) list.prepend(line);
    else list.append(line);
    while (list.children.length > MAX_ACTIVITY) list.lastElementChild.remove();
  }

  async function loadActivity() {
    const rows = H.asList(await H.api("/api/status", { query: { limit: 20 } }), "status", "items", "rows");
    document.getElementById("activity").replaceChildren();
    rows.forEach((row) => addActivity(row, false));
  }

  document.addEventListener("DOMContentLoaded", () => {
    H.every(5000, refreshHealth);
    H.every(10000, refreshCounts);
    H.every(60000, refreshChart);
    const reloadActivity = () => loadActivity().catch((error) => H.notify(H.describeError(error), "error"));
    reloadActivity();
    document.addEventListener("haystack:token", reloadActivity); // when reads need a token
    const live = document.getElementById("activity-live");
    H.stream((type, data) => {
      if (type === "run" && data && typeof data === "object") {
        const stored = H.pick(data, "items_stored");
        addActivity({ engine: H.pick(data, "engine"), message: "run #" + H.pick(data, "run_id") + " " +
          H.fmt(H.pick(data, "state")) + (stored ? ", " + stored + " items" : ""), date: H.pick(data, "finished", "started", "created") });
      } else {
        addActivity(data && typeof data === "object" ? data : { message: data });
      }
    }, { onState: (connected, reason) => { live.textContent = H.liveLabel(connected, reason); } });
  });
})();
