// Items: full-text search, filters, a keyset-paginated table that refreshes live on page one.
"use strict";
(() => {
  const H = Haystack;
  const { el } = H;
  const PAGE = 50;
  const FILTERS = ["q", "state", "engine", "key", "value", "linked_to", "linked_from", "created_from", "created_to"];
  // The page shows fetched items unless another state is chosen; "all" sends no state at all.
  const DEFAULT_STATE = "fetched";
  let cursors = [null]; // the cursor of each page shown so far; the last is the current page
  let next = null;

  // The date inputs are whole UTC days: "to" includes its day.
  const DAY_BOUNDS = { created_from: "T00:00:00Z", created_to: "T23:59:59.999999Z" };

  function filters({ forApi = true } = {}) {
    const query = {};
    for (const name of FILTERS) {
      const value = document.getElementById(name).value.trim();
      if (name === "state" && (value === (forApi ? "all" : DEFAULT_STATE))) continue;
      if (value) query[name] = forApi && DAY_BOUNDS[name] ? value + DAY_BOUNDS[name] : value;
    }
    return query;
  }

  function titleOf(item) {
    const title = H.pick(item, "title", "Title");
    return Array.isArray(title) ? title[0] : title;
  }

  function render(page) {
    const items = H.asList(page, "items");
    H.fillTable(document.getElementById("items"), items, [
      ["Id", (i) => el("a", { href: "/items/" + H.pick(i, "item_id", "id") }, H.pick(i, "item_id", "id"))],
      ["Title", (i) => el("a", { href: "/items/" + H.pick(i, "item_id", "id"), class: "item-title" }, H.fmt(titleOf(i)))],
      ["State", (i) => H.badge(H.pick(i, "state"))],
      ["URI", (i) => H.pick(i, "uri")],
      ["Engine", (i) => H.pick(i, "engine", "engine_name", "engine_id")],
      ["Created", (i) => H.fmtTime(H.pick(i, "created", "item_created"))],
      ["Seen", (i) => H.fmtTime(H.pick(i, "seen", "item_dts", "updated"))],
    ], "no items match");
    const total = H.pick(page, "total");
    const exact = H.pick(page, "total_exact") !== false;
    const state = document.getElementById("state").value;
    document.getElementById("total").textContent = total === undefined ? ""
      : (exact ? "" : "about ") + total + (state === "all" ? "" : " " + state) + " item" + (total === 1 ? "" : "s");
    next = H.pick(page, "next", "next_cursor") || null;
    document.getElementById("next").disabled = !next;
    document.getElementById("prev").disabled = cursors.length <= 1;
    document.getElementById("page-no").textContent = "page " + cursors.length;
  }

  async function load() {
    const query = { ...filters(), limit: PAGE };
    const cursor = cursors[cursors.length - 1];
    if (cursor) query.cursor = cursor;
    render(await H.api("/api/items", { query }));
  }

  function reflectInUrl() {
    history.replaceState(null, "", H.url("/items", filters({ forApi: false })));
    const query = filters();
    for (const [id, format] of [["export-csv", "csv"], ["export-jsonl", "jsonl"]]) {
      document.getElementById(id).setAttribute("href", H.url("/api/items/export", { ...query, format }));
    }
  }

  async function loadEngines() {
    const engines = H.asList(await H.api("/api/engines"), "engines");
    const select = document.getElementById("engine");
    const chosen = select.value || new URLSearchParams(location.search).get("engine") || "";
    const names = engines.map((e) => H.pick(e, "name"));
    if (chosen && !names.includes(chosen)) names.push(chosen); // an engine no longer installed
    select.replaceChildren(el("option", { value: "" }, "any engine"),
      ...names.map((name) => el("option", { value: name, selected: name === chosen }, name)));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const params = new URLSearchParams(location.search);
    // The engines' list comes later: an engine named in the address is an option already, so
    // the first page and the address keep it.
    if (params.get("engine")) {
      document.getElementById("engine").append(el("option", { value: params.get("engine") }, params.get("engine")));
    }
    for (const name of FILTERS) {
      if (params.get(name)) document.getElementById(name).value = params.get(name);
    }
    // A state the list does not offer (an old or hand-made link) falls back to the default.
    const state = document.getElementById("state");
    if (!state.value) state.value = DEFAULT_STATE;
    state.addEventListener("change", () => document.getElementById("item-search").requestSubmit());
    document.getElementById("item-search").addEventListener("submit", (event) => {
      event.preventDefault();
      cursors = [null];
      reflectInUrl();
      load().catch((error) => H.notify(H.describeError(error), "error"));
    });
    document.getElementById("next").addEventListener("click", () => {
      if (!next) return;
      cursors.push(next);
      load();
    });
    document.getElementById("prev").addEventListener("click", () => {
      if (cursors.length > 1) cursors.pop();
      load();
    });
    reflectInUrl();
    loadEngines().catch(() => {});
    // Page one follows new items as they are stored while "live" is ticked.
    let first = true;
    H.every(3000, async () => {
      if (first || (cursors.length === 1 && document.getElementById("live").checked)) {
        first = false;
        await load();
      }
    });
  });
})();

// "Watch this search": a watch of the current filters, created in one click (and a channel).
(() => {
  const H = Haystack;
  const CHANNEL_KEY = "haystack.watchChannel"; // the last channel used, offered again
  const WATCHED = ["q", "engine", "key", "value"];

  function currentFilter() {
    const filter = {};
    for (const name of WATCHED) {
      const value = document.getElementById(name).value.trim();
      if (value) filter[name] = value;
    }
    const state = document.getElementById("state").value;
    if (state && state !== "all") filter.state = [state];
    return filter;
  }

  function describe(filter) {
    const parts = Object.entries(filter).map(([k, v]) => k + "=" + (Array.isArray(v) ? v.join(",") : v));
    return parts.length ? parts.join(", ") : "every item";
  }

  document.addEventListener("DOMContentLoaded", () => {
    const dialog = document.getElementById("watch-dialog");
    document.getElementById("watch-search").addEventListener("click", () => {
      const filter = currentFilter();
      document.getElementById("watch-described").textContent = "Items where " + describe(filter);
      document.getElementById("watch-name").value = filter.q || filter.engine || filter.key || "all items";
      document.getElementById("watch-channel").value = localStorage.getItem(CHANNEL_KEY) || "";
      document.getElementById("watch-error").hidden = true;
      dialog.showModal();
      document.getElementById(document.getElementById("watch-channel").value ? "watch-create" : "watch-channel").focus();
    });
    document.getElementById("watch-form").addEventListener("submit", async (event) => {
      if (event.submitter && event.submitter.value !== "ok") return;
      event.preventDefault();
      const channel = document.getElementById("watch-channel").value.trim();
      const events = [...document.querySelectorAll("input[name=watch-event]:checked")].map((box) => box.value);
      const body = { name: document.getElementById("watch-name").value.trim(), filter: currentFilter(), events, channels: [channel] };
      const problem = document.getElementById("watch-error");
      try {
        const created = await H.api("/api/watches", { method: "POST", body, retry: false });
        localStorage.setItem(CHANNEL_KEY, channel);
        problem.hidden = true;
        dialog.close();
        H.notify("Watching: " + created.name + " (see Watches).");
      } catch (error) {
        // Shown in the dialog, which stays open: the page's notice is behind it.
        problem.textContent = H.describeError(error);
        problem.hidden = false;
      }
    });
  });
})();
