// The review page: a grid per class of candidate clips; decisions go to the server as they are
// made (each one fsynced there before it is shown as saved). Plain JS, no build step.
"use strict";

const LABELS = { accept: "accepted", reject: "rejected", skip: "skipped", undecided: "undecided" };
const KEYS = { a: "accept", r: "reject", s: "skip", u: "undecided" };
const POLL_MS = 2000;

const state = { clips: [], byKey: new Map(), classes: [], target: 100, seq: 0, visible: [], current: -1 };
const $ = (id) => document.getElementById(id);

function params() { return new URLSearchParams(location.search); }

function setMessage(text, isError = false) {
  const box = $("message");
  box.textContent = text;
  box.className = isError ? "error" : "";
}

function reviewer() { return $("reviewer").value.trim() || state.defaultReviewer; }

function fmt(x) { return Math.abs(x) >= 100 ? x.toFixed(1) : x.toFixed(3); }

function statusText(clip) {
  if (clip.decision === "undecided") return clip.version ? `undone by ${clip.reviewer}` : "undecided";
  return `${LABELS[clip.decision]} by ${clip.reviewer} · ${clip.time.slice(11, 19)} UTC`;
}

function renderProgress(progress) {
  state.progress = progress;
  $("progress").replaceChildren(...progress.map((row) => {
    const line = document.createElement("div");
    line.className = "progress-row" + (row.accept < row.target ? " short" : "");
    line.dataset.class = row.class;
    const pct = Math.min(100, (100 * row.accept) / row.target);
    line.innerHTML = `<span class="name"></span><span class="accepted">${row.accept} / ${row.target}</span>` +
      `<span class="bar"><span style="width:${pct}%"></span></span>` +
      `<span class="rest"><span class="reject">${row.reject}</span> rej · <span class="skip">${row.skip}</span> skip · ` +
      `<span class="undecided">${row.undecided}</span> open of <span class="candidates">${row.candidates}</span></span>`;
    line.firstChild.textContent = row.class;
    return line;
  }));
  for (const row of progress) {
    const head = document.querySelector(`section[data-class="${CSS.escape(row.class)}"] .count`);
    if (head) head.textContent = `${row.accept} / ${row.target} accepted · ${row.undecided} undecided of ${row.candidates}`;
  }
}

function makeCard(clip) {
  const card = document.createElement("article");
  card.className = "card";
  card.tabIndex = -1;
  card.dataset.key = clip.key;
  const video = document.createElement("video");
  video.controls = true;
  video.preload = "none";
  video.playsInline = true;
  video.dataset.src = `/clips/${encodeURIComponent(clip.key)}.mp4`;
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = `${clip.video_id} #${clip.clip_index} · ${clip.start_s.toFixed(2)}–${clip.end_s.toFixed(2)} s ` +
    `(${clip.duration_s.toFixed(1)} s) · ${clip.label}`;
  const scores = document.createElement("table");
  scores.className = "scores";
  for (const [name, value] of Object.entries(clip.scores)) {
    const tr = scores.insertRow();
    tr.insertCell().textContent = name;
    tr.insertCell().textContent = fmt(value);
  }
  const reasons = document.createElement("div");
  reasons.className = "reasons";
  const dropped = Object.entries(clip.dropped);
  const counts = (entries) => entries.map(([r, n]) => `${r} ×${n}`).join(", ");
  const elsewhere = Object.entries(clip.video_dropped);
  reasons.textContent = (dropped.length ? `overlapping windows filtered: ${counts(dropped)}`
    : "passed all filters; no overlapping window filtered") +
    (elsewhere.length ? ` · in this video: ${counts(elsewhere)}` : "");
  const actions = document.createElement("div");
  actions.className = "actions";
  for (const [decision, text] of [["accept", "Accept (A)"], ["reject", "Reject (R)"], ["skip", "Skip (S)"]]) {
    const button = document.createElement("button");
    button.dataset.decision = decision;
    button.textContent = text;
    button.addEventListener("click", () => { select(state.visible.indexOf(clip.key), false); decide(clip.key, decision); });
    actions.append(button);
  }
  const status = document.createElement("div");
  status.className = "status";
  card.append(video, meta, scores, reasons, actions, status);
  card.addEventListener("click", (event) => {
    if (event.target.closest("button")) return;
    const unloaded = event.target === video && !video.getAttribute("src");
    select(state.visible.indexOf(clip.key), false);
    if (unloaded) playCard(card, true);  // a click on a poster plays the clip
  });
  updateCard(clip, card);
  return card;
}

function cardOf(key) { return document.querySelector(`article.card[data-key="${CSS.escape(key)}"]`); }

function updateCard(clip, card = cardOf(clip.key)) {
  if (!card) return;
  card.dataset.decision = clip.decision;
  card.dataset.version = clip.version;
  const status = card.querySelector(".status");
  status.className = "status";
  status.textContent = statusText(clip);
}

const loader = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    const video = entry.target;  // a poster only: the video loads when it is played
    video.poster = video.dataset.src.replace(/\.mp4$/, ".jpg");
    loader.unobserve(video);
  }
}, { rootMargin: "400px" });

function visibleClips() {
  const cls = $("filter-class").value, status = $("filter-status").value;
  return state.clips.filter((c) => (!cls || c.review_class === cls) && (status === "all" || c.decision === status));
}

function renderGrid() {
  const clips = visibleClips();
  state.visible = clips.map((c) => c.key);
  const grid = $("grid");
  const sections = [];
  for (const cls of state.classes) {
    const mine = clips.filter((c) => c.review_class === cls);
    if (!mine.length) continue;
    const section = document.createElement("section");
    section.dataset.class = cls;
    const head = document.createElement("h2");
    head.append(cls + " — ");
    const count = document.createElement("span");
    count.className = "count";
    head.append(count);
    const cards = document.createElement("div");
    cards.className = "cards";
    cards.append(...mine.map(makeCard));
    section.append(head, cards);
    sections.push(section);
  }
  grid.replaceChildren(...sections);
  if (!sections.length) grid.textContent = "No clip matches these filters.";
  for (const video of grid.querySelectorAll("video")) loader.observe(video);
  $("shown").textContent = `showing ${clips.length} of ${state.clips.length} clips`;
  if (state.progress) renderProgress(state.progress);
  state.current = -1;
  if (state.visible.length) select(0, false);
}

function select(index, play = $("autoplay").checked) {
  if (index < 0 || index >= state.visible.length) return;
  const previous = state.current >= 0 ? cardOf(state.visible[state.current]) : null;
  if (previous) { previous.classList.remove("current"); previous.querySelector("video").pause(); }
  state.current = index;
  const card = cardOf(state.visible[index]);
  card.classList.add("current");
  card.scrollIntoView({ block: "nearest" });
  card.focus({ preventScroll: true });
  load(card, "metadata");
  const next = state.visible[index + 1];
  if (next) load(cardOf(next), "auto");  // the likely next clip is ready when its turn comes
  if (play) playCard(card, true);
}

function load(card, preload) {
  const video = card.querySelector("video");
  if (video.getAttribute("src")) return;
  video.preload = preload;
  video.src = video.dataset.src;
}

function playCard(card, fromStart) {
  const video = card.querySelector("video");
  load(card, "auto");
  if (fromStart) video.currentTime = 0;
  video.play().catch(() => {});  // a browser may refuse autoplay before any user gesture
}

function currentKey() { return state.current >= 0 ? state.visible[state.current] : null; }

async function decide(key, decision) {
  const clip = state.byKey.get(key);
  const card = cardOf(key);
  const status = card.querySelector(".status");
  status.className = "status";
  status.textContent = "saving…";
  card.dataset.saving = "1";
  let response;
  try {
    response = await fetch("/api/decisions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ clip: key, decision, base_version: clip.version, reviewer: reviewer() }),
    });
  } catch (error) {
    delete card.dataset.saving;
    status.className = "status unsaved";
    status.textContent = `NOT saved (${error.message}) — press again to retry`;
    return;
  }
  delete card.dataset.saving;
  const body = await response.json();
  if (response.status === 409) {
    applyRecord(body.current);
    status.className = "status conflict";
    status.textContent = `changed elsewhere: ${LABELS[body.current.decision]} by ${body.current.reviewer} — ` +
      "decide again to override";
    return;
  }
  if (!response.ok) {
    status.className = "status unsaved";
    status.textContent = `NOT saved: ${body.detail || response.status}`;
    return;
  }
  applyRecord(body.record);
  renderProgress(body.progress);
}

function applyRecord(record) {
  const clip = state.byKey.get(record.clip);
  if (!clip || record.version < clip.version) return;
  Object.assign(clip, { decision: record.decision, version: record.version, reviewer: record.reviewer, time: record.time });
  updateCard(clip);
}

async function poll() {
  try {
    const response = await fetch(`/api/changes?after=${state.seq}`);
    if (response.ok) {
      const body = await response.json();
      body.records.forEach(applyRecord);
      state.seq = body.seq;
      if (body.records.length) renderProgress(body.progress);
    }
  } catch (error) { /* server restarting: try again next tick */ }
  setTimeout(poll, POLL_MS);
}

function onKey(event) {
  if (event.target.closest("input, select, textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key.toLowerCase();
  const current = currentKey();
  if (KEYS[key] && current) {
    event.preventDefault();
    decide(current, KEYS[key]);
    if (key !== "u") select(state.current + 1);
  } else if (key === "arrowright" || key === "j") {
    event.preventDefault();
    select(state.current + 1);
  } else if (key === "arrowleft" || key === "k") {
    event.preventDefault();
    select(state.current - 1);
  } else if (key === " " && current) {
    event.preventDefault();
    const video = cardOf(current).querySelector("video");
    if (video.paused) playCard(cardOf(current), false); else video.pause();
  }
}

function saveFilters() {
  const query = params();
  for (const [name, id] of [["class", "filter-class"], ["status", "filter-status"]]) {
    const value = $(id).value;
    if (value && value !== "all") query.set(name, value); else query.delete(name);
  }
  history.replaceState(null, "", `${location.pathname}${query.toString() ? "?" + query : ""}`);
  renderGrid();
}

async function finish() {
  $("finish-confirm").hidden = true;
  const response = await fetch("/api/finish", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ reviewer: reviewer() }),
  });
  const body = await response.json();
  if (!response.ok) { setMessage(`could not mark finished: ${body.detail}`, true); return; }
  const short = body.progress.filter((row) => row.missing > 0).map((row) => `${row.class} (${row.missing} short)`);
  setMessage(`Review marked finished at ${body.finished_at}` +
    (body.hook === "failed" ? ` — the finish hook FAILED: ${body.hook_error}` : body.hook === "ok" ? " — hook called" : "") +
    (short.length ? `. Below target: ${short.join(", ")}` : ""), body.hook === "failed");
  document.body.dataset.finished = "1";
}

async function start() {
  const response = await fetch("/api/state");
  if (!response.ok) { setMessage(`cannot load the review: ${response.status}`, true); return; }
  const data = await response.json();
  Object.assign(state, { clips: data.clips, classes: data.classes, target: data.target_per_class, seq: data.seq,
                         defaultReviewer: data.reviewer });
  state.byKey = new Map(data.clips.map((c) => [c.key, c]));
  $("run").textContent = data.run_dir;
  $("reviewer").value = localStorage.getItem("asva-reviewer") || data.reviewer;
  $("reviewer").addEventListener("change", () => localStorage.setItem("asva-reviewer", $("reviewer").value.trim()));
  const classSelect = $("filter-class");
  for (const cls of data.classes) classSelect.add(new Option(cls, cls));
  classSelect.value = params().get("class") || "";
  $("filter-status").value = params().get("status") || "all";
  classSelect.addEventListener("change", saveFilters);
  $("filter-status").addEventListener("change", saveFilters);
  $("finish").addEventListener("click", () => { $("finish-confirm").hidden = false; });
  $("finish-no").addEventListener("click", () => { $("finish-confirm").hidden = true; });
  $("finish-yes").addEventListener("click", finish);
  document.addEventListener("keydown", onKey);
  renderProgress(data.progress);
  // Keep the selected card clear of the sticky header when it is scrolled into view.
  const pad = () => { document.documentElement.style.scrollPaddingTop = `${document.querySelector("header").offsetHeight + 8}px`; };
  pad();
  new ResizeObserver(pad).observe(document.querySelector("header"));
  renderGrid();
  if (data.finished) setMessage(`This review was marked finished at ${data.finished.finished_at} by ${data.finished.reviewer}.`);
  if (!data.clips.length) setMessage("This run has no candidate clip of the selected classes.", true);
  window.reviewReadyMs = performance.now();  // ms since navigation start (benchmarks read it)
  document.body.dataset.ready = "1";
  setTimeout(poll, POLL_MS);
}

start();
