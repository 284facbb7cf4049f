// The groundmcp status page (server/status_page.py). It speaks MCP to this same server: JSON-RPC
// over Streamable HTTP on /mcp, with the bearer token from the login form (kept in this tab's
// sessionStorage), so it shows exactly what the tools and the stats resource return.
//
// Everything that comes from the server (collection names, paths, symbols, chunk text) is put in
// the page as text: nodes are built with createElement and text nodes, never from HTML strings.
"use strict";

(() => {
  const MCP = "/mcp";
  const PROTOCOL = "2025-11-25";
  const TOKEN_KEY = "groundmcp.token";
  const STATS_EVERY_MS = 3000;
  const COLLECTIONS_EVERY_MS = 30000;
  const MAX_STATS_CALLS = 50; // collection_stats calls per refresh; more collections are listed without them

  const $ = (id) => document.getElementById(id);

  /** An element with text children (strings become text nodes; null and false are skipped). */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "class") node.className = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  class McpError extends Error {
    constructor(message, status = 0) {
      super(message);
      this.status = status;
    }
  }

  /** The messages of a text/event-stream body (one JSON-RPC message per event). */
  function parseSse(text) {
    const out = [];
    for (const block of text.split(/\r?\n\r?\n/)) {
      const data = block
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (!data) continue;
      try {
        out.push(JSON.parse(data));
      } catch (_) {
        // not a JSON-RPC message: ignored
      }
    }
    return out;
  }

  /** A minimal MCP client over Streamable HTTP: one session, requests answered as JSON or SSE. */
  class Mcp {
    constructor(token) {
      this.token = token;
      this.session = null;
      this.protocol = null;
      this.server = null;
      this.nextId = 1;
    }

    headers() {
      const h = { "Content-Type": "application/json", Accept: "application/json, text/event-stream" };
      if (this.token) h.Authorization = "Bearer " + this.token;
      if (this.session) h["Mcp-Session-Id"] = this.session;
      if (this.protocol) h["MCP-Protocol-Version"] = this.protocol;
      return h;
    }

    post(message) {
      return fetch(MCP, { method: "POST", headers: this.headers(), body: JSON.stringify(message), cache: "no-store" });
    }

    async answer(res, id) {
      if (res.status === 401) throw new McpError("the server refused the token", 401);
      if (!res.ok) throw new McpError(`HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`, res.status);
      const type = res.headers.get("content-type") || "";
      const messages = type.startsWith("text/event-stream") ? parseSse(await res.text()) : [].concat(await res.json());
      const msg = messages.find((m) => m && m.id === id && ("result" in m || "error" in m));
      if (!msg) throw new McpError(`no answer to request ${id}`);
      if (msg.error) throw new McpError(msg.error.message || "error " + msg.error.code);
      return msg.result;
    }

    async connect() {
      this.session = null;
      this.protocol = null;
      const id = this.nextId++;
      const res = await this.post({
        jsonrpc: "2.0", id, method: "initialize",
        params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: "groundmcp-status-page", version: "1" } },
      });
      const result = await this.answer(res, id);
      this.session = res.headers.get("mcp-session-id");
      this.protocol = result.protocolVersion;
      this.server = result.serverInfo || null;
      const done = await this.post({ jsonrpc: "2.0", method: "notifications/initialized" });
      if (!done.ok) throw new McpError(`HTTP ${done.status} for notifications/initialized`, done.status);
    }

    /** A request's result; a session the server forgot (404) is opened again once. */
    async request(method, params) {
      for (let attempt = 0; ; attempt++) {
        if (!this.protocol) await this.connect();
        const id = this.nextId++;
        const res = await this.post({ jsonrpc: "2.0", id, method, params });
        if (res.status === 404 && this.session && attempt === 0) {
          this.protocol = null;
          continue;
        }
        return this.answer(res, id);
      }
    }

    callTool(name, args) {
      return this.request("tools/call", { name, arguments: args });
    }

    close() {
      if (!this.session) return;
      fetch(MCP, { method: "DELETE", headers: this.headers(), keepalive: true }).catch(() => {});
      this.session = null;
    }
  }

  // -- formatting ------------------------------------------------------------------------------

  const mb = (bytes) => (typeof bytes === "number" ? (bytes / 1048576).toFixed(1) : "");
  const num = (n) => (typeof n === "number" ? n.toLocaleString("en") : "");
  const ms = (n) => (typeof n === "number" ? n.toFixed(1) : "");

  function when(iso) {
    if (!iso) return "";
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return iso;
    const s = Math.max(0, (Date.now() - t) / 1000);
    const ago = s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : s < 172800 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} d`;
    return `${ago} ago`;
  }

  function textOf(result) {
    return (result.content || []).filter((c) => c.type === "text").map((c) => c.text).join("\n");
  }

  // -- state and views ---------------------------------------------------------------------------

  let client = null;
  let timers = [];
  let previous = null; // the last stats snapshot's counts, for rates

  function setConn(text, bad = false) {
    const conn = $("conn");
    conn.textContent = text;
    conn.className = bad ? "error" : "muted";
  }

  function showLogin(message) {
    stopTimers();
    $("main").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    setConn("not connected");
    document.body.dataset.state = "login";
    $("token").focus();
  }

  function stopTimers() {
    timers.forEach(clearInterval);
    timers = [];
  }

  async function start() {
    stopTimers();
    const token = sessionStorage.getItem(TOKEN_KEY);
    client = new Mcp(token);
    setConn("connecting...");
    try {
      await client.connect();
    } catch (e) {
      if (e.status === 401) {
        if (token) sessionStorage.removeItem(TOKEN_KEY);
        showLogin(token ? "The server refused that token." : "");
      } else {
        setConn("cannot reach the server: " + e.message, true);
      }
      return;
    }
    $("login").hidden = true;
    $("main").hidden = false;
    $("logout").hidden = !token;
    const info = client.server;
    $("server").textContent = info ? `${info.name} ${info.version || ""}` : "";
    setConn("connected");
    await Promise.all([refreshCollections(), refreshStats()]);
    document.body.dataset.state = "ready";
    timers.push(setInterval(() => document.hidden || refreshStats(), STATS_EVERY_MS));
    timers.push(setInterval(() => document.hidden || refreshCollections(), COLLECTIONS_EVERY_MS));
  }

  function failed(e) {
    if (e.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin("The server no longer accepts the token.");
      return;
    }
    setConn("error: " + e.message, true);
  }

  async function refreshCollections() {
    let listing;
    try {
      listing = (await client.callTool("list_collections", {})).structuredContent;
    } catch (e) {
      failed(e);
      return;
    }
    const listed = listing.collections || [];
    const stats = await Promise.all(
      listed.map((c, i) =>
        c.error || i >= MAX_STATS_CALLS
          ? Promise.resolve(null)
          : client.callTool("collection_stats", { collection: c.name }).then(
              (r) => (r.isError ? { error: textOf(r) } : r.structuredContent),
              (e) => ({ error: e.message }),
            ),
      ),
    );
    const body = $("collections").tBodies[0];
    body.replaceChildren(...listed.map((c, i) => collectionRow(c, stats[i], c.name === listing.default)));
    $("collections-note").textContent = listed.length
      ? listed.length > MAX_STATS_CALLS ? `Files and freshness shown for the first ${MAX_STATS_CALLS}.` : ""
      : "No collections yet: run `groundmcp ingest PATH`, or the ingest tool.";
    const select = $("collection");
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "" }, `(default${listing.default ? ": " + listing.default : ""})`),
      ...listed.map((c) => el("option", { value: c.name }, c.name)));
    select.value = listed.some((c) => c.name === chosen) ? chosen : "";
  }

  function collectionRow(c, s, isDefault) {
    const error = c.error || (s && s.error) || "";
    const name = el("td", {}, c.name, isDefault ? el("span", { class: "muted small" }, " (default)") : null);
    if (error) return el("tr", { "data-collection": c.name }, name, el("td", { colspan: 6, class: "error" }, error));
    const fresh = [];
    if (s) {
      fresh.push(s.watched ? "watched" : "not watched");
      if (s.pending) fresh.push(`${s.pending} pending`);
      if (s.reingesting) fresh.push("re-ingesting now");
    }
    const updated = s && s.updated ? s.updated : c.created;
    return el("tr", { "data-collection": c.name },
      name,
      el("td", {}, c.model),
      el("td", { class: "num" }, s ? num(s.files) : ""),
      el("td", { class: "num" }, num(s ? s.chunks : c.chunks)),
      el("td", { class: "num" }, s ? mb(s.disk_bytes) : ""),
      el("td", { title: updated || "" }, when(updated)),
      el("td", { class: s && (s.pending || s.reingesting) ? "warn" : "" }, fresh.join(", ")),
    );
  }

  async function refreshStats() {
    let snap;
    try {
      const result = await client.request("resources/read", { uri: "groundmcp://stats" });
      snap = JSON.parse(result.contents[0].text);
    } catch (e) {
      failed(e);
      return;
    }
    const now = performance.now();
    const counts = new Map();
    const rows = snap.requests.map((r) => {
      const key = `${r.method}\u0000${r.tool}\u0000${r.mode}`;
      counts.set(key, r.count);
      let rate = "";
      if (previous) {
        const before = previous.counts.get(key) || 0;
        rate = ((r.count - before) / ((now - previous.at) / 1000)).toFixed(2);
      }
      return el("tr", {},
        el("td", {}, r.method), el("td", {}, r.tool), el("td", {}, r.mode),
        el("td", { class: "num" }, num(r.count)), el("td", { class: "num" }, rate),
        el("td", { class: r.errors ? "num error" : "num" }, num(r.errors)),
        el("td", { class: "num" }, ms(r.p50_ms)), el("td", { class: "num" }, ms(r.p95_ms)), el("td", { class: "num" }, ms(r.p99_ms)),
      );
    });
    previous = { at: now, counts };
    $("requests").tBodies[0].replaceChildren(...rows);
    const parts = [`version ${snap.version}`, `model ${snap.model || "?"}`, `up ${Math.round(snap.uptime_s)} s`,
      `resident ${mb(snap.rss_bytes)} MB`];
    const cache = snap.query_cache;
    if (cache) parts.push(`query cache ${cache.hits} hits / ${cache.misses} misses (${Math.round(100 * cache.hit_rate)}%), ${cache.entries} entries`);
    $("process").textContent = parts.join("; ");
    $("stats-when").textContent = "updated " + new Date().toLocaleTimeString();
  }

  // -- search ---------------------------------------------------------------------------------------

  function searchArguments() {
    const args = { query: $("q").value, mode: $("mode").value, top_k: Number($("top-k").value) || 8 };
    if ($("collection").value) args.collection = $("collection").value;
    if ($("path").value.trim()) args.path = $("path").value.trim();
    const languages = $("languages").value.split(",").map((s) => s.trim()).filter(Boolean);
    if (languages.length) args.languages = languages;
    if ($("kind").value) args.kind = $("kind").value;
    if ($("rerank").checked) args.rerank = true;
    if ($("max-tokens").value) args.max_tokens = Number($("max-tokens").value);
    return args;
  }

  async function search(event) {
    event.preventDefault();
    const out = $("results");
    const args = searchArguments();
    out.dataset.state = "searching";
    out.replaceChildren(el("p", { class: "muted" }, "searching..."));
    let result;
    try {
      result = await client.callTool("search", args);
    } catch (e) {
      out.replaceChildren(el("p", { class: "error" }, e.message));
      out.dataset.state = "error";
      failed(e);
      return;
    }
    out.replaceChildren(...renderResult(result));
    out.dataset.state = result.isError ? "error" : "done";
  }

  function renderResult(result) {
    if (result.isError) return [el("p", { class: "error tool-error" }, textOf(result))];
    const r = result.structuredContent;
    const nodes = [];
    const where = r.collections ? `${r.collections.length} collections (${r.collections.join(", ")})` : r.collection;
    nodes.push(el("p", { class: "summary" },
      `${r.hits.length} hit(s) for `, el("q", {}, r.query), ` in ${where} (${r.mode}); `,
      `${r.trimmed} trimmed, ${r.omitted} left out; about ${num(r.estimated_tokens)} of ${num(r.max_tokens)} tokens.`));
    if (r.note) nodes.push(el("p", { class: "note" }, "Note: ", r.note));
    for (const s of r.skipped || []) nodes.push(el("p", { class: "warn" }, `Skipped ${s.collection}: ${s.reason}`));
    r.hits.forEach((h, i) => nodes.push(renderHit(h, i + 1)));
    nodes.push(el("details", {}, el("summary", { class: "muted" }, "the tool's text content, as a model reads it"),
      el("pre", { class: "raw" }, textOf(result))));
    return nodes;
  }

  function renderHit(h, n) {
    const meta = [];
    if (h.symbol) meta.push(el("span", { class: "symbol" }, h.symbol));
    if (h.collection) meta.push(el("span", { class: "muted" }, "collection " + h.collection));
    meta.push(el("span", { class: "muted" }, `${h.language}, ${h.kind}`));
    meta.push(el("span", { class: "muted" }, "score " + h.score.toFixed(4)));
    if (h.truncated) meta.push(el("span", { class: "warn" }, `lines ${h.start_line}-${h.end_line} of ${h.chunk_lines[0]}-${h.chunk_lines[1]}`));
    const stale = h.disk_state === "changed" || h.disk_state === "deleted";
    meta.push(el("span", { class: stale ? "warn disk-state" : "muted disk-state", title: h.indexed_at ? "indexed " + h.indexed_at : "" },
      stale ? `file ${h.disk_state} on disk since indexed` : `disk: ${h.disk_state}`));
    meta.push(el("span", { class: "muted small" }, "id " + h.id));
    return el("article", { class: "hit", "data-citation": h.citation },
      el("div", { class: "hit-head" }, el("span", { class: "muted" }, `[${n}]`), el("span", { class: "citation" }, h.citation), ...meta),
      el("pre", { class: "text" }, h.text));
  }

  // -- wiring -----------------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
      $("token").value = "";
      start();
    });
    $("logout").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      if (client) client.close();
      showLogin("");
    });
    $("refresh").addEventListener("click", () => refreshCollections());
    $("search-form").addEventListener("submit", search);
    window.addEventListener("pagehide", () => client && client.close());
    start();
  });
})();
