// Jobs: queued and running work with live progress, and a form to queue an action.
"use strict";
(() => {
  const H = Haystack;
  const { el } = H;
  const jobs = new Map(); // job id -> the latest job object
  let engines = [];

  const idOf = (job) => H.pick(job, "job_id", "id", "jobId");
  const FINAL = ["done", "failed", "cancelled"];

  function progress(job) {
    const stored = H.pick(job, "items_stored", "itemsStored");
    const queued = H.pick(job, "events_enqueued", "eventsEnqueued");
    const extra = H.pick(job, "progress");
    const parts = [];
    if (stored !== undefined) parts.push(stored + " items");
    if (queued !== undefined) parts.push(queued + " queued");
    if (extra && typeof extra === "object") {
      for (const [k, v] of Object.entries(extra)) parts.push(k + " " + H.fmt(v));
    }
    const state = H.pick(job, "state", "status");
    const node = el("span", { class: "progress" }, parts.join(", ") || "—");
    if (state === "running") node.prepend(el("progress", {}), " ");
    return node;
  }

  function render() {
    const rows = [...jobs.values()].sort((a, b) => idOf(b) - idOf(a));
    H.fillTable(document.getElementById("jobs"), rows, [
      ["Job", (j) => el("span", { id: "job-" + idOf(j) }, "#" + idOf(j))],
      ["Engine", (j) => H.pick(j, "engine", "engine_name", "engine_id")],
      ["Action", (j) => H.pick(j, "action") || "all start actions"],
      ["State", (j) => H.badge(H.pick(j, "state", "status"))],
      ["Progress", progress],
      ["Created", (j) => H.fmtTime(H.pick(j, "created"))],
      ["Started", (j) => H.fmtTime(H.pick(j, "started"))],
      ["Finished", (j) => H.fmtTime(H.pick(j, "finished"))],
      ["Error", (j) => H.pick(j, "error")],
    ], "no jobs yet");
    const wanted = location.hash.slice(1);
    const row = wanted && document.getElementById(wanted);
    if (row) row.closest("tr").classList.add("highlight");
  }

  async function loadList() {
    let list = [];
    try {
      list = H.asList(await H.api("/api/jobs", { query: { limit: 50 } }), "jobs");
    } catch (error) {
      if (!(error instanceof H.ApiError) || ![404, 405].includes(error.status)) throw error;
    }
    for (const job of list) jobs.set(idOf(job), job);
    // A job named in the address is shown even when the list does not (yet) hold it.
    const wanted = /^job-(\d+)$/.exec(location.hash.slice(1));
    if (wanted && !jobs.has(Number(wanted[1]))) {
      const job = await H.api("/api/jobs/" + wanted[1]);
      jobs.set(idOf(job), job);
    }
    render();
  }

  async function refreshRunning() {
    // The newest unfinished jobs only: a backlog of queued jobs must not flood the API.
    const open = [...jobs.values()].filter((j) => !FINAL.includes(H.pick(j, "state", "status")))
      .sort((a, b) => idOf(b) - idOf(a)).slice(0, 10);
    for (const job of open) {
      const fresh = await H.api("/api/jobs/" + idOf(job));
      jobs.set(idOf(fresh), fresh);
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
    const result = await H.write("/api/jobs/scrape", { method: "POST", body }, (r) => "Queued job " + H.fmt(idOf(r)) + ".");
    if (result) {
      location.hash = "job-" + idOf(result);
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
      if (data && typeof data === "object" && idOf(data) !== undefined && type === "job") {
        jobs.set(idOf(data), { ...(jobs.get(idOf(data)) || {}), ...data });
        render();
      }
    });
  });
})();
