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

  document.addEventListener("DOMContentLoaded", () => {
    const id = document.body.dataset.itemId;
    load(id).catch((error) => H.notify(H.describeError(error), "error"));
    loadSnapshots(id).catch((error) => H.notify(H.describeError(error), "error"));
  });
})();
