// Status log: recent Status rows, filtered by engine/action, with new lines arriving live.
"use strict";
(() => {
  const H = Haystack;
  const MAX_ROWS = 500;
  let rows = [];

  const columns = [
    ["When", (r) => H.fmtTime(H.pick(r, "date", "created", "status_date", "time"))],
    ["Engine", (r) => H.pick(r, "engine", "engine_name", "engine_id")],
    ["Action", (r) => H.pick(r, "action", "action_name", "action_id")],
    ["Message", (r) => H.pick(r, "message", "text")],
  ];

  function filters() {
    return {
      engine: document.getElementById("status-engine").value.trim(),
      action: document.getElementById("status-action").value.trim(),
    };
  }

  function render() {
    H.fillTable(document.getElementById("status"), rows, columns, "no status lines");
  }

  async function load() {
    rows = H.asList(await H.api("/api/status", { query: { ...filters(), limit: 100 } }), "status", "rows", "items");
    render();
  }

  function matches(row) {
    const { engine, action } = filters();
    const has = (wanted, ...names) => !wanted || names.some((n) => String(H.pick(row, n) ?? "") === wanted);
    return has(engine, "engine", "engine_name", "engine_id") && has(action, "action", "action_name", "action_id");
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("status-filter").addEventListener("submit", (event) => {
      event.preventDefault();
      load();
    });
    const reload = () => load().catch((error) => H.notify(H.describeError(error), "error"));
    reload();
    document.addEventListener("haystack:token", reload); // when reads need a token
    const live = document.getElementById("status-live");
    H.stream((type, data) => {
      if (type !== "status" && type !== "message") return;
      const row = data && typeof data === "object" ? data : { message: data };
      if (!matches(row)) return;
      rows.unshift(row);
      rows.length = Math.min(rows.length, MAX_ROWS);
      render();
    }, { onState: (connected, reason) => { live.textContent = H.liveLabel(connected, reason); } });
  });
})();
