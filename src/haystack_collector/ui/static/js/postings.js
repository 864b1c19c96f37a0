// Postings: the board of job postings from every source, worked through from the keyboard.
//
// j/k move the selection, s marks the selected posting seen, a applied, x archived, o opens
// it. Status changes go through POST /api/postings/{fingerprint}/status with the saved API
// token (Haystack.write), and the row shows the status the API answered. Scraped text reaches
// the page only as text nodes (Haystack.el).
"use strict";
(() => {
  const H = Haystack;
  const { el } = H;
  const PAGE = 50;
  const FILTERS = ["q", "status", "source", "location", "compensation", "min_compensation", "posted_since"];
  const DEFAULT_STATUS = "open";
  const OPEN = ["new", "seen", "applied", "interviewing", "offer", "rejected"];
  const KEYS = { s: "seen", a: "applied", x: "archived" };
  let offset = 0;
  let rows = []; // the postings shown, in order
  let selected = 0;

  function filters({ forApi = true } = {}) {
    const query = new URLSearchParams();
    for (const name of FILTERS) {
      const value = document.getElementById(name).value.trim();
      if (!value) continue;
      if (name === "status") {
        if (!forApi) {
          if (value !== DEFAULT_STATUS) query.set(name, value);
        } else if (value === "open") {
          for (const status of OPEN) query.append("status", status);
        } else if (value !== "all") {
          query.set("status", value);
        }
        continue;
      }
      query.set(name, value);
    }
    return query;
  }

  function firstUrl(posting) {
    const item = (posting.items || []).find((i) => H.safeHref(i.url));
    return item ? item.url : null;
  }

  function pay(posting) {
    if (!posting.compensation) return "—";
    return posting.compensation;
  }

  function row(posting, index) {
    const url = firstUrl(posting);
    const title = url
      ? el("a", { href: url, class: "posting-title", target: "_blank", rel: "noopener noreferrer" }, H.fmt(posting.title))
      : el("span", { class: "posting-title" }, H.fmt(posting.title));
    const status = el("span", {}, H.badge(posting.status),
      posting.gone ? el("span", { class: "badge state-gone", title: "gone from every source since " + H.fmtTime(posting.gone_at) }, "gone " + H.fmtTime(posting.gone_at).slice(0, 10)) : null);
    const classes = ["posting"];
    if (posting.status === "new") classes.push("posting-new");
    if (posting.gone) classes.push("posting-gone");
    if (index === selected) classes.push("selected");
    return el("tr", {
      class: classes.join(" "),
      "data-fingerprint": posting.fingerprint,
      "data-status": posting.status,
      "aria-selected": index === selected ? "true" : "false",
      onclick: () => select(index),
    },
      el("td", { class: "status" }, status),
      el("td", { class: "title" }, title),
      el("td", {}, H.fmt(posting.company)),
      el("td", {}, H.fmt(posting.location)),
      el("td", {}, pay(posting)),
      el("td", {}, posting.posted ? String(posting.posted).slice(0, 10) : "—"),
      el("td", {}, (posting.sources || []).join(", ") || "—"),
    );
  }

  function render() {
    const body = document.querySelector("#postings tbody");
    if (!rows.length) {
      body.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: 7, class: "muted" }, "no postings match")));
      return;
    }
    body.replaceChildren(...rows.map(row));
  }

  function select(index) {
    if (!rows.length) return;
    selected = Math.max(0, Math.min(rows.length - 1, index));
    const body = document.querySelector("#postings tbody");
    body.querySelectorAll("tr.posting").forEach((tr, i) => {
      tr.classList.toggle("selected", i === selected);
      tr.setAttribute("aria-selected", i === selected ? "true" : "false");
    });
    const current = body.querySelectorAll("tr.posting")[selected];
    if (current) current.scrollIntoView({ block: "nearest" });
  }

  async function setStatus(status) {
    const posting = rows[selected];
    if (!posting) return;
    const index = selected;
    const result = await H.write(
      "/api/postings/" + encodeURIComponent(posting.fingerprint) + "/status",
      { method: "POST", body: { status } },
      (change) => change.changed ? "“" + (posting.title || posting.fingerprint) + "” is now " + change.status + "." : "Already " + change.status + ".",
    );
    if (!result || !result.status) return;
    posting.status = result.status;
    const body = document.querySelector("#postings tbody");
    const old = body.querySelectorAll("tr.posting")[index];
    if (old) old.replaceWith(row(posting, index));
  }

  async function load() {
    const query = filters();
    query.set("limit", PAGE);
    query.set("offset", offset);
    const page = await H.api("/api/postings?" + query.toString());
    rows = H.asList(page, "postings");
    selected = Math.min(selected, Math.max(rows.length - 1, 0));
    render();
    const total = page.total || 0;
    document.getElementById("total").textContent = total + " posting" + (total === 1 ? "" : "s");
    const counts = page.counts || {};
    const byStatus = Object.entries(counts).filter(([, n]) => n > 0).map(([status, n]) => status + " " + n);
    document.getElementById("counts").textContent = byStatus.length ? "(" + byStatus.join(" · ") + ")" : "";
    document.getElementById("prev").disabled = offset === 0;
    document.getElementById("next").disabled = offset + rows.length >= total;
    document.getElementById("page-no").textContent = total ? (offset + 1) + "–" + (offset + rows.length) : "";
  }

  function reflectInUrl() {
    const shown = filters({ forApi: false }).toString();
    history.replaceState(null, "", "/postings" + (shown ? "?" + shown : ""));
    document.getElementById("export-csv").setAttribute("href", "/api/postings.csv?" + filters().toString());
  }

  function typing(event) {
    const target = event.target;
    return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName));
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    const dialog = document.getElementById("confirm-dialog");
    if (dialog && dialog.open) return;
    if (event.key === "j") select(selected + 1);
    else if (event.key === "k") select(selected - 1);
    else if (KEYS[event.key]) setStatus(KEYS[event.key]);
    else if (event.key === "o") {
      const url = rows[selected] && firstUrl(rows[selected]);
      if (url) window.open(url, "_blank", "noopener");
    } else return;
    event.preventDefault();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const params = new URLSearchParams(location.search);
    for (const name of FILTERS) {
      if (params.get(name)) document.getElementById(name).value = params.get(name);
    }
    document.getElementById("posting-filters").addEventListener("submit", (event) => {
      event.preventDefault();
      offset = 0;
      selected = 0;
      reflectInUrl();
      load().catch((error) => H.notify(H.describeError(error), "error"));
    });
    document.getElementById("prev").addEventListener("click", () => {
      offset = Math.max(0, offset - PAGE);
      selected = 0;
      load();
    });
    document.getElementById("next").addEventListener("click", () => {
      offset += PAGE;
      selected = 0;
      load();
    });
    document.addEventListener("keydown", onKey);
    reflectInUrl();
    load().catch((error) => H.notify(H.describeError(error), "error"));
  });
})();
