// Database admin: the known tables, their rows (paged, searchable), edit, create and delete
// with confirmation. Every admin route needs the API token.
"use strict";
(() => {
  const H = Haystack;
  const { el } = H;
  const PAGE = 25;
  const base = (table) => "/api/admin/tables/" + encodeURIComponent(table);
  const recordPath = (table, id) => base(table) + "/records" + (id === undefined ? "" : "/" + encodeURIComponent(id));
  let table = null;
  let columns = [];
  let offset = 0;
  let editing = null; // the primary key of the row in the form; null for a new row
  let original = {}; // the row as it was shown, so an edit sends only what changed

  const pkColumn = () => columns.find((c) => H.pick(c, "primary_key", "primaryKey", "pk")) || columns[0];
  const colName = (c) => H.pick(c, "name", "column");
  const isInt = (c) => /INT/i.test(String(H.pick(c, "type") || ""));
  const isBool = (c) => /BOOL/i.test(String(H.pick(c, "type") || ""));

  function tableList(data) {
    const list = H.asList(data, "tables");
    if (list.length) return list.map((t) => (typeof t === "string" ? { name: t } : t));
    return Object.entries(data || {}).map(([name, count]) => ({ name, count }));
  }

  async function loadTables() {
    let data;
    try {
      data = await H.api("/api/admin/tables");
    } catch (error) {
      H.notify(H.describeError(error), "error");
      return;
    }
    const list = document.getElementById("tables");
    list.replaceChildren(...tableList(data).map((t) => {
      const name = H.pick(t, "name", "table");
      const count = H.pick(t, "count", "rows");
      return el("li", {}, el("a", { href: "/admin?table=" + encodeURIComponent(name), "data-table": name, onclick: (event) => {
        event.preventDefault();
        history.replaceState(null, "", "/admin?table=" + encodeURIComponent(name));
        open(name);
      } }, name), count !== undefined ? el("span", { class: "muted" }, " (" + count + ")") : null);
    }));
  }

  // Opens a table; opening the one shown again (after a token is saved) only reloads it,
  // keeping the search, the page and a form being filled in.
  async function open(name) {
    if (name !== table) {
      table = name;
      offset = 0;
      document.getElementById("record-form").hidden = true;
      document.getElementById("admin-q").value = "";
    }
    document.getElementById("table-view").hidden = false;
    document.getElementById("table-name").textContent = name;
    const schema = await H.api(base(name) + "/schema", { retry: false }).catch((error) => {
      H.notify(H.describeError(error), "error");
      return null;
    });
    columns = H.asList(schema || [], "columns");
    await loadRows();
  }

  async function loadRows() {
    const search = document.getElementById("admin-q").value.trim();
    let data;
    try {
      data = await H.api(base(table) + "/data", { query: { limit: PAGE, offset, search } });
    } catch (error) {
      H.notify(H.describeError(error), "error");
      return;
    }
    const rows = H.asList(data, "rows", "data", "items");
    const names = columns.length ? columns.map(colName) : [...new Set(rows.flatMap(Object.keys))];
    const pk = columns.length ? colName(pkColumn()) : names[0];
    const grid = document.getElementById("rows");
    const head = grid.tHead || grid.createTHead();
    head.replaceChildren(el("tr", {}, names.map((n) => el("th", {}, n)), el("th", {}, "")));
    H.fillTable(grid, rows, [
      ...names.map((n) => [n, (r) => H.fmt(r[n])]),
      ["", (r) => el("span", { class: "row-actions" },
        el("button", { type: "button", class: "edit", "data-id": r[pk], onclick: () => edit(r, pk) }, "Edit"), " ",
        el("button", { type: "button", class: "delete danger", "data-id": r[pk], onclick: () => remove(r[pk]) }, "Delete"))],
    ], search ? "no rows match" : "the table is empty");
    const total = H.pick(data, "total", "count");
    document.getElementById("admin-total").textContent = total === undefined ? "" : total + " row" + (total === 1 ? "" : "s");
    document.getElementById("admin-prev").disabled = offset === 0;
    document.getElementById("admin-next").disabled = total === undefined ? rows.length < PAGE : offset + PAGE >= total;
    document.getElementById("admin-page").textContent = "rows " + (rows.length ? offset + 1 : 0) + "–" + (offset + rows.length);
  }

  function edit(row, pk) {
    editing = row ? row[pk] : null;
    original = row || {};
    const form = document.getElementById("record-form");
    document.getElementById("record-title").textContent = row ? "Edit " + table + " #" + editing : "New " + table + " row";
    const fields = (columns.length ? columns : Object.keys(row || {}).map((name) => ({ name }))).map((c) => {
      const name = colName(c);
      const primary = c === pkColumn() || name === pk;
      const current = row ? row[name] : undefined;
      const input = isBool(c)
        ? el("input", { type: "checkbox", name, checked: Boolean(current) })
        : el("input", { type: isInt(c) ? "number" : "text", name, size: 50, readonly: primary && row !== null, value: current ?? "" });
      input.dataset.column = name;
      input.dataset.nullable = H.pick(c, "nullable") === false ? "no" : "yes";
      input.dataset.primary = primary ? "yes" : "no";
      return el("div", { class: "field" }, el("label", {}, name + (primary ? " (key)" : "")), input);
    });
    document.getElementById("record-fields").replaceChildren(...fields);
    form.hidden = false;
    form.scrollIntoView();
  }

  function formValues() {
    const values = {};
    for (const input of document.querySelectorAll("#record-fields [data-column]")) {
      if (input.dataset.primary === "yes") continue;
      const name = input.dataset.column;
      if (editing !== null) {
        const was = original[name];
        const same = input.type === "checkbox" ? Boolean(was) === input.checked : String(was ?? "") === input.value;
        if (same) continue;
      }
      if (input.type === "checkbox") values[name] = input.checked;
      else if (input.value === "") values[name] = input.dataset.nullable === "yes" ? null : "";
      else values[name] = input.type === "number" ? Number(input.value) : input.value;
    }
    return values;
  }

  async function save(event) {
    event.preventDefault();
    const values = formValues();
    if (editing !== null && Object.keys(values).length === 0) {
      H.notify("Nothing changed.");
      return;
    }
    const result = editing === null
      ? await H.write(recordPath(table), { method: "POST", body: values }, "Row created.")
      : await H.write(recordPath(table, editing), { method: "PUT", body: values }, "Row #" + editing + " saved.");
    if (result) {
      document.getElementById("record-form").hidden = true;
      await loadRows();
    }
  }

  async function remove(id) {
    if (!(await H.confirmAction("Delete " + table + " row #" + id + "? This cannot be undone."))) return;
    const result = await H.write(recordPath(table, id), { method: "DELETE" }, "Row #" + id + " deleted.");
    if (result) await loadRows();
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("admin-search").addEventListener("submit", (event) => {
      event.preventDefault();
      offset = 0;
      loadRows();
    });
    document.getElementById("admin-prev").addEventListener("click", () => { offset = Math.max(offset - PAGE, 0); loadRows(); });
    document.getElementById("admin-next").addEventListener("click", () => { offset += PAGE; loadRows(); });
    document.getElementById("admin-new").addEventListener("click", () => {
      if (!columns.length) {
        H.notify("The table's columns are not loaded yet (is the API token saved?).", "error");
        return;
      }
      edit(null, colName(pkColumn()));
    });
    document.getElementById("record-cancel").addEventListener("click", () => { document.getElementById("record-form").hidden = true; });
    document.getElementById("record-form").addEventListener("submit", save);
    const start = () => {
      loadTables();
      const wanted = table || new URLSearchParams(location.search).get("table");
      if (wanted) open(wanted);
    };
    document.addEventListener("haystack:token", start);
    if (!H.token()) H.notify("The database admin needs an API token: paste one into \"API token\" at the top.", "error");
    start();
  });
})();
