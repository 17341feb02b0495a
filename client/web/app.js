// coordctl web: the page's script. Reads through /api/..., follows /events.
"use strict";

const PAGE = 25;
const PLOT_SECONDS = 300;
const PLOT_BUCKET = 10;

const state = {
  cursors: [""],      // cursor of each page seen, for Newer
  next: null,         // cursor of the next (older) page
  selected: null,     // request_id shown in the detail
  lastSeq: 0,         // of the last message received
  closedAt: new Map(),// request_id -> end time, for the plot
  outputSupported: true,
  outputOffsets: {},  // stream -> next offset while following
  detailTimer: 0,
  refreshTimer: 0,
  source: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

async function api(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {}))
    if (v !== "" && v !== null && v !== undefined) q.set(k, v);
  const res = await fetch("api/" + path + (q.toString() ? "?" + q : ""),
                          {credentials: "same-origin"});
  if (!res.ok) throw {code: res.status, message: res.statusText};
  const body = await res.json();
  if (body.error) throw body.error;
  return body.result;
}

function fmtTime(t) {
  if (!t) return "";
  const d = new Date(t * 1000);
  return d.toLocaleTimeString([], {hour12: false}) + "." +
    String(d.getMilliseconds()).padStart(3, "0");
}

function fmtDuration(s) {
  if (s === null || s === undefined || s < 0) return "";
  if (s < 1) return (s * 1000).toFixed(0) + " ms";
  if (s < 120) return s.toFixed(1) + " s";
  if (s < 7200) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(1) + " h";
}

function jobState(job) {
  if (job.status === "closed") return job.result || "closed";
  return job.phase || "opened";
}

function tookOf(job) {
  const from = job.run_start_time || job.start_time;
  const to = job.end_time || (job.status === "opened" ? Date.now() / 1000 : null);
  return to ? to - from : null;
}

function setLive(up) {
  const e = $("live");
  e.textContent = up ? "live" : "daemon unreachable";
  e.className = "live " + (up ? "up" : "down");
}

// The counts per mode and in all.
async function refreshOverview() {
  const [modes, status] = await Promise.all([api("modes"), api("status", {limit: 1})]);
  const totals = $("totals");
  totals.replaceChildren();
  for (const k of ["opened", "closed", "success", "failure"])
    totals.append(el("div", {class: "card", id: "count-" + k},
                     el("b", {}, String(status.counts[k])), el("span", {}, k)));
  const box = $("modes");
  box.replaceChildren();
  const select = document.querySelector("#filters select[name=mode]");
  const known = new Set([...select.options].map((o) => o.value));
  for (const m of modes.modes) {
    const parts = [m.running + " running", m.queued + " queued"];
    if (m.waiting !== undefined) parts.push(m.waiting + " waiting");
    if (m.paused) parts.push("paused");
    box.append(el("div", {class: "card mode", "data-mode": m.name},
                  el("b", {}, m.name), el("span", {}, parts.join(" · ") +
                                                 " · max " + m.max_concurrency)));
    if (!known.has(m.name)) select.append(el("option", {}, m.name));
  }
}

function filters() {
  const f = new FormData($("filters"));
  const p = {};
  for (const [k, v] of f.entries()) if (v) p[k] = v;
  return p;
}

// A daemon whose status has no name filter yet refuses the key: hide that field.
function dropNameFilter(e, params) {
  if (e.code !== -32602 || params.name === undefined || !/\bname\b/.test(e.message))
    return false;
  const input = document.querySelector("#filters input[name=name]");
  input.value = "";
  input.parentElement.hidden = true;
  return true;
}

async function refreshTable() {
  const params = Object.assign(filters(), {limit: PAGE});
  const cursor = state.cursors[state.cursors.length - 1];
  if (cursor) params.cursor = cursor;
  let res;
  try {
    res = await api("status", params);
  } catch (e) {
    if (dropNameFilter(e, params)) return refreshTable();
    $("pageinfo").textContent = e.message;
    throw e;
  }
  const body = $("jobs").tBodies[0];
  const rows = res.jobs.map((job) => {
    const st = jobState(job);
    const tr = el("tr", {"data-id": job.request_id},
      el("td", {class: "id", title: job.request_id}, job.request_id.slice(-12)),
      el("td", {class: "name", title: job.name || ""}, job.name || ""),
      el("td", {class: "wide"}, job.mode),
      el("td", {class: "state-" + st}, st),
      el("td", {class: "wide"}, fmtTime(job.start_time)),
      el("td", {}, fmtDuration(tookOf(job))));
    if (job.request_id === state.selected) tr.classList.add("selected");
    return tr;
  });
  body.replaceChildren(...rows);
  state.next = res.next;
  $("older").disabled = !res.next;
  $("newer").disabled = state.cursors.length <= 1;
  $("pageinfo").textContent = "page " + state.cursors.length;
}

async function refresh() {
  try {
    await Promise.all([refreshOverview(), refreshTable()]);
    if (state.selected) await refreshDetail(false);
  } catch (e) {
    if (e.code === 0) setLive(false);
  }
}

// Many messages in a burst make one refresh.
function scheduleRefresh() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = 0;
    refresh();
  }, 250);
}

// The plot: closures per second in buckets over the last minutes.
async function seedPlot() {
  const res = await api("status", {status: "closed", limit: 1000});
  for (const job of res.jobs)
    if (job.end_time) state.closedAt.set(job.request_id, job.end_time);
  drawPlot();
}

function drawPlot() {
  const svg = $("plot");
  const now = Date.now() / 1000;
  const n = PLOT_SECONDS / PLOT_BUCKET;
  const counts = new Array(n).fill(0);
  for (const [id, t] of state.closedAt) {
    const age = now - t;
    if (age > PLOT_SECONDS + 60) state.closedAt.delete(id);
    else if (age >= 0 && age < PLOT_SECONDS) counts[n - 1 - Math.floor(age / PLOT_BUCKET)]++;
  }
  const rates = counts.map((c) => c / PLOT_BUCKET);
  const max = Math.max(0.1, ...rates);
  const ns = "http://www.w3.org/2000/svg";
  const parts = [];
  const w = 600 / n;
  rates.forEach((r, i) => {
    const h = (r / max) * 100;
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("x", String(i * w + 1));
    rect.setAttribute("y", String(110 - h));
    rect.setAttribute("width", String(w - 2));
    rect.setAttribute("height", String(h));
    const title = document.createElementNS(ns, "title");
    title.textContent = r.toFixed(2) + " jobs/s, " + (n - i) * PLOT_BUCKET + " s ago";
    rect.append(title);
    parts.push(rect);
  });
  const base = document.createElementNS(ns, "line");
  for (const [k, v] of [["x1", 0], ["y1", 110], ["x2", 600], ["y2", 110]])
    base.setAttribute(k, String(v));
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", "4");
  label.setAttribute("y", "12");
  label.textContent = "max " + max.toFixed(2) + "/s";
  svg.replaceChildren(base, ...parts, label);
}

// The detail of the selected job.
function openJob(id) {
  if (state.selected !== id) {
    state.selected = id;
    state.outputOffsets = {};
    $("output").replaceChildren();
  }
  $("detail").hidden = false;
  for (const tr of $("jobs").tBodies[0].rows)
    tr.classList.toggle("selected", tr.dataset.id === id);
  if (location.hash !== "#job=" + id) history.replaceState(null, "", "#job=" + id);
  refreshDetail(true);
}

function closeJob() {
  state.selected = null;
  clearTimeout(state.detailTimer);
  $("detail").hidden = true;
  history.replaceState(null, "", location.pathname);
}

function field(dl, name, value) {
  if (value === null || value === undefined || value === "") return;
  dl.append(el("dt", {}, name), el("dd", {}, String(value)));
}

async function refreshDetail(scroll) {
  const id = state.selected;
  clearTimeout(state.detailTimer);
  let res;
  try {
    res = await api("job", {request_id: id});
  } catch (e) {
    $("detail-id").textContent = id + " (" + e.message + ")";
    return;
  }
  if (id !== state.selected) return;
  const job = res.job;
  $("detail-id").textContent = job.request_id;
  const dl = $("detail-fields");
  dl.replaceChildren();
  field(dl, "name", job.name);
  field(dl, "state", jobState(job));
  field(dl, "mode", job.mode);
  field(dl, "run", job.run_id);
  field(dl, "node", job.child_node_id);
  field(dl, "parent node", job.parent_node_id);
  field(dl, "exit code", job.exit_code);
  if (job.error) field(dl, "error", job.error.kind + ": " + job.error.message);
  field(dl, "accepted", fmtTime(job.start_time));
  field(dl, "started", fmtTime(job.run_start_time));
  field(dl, "ended", fmtTime(job.end_time));
  if (job.run_start_time) field(dl, "waited", fmtDuration(job.run_start_time - job.start_time));
  field(dl, "took", fmtDuration(tookOf(job)));
  field(dl, "rerun of", job.rerun_of);
  $("task").textContent = job.task ? JSON.stringify(job.task, null, 2) : "(not shown)";
  await refreshOutput(job, res.message);
  await refreshTree(job);
  if (scroll) $("detail").scrollIntoView({behavior: "smooth", block: "start"});
  if (job.status === "opened" && id === state.selected)
    state.detailTimer = setTimeout(() => refreshDetail(false), 1000);
}

function appendOutput(stream, text) {
  if (!text) return;
  $("output").append(el("span", {class: stream}, text));
}

// Output through the output method while it exists; else what the final message holds.
async function refreshOutput(job, message) {
  if (state.outputSupported) {
    try {
      for (const stream of ["stdout", "stderr"]) {
        const offset = state.outputOffsets[stream] || 0;
        const res = await api("output", {request_id: job.request_id, stream, offset});
        for (const c of res.chunks) {
          appendOutput(c.stream || stream, c.data);
          state.outputOffsets[stream] = c.next_offset !== undefined ? c.next_offset
            : (c.offset + c.data.length);
        }
      }
      $("output-note").textContent = job.status === "opened" ? "following" : "";
      return;
    } catch (e) {
      if (e.code !== -32601) {
        $("output-note").textContent = "(" + e.message + ")";
        return;
      }
      state.outputSupported = false;
    }
  }
  $("output-note").textContent = "from the final message (the daemon has no output method)";
  $("output").replaceChildren();
  if (message && message.result) {
    appendOutput("stdout", message.result.stdout);
    appendOutput("stderr", message.result.stderr);
  } else if (job.status === "opened") {
    $("output-note").textContent = "shown once the job closes";
  }
}

async function refreshTree(job) {
  const res = await api("status", {run_id: job.run_id, limit: 1000});
  const byNode = new Map();
  const children = new Map();
  for (const j of res.jobs) byNode.set(j.child_node_id, j);
  for (const j of res.jobs.slice().reverse()) {
    const parent = j.parent_node_id && byNode.has(j.parent_node_id) ? j.parent_node_id : "";
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(j);
  }
  const build = (key, depth) => {
    const list = [];
    for (const j of children.get(key) || []) {
      const a = el("a", {"data-id": j.request_id}, (j.name || j.request_id) + " ");
      if (j.request_id === job.request_id) a.classList.add("current");
      const li = el("li", {}, a, el("small", {class: "state-" + jobState(j)}, jobState(j)));
      if (depth < 50 && children.has(j.child_node_id)) {
        const ul = el("ul", {});
        ul.append(...build(j.child_node_id, depth + 1));
        li.append(ul);
      }
      list.push(li);
    }
    return list;
  };
  $("tree").replaceChildren(...build("", 0));
}

// Live: every message refreshes the view; closures feed the plot.
function connect() {
  const url = "events" + (state.lastSeq ? "?since=" + state.lastSeq : "");
  const source = new EventSource(url);
  state.source = source;
  source.addEventListener("message", (ev) => {
    const msg = JSON.parse(ev.data);
    state.lastSeq = Math.max(state.lastSeq, msg.seq);
    if (msg.type === "request_success" || msg.type === "request_failure")
      state.closedAt.set(msg.request_id, msg.time);
    scheduleRefresh();
  });
  source.addEventListener("daemon", (ev) => {
    const up = JSON.parse(ev.data).up;
    setLive(up);
    if (up) scheduleRefresh();
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      setLive(false);
      setTimeout(connect, 2000);
    }
  });
}

function start() {
  $("filters").addEventListener("input", () => {
    state.cursors = [""];
    refreshTable().catch(() => {});
  });
  $("filters").addEventListener("submit", (ev) => ev.preventDefault());
  $("older").addEventListener("click", () => {
    if (!state.next) return;
    state.cursors.push(String(state.next));
    refreshTable().catch(() => {});
  });
  $("newer").addEventListener("click", () => {
    if (state.cursors.length > 1) state.cursors.pop();
    refreshTable().catch(() => {});
  });
  $("jobs").tBodies[0].addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr");
    if (tr) openJob(tr.dataset.id);
  });
  $("tree").addEventListener("click", (ev) => {
    const a = ev.target.closest("a");
    if (a) openJob(a.dataset.id);
  });
  $("detail-close").addEventListener("click", closeJob);
  // The token came in the URL once; the cookie carries it from now on.
  if (location.search) history.replaceState(null, "", location.pathname + location.hash);
  const m = /^#job=(.+)$/.exec(location.hash);
  refresh().then(() => seedPlot()).catch(() => {});
  if (m) openJob(decodeURIComponent(m[1]));
  setInterval(drawPlot, 2000);
  connect();
}

start();
