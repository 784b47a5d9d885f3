// The runs page: lists runs with their progress and counts, shows a run's
// failed and invalid items, and retries or cancels it. It talks to the API
// with the session cookie (same origin); every value is set as text, never
// as HTML.
"use strict";

let selected = null;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function api(method, path) {
  const res = await fetch(path, { method, credentials: "same-origin", headers: { "Accept": "application/json" } });
  if (res.status === 401) { location.reload(); throw new Error("signed out"); }
  return res;
}

function notice(msg) { document.getElementById("notice").textContent = msg || ""; }

function countsText(r) {
  const c = r.counts;
  const parts = [`${c.ok} ok`, `${c.failed} failed`, `${c.invalid} invalid`];
  if (c.skipped) parts.push(`${c.skipped} skipped`);
  if (c.unchanged) parts.push(`${c.unchanged} unchanged`);
  return parts.join(" · ") + ` of ${r.read}`;
}

function done(r) {
  const c = r.counts;
  return c.ok + c.failed + c.invalid + c.skipped + c.unchanged;
}

function renderRuns(runs) {
  const box = document.getElementById("runs");
  box.replaceChildren();
  if (runs.length === 0) box.append(el("p", "hint", "No runs yet."));
  for (const r of runs) {
    const card = el("article", "run" + (r.id === selected ? " selected" : ""));
    card.dataset.runId = r.id;
    card.dataset.status = r.status;
    const top = el("div", "top");
    top.append(el("span", "id", r.id), el("span", "status " + r.status, r.status.replaceAll("_", " ")));
    const bar = el("div", "bar");
    const fill = el("span");
    fill.style.width = (r.read ? Math.round(100 * done(r) / r.read) : 0) + "%";
    bar.append(fill);
    const when = r.createdAt ? new Date(r.createdAt).toLocaleString() : "";
    card.append(top, bar, el("div", "counts", countsText(r)),
      el("div", "when", when + (r.retryOf ? ` · retry of ${r.retryOf}` : "")));
    card.addEventListener("click", () => { selected = r.id; refresh(); });
    box.append(card);
  }
}

async function renderDetail() {
  const box = document.getElementById("detail");
  if (!selected) { box.hidden = true; return; }
  const res = await api("GET", `/v1/runs/${encodeURIComponent(selected)}`);
  if (!res.ok) { box.hidden = true; return; }
  const r = await res.json();
  box.hidden = false;
  box.dataset.runId = r.id;
  box.dataset.status = r.status;
  document.getElementById("detail-id").textContent = r.id;
  const st = document.getElementById("detail-status");
  st.className = "status " + r.status;
  st.textContent = r.status.replaceAll("_", " ");
  document.getElementById("detail-counts").textContent = countsText(r);
  document.getElementById("detail-error").textContent = r.error || "";
  document.getElementById("detail-workers").textContent = (r.workers || [])
    .map(w => `${w.replica}: ${w.results} results in ${w.chunks} chunks`).join(" · ");
  const finished = !["queued", "running"].includes(r.status);
  document.getElementById("retry").hidden = !(finished && r.counts.failed > 0);
  document.getElementById("cancel").hidden = finished;
  const list = document.getElementById("failed");
  const items = [];
  for (const status of ["failed", "invalid"]) {
    items.push(...await firstLines(`/v1/runs/${encodeURIComponent(r.id)}/results?status=${status}`, 501));
  }
  items.sort((a, b) => a.index - b.index);
  list.replaceChildren();
  if (items.length === 0) list.append(el("li", "hint", "None."));
  for (const it of items.slice(0, 500)) {
    const li = el("li");
    li.dataset.index = it.index;
    li.append(el("span", "idx", `#${it.index} line ${it.line} `), el("strong", "", it.userId || "(no userId)"), " ",
      el("span", "status " + it.status, it.status), " ", el("span", "error", it.error || ""));
    list.append(li);
  }
  if (items.length > 500) list.append(el("li", "hint", `… and ${items.length - 500} more (GET /v1/runs/${r.id}/results?status=failed)`));
}

// firstLines reads at most n result lines of path and stops the download
// there: a run may have a million failed items.
async function firstLines(path, n) {
  const ctl = new AbortController();
  const res = await fetch(path, { credentials: "same-origin", signal: ctl.signal });
  if (res.status === 401) { location.reload(); throw new Error("signed out"); }
  if (!res.ok) return [];
  const out = [];
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0 && out.length < n) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line) out.push(JSON.parse(line));
    }
    if (out.length >= n) { ctl.abort(); break; }
  }
  return out;
}

async function refresh() {
  try {
    const res = await api("GET", "/v1/runs?limit=50");
    const body = await res.json();
    renderRuns(body.runs || []);
    await renderDetail();
  } catch (e) {
    notice("Cannot reach the server: " + e.message);
  }
}

async function act(kind) {
  if (!selected) return;
  notice("");
  const res = await api("POST", `/v1/runs/${encodeURIComponent(selected)}/${kind}`);
  const body = await res.json();
  if (!res.ok) { notice(body.error ? body.error.message : res.statusText); return; }
  if (kind === "retry") { selected = body.id; notice(`Retry run ${body.id} created.`); }
  refresh();
}

document.getElementById("retry").addEventListener("click", () => act("retry"));
document.getElementById("cancel").addEventListener("click", () => act("cancel"));
refresh();
setInterval(refresh, 2000);
