// Engines: the list with start/stop/enable/disable, and a settings form built from the
// engine's JSON schema, its schedules and its last runs.
"use strict";
(() => {
  const H = Haystack;
  const { el } = H;
  let engines = [];
  let selected = null;

  const nameOf = (engine) => H.pick(engine, "name", "engine", "engine_name");
  const enabledOf = (engine) => {
    const enabled = H.pick(engine, "enabled");
    if (enabled !== undefined) return Boolean(enabled);
    return !H.pick(engine, "disabled");
  };

  function actionNames(engine) {
    const actions = H.pick(engine, "actions") || [];
    if (Array.isArray(actions)) {
      return actions.map((a) => (typeof a === "string" ? a : H.pick(a, "name") + (H.pick(a, "kind") ? " (" + a.kind + ")" : "")));
    }
    return Object.keys(actions);
  }

  function lastRunText(engine) {
    const run = H.pick(engine, "last_run");
    const status = H.pick(engine, "last_status");
    const parts = [];
    if (run) {
      parts.push("run #" + H.pick(run, "run_id") + " " + H.fmt(H.pick(run, "state")) + " " +
        H.fmtTime(H.pick(run, "finished", "started", "created")));
    }
    if (status) parts.push(H.fmtTime(H.pick(status, "date")) + " " + H.fmt(H.pick(status, "message")));
    return parts.join(" · ") || "—";
  }

  function countsText(engine) {
    const parts = [];
    const items = H.pick(engine, "items");
    if (items !== undefined) parts.push(items + " items");
    const events = H.pick(engine, "events");
    if (events && typeof events === "object") {
      parts.push(...Object.entries(events).filter(([, v]) => v).map(([k, v]) => v + " " + k));
    }
    return parts.join(", ") || "—";
  }

  async function command(name, verb) {
    if (verb === "stop" && !(await H.confirmAction("Stop " + name + "? It is disabled and its queued and running runs are cancelled."))) return;
    const result = await H.write("/api/engines/" + encodeURIComponent(name) + "/" + verb, { method: "POST" },
      name + ": " + verb + " done.");
    if (result) await load();
  }

  function renderList() {
    H.fillTable(document.getElementById("engines"), engines, [
      ["Engine", (e) => el("a", { href: "/engines#" + encodeURIComponent(nameOf(e)), onclick: () => select(nameOf(e)) }, nameOf(e))],
      ["Version", (e) => H.pick(e, "version")],
      ["State", (e) => H.badge(enabledOf(e) ? "enabled" : "disabled")],
      ["Actions", (e) => actionNames(e).join(", ")],
      ["Last run", lastRunText],
      ["Counts", countsText],
      ["", (e) => el("span", {},
        el("button", { type: "button", class: "start", onclick: () => select(nameOf(e)) }, "Start…"), " ",
        el("button", { type: "button", class: "stop", onclick: () => command(nameOf(e), "stop") }, "Stop"), " ",
        enabledOf(e)
          ? el("button", { type: "button", class: "disable", onclick: () => command(nameOf(e), "disable") }, "Disable")
          : el("button", { type: "button", class: "enable", onclick: () => command(nameOf(e), "enable") }, "Enable"))],
    ], "no engines registered");
  }

  // --- the settings form ----------------------------------------------------------------

  function resolve(schema, root) {
    if (schema && schema.$ref) {
      const name = schema.$ref.split("/").pop();
      return resolve((root.$defs || root.definitions || {})[name] || {}, root);
    }
    if (schema && Array.isArray(schema.anyOf)) {
      const real = schema.anyOf.filter((s) => s.type !== "null");
      if (real.length === 1) return { ...resolve(real[0], root), ...schema, anyOf: undefined, nullable: true };
    }
    if (schema && Array.isArray(schema.allOf) && schema.allOf.length === 1) {
      return { ...resolve(schema.allOf[0], root), ...schema, allOf: undefined };
    }
    return schema || {};
  }

  function kindOf(schema) {
    if (Array.isArray(schema.enum)) return "enum";
    const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
    if (type === "array" && schema.items && ["string", "integer", "number"].includes(schema.items.type)) return "list";
    return type || "json";
  }

  function field(name, schema, required) {
    const kind = kindOf(schema);
    const id = "setting-" + name;
    const label = el("label", { for: id }, (schema.title || name) + (required ? " *" : ""));
    const initial = schema.default;
    let input;
    if (kind === "enum") {
      input = el("select", { id, name }, (required ? [] : [el("option", { value: "" }, "—")]).concat(
        schema.enum.map((v) => el("option", { value: JSON.stringify(v), selected: v === initial }, H.fmt(v)))));
    } else if (kind === "boolean") {
      input = el("input", { id, name, type: "checkbox", checked: Boolean(initial) });
    } else if (kind === "integer" || kind === "number") {
      input = el("input", { id, name, type: "number", step: kind === "integer" ? "1" : "any",
        min: schema.minimum ?? schema.exclusiveMinimum, max: schema.maximum ?? schema.exclusiveMaximum,
        value: initial ?? "", required });
    } else if (kind === "string") {
      input = el("input", { id, name, type: "text", size: 50, value: initial ?? "", required });
    } else if (kind === "list") {
      input = el("textarea", { id, name, rows: 3, cols: 50, placeholder: "one per line" });
      input.value = Array.isArray(initial) ? initial.join("\n") : "";
    } else {
      input = el("textarea", { id, name, rows: 3, cols: 50, placeholder: "JSON" });
      input.value = initial === undefined ? "" : JSON.stringify(initial);
    }
    input.dataset.kind = kind;
    input.dataset.itemType = schema.items ? schema.items.type : "";
    const help = schema.description ? el("span", { class: "help" }, schema.description) : null;
    return el("div", { class: "field" }, label, input, help);
  }

  function buildForm(engine) {
    const root = H.pick(engine, "settings_schema", "schema", "settings") || {};
    const required = new Set(root.required || []);
    const holder = document.getElementById("engine-fields");
    const properties = Object.entries(root.properties || {});
    holder.replaceChildren(...(properties.length
      ? properties.map(([name, schema]) => field(name, resolve(schema, root), required.has(name)))
      : [el("p", { class: "muted" }, "This engine takes no settings.")]));
  }

  // Values typed in the form as the settings object; empty optional fields are left out so
  // the engine's defaults apply. Throws a message for a value that cannot be read.
  function readForm() {
    const settings = {};
    for (const input of document.querySelectorAll("#engine-fields [data-kind]")) {
      const kind = input.dataset.kind;
      if (kind === "boolean") {
        settings[input.name] = input.checked;
        continue;
      }
      const raw = input.value.trim();
      if (raw === "") continue;
      if (kind === "enum") settings[input.name] = JSON.parse(raw);
      else if (kind === "integer" || kind === "number") settings[input.name] = Number(raw);
      else if (kind === "list") {
        const numeric = ["integer", "number"].includes(input.dataset.itemType);
        settings[input.name] = raw.split("\n").map((s) => s.trim()).filter(Boolean).map((s) => (numeric ? Number(s) : s));
      } else if (kind === "string") settings[input.name] = raw;
      else {
        try {
          settings[input.name] = JSON.parse(raw);
        } catch (_) {
          throw new Error(input.name + ": not valid JSON");
        }
      }
    }
    return settings;
  }

  async function start(event) {
    event.preventDefault();
    let settings;
    try {
      settings = readForm();
    } catch (error) {
      H.notify(error.message, "error");
      return;
    }
    const name = nameOf(selected);
    const result = await H.write("/api/engines/" + encodeURIComponent(name) + "/start",
      { method: "POST", body: settings });
    if (!result) return;
    const runId = H.pick(result, "run_id", "id", "runId");
    const out = document.getElementById("engine-result");
    out.replaceChildren("Started " + name + (runId !== undefined ? " as run " : "."),
      runId !== undefined ? el("a", { href: "/runs#run-" + runId, class: "run-link" }, "#" + runId) : "");
    H.notify("Started " + name + (runId !== undefined ? " (run " + runId + ")." : "."));
    loadRuns();
  }

  function renderSchedules(engine) {
    const schedules = H.asList(H.pick(engine, "schedules") || [], "schedules");
    H.fillTable(document.getElementById("schedules"), schedules, [
      ["Name", (s) => H.pick(s, "name", "scheduleName")],
      ["Every / cron", (s) => {
        const interval = H.pick(s, "interval", "interval_seconds", "scheduleInterval");
        return interval !== undefined ? "every " + interval + " s" : H.pick(s, "cron", "scheduleCron");
      }],
      ["Enabled", (s) => H.badge(H.pick(s, "enabled", "scheduleEnabled") === false ? "disabled" : "enabled")],
      ["Next run", (s) => H.fmtTime(H.pick(s, "next_run", "scheduleNextRun"))],
      ["Last run", (s) => H.fmtTime(H.pick(s, "last_run", "scheduleLastRun"))],
    ], "no schedules");
  }

  async function loadRuns() {
    if (!selected) return;
    const table = document.getElementById("engine-runs");
    let runs = H.asList(H.pick(selected, "last_runs", "runs") || [], "runs");
    try {
      const found = H.asList(await H.api("/api/runs", { query: { engine: nameOf(selected), limit: 10 }, retry: false }), "runs");
      if (found.length) runs = found.filter((j) => [undefined, nameOf(selected)].includes(H.pick(j, "engine", "engine_name")));
    } catch (_) {
      /* no runs list yet: the engine's own last runs are shown */
    }
    H.fillTable(table, runs, [
      ["Run", (j) => { const id = H.pick(j, "run_id", "id"); return el("a", { href: "/runs#run-" + id }, "#" + id); }],
      ["Action", (j) => H.pick(j, "action") || "all start actions"],
      ["State", (j) => H.badge(H.pick(j, "state", "status"))],
      ["Created", (j) => H.fmtTime(H.pick(j, "created"))],
      ["Finished", (j) => H.fmtTime(H.pick(j, "finished"))],
      ["Items", (j) => H.pick(j, "items_stored", "items")],
    ], "no runs yet");
  }

  function select(name) {
    selected = engines.find((e) => nameOf(e) === name) || null;
    const detail = document.getElementById("engine-detail");
    detail.hidden = !selected;
    if (!selected) return;
    document.getElementById("engine-name").textContent = name;
    document.getElementById("engine-desc").textContent = H.pick(selected, "description") || "";
    document.getElementById("engine-result").replaceChildren();
    buildForm(selected);
    renderSchedules(selected);
    loadRuns();
  }

  async function load() {
    engines = H.asList(await H.api("/api/engines"), "engines");
    renderList();
    if (selected) {
      const fresh = engines.find((e) => nameOf(e) === nameOf(selected));
      if (fresh) {
        selected = fresh;
        renderSchedules(fresh);
      }
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    document.getElementById("engine-form").addEventListener("submit", start);
    await load();
    const wanted = decodeURIComponent(window.location.hash.slice(1));
    if (wanted) select(wanted);
    setInterval(() => load().catch(() => {}), 15000);
  });
})();
