// Runs: queued and running work with live progress, and a form to queue an action.
"use strict";
(() => {
  const H = Haystack;
  const { el } = H;
  const runs = new Map(); // run id -> the latest run object
  let engines = [];

  const idOf = (run) => H.pick(run, "run_id", "id", "runId");
  const FINAL = ["done", "failed", "cancelled"];

  function progress(run) {
    const stored = H.pick(run, "items_stored", "itemsStored");
    const queued = H.pick(run, "events_enqueued", "eventsEnqueued");
    const extra = H.pick(run, "progress");
    const parts = [];
    if (stored !== undefined) parts.push(stored + " items");
    if (queued !== undefined) parts.push(queued + " queued");
    if (extra && typeof extra === "object") {
      for (const [k, v] of Object.entries(extra)) parts.push(k + " " + H.fmt(v));
    }
    const state = H.pick(run, "state", "status");
    const node = el("span", { class: "progress" }, parts.join(", ") || "—");
    if (state === "running") node.prepend(el("progress", {}), " ");
    return node;
  }

  function render() {
    const rows = [...runs.values()].sort((a, b) => idOf(b) - idOf(a));
    H.fillTable(document.getElementById("runs"), rows, [
      ["Run", (j) => el("span", { id: "run-" + idOf(j) }, "#" + idOf(j))],
      ["Engine", (j) => H.pick(j, "engine", "engine_name", "engine_id")],
      ["Action", (j) => H.pick(j, "action") || "all start actions"],
      ["State", (j) => H.badge(H.pick(j, "state", "status"))],
      ["Progress", progress],
      ["Created", (j) => H.fmtTime(H.pick(j, "created"))],
      ["Started", (j) => H.fmtTime(H.pick(j, "started"))],
      ["Finished", (j) => H.fmtTime(H.pick(j, "finished"))],
      ["Error", (j) => H.pick(j, "error")],
    ], "no runs yet");
    const wanted = location.hash.slice(1);
    const row = wanted && document.getElementById(wanted);
    if (row) row.closest("tr").classList.add("highlight");
  }

  async function loadList() {
    let list = [];
    try {
      list = H.asList(await H.api("/api/runs", { query: { limit: 50 } }), "runs");
    } catch (error) {
      if (!(error instanceof H.ApiError) || ![404, 405].includes(error.status)) throw error;
    }
    for (const run of list) runs.set(idOf(run), run);
    // A run named in the address is shown even when the list does not (yet) hold it.
    const wanted = /^run-(\d+)$/.exec(location.hash.slice(1));
    if (wanted && !runs.has(Number(wanted[1]))) {
      const run = await H.api("/api/runs/" + wanted[1]);
      runs.set(idOf(run), run);
    }
    render();
  }

  async function refreshRunning() {
    // The newest unfinished runs only: a backlog of queued runs must not flood the API.
    const open = [...runs.values()].filter((j) => !FINAL.includes(H.pick(j, "state", "status")))
      .sort((a, b) => idOf(b) - idOf(a)).slice(0, 10);
    for (const run of open) {
      const fresh = await H.api("/api/runs/" + idOf(run));
      runs.set(idOf(fresh), fresh);
    }
    if (open.length) render();
  }

  function fillActions() {
    const engine = engines.find((e) => H.pick(e, "name") === document.getElementById("scrape-engine").value);
    const actions = H.asList(H.pick(engine, "actions") || [], "actions");
    document.getElementById("scrape-action").replaceChildren(el("option", { value: "" }, "all start actions"),
      ...actions.map((a) => { const name = typeof a === "string" ? a : H.pick(a, "name"); return el("option", { value: name }, name); }));
  }

  async function queue(event) {
    event.preventDefault();
    const raw = document.getElementById("scrape-params").value.trim();
    let parameters = {};
    if (raw) {
      try {
        parameters = JSON.parse(raw);
      } catch (_) {
        H.notify("Parameters: not valid JSON.", "error");
        return;
      }
    }
    const body = { engine: document.getElementById("scrape-engine").value, parameters };
    const action = document.getElementById("scrape-action").value;
    if (action) body.action = action;
    const result = await H.write("/api/runs/scrape", { method: "POST", body }, (r) => "Queued run " + H.fmt(idOf(r)) + ".");
    if (result) {
      location.hash = "run-" + idOf(result);
      await loadList();
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    document.getElementById("scrape-form").addEventListener("submit", queue);
    document.getElementById("scrape-engine").addEventListener("change", fillActions);
    H.api("/api/engines").then((data) => {
      engines = H.asList(data, "engines");
      document.getElementById("scrape-engine").replaceChildren(
        ...engines.map((e) => el("option", { value: H.pick(e, "name") }, H.pick(e, "name"))));
      fillActions();
    });
    H.every(10000, loadList);
    H.every(1500, refreshRunning);
    H.stream((type, data) => {
      if (data && typeof data === "object" && idOf(data) !== undefined && type === "run") {
        runs.set(idOf(data), { ...(runs.get(idOf(data)) || {}), ...data });
        render();
      }
    });
  });
})();
