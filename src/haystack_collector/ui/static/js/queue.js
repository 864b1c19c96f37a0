// Queue: pending, claimed and dead events; dead ones can be retried or discarded.
"use strict";
(() => {
  const H = Haystack;
  const { el } = H;

  const idOf = (e) => H.pick(e, "event_id", "id", "item_event_id");

  async function act(event, verb) {
    const id = idOf(event);
    if (verb === "discard" && !(await H.confirmAction("Discard dead event #" + id + "? It will not run again."))) return;
    const options = verb === "discard" ? { method: "DELETE" } : { method: "POST" };
    const path = "/api/events/" + id + (verb === "discard" ? "" : "/" + verb);
    const result = await H.write(path, options, "Event #" + id + (verb === "discard" ? " discarded." : " queued again."));
    if (result) await load();
  }

  async function load() {
    const state = document.getElementById("state").value;
    const data = await H.api("/api/events", { query: { state, limit: 100 } });
    const counts = H.pick(data, "counts");
    document.getElementById("queue-counts").textContent = counts && typeof counts === "object"
      ? Object.entries(counts).map(([k, v]) => k + ": " + v).join(" · ") : "";
    H.fillTable(document.getElementById("events"), H.asList(data, "events"), [
      ["Event", (e) => "#" + idOf(e)],
      ["Engine", (e) => H.pick(e, "engine", "engine_name", "engine_id")],
      ["Action", (e) => H.pick(e, "action", "action_name", "action_id")],
      ["Item", (e) => { const id = H.pick(e, "item_id"); return el("a", { href: "/items/" + id }, H.fmt(H.pick(e, "uri") ?? "#" + id)); }],
      ["Attempts", (e) => H.pick(e, "attempts")],
      ["Added", (e) => H.fmtTime(H.pick(e, "added", "created"))],
      ["Dead since", (e) => H.fmtTime(H.pick(e, "dead_since"))],
      ["Last error", (e) => H.pick(e, "last_error", "error")],
      ["", (e) => (H.pick(e, "state") === "dead" || state === "dead"
        ? el("span", {},
          el("button", { type: "button", class: "retry", onclick: () => act(e, "retry") }, "Retry"), " ",
          el("button", { type: "button", class: "discard danger", onclick: () => act(e, "discard") }, "Discard"))
        : "")],
    ], "no " + state + " events");
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("queue-filter").addEventListener("submit", (event) => {
      event.preventDefault();
      load();
    });
    H.every(5000, load);
  });
})();
