// Config editor: every Config row with an inline editor; changes are PUT one key at a time.
"use strict";
(() => {
  const H = Haystack;
  const { el } = H;

  // The API may answer {name: value}, a list of rows, or {"config": ...}.
  function entries(data) {
    const list = H.asList(data, "config", "items", "rows");
    if (list.length || Array.isArray(data)) {
      return list.map((r) => ({ name: H.pick(r, "name", "key", "configName"), value: H.pick(r, "value", "configValue"), updated: H.pick(r, "updated", "configUpdated") }));
    }
    const source = data && typeof data === "object" && data.config && typeof data.config === "object" ? data.config : data || {};
    return Object.entries(source).map(([name, value]) => ({ name, value, updated: undefined }));
  }

  async function save(name, value) {
    const result = await H.write("/api/config/" + encodeURIComponent(name), { method: "PUT", body: { value } }, "Saved " + name + ".");
    if (result) await load();
  }

  const MASKED = "***"; // what readers without a token see of secret-looking values

  async function load() {
    const withToken = Boolean(H.token());
    const rows = entries(await H.api("/api/config"));
    // Values being edited survive a reload (e.g. the one a saved token triggers).
    const edited = new Map();
    for (const input of document.querySelectorAll("#config input.config-value")) {
      if (input.value !== input.defaultValue) edited.set(input.dataset.name, input.value);
    }
    // A masked value saved back would overwrite the secret with the mask.
    const masked = (r) => !withToken && r.value === MASKED;
    H.fillTable(document.getElementById("config"), rows, [
      ["Name", (r) => r.name],
      ["Value", (r) => el("input", { class: "config-value", "data-name": r.name, value: r.value ?? "", size: 40, "aria-label": "value of " + r.name,
        readonly: masked(r), title: masked(r) ? "hidden: save your API token to see and change it" : null })],
      ["Updated", (r) => H.fmtTime(r.updated)],
      ["", (r) => el("button", { type: "button", class: "config-save", "data-name": r.name, disabled: masked(r), onclick: (event) => {
        const input = event.target.closest("tr").querySelector("input.config-value");
        save(r.name, input.value);
      } }, "Save")],
    ], "no settings stored");
    for (const input of document.querySelectorAll("#config input.config-value")) {
      if (edited.has(input.dataset.name) && !input.readOnly) input.value = edited.get(input.dataset.name);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("config-add").addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = document.getElementById("config-new-name").value.trim();
      if (!name) return;
      await save(name, document.getElementById("config-new-value").value);
    });
    // Secret values arrive masked without a token; with one they are real, so reload.
    document.addEventListener("haystack:token", load);
    load();
  });
})();
