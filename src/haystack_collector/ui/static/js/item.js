// One item: its data, links both ways, queue events and history.
"use strict";
(() => {
  const H = Haystack;
  const { el } = H;

  function value(row) {
    const v = H.pick(row, "value", "itemDataValue");
    return el("span", { class: "value" }, typeof v === "object" && v !== null ? JSON.stringify(v, null, 1) : H.fmt(v));
  }

  const LINK_COLUMNS = [
    ["Type", (l) => H.pick(l, "type")],
    ["Item", (l) => { const id = H.pick(l, "item_id"); return el("a", { href: "/items/" + id }, "#" + id); }],
    ["URI", (l) => { const uri = H.pick(l, "uri"); return el("a", { href: "/items/" + H.pick(l, "item_id") }, H.fmt(uri)); }],
  ];

  async function load(id) {
    const item = await H.api("/api/items/" + encodeURIComponent(id));
    const data = H.asList(H.pick(item, "data") || [], "data");
    const title = data.find((row) => H.pick(row, "key") === "Title");
    const heading = H.pick(item, "title") ?? (title ? H.pick(title, "value") : null) ?? H.pick(item, "uri");
    document.getElementById("item-title").textContent = H.fmt(heading);
    document.title = H.fmt(heading) + " · Haystack";
    const summary = document.getElementById("item-summary");
    summary.replaceChildren();
    const uri = H.pick(item, "uri");
    const facts = [
      ["Item", "#" + H.pick(item, "item_id", "id")],
      ["URI", el("a", { href: uri, rel: "noreferrer noopener", target: "_blank" }, H.fmt(uri))],
      ["State", H.badge(H.pick(item, "state"))],
      ["Engine", H.fmt(H.pick(item, "engine", "engine_name", "engine_id"))],
      ["Created", H.fmtTime(H.pick(item, "created"))],
      ["Seen", H.fmtTime(H.pick(item, "seen", "item_dts"))],
    ];
    for (const [name, shown] of facts) summary.append(el("dt", {}, name), el("dd", {}, shown));
    H.fillTable(document.getElementById("item-data"), data, [
      ["Key", (r) => H.pick(r, "key")],
      ["Value", value],
      ["Seq", (r) => H.pick(r, "seq")],
    ], "no data");
    const links = H.pick(item, "links") || {};
    const counts = H.pick(item, "link_counts") || {};
    for (const side of ["out", "in"]) {
      const list = links[side] || [];
      const more = counts[side] !== undefined && counts[side] > list.length ? " (first " + list.length + " of " + counts[side] + ")" : "";
      H.fillTable(document.getElementById("links-" + side), list, LINK_COLUMNS, "no links " + side);
      document.getElementById("links-" + side).dataset.more = more;
    }
    H.fillTable(document.getElementById("item-events"), H.pick(item, "events") || [], [
      ["Event", (e) => "#" + H.pick(e, "event_id")],
      ["Engine / action", (e) => [H.pick(e, "engine"), H.pick(e, "action")].filter(Boolean).join(" / ")],
      ["State", (e) => H.badge(H.pick(e, "state"))],
      ["Added", (e) => H.fmtTime(H.pick(e, "added"))],
      ["Done", (e) => H.fmtTime(H.pick(e, "done"))],
      ["Attempts", (e) => H.pick(e, "attempts")],
      ["Last error", (e) => H.pick(e, "last_error")],
    ], "no events");
    H.fillTable(document.getElementById("item-history"), H.pick(item, "history") || [], [
      ["When", (h) => H.fmtTime(H.pick(h, "date"))],
      ["What", (h) => H.pick(h, "kind")],
      ["Detail", (h) => H.pick(h, "detail")],
    ], "no history");
  }

  // The newest snapshot of each kind: the screenshot shown, the HTML and the PDF linked.
  // Only hashes go into the URLs, and the server checks them again.
  const SNAPSHOT_LABELS = { png: "Screenshot (PNG)", html: "Rendered HTML", pdf: "PDF" };

  async function loadSnapshots(id) {
    const shots = await H.api("/api/items/" + encodeURIComponent(id) + "/snapshots");
    const newest = {};
    for (const shot of H.asList(shots || [], "snapshots")) {
      const kind = H.pick(shot, "kind");
      const sha = String(H.pick(shot, "sha256") || "");
      if (!(kind in SNAPSHOT_LABELS) || !/^[0-9a-f]{64}$/.test(sha) || newest[kind]) continue;
      newest[kind] = { sha, linked: H.pick(shot, "linked") };
    }
    const kinds = Object.keys(SNAPSHOT_LABELS).filter((kind) => newest[kind]);
    if (!kinds.length) return;
    const links = document.getElementById("snapshot-links");
    links.replaceChildren(...kinds.map((kind) => el("a", {
      class: "snapshot-link", "data-kind": kind, href: "/snapshots/" + newest[kind].sha,
      rel: "noreferrer noopener", target: "_blank",
    }, SNAPSHOT_LABELS[kind])).flatMap((a, n) => (n ? [" · ", a] : [a])));
    const figure = document.getElementById("snapshot-figure");
    if (newest.png) {
      figure.replaceChildren(
        el("img", { id: "snapshot-image", src: "/snapshots/" + newest.png.sha, alt: "Screenshot of the page", loading: "lazy" }),
        el("figcaption", {}, "Taken " + H.fmtTime(newest.png.linked)),
      );
    }
    document.getElementById("item-snapshots").hidden = false;
  }

  // --- versions and the diff between two of them ----------------------------------------
  // Every scraped string goes into the page as a text node (H.el), never as markup.

  function segment(part) {
    const kind = H.pick(part, "kind");
    const text = H.pick(part, "text") ?? "";
    if (kind === "added") return el("ins", {}, text);
    if (kind === "removed") return el("del", {}, text);
    return text;
  }

  function diffLine(line) {
    const kind = H.pick(line, "kind");
    const mark = { added: "+ ", removed: "- ", changed: "~ ", same: "  " }[kind] || "  ";
    return el("div", { class: "line line-" + kind }, mark, (H.pick(line, "segments") || []).map(segment));
  }

  function fieldValues(values, tag) {
    const shown = (values || []).map((v) => (typeof v === "object" && v !== null ? JSON.stringify(v) : H.fmt(v)));
    return shown.length ? el(tag, {}, shown.join("\n")) : el("span", { class: "muted" }, "—");
  }

  function renderDiff(target, diff) {
    const old = H.pick(diff, "old") || {};
    const now = H.pick(diff, "new") || {};
    const text = H.pick(diff, "text");
    const fields = H.pick(diff, "fields") || [];
    const parts = [];
    const counts = text ? " · " + H.pick(text, "added") + " words added, " + H.pick(text, "removed") + " removed" : "";
    parts.push(el("p", { class: "diff-summary" },
      "Version " + H.pick(old, "version") + " (" + H.fmtTime(H.pick(old, "valid_from")) + ") → version "
      + H.pick(now, "version") + " (" + H.fmtTime(H.pick(now, "valid_from")) + ")" + counts));
    if (text) {
      const hunks = H.pick(text, "hunks") || [];
      if (!hunks.length) parts.push(el("p", { class: "muted" }, "The title and text are the same."));
      for (const hunk of hunks) {
        parts.push(el("div", { class: "hunk" },
          el("div", { class: "hunk-head" }, "line " + H.pick(hunk, "old_start") + " → " + H.pick(hunk, "new_start")),
          (H.pick(hunk, "lines") || []).map(diffLine)));
      }
      if (H.pick(text, "truncated")) parts.push(el("p", { class: "muted" }, "Only the start of a very long text is compared."));
    }
    if (fields.length) {
      const table = el("table", { class: "data diff-fields" },
        el("thead", {}, el("tr", {}, el("th", {}, "Field"), el("th", {}, "Was"), el("th", {}, "Is"))), el("tbody"));
      H.fillTable(table, fields, [
        ["Field", (f) => H.pick(f, "key")],
        ["Was", (f) => fieldValues(H.pick(f, "old"), "del")],
        ["Is", (f) => fieldValues(H.pick(f, "new"), "ins")],
      ]);
      parts.push(table);
    } else if (!text) {
      parts.push(el("p", { class: "muted" }, "No field changed."));
    }
    target.replaceChildren(...parts);
    target.hidden = false;
  }

  async function showDiff(id, a, b) {
    const diff = await H.api("/api/items/" + encodeURIComponent(id) + "/versions/" + a + "/diff/" + b);
    renderDiff(document.getElementById("version-diff"), diff);
  }

  async function loadVersions(id) {
    const listed = await H.api("/api/items/" + encodeURIComponent(id) + "/versions");
    const versions = H.asList(listed, "versions");
    H.fillTable(document.getElementById("item-versions"), versions.slice().reverse(), [
      ["Version", (v) => String(H.pick(v, "version")) + (H.pick(v, "current") ? " (current)" : "")],
      ["Stored from", (v) => H.fmtTime(H.pick(v, "valid_from"))],
      ["Replaced", (v) => (H.pick(v, "current") ? "—" : H.fmtTime(H.pick(v, "valid_to")))],
      ["Digest", (v) => el("code", {}, String(H.pick(v, "digest") || "").slice(0, 12))],
    ], "no versions");
    const form = document.getElementById("diff-form");
    if (versions.length < 2) return;
    const from = document.getElementById("diff-from");
    const to = document.getElementById("diff-to");
    const options = () => versions.map((v) => el("option", { value: String(H.pick(v, "version")) },
      String(H.pick(v, "version")) + " · " + H.fmtTime(H.pick(v, "valid_from"))));
    from.replaceChildren(...options());
    to.replaceChildren(...options());
    from.value = String(H.pick(versions[versions.length - 2], "version"));
    to.value = String(H.pick(versions[versions.length - 1], "version"));
    form.hidden = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      showDiff(id, from.value, to.value).catch((error) => H.notify(H.describeError(error), "error"));
    });
    await showDiff(id, from.value, to.value);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const id = document.body.dataset.itemId;
    load(id).catch((error) => H.notify(H.describeError(error), "error"));
    loadSnapshots(id).catch((error) => H.notify(H.describeError(error), "error"));
    loadVersions(id).catch((error) => H.notify(H.describeError(error), "error"));
  });
})();
