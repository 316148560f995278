// The BBS page: one WebSocket to `bbs web` (contract: docs/protocol.md, "Browsers").
// Everything a user wrote is put in the page with textContent, never parsed as HTML.
"use strict";

const PAGE = 50; // history entries per request
const $ = (id) => document.getElementById(id);
const when = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });
const today = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

const state = {
  ws: null,
  open: false,
  retryMs: 500,
  nextId: 1,
  pending: new Map(), // request id -> {resolve, reject}
  user: "",
  password: "", // kept in memory only, to log in again after a reconnect
  loggedIn: false,
  clusterDown: false,
  channels: new Map(), // name -> {joined, unread}
  convs: new Map(), // peer -> {unread}
  users: [],
  online: null, // names, if the cluster reports presence
  current: null, // {kind: "channel"|"private", name}
  rooms: new Map(), // "c:name" / "p:peer" -> {items, keys, oldest, exhausted, loading}
  outbox: [], // posts not yet acknowledged: {service, data, room}
};

// ---- the socket ---------------------------------------------------------------------------

function setStatus(kind, text) {
  const el = $("status");
  el.dataset.state = kind;
  el.textContent = text;
}

function connect() {
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  const ws = new WebSocket(url);
  state.ws = ws;
  setStatus("connecting", "connecting…");
  ws.onopen = () => {
    state.open = true;
    state.retryMs = 500;
    setStatus("online", "connected");
    if (state.user) resume();
  };
  ws.onmessage = (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    onFrame(frame);
  };
  ws.onclose = () => {
    state.open = false;
    state.ws = null;
    for (const { reject } of state.pending.values()) reject(new Error("disconnected"));
    state.pending.clear();
    const wait = state.retryMs;
    state.retryMs = Math.min(state.retryMs * 2, 5000);
    setStatus("reconnecting", `disconnected; reconnecting in ${Math.round(wait / 100) / 10}s…`);
    setTimeout(connect, wait);
  };
}

function request(service, data) {
  return new Promise((resolve, reject) => {
    if (!state.open) {
      reject(new Error("not connected"));
      return;
    }
    const id = state.nextId++;
    state.pending.set(id, { resolve, reject });
    state.ws.send(JSON.stringify({ service, data, id }));
  });
}

function onFrame(frame) {
  if (frame.topic !== undefined) {
    onDelivery(frame.topic, frame.message || {});
    return;
  }
  const waiting = state.pending.get(frame.id);
  if (!waiting) return;
  state.pending.delete(frame.id);
  if (frame.error !== undefined) {
    const unreachable = /no answer from the cluster/.test(frame.error);
    if (unreachable) clusterDown();
    waiting.reject(Object.assign(new Error(frame.error), { unreachable }));
  } else {
    if (state.clusterDown) clusterBack();
    waiting.resolve(frame.data || {});
  }
}

function failed(data) {
  return data.status === "erro" ? data.description || data.message || "refused" : "";
}

// ---- the cluster going away and coming back -----------------------------------------------

function clusterDown() {
  if (state.clusterDown) return;
  state.clusterDown = true;
  setStatus("cluster-down", "the cluster does not answer; retrying…");
  const probe = () => {
    if (!state.clusterDown) return;
    request("channels", {}).catch(() => {});
    setTimeout(probe, 3000);
  };
  setTimeout(probe, 3000);
}

function clusterBack() {
  state.clusterDown = false;
  setStatus("online", "connected");
  if (state.loggedIn) refresh();
}

// After a reconnect: the same user again, its channels, what was missed, what was not sent.
async function resume() {
  try {
    const data = await request("login", loginData(state.user, state.password));
    if (failed(data)) throw new Error(failed(data));
    state.loggedIn = true;
    await refresh();
  } catch (e) {
    if (!e.unreachable) setStatus("offline", `could not log in again: ${e.message}`);
  }
}

async function refresh() {
  for (const [name, ch] of state.channels) {
    if (ch.joined) request("subscribe", { channel: name }).catch(() => {});
  }
  await Promise.allSettled([loadChannels(), loadUsers()]);
  if (state.current) await loadNewest(state.current);
  flushOutbox();
}

// ---- logging in ---------------------------------------------------------------------------

function loginData(user, password) {
  return password ? { user, password } : { user };
}

async function login(event) {
  event.preventDefault();
  const user = $("login-user").value.trim();
  const password = $("login-password").value;
  $("login-error").textContent = "";
  if (!user) return;
  let data;
  try {
    data = await request("login", loginData(user, password));
  } catch (e) {
    $("login-error").textContent = e.message;
    return;
  }
  if (data.claimed) {
    $("login-error").textContent = "This name is claimed: enter its password.";
    $("login-password").focus();
    return;
  }
  if (failed(data)) {
    $("login-error").textContent = failed(data);
    return;
  }
  state.user = user;
  state.password = password;
  state.loggedIn = true;
  $("login-password").value = "";
  $("me").textContent = user;
  $("login").hidden = true;
  $("chat").hidden = false;
  for (const name of savedChannels()) state.channels.set(name, { joined: true, unread: 0 });
  await refresh();
  const first = [...state.channels].find(([, ch]) => ch.joined);
  if (first) open({ kind: "channel", name: first[0] });
  $("composer-text").focus();
}

// ---- channels, conversations, people ------------------------------------------------------

function savedChannels() {
  try {
    const names = JSON.parse(localStorage.getItem("bbs.channels." + state.user) || "[]");
    return Array.isArray(names) ? names.filter((n) => typeof n === "string") : [];
  } catch (e) {
    return [];
  }
}

function saveChannels() {
  const joined = [...state.channels].filter(([, ch]) => ch.joined).map(([n]) => n);
  localStorage.setItem("bbs.channels." + state.user, JSON.stringify(joined));
}

async function loadChannels() {
  const data = await request("channels", {});
  for (const name of data.channels || []) {
    if (!state.channels.has(name)) state.channels.set(name, { joined: false, unread: 0 });
  }
  renderLists();
}

async function loadUsers() {
  const data = await request("users", {});
  state.users = Array.isArray(data.users) ? data.users : [];
  state.online = Array.isArray(data.online) ? new Set(data.online) : null;
  renderLists();
}

async function loadOnline() {
  const data = await request("who", {});
  if (!Array.isArray(data.online)) return;
  state.online = new Set(data.online);
  for (const name of data.online) if (!state.users.includes(name)) state.users.push(name);
  renderLists();
}

async function join(name) {
  const ch = state.channels.get(name) || { joined: false, unread: 0 };
  state.channels.set(name, ch);
  if (!ch.joined) {
    await request("subscribe", { channel: name });
    ch.joined = true;
    saveChannels();
  }
  open({ kind: "channel", name });
}

async function createOrJoin(event) {
  event.preventDefault();
  const name = $("join-input").value.trim();
  if (!name) return;
  try {
    const data = await request("channel", { channel: name });
    // An existing channel answers erro: joining it is what was meant.
    if (failed(data) && !/exist/i.test(failed(data))) throw new Error(failed(data));
    $("join-input").value = "";
    await join(name);
  } catch (e) {
    $("room-error").textContent = e.message;
  }
}

function listButton(label, current, unread, extra) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  if (extra) extra(button);
  const text = document.createElement("span");
  text.textContent = label;
  button.append(text);
  const badge = document.createElement("span");
  badge.className = "unread";
  badge.textContent = unread ? String(unread) : "";
  if (unread) badge.setAttribute("aria-label", `${unread} unread`);
  button.append(badge);
  button.setAttribute("aria-current", current ? "true" : "false");
  li.append(button);
  return [li, button];
}

function isCurrent(kind, name) {
  return !!state.current && state.current.kind === kind && state.current.name === name;
}

function renderLists() {
  const channels = $("channel-list");
  channels.replaceChildren();
  const names = [...state.channels.keys()].sort((a, b) => a.localeCompare(b));
  for (const name of names) {
    const ch = state.channels.get(name);
    const [li, button] = listButton("#" + name, isCurrent("channel", name), ch.unread, (b) => {
      b.dataset.channel = name;
      if (!ch.joined) b.classList.add("not-joined");
      b.title = ch.joined ? "joined" : "not joined: open to join";
    });
    button.addEventListener("click", () => join(name).catch(showError));
    channels.append(li);
  }
  const convs = $("conv-list");
  convs.replaceChildren();
  for (const [peer, conv] of state.convs) {
    const [li, button] = listButton(peer, isCurrent("private", peer), conv.unread, (b) => {
      b.dataset.peer = peer;
    });
    button.addEventListener("click", () => open({ kind: "private", name: peer }));
    convs.append(li);
  }
  const people = $("user-list");
  people.replaceChildren();
  const online = state.online;
  const users = [...state.users].sort(
    (a, b) => (online ? online.has(b) - online.has(a) : 0) || a.localeCompare(b)
  );
  for (const name of users) {
    const [li, button] = listButton(name + (name === state.user ? " (you)" : ""), false, 0, (b) => {
      b.dataset.user = name;
      if (online) {
        const dot = document.createElement("span");
        dot.className = "dot" + (online.has(name) ? " on" : "");
        dot.setAttribute("aria-label", online.has(name) ? "online" : "offline");
        b.append(dot);
      }
    });
    if (name !== state.user) {
      button.addEventListener("click", () => {
        if (!state.convs.has(name)) state.convs.set(name, { unread: 0 });
        open({ kind: "private", name });
      });
    }
    people.append(li);
  }
  $("online-count").textContent = online ? `(${online.size} online)` : "";
}

// ---- a room: its messages, paged back through history ------------------------------------

function roomKey(room) {
  return (room.kind === "channel" ? "c:" : "p:") + room.name;
}

function roomOf(key) {
  if (!state.rooms.has(key)) {
    state.rooms.set(key, { items: [], keys: new Set(), oldest: null, exhausted: false, loading: false });
  }
  return state.rooms.get(key);
}

function entryKey(m) {
  return `${m.clock}|${m.user || m.src}|${m.message}`;
}

// Adds entries (any order) to a room; true if something new arrived.
function addEntries(room, entries) {
  let added = false;
  for (const m of entries) {
    const key = entryKey(m);
    if (room.keys.has(key)) continue;
    if (!m.local) {
      // The stored copy of a private message shown when it was sent replaces that copy.
      room.items = room.items.filter((o) => !(o.local && o.user === (m.user || m.src) && o.message === m.message));
    }
    room.keys.add(key);
    room.items.push(m);
    added = true;
    if (!m.local && typeof m.clock === "number" && (room.oldest === null || m.clock < room.oldest)) {
      room.oldest = m.clock;
    }
  }
  room.items.sort((a, b) => (a.clock - b.clock) || (a.timestamp - b.timestamp));
  return added;
}

function historyQuery(roomRef, before) {
  const data = roomRef.kind === "channel" ? { channel: roomRef.name } : { peer: roomRef.name };
  data.limit = PAGE;
  if (before !== null && before !== undefined) data.before_clock = before;
  return data;
}

async function loadNewest(roomRef) {
  const room = roomOf(roomKey(roomRef));
  const data = await request("history", historyQuery(roomRef, null));
  if (failed(data)) throw new Error(failed(data));
  const stuckToBottom = atBottom();
  addEntries(room, data.messages || []);
  if (isCurrent(roomRef.kind, roomRef.name)) renderMessages(stuckToBottom);
}

async function loadOlder() {
  const roomRef = state.current;
  if (!roomRef) return;
  const room = roomOf(roomKey(roomRef));
  if (room.loading || room.exhausted || room.oldest === null) return;
  room.loading = true;
  $("older").textContent = "loading older messages…";
  try {
    const data = await request("history", historyQuery(roomRef, room.oldest));
    if (failed(data)) throw new Error(failed(data));
    const page = data.messages || [];
    if (!page.length) room.exhausted = true;
    const list = $("messages");
    const before = list.scrollHeight;
    addEntries(room, page);
    if (isCurrent(roomRef.kind, roomRef.name)) {
      renderMessages(false);
      list.scrollTop += list.scrollHeight - before; // keep what was on screen in place
    }
    $("older").textContent = room.exhausted ? "the beginning of this conversation" : "";
  } catch (e) {
    $("older").textContent = e.message;
  } finally {
    room.loading = false;
  }
}

function atBottom() {
  const list = $("messages");
  return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
}

function formatTime(seconds) {
  const date = new Date(seconds * 1000);
  const sameDay = date.toDateString() === new Date().toDateString();
  return [date, (sameDay ? today : when).format(date)];
}

function messageItem(m, pendingNote) {
  const li = document.createElement("li");
  li.className = "msg";
  if (typeof m.clock === "number") li.dataset.clock = String(m.clock);
  const [date, label] = formatTime(typeof m.timestamp === "number" ? m.timestamp : Date.now() / 1000);
  const time = document.createElement("time");
  time.dateTime = date.toISOString();
  time.textContent = label;
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = m.user || m.src || "?";
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = m.message;
  li.append(time, author, text);
  if (m.sealed) note(li, "sealed: readable only in the terminal client holding the key");
  if (pendingNote) {
    li.classList.add("pending");
    note(li, pendingNote);
  }
  return li;
}

function note(li, text) {
  const span = document.createElement("span");
  span.className = "note";
  span.textContent = text;
  li.append(span);
}

function renderMessages(toBottom) {
  const list = $("messages");
  const roomRef = state.current;
  if (!roomRef) return;
  const key = roomKey(roomRef);
  const items = roomOf(key).items.map((m) => messageItem(m));
  for (const post of state.outbox) {
    if (post.room === key) items.push(messageItem({ user: state.user, message: post.data.message }, post.note));
  }
  list.replaceChildren(...items);
  if (toBottom) list.scrollTop = list.scrollHeight;
}

async function open(roomRef) {
  state.current = roomRef;
  const entry = roomRef.kind === "channel" ? state.channels.get(roomRef.name) : state.convs.get(roomRef.name);
  if (entry) entry.unread = 0;
  $("title").textContent = (roomRef.kind === "channel" ? "#" : "Conversation with ") + roomRef.name;
  $("older").textContent = "";
  $("room-error").textContent = "";
  closeMenu();
  renderLists();
  renderMessages(true);
  try {
    await loadNewest(roomRef);
    renderMessages(true);
    // A short room: fetch older pages until the list can scroll (or there are none).
    const list = $("messages");
    const room = roomOf(roomKey(roomRef));
    for (let pages = 0; pages < 10 && room.oldest !== null && !room.exhausted; pages++) {
      if (!isCurrent(roomRef.kind, roomRef.name) || list.scrollHeight > list.clientHeight) break;
      await loadOlder();
    }
  } catch (e) {
    showError(e);
  }
}

function onDelivery(topic, m) {
  const kind = m.kind === "private" ? "private" : "channel";
  const name = kind === "channel" ? m.channel || topic : m.user;
  if (!name) return;
  if (kind === "private" && !state.convs.has(name)) state.convs.set(name, { unread: 0 });
  const key = roomKey({ kind, name });
  const stuck = atBottom();
  const added = addEntries(roomOf(key), [m]);
  if (!added) return;
  if (isCurrent(kind, name) && !document.hidden) {
    renderMessages(stuck);
  } else {
    const entry = kind === "channel" ? state.channels.get(name) : state.convs.get(name);
    if (entry) entry.unread += 1;
    if (isCurrent(kind, name)) renderMessages(stuck);
  }
  renderLists();
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden || !state.current) return;
  const c = state.current;
  const entry = c.kind === "channel" ? state.channels.get(c.name) : state.convs.get(c.name);
  if (entry && entry.unread) {
    entry.unread = 0;
    renderLists();
  }
});

// ---- writing ------------------------------------------------------------------------------

function newRequestId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function send(event) {
  event.preventDefault();
  const box = $("composer-text");
  const text = box.value;
  if (!text.trim() || !state.current) return;
  const c = state.current;
  // The same request_id on every resend: the cluster stores a retried post once.
  const data = c.kind === "channel" ? { channel: c.name, message: text } : { dst: c.name, message: text };
  data.request_id = newRequestId();
  state.outbox.push({ service: c.kind === "channel" ? "publish" : "message", data, room: roomKey(c), note: "sending…" });
  box.value = "";
  sessionStorage.removeItem("bbs.draft");
  renderMessages(true);
  flushOutbox();
}

let flushing = false;
async function flushOutbox() {
  if (flushing || !state.open || !state.loggedIn) return;
  flushing = true;
  try {
    while (state.outbox.length && state.open) {
      const post = state.outbox[0];
      let data;
      try {
        data = await request(post.service, post.data);
      } catch (e) {
        post.note = e.unreachable ? "not sent yet: the cluster does not answer (will retry)" : "not sent yet (will retry)";
        renderMessages(false);
        return;
      }
      state.outbox.shift();
      if (failed(data)) {
        $("room-error").textContent = `not sent: ${failed(data)}`;
      } else if (post.service === "message") {
        // No delivery comes back to the sender of a private message: show it now.
        addEntries(roomOf(post.room), [{ user: state.user, src: state.user, dst: post.data.dst, message: post.data.message, timestamp: Date.now() / 1000, clock: Number.MAX_SAFE_INTEGER - state.outbox.length, local: true }]);
      }
      renderMessages(atBottom());
    }
  } finally {
    flushing = false;
  }
}

function showError(e) {
  $("room-error").textContent = e.message || String(e);
}

// ---- keyboard and small screens ----------------------------------------------------------

function closeMenu() {
  $("side").classList.remove("open");
  $("menu").setAttribute("aria-expanded", "false");
}

function setup() {
  $("login-form").addEventListener("submit", login);
  $("join-form").addEventListener("submit", createOrJoin);
  $("composer").addEventListener("submit", send);
  const box = $("composer-text");
  box.value = sessionStorage.getItem("bbs.draft") || "";
  box.addEventListener("input", () => sessionStorage.setItem("bbs.draft", box.value));
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("messages").addEventListener("scroll", () => {
    if ($("messages").scrollTop < 40) loadOlder();
  });
  $("messages").addEventListener("keydown", (e) => {
    if ((e.key === "PageUp" || e.key === "Home") && $("messages").scrollTop < 40) loadOlder();
  });
  $("menu").addEventListener("click", () => {
    const side = $("side");
    side.classList.toggle("open");
    $("menu").setAttribute("aria-expanded", String(side.classList.contains("open")));
    if (side.classList.contains("open")) side.querySelector("button, input")?.focus();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") closeMenu();
  });
  // Presence: a user is online while a request named them in the last 30 s; `who` every
  // 20 s keeps this one online and refreshes the dots (a cluster without `who` refuses it:
  // then the people list is refreshed and shows no dots).
  setInterval(() => {
    if (state.loggedIn && state.open) loadOnline().catch(() => {});
  }, 20000);
  setInterval(() => {
    if (state.loggedIn && state.open && !document.hidden) loadUsers().catch(() => {});
  }, 60000);
  connect();
}

setup();
