/* Samvirke's one small script. Everything works without it; it makes the log fast to use:
   Enter logs and Shift+Enter makes a new line, Alt+1…5 pick the kind, "Correct" fills the form,
   and after a successful entry the text box is cleared and keeps the focus. It also says so
   when the server cannot be reached, because then nothing was saved. */
(function () {
  "use strict";

  var body = document.body;
  document.documentElement.classList.add("js");  // shows the keyboard hints that need this file

  function flash(message) {
    var region = document.getElementById("flash");
    if (!region) return;
    region.textContent = "";
    var p = document.createElement("p");
    p.textContent = message;
    region.appendChild(p);
  }

  function logForm() { return document.getElementById("log-form"); }

  // The text of the entry on its way to the server, and whether Enter was pressed meanwhile.
  var sending = null;
  var queued = false;
  // Where the focus was when it was sent: the answer brings it back only from there.
  var sentFrom = null;

  // Each entry goes with a key of its own, kept until the server has answered that it is
  // logged: sending again after an answer that never came then logs nothing twice.
  function newRequestKey() {
    var field = document.getElementById("log-request-key");
    if (!field) return;
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);  // unlike randomUUID, also on plain http
    field.value = Array.prototype.map.call(bytes, function (b) {
      return (b < 16 ? "0" : "") + b.toString(16);
    }).join("");
  }

  /* --- the log input --------------------------------------------------------------------- */

  document.addEventListener("keydown", function (event) {
    var form = logForm();
    if (!form) return;
    var text = document.getElementById("log-text");
    if (event.target === text && event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      // While the previous entry is still on its way, this one is sent right after it.
      if (form.classList.contains("htmx-request")) queued = true;
      else form.requestSubmit();
      return;
    }
    // Alt+1 … Alt+5 choose the kind, wherever the focus is; `code` ignores the keyboard layout.
    if (event.altKey && !event.ctrlKey && !event.metaKey && /^Digit[1-9]$/.test(event.code)) {
      var radio = form.querySelector('input[name="kind"][data-shortcut="' + event.code.slice(5) + '"]');
      if (radio) {
        event.preventDefault();
        radio.checked = true;
      }
    }
  });

  document.addEventListener("input", function (event) {
    if (event.target instanceof Element && event.target.id === "log-text") {
      event.target.removeAttribute("aria-invalid");
    }
  });

  function setCorrection(number, kind, classification, original) {
    var form = logForm();
    if (!form) return false;
    var text = document.getElementById("log-text");
    document.getElementById("log-corrects").value = number || "";
    var note = document.getElementById("log-correcting");
    note.hidden = !number;
    document.getElementById("log-correcting-number").textContent = number ? "#" + number : "";
    if (number) {
      var radio = form.querySelector('input[name="kind"][value="' + kind + '"]');
      if (radio) radio.checked = true;
      var select = document.getElementById("log-classification");
      if (select && select.querySelector('option[value="' + classification + '"]')) {
        select.value = classification;
      }
      if (!text.value.trim() && original) text.value = original;
      form.scrollIntoView({ block: "start" });
      text.focus();
      text.setSelectionRange(text.value.length, text.value.length);
    }
    return true;
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;

    var correct = target.closest("a[data-correct]");
    if (correct) {
      var entry = correct.closest(".entry");
      var original = entry ? entry.querySelector(".entry__text") : null;
      if (setCorrection(correct.dataset.correct, correct.dataset.kind,
                        correct.dataset.classification, original ? original.textContent : "")) {
        event.preventDefault();
      }
      return;
    }

    if (target.closest("#log-correct-cancel")) {
      event.preventDefault();
      setCorrection("");
      document.getElementById("log-text").focus();
      return;
    }

    // A link to an entry that is on the page already: go there without reloading.
    var link = target.closest("a[data-entry]");
    if (link) {
      var shown = document.getElementById("entry-" + link.dataset.entry);
      if (shown) {
        event.preventDefault();
        shown.scrollIntoView({ block: "center" });
        shown.classList.add("entry--flash");
        window.setTimeout(function () { shown.classList.remove("entry--flash"); }, 1600);
        var number = shown.querySelector(".entry__number");
        if (number) number.focus();
      }
      return;
    }

    var copy = target.closest("[data-copy]");
    if (copy) {
      var field = document.querySelector(copy.dataset.copy);
      if (!field) return;
      field.select();
      var done = function () { flash(body.dataset.msgCopied); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {
          if (document.execCommand("copy")) done();
        });
      } else if (document.execCommand("copy")) {
        done();  // plain http on a local network has no clipboard API
      }
      return;
    }

    if (target.closest("[data-print]")) window.print();
  });

  /* --- htmx: clear old messages, reset after success, say when the network is gone ---------- */

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = logForm();
    if (form && event.detail.elt === form) {
      sending = document.getElementById("log-text").value;
      sentFrom = document.activeElement;
    }
    var region = document.getElementById("flash");
    if (region) region.textContent = "";
    var elt = event.detail.elt;
    if (elt && elt.id) {
      var errors = document.getElementById(elt.id + "-errors");
      if (errors) errors.textContent = "";
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = logForm();
    if (!form || event.detail.elt !== form) return;
    var text = document.getElementById("log-text");
    var again = queued;
    queued = false;
    if (event.detail.successful) {
      // Clear what was sent, not what was typed since (the entry may show up live, before
      // this answer, and the next one be under way already).
      if (text.value === sending) text.value = "";
      text.removeAttribute("aria-invalid");
      document.getElementById("log-occurred").value = "";
      var select = document.getElementById("log-classification");
      if (select) select.value = "internal";  // the next entry starts at the default again
      setCorrection("");
      newRequestKey();
      // Enter pressed meanwhile is honoured now, as it would have been at once (an empty box
      // then gets its "fill in the text" like any other).
      if (again) setTimeout(function () { form.requestSubmit(); }, 0);
    } else {
      text.setAttribute("aria-invalid", "true");
      // 409: this key was used already (for this entry, or another); the next send is new.
      if (event.detail.xhr && event.detail.xhr.status === 409) newRequestKey();
    }
    sending = null;
    // The focus goes back to the text box, unless the writer has moved it since (the entry
    // may have shown up live before this answer, and they are on to the next thing).
    var active = document.activeElement;
    if (!active || active === document.body || active === sentFrom) text.focus();
    sentFrom = null;
  });

  document.addEventListener("htmx:sendError", function () { flash(body.dataset.msgOffline); });
  document.addEventListener("htmx:responseError", function (event) {
    // A 503 brings its own words (the database did not answer), shown where the form is.
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status >= 500 && status !== 503) flash(body.dataset.msgServer);
  });

  // The print stamp says when the paper was printed, not when the page was loaded.
  window.addEventListener("beforeprint", function () {
    var now = new Date();
    var pad = function (n) { return String(n).padStart(2, "0"); };
    document.querySelectorAll(".print-time").forEach(function (el) {
      el.textContent = pad(now.getDate()) + "." + pad(now.getMonth() + 1) + "." + now.getFullYear() +
        " " + pad(now.getHours()) + ":" + pad(now.getMinutes());
      el.setAttribute("datetime", now.toISOString());
    });
  });
})();
