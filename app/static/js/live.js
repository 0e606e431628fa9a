/* Samvirke's live pages: the incident page and the incident list follow every change over a
   WebSocket, and say how current they are (docs/live.md, "The page socket").

   The socket is opened at #live-status's data-url with ?after=<the last seq applied>, which
   starts at the seq the page was rendered at. Each message is a <template data-seq> of htmx
   out-of-band swaps, applied once and in order; a message at or below the last seq is ignored,
   so a reconnect resumes without gaps or duplicates. Its data-blocks name the page's blocks it
   touches (learnt from the messages, not listed here): an htmx answer that replaces one of them
   makes the later messages apply again. The socket reconnects by itself (backoff doubling from
   0.5 s to 30 s, with jitter; at once when the browser is back online).
   Writes never go over the socket: they stay htmx form posts. */
(function () {
  "use strict";

  var status = document.getElementById("live-status");
  if (!status || !window.WebSocket || !window.htmx) return;

  var DEAD_AFTER = 45000;  // heartbeats come every ~15 s: silence this long means a dead link
  var FIRST_DELAY = 500;
  var MAX_DELAY = 30000;
  var OFFLINE_AFTER = 3;   // failed attempts before "reconnecting" becomes "offline"
  var KEEP = 100;          // recent messages, re-applied when an htmx answer replaces a block
  var NOTIFY_KEY = "samvirke.notify-decisions";

  var last = Number(status.dataset.seq) || 0;
  var socket = null;
  var attempts = 0;
  var retryTimer = 0;
  var deadTimer = 0;
  var stopped = false;
  var applying = false;
  var recent = [];  // [seq, message text], oldest first
  var blocks = {};  // ids of the blocks the messages touch, learnt from their data-blocks

  /* --- the indicator ---------------------------------------------------------------------- */

  function setState(state) {
    if (status.dataset.state === state) return;  // the live region speaks only on a change
    status.dataset.state = state;
    var key = "msg" + state.charAt(0).toUpperCase() + state.slice(1);
    document.getElementById("live-status-text").textContent = status.dataset[key];
  }

  // Wall-clock time in the instance's zone, like every other time on the page.
  var clock = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: status.dataset.zone || undefined,
  });

  function heard() {
    var now = new Date();
    var time = document.getElementById("live-status-time");
    time.textContent = clock.format(now);
    time.setAttribute("datetime", now.toISOString());
    status.querySelector(".live-status__time").hidden = false;
    window.clearTimeout(deadTimer);
    deadTimer = window.setTimeout(function () { drop(); retry(); }, DEAD_AFTER);
  }

  /* --- the connection ---------------------------------------------------------------------- */

  function connect() {
    window.clearTimeout(retryTimer);
    if (stopped || socket) return;
    var url = new URL(status.dataset.url, window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("after", String(last));
    var ws = socket = new WebSocket(url.href);
    ws.onopen = function () {
      attempts = 0;
      setState("live");
      heard();
    };
    ws.onmessage = function (event) { receive(event.data); };
    ws.onclose = function (event) {
      socket = null;
      window.clearTimeout(deadTimer);
      // 4401: signed out (maybe everywhere); 4403: the reader's rights changed, so the page
      // shows what they may no longer see (or lacks what they now may); 4409: the page is from
      // another history of this incident (a database restored from a backup): a reload helps.
      if (event.code === 4401 || event.code === 4403 || event.code === 4409) stale();
      else retry();
    };
  }

  // Forget a socket without waiting for its closing handshake, which a dead link never ends.
  function drop() {
    if (!socket) return;
    var ws = socket;
    socket = null;
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.close();
    window.clearTimeout(deadTimer);
  }

  function retry() {
    window.clearTimeout(retryTimer);  // one attempt pending at a time
    if (stopped) return;
    var offline = navigator.onLine === false;
    setState(offline || attempts >= OFFLINE_AFTER ? "offline" : "reconnecting");
    var ceiling = offline ? MAX_DELAY : Math.min(MAX_DELAY, FIRST_DELAY * Math.pow(2, attempts));
    attempts += 1;
    // Half fixed, half random: a restarted server is not met by every page at the same moment.
    retryTimer = window.setTimeout(connect, ceiling / 2 + Math.random() * ceiling / 2);
  }

  function stale() {
    stopped = true;
    setState("stale");
    var text = document.getElementById("log-text");
    if (text && text.value.trim()) {
      document.getElementById("live-reload").hidden = false;  // keep what is being typed
    } else {
      window.location.reload();  // a signed-out reader meets the sign-in page, then comes back
    }
  }

  window.addEventListener("offline", function () { drop(); retry(); });
  window.addEventListener("online", function () {
    if (stopped || socket) return;
    attempts = 0;
    connect();
  });
  window.addEventListener("pagehide", function () { stopped = true; drop(); });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {  // back from the back-forward cache: catch up from where it was
      stopped = false;
      connect();
    }
  });
  document.getElementById("live-reload").addEventListener("click", function () {
    window.location.reload();
  });

  /* --- messages ---------------------------------------------------------------------------- */

  function parse(text) {
    var box = document.createElement("template");
    box.innerHTML = text;
    return box.content.firstElementChild;
  }

  function receive(text) {
    heard();
    if (text.charAt(0) === "{") return;  // a heartbeat: the connection is alive
    var message = parse(text);
    var seq = Number(message.dataset.seq);
    if (!(seq > last)) return;  // applied already
    (message.dataset.blocks || "").split(" ").forEach(function (id) { if (id) blocks[id] = true; });
    apply(message, true);
    last = seq;
    status.dataset.seq = String(seq);  // where the page stands, for anyone looking
    recent.push([seq, text]);
    if (recent.length > KEEP) recent.shift();
    if (message.hasAttribute("data-closed")) closed();
  }

  function shows(list, entry) {
    return !list.hasAttribute("data-paged") && (!list.dataset.kind || list.dataset.kind === entry.dataset.kind);
  }

  /* Make the message's swaps idempotent, in place: a new entry that the page shows already (the
     writer's own, from their post's answer) becomes an in-place swap; one the list it goes to
     does not show (another kind, older entries) is left out; a swap by id whose element is not on the
     page is dropped. Returns the ids of the new entries that will be inserted. */
  function prepare(content) {
    var inserted = [];
    content.querySelectorAll('[hx-swap-oob^="afterbegin:"]').forEach(function (wrapper) {
      var list = document.querySelector(wrapper.getAttribute("hx-swap-oob").slice("afterbegin:".length));
      Array.prototype.slice.call(wrapper.children).forEach(function (entry) {
        if (document.getElementById(entry.id)) {
          entry.setAttribute("hx-swap-oob", "true");
          content.appendChild(entry);
        } else if (list && shows(list, entry)) {
          inserted.push(entry.id);
        } else {
          entry.remove();
        }
      });
      if (!wrapper.children.length) wrapper.remove();
    });
    Array.prototype.slice.call(content.children).forEach(function (element) {
      var swap = element.getAttribute("hx-swap-oob") || "";
      if (swap.indexOf(":") < 0 && !document.getElementById(element.id)) element.remove();
    });
    return inserted;
  }

  function apply(message, fresh) {
    var content = message.content;
    var inserted = prepare(content);
    var replaced = Array.prototype.filter.call(content.children, function (e) { return e.id; })
      .map(function (e) { return e.id; });
    var rows = rowSeqs();
    applying = true;
    try {
      window.htmx.swap(document.body, content, { swapStyle: "none", ignoreTitle: true });
    } finally {
      applying = false;
    }
    markSeen();
    if (inserted.length) {
      document.querySelectorAll("#log-more .empty").forEach(function (e) { e.remove(); });
    }
    if (!fresh) return;
    inserted.concat(replaced).forEach(function (id) { highlight(document.getElementById(id)); });
    document.querySelectorAll("#incident-lists tr[id]").forEach(function (row) {
      if (rows[row.id] !== row.dataset.seq) highlight(row);
    });
    inserted.forEach(function (id) { notify(document.getElementById(id)); });
  }

  function rowSeqs() {
    var seqs = {};
    document.querySelectorAll("#incident-lists tr[id]").forEach(function (row) { seqs[row.id] = row.dataset.seq; });
    return seqs;
  }

  function highlight(element) {
    if (!element || element.id === "incident-lists") return;  // its rows are highlighted instead
    element.classList.remove("live-new");
    void element.offsetWidth;  // restart the animation if it is still running
    element.classList.add("live-new");
    window.setTimeout(function () { element.classList.remove("live-new"); }, 4000);
  }

  /* An htmx answer (a post, a filter) replaces a block with the state at its data-seq. A push
     that was applied meanwhile but came later than that would be lost: apply those again. */
  function markSeen() {
    Object.keys(blocks).forEach(function (id) {
      var block = document.getElementById(id);
      if (block) block.setAttribute("data-live-seen", "");
    });
  }

  document.addEventListener("htmx:afterSettle", function () {
    if (applying) return;
    var since = Infinity;
    Object.keys(blocks).forEach(function (id) {
      var block = document.getElementById(id);
      if (block && block.dataset.seq && !block.hasAttribute("data-live-seen")) {
        since = Math.min(since, Number(block.dataset.seq));
      }
    });
    markSeen();
    recent.forEach(function (item) {
      if (item[0] > since) apply(parse(item[1]), false);
    });
  });

  function say(message) {
    var flash = document.getElementById("flash");
    if (!flash) return;
    var p = document.createElement("p");
    p.textContent = message;
    flash.replaceChildren(p);
  }

  function closed() {
    stopped = true;
    drop();
    status.hidden = true;
    var form = document.getElementById("log-form");
    if (form) {
      form.querySelectorAll("button, select, input").forEach(function (e) { e.disabled = true; });
      document.getElementById("log-text").readOnly = true;  // what was typed can still be copied
    }
    say(status.dataset.msgClosed);
  }

  /* --- optional notifications of new decisions (off until asked for) ---------------------- */

  var notifyButton = document.getElementById("live-notify");

  function wanted() {
    try {
      return window.localStorage.getItem(NOTIFY_KEY) === "on";
    } catch (e) {
      return false;
    }
  }

  function press(on) { notifyButton.setAttribute("aria-pressed", on ? "true" : "false"); }

  function want(on) {
    try {
      window.localStorage.setItem(NOTIFY_KEY, on ? "on" : "off");
    } catch (e) { /* private mode: on for this page only */ }
    press(on);
  }

  function notify(entry) {
    if (!entry || !notifyButton || notifyButton.getAttribute("aria-pressed") !== "true") return;
    if (!entry.classList.contains("entry--decision")) return;
    if (entry.dataset.author === status.dataset.user || document.visibilityState === "visible") return;
    var text = entry.querySelector(".entry__text");
    var kind = entry.querySelector(".entry__kind");
    new window.Notification((kind ? kind.textContent + " — " : "") + document.title, {
      body: text ? text.textContent : "",
      tag: "samvirke-" + status.dataset.url,
    });
  }

  if (notifyButton && "Notification" in window && window.isSecureContext) {
    notifyButton.hidden = false;
    press(wanted() && window.Notification.permission === "granted");
    notifyButton.addEventListener("click", function () {
      if (notifyButton.getAttribute("aria-pressed") === "true") return want(false);
      window.Notification.requestPermission().then(function (permission) {
        want(permission === "granted");
        if (permission === "denied") say(status.dataset.msgBlocked);
      });
    });
  }

  connect();
})();
