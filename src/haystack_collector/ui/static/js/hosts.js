// Hosts: per-host requests, errors, latency, delay and circuit-breaker state.
"use strict";
(() => {
  const H = Haystack;

  // The API gives seconds; people read milliseconds.
  function ms(seconds) {
    return typeof seconds === "number" ? (seconds * 1000).toFixed(seconds < 0.01 ? 1 : 0) + " ms" : H.fmt(seconds);
  }

  function secs(value) {
    return typeof value === "number" ? value.toFixed(2) + " s" : H.fmt(value);
  }

  async function load() {
    const hosts = H.asList(await H.api("/api/hosts"), "hosts");
    H.fillTable(document.getElementById("hosts"), hosts, [
      ["Host", (h) => H.pick(h, "host", "name")],
      ["Breaker", (h) => H.badge(H.pick(h, "breaker", "breaker_state", "state", "circuit"))],
      ["Requests", (h) => H.pick(h, "requests", "fetches")],
      ["Errors", (h) => H.pick(h, "errors")],
      ["In flight", (h) => H.pick(h, "in_flight")],
      ["Latency (avg / last)", (h) => ms(H.pick(h, "avg_latency")) + " / " + ms(H.pick(h, "last_latency"))],
      ["Delay", (h) => secs(H.pick(h, "delay"))],
    ], "no hosts fetched yet");
  }

  document.addEventListener("DOMContentLoaded", () => H.every(5000, load));
})();
