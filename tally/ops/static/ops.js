// The operations page: reads Server-Sent Events from /ops/events (with fetch, so that a
// bearer token can be sent) and draws each snapshot. Plain JavaScript, no library.
"use strict";

const SERIES = [
  ["commands", "commands/s (this API process)", "#2f6fde"],
  ["applied", "events applied/s", "#1f8a4c"],
  ["confirmed", "orders confirmed/s", "#d9822b"],
];
const HISTORY = 600;
let history = [];

const $ = (id) => document.getElementById(id);
const tokenInput = $("token");
tokenInput.value = sessionStorage.getItem("tally-token") || "";
tokenInput.addEventListener("change", () => {
  sessionStorage.setItem("tally-token", tokenInput.value.trim());
  // One listener on the table, not one per button: the rows are rebuilt at every update,
// and a click that lands while its button is being replaced must still act.
$("dead-letters").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  const row = button && button.closest("tr");
  if (row && row.dataset.key) act(row.dataset.key, button.dataset.action);
});

restart();
});

function authHeaders() {
  const token = tokenInput.value.trim();
  return token ? { Authorization: "Bearer " + token } : {};
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function fill(tableId, items, columns, key) {
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren();
  for (const item of items) {
    const row = document.createElement("tr");
    row.dataset.key = String(item[key]);
    for (const [field, classOf] of columns) {
      const className = typeof classOf === "function" ? classOf(item) : classOf;
      cell(row, item[field], className).dataset.field = field;
    }
    body.appendChild(row);
  }
  return body;
}

async function act(seq, action) {
  $("action").textContent = `${action} ${seq}…`;
  try {
    const answer = await fetch(`/admin/dead-letters/${seq}/${action}`, {
      method: "POST",
      headers: authHeaders(),
    });
    const body = await answer.json();
    $("action").textContent = answer.ok
      ? `dead letter ${seq}: ${body.outcome}`
      : `dead letter ${seq}: ${answer.status} ${body.detail || body.title}`;
  } catch (error) {
    $("action").textContent = `dead letter ${seq}: ${error}`;
  }
}

// A view's state, whether it is paused, and its latest replay asked for by the admin API.
function withStatus(item) {
  const parts = [item.state];
  if (item.paused) parts.push("paused");
  const replay = item.replay;
  if (replay) parts.push(`replay ${replay.state} ${replay.done}/${replay.total}`);
  return { ...item, status: parts.join(", ") };
}

function render(snapshot) {
  $("updated").textContent = new Date(snapshot.at * 1000).toLocaleTimeString();
  if (snapshot.error) {
    setConnection("down", snapshot.error);
    return;
  }
  setConnection("live", "live");
  $("orders-count").textContent = snapshot.orders.toLocaleString();
  $("dead-count").textContent = snapshot.dead_letters_total.toLocaleString();
  $("dead-count").className = "figure " + (snapshot.dead_letters_total ? "bad" : "good");
  const breaker = snapshot.breaker;
  $("breaker").textContent = breaker ? breaker.state : "not reported";
  $("breaker").className = "figure " + (breaker && breaker.state !== "closed" ? "bad" : "");
  fill("projections", snapshot.projections.map(withStatus), [
    ["name"], ["stream"], ["position"], ["stream_last_seq"],
    ["lag", (item) => (item.lag ? "bad" : "good")],
    ["status", (item) => (item.paused ? "bad" : "")],
  ], "name");
  fill("streams", snapshot.streams, [
    ["name"], ["messages"], ["bytes"], ["last_seq"], ["subjects"],
  ], "name");
  const letters = fill("dead-letters", snapshot.dead_letters, [
    ["seq"], ["projection"], ["subject"], ["position"], ["type"], ["attempts"],
    ["error", "error"], ["dead_at"],
  ], "seq");
  for (const row of letters.rows) {
    const buttons = document.createElement("td");
    for (const action of ["retry", "drop"]) {
      const button = document.createElement("button");
      button.textContent = action;
      button.dataset.action = action;  // clicks are handled by the table (below)
      buttons.appendChild(button);
    }
    row.appendChild(buttons);
  }
  if (snapshot.history) history = snapshot.history.slice(-HISTORY);
  else if (snapshot.rates) history.push(snapshot.rates);
  history = history.slice(-HISTORY);
  draw();
}

function draw() {
  const canvas = $("rates");
  const context = canvas.getContext("2d");
  const { width, height } = canvas;
  const pad = 28;
  context.clearRect(0, 0, width, height);
  const top = Math.max(1, ...history.flatMap((point) => SERIES.map(([key]) => point[key] || 0)));
  context.fillStyle = "#5b6475";
  context.font = "11px system-ui";
  context.fillText(`${top.toFixed(top < 10 ? 1 : 0)}/s`, 2, 12);
  context.fillText("0", 2, height - pad + 4);
  context.strokeStyle = "#dde1e7";
  context.beginPath();
  context.moveTo(pad, height - pad);
  context.lineTo(width, height - pad);
  context.stroke();
  const now = history.length ? history[history.length - 1].at : 0;
  const x = (at) => pad + ((width - pad) * (HISTORY - (now - at))) / HISTORY;
  const y = (value) => height - pad - ((height - pad - 16) * value) / top;
  for (const [key, , colour] of SERIES) {
    context.strokeStyle = colour;
    context.lineWidth = 2;
    context.beginPath();
    history.forEach((point, index) => {
      const method = index ? "lineTo" : "moveTo";
      context[method](x(point.at), y(point[key] || 0));
    });
    context.stroke();
  }
  context.fillText("10 min ago", pad, height - 8);
  context.fillText("now", width - 24, height - 8);
  const last = history[history.length - 1] || {};
  $("legend").replaceChildren(...SERIES.map(([key, label, colour]) => {
    const span = document.createElement("span");
    span.style.color = colour;
    span.dataset.series = key;
    span.textContent = `■ ${label}: ${last[key] ?? 0}`;
    return span;
  }));
}

function setConnection(className, text) {
  $("connection").className = "state " + className;
  $("connection").textContent = text;
}

let controller = null;

async function listen(signal) {
  while (!signal.aborted) {
    try {
      const answer = await fetch("/ops/events", {
        headers: authHeaders(), cache: "no-store", signal,
      });
      if (!answer.ok) {
        setConnection("down", `events: ${answer.status}` +
          (answer.status === 401 || answer.status === 403 ? " (enter a read token)" : ""));
        await sleep(2000);
        continue;
      }
      const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").filter((line) => line.startsWith("data:"))
            .map((line) => line.slice(5).trimStart()).join("\n");
          if (data) render(JSON.parse(data));
        }
      }
    } catch (error) {
      if (signal.aborted) return;
    }
    setConnection("down", "disconnected, retrying");
    await sleep(1000);
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function restart() {
  if (controller) controller.abort();
  controller = new AbortController();
  listen(controller.signal);
}

// One listener on the table, not one per button: the rows are rebuilt at every update,
// and a click that lands while its button is being replaced must still act.
$("dead-letters").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  const row = button && button.closest("tr");
  if (row && row.dataset.key) act(row.dataset.key, button.dataset.action);
});

restart();
