/* Regulars: a little JavaScript on top of pages that work without it.
   - live updates: [data-live] regions re-fetch their own HTML (ETag, 304 when unchanged)
   - the composer: what the customer will receive, rendered as the server does (or asked of
     it), and a character / segment / encoding counter that counts exactly as the server does
     (app/sms/encoding.py, app/care/composer.py, app/care/outbound.py)
   - the template editor's live preview, the saved-text picker, confirmations, copy buttons
   No build step: this file is served as it is. */
(function () {
  "use strict";

  // ---- SMS segments: a port of app/sms/encoding.py -----------------------------------------
  var GSM7_BASIC = new Set(Array.from(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"));
  var GSM7_EXTENDED = new Set(Array.from("\f^{}\\[~]|€"));
  var UCS2_NOTE = "emoji or special letters: shorter texts";
  var MARK = /\p{M}/u;

  function joinsPrevious(ch, prev) {
    var cp = ch.codePointAt(0);
    if (MARK.test(ch)) return true; // combining marks, enclosing keycap
    if ((cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0x1F3FB && cp <= 0x1F3FF) ||
        (cp >= 0xE0020 && cp <= 0xE007F)) return true; // variation selectors, skin tones, tags
    return cp === 0x200D || prev === "\u200d"; // zero-width joiner and what it joins
  }

  function segmentInfo(text) {
    var chars = Array.from(text), sizes = [], single, part, encoding, i;
    var gsm = chars.every(function (c) { return GSM7_BASIC.has(c) || GSM7_EXTENDED.has(c); });
    if (gsm) {
      sizes = chars.map(function (c) { return GSM7_EXTENDED.has(c) ? 2 : 1; });
      single = 160; part = 153; encoding = "GSM-7";
    } else {
      var prev = "", regional = 0;
      for (i = 0; i < chars.length; i++) {
        var ch = chars[i], cp = ch.codePointAt(0), size = cp > 0xFFFF ? 2 : 1;
        var isRegional = cp >= 0x1F1E6 && cp <= 0x1F1FF;
        if (sizes.length && (joinsPrevious(ch, prev) || (isRegional && regional % 2 === 1))) {
          sizes[sizes.length - 1] += size;
        } else {
          sizes.push(size);
        }
        regional = isRegional ? regional + 1 : 0;
        prev = ch;
      }
      single = 70; part = 67; encoding = "UCS-2";
    }
    var units = sizes.reduce(function (a, b) { return a + b; }, 0);
    if (units <= single) return { encoding: encoding, segments: 1, units: units, per_segment: single };
    var segments = 1, used = 0;
    for (i = 0; i < sizes.length; i++) {
      if (used + sizes[i] > part) { segments += 1; used = 0; }
      used += sizes[i];
    }
    return { encoding: encoding, segments: segments, units: units, per_segment: part };
  }

  // ---- what the customer receives: app/care/composer.py (preview) -------------------------
  // Words and {{ field }}s are rendered here as the server's sandbox does; anything else (if/
  // else, filters, a field the page does not know) is asked of the server: {server: true}.
  var OPEN = /\{[{%#]/;
  var FIELD = /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/;

  function render(body, fields) {
    var out = "", rest = body.replace(/\r\n|\r/g, "\n"), at, match;
    while ((at = rest.search(OPEN)) !== -1) {
      match = rest.slice(at).match(FIELD);
      if (!match || !Object.prototype.hasOwnProperty.call(fields, match[1])) return null;
      out += rest.slice(0, at) + fields[match[1]];
      rest = rest.slice(at + match[0].length);
    }
    return (out + rest).trim();
  }

  var TOKEN = /\[[^\]\n]{1,60}\]/;  // a fill-in as the chips write it: [First name]

  function preview(body, fields, businessName) {
    if (TOKEN.test(body)) return { server: true };  // read as the server reads it (editing)
    var text = render(body, fields);
    if (text === null) return { server: true };
    return { ok: true, text: text && businessName ? introduce(text, businessName) : text };
  }

  // ---- the first text: a port of app/care/outbound.py (introduce and what it asks) ---------
  // Both are run over tests/data/merge_samples.json by tests/unit/test_preview_js.py.
  var WORD = "[\\p{L}\\p{N}_]";
  var QUOTES = "[\"'\u201c\u201d\u2018\u2019\u00ab\u00bb]?";
  var REPLY_WITH = new RegExp("(?<!" + WORD + ")(?:reply|text|txt|send|respond|responde|responda|" +
    "contesta|conteste|env[i\u00ed]a|env[i\u00ed]e|escribe|escriba|manda|mande)\\s+" +
    "(?:with\\s+|the\\s+word\\s+|la\\s+palabra\\s+|con\\s+)?" + QUOTES +
    "(?:STOPALL|STOP|UNSUBSCRIBE|OPTOUT|BAJA|ALTO)(?!" + WORD + ")", "iu");
  var KEYWORD = new RegExp("(?<!" + WORD + ")(?:STOPALL|STOP|UNSUBSCRIBE|OPTOUT|BAJA|ALTO|END|" +
    "QUIT|CANCEL)(?!" + WORD + ")", "gu");
  var PURPOSE = new RegExp("^" + QUOTES + "\\s+(?:to\\s+(?:opt[\\s-]?out|unsubscribe|end|stop|" +
    "cancel|quit)|para\\s+(?:cancelar|darte\\s+de\\s+baja|darse\\s+de\\s+baja|no\\s+recibir|" +
    "dejar\\s+de\\s+recibir|salir|terminar))(?!" + WORD + ")", "iu");

  function saysHowToOptOut(body) {
    if (REPLY_WITH.test(body)) return true;
    var match;
    KEYWORD.lastIndex = 0;
    while ((match = KEYWORD.exec(body)) !== null) {
      if (PURPOSE.test(body.slice(match.index + match[0].length))) return true;
    }
    return false;
  }

  function words(text) {
    return text.toLowerCase().replace(/['\u2019\u2018\u02bc`]/g, "")
      .match(new RegExp(WORD + "+", "gu")) || [];
  }

  function namesBusiness(body, name) {
    var wanted = words(name), found = words(body), i, j;
    if (!wanted.length) return body.toLowerCase().indexOf(name.trim().toLowerCase()) !== -1;
    for (i = 0; i + wanted.length <= found.length; i++) {
      for (j = 0; j < wanted.length && found[i + j] === wanted[j]; j++);
      if (j === wanted.length) return true;
    }
    return false;
  }

  // businessName is "" once the customer has been introduced: the text goes as it is.
  function introduce(body, businessName) {
    if (!businessName) return body;
    if (!namesBusiness(body, businessName)) body = businessName + ": " + body;
    if (!saysHowToOptOut(body)) {
      // A sentence of its own, after a full stop (as the server writes it).
      body = body.replace(/\s+$/, "");
      // A link at the very end gets no full stop (a phone could take it into the link).
      if (/[\p{L}\p{N}]$/u.test(body) && !/(?:https?:\/\/|www\.)\S+$/i.test(body)) body += ".";
      body += " Reply STOP to opt out.";
    }
    return body;
  }

  function describe(text) {
    var info = segmentInfo(text), n = Array.from(text).length;
    return n + " character" + (n === 1 ? "" : "s") + " · " + info.segments + " text" +
      (info.segments === 1 ? "" : "s") + encodingNote(info.encoding);
  }

  // The server's encoding_note (app/web/owner/__init__.py): plain words, only when it matters.
  function encodingNote(encoding) {
    return encoding === "UCS-2" ? " · " + UCS2_NOTE : "";
  }

  window.Regulars = { segmentInfo: segmentInfo, render: render, preview: preview, introduce: introduce,
                      saysHowToOptOut: saysHowToOptOut, namesBusiness: namesBusiness,
                      describe: describe };

  // ---- the composer ---------------------------------------------------------------------------
  function setUpComposer(form) {
    var area = form.querySelector("textarea");
    var counter = form.querySelector("[data-counter]");
    var box = form.querySelector("[data-preview]");
    var out = form.querySelector("[data-preview-text]");
    var kind = form.querySelector("[data-kind]");
    var note = form.querySelector("[data-kind-note]");
    var fields = JSON.parse(form.getAttribute("data-fields") || "{}");
    var labels = JSON.parse(form.getAttribute("data-kind-labels") || "{}");
    var business = form.getAttribute("data-introduce") || "";
    var url = form.getAttribute("data-preview-url");
    var token = form.querySelector("input[name=csrf_token]").value;
    var photo = form.querySelector("[data-photo]");
    var timer = null, asked = 0, shownText = "";
    setUpChips(form, area);
    // A text with a photo goes as one picture message (MMS): priced per message, not per 160
    // characters (the server counts it so too: outbound.size_of).
    function count(text) {
      if (!(photo && photo.files && photo.files.length)) return text ? describe(text) : "";
      var n = Array.from(text).length;
      return (n ? n + " character" + (n === 1 ? "" : "s") + " · " : "") +
        "1 picture message (MMS)";
    }
    function show(result, typed) {
      shownText = result.ok ? result.text : typed;
      if (!result.ok) {
        out.textContent = result.error;
        box.hidden = false;
        box.classList.add("bad");
        counter.textContent = count(typed);
        return;
      }
      out.textContent = result.text;
      box.hidden = !result.text || result.text === typed.trim();
      box.classList.remove("bad");
      counter.textContent = count(result.text);
    }
    if (photo) {
      var hint = form.querySelector("[data-photo-hint]"), usual = hint.textContent;
      var thumb = form.querySelector("[data-photo-preview]");
      var limit = parseInt(photo.getAttribute("data-limit"), 10);
      photo.addEventListener("change", function () {
        var file = photo.files[0], problem = "";
        if (file && !/^image\/(jpeg|png|gif)$/.test(file.type)) {
          problem = "That file is not a JPEG, PNG or GIF photo.";
        } else if (file && file.size > limit) {
          problem = "The photo is " + (file.size / 1048576).toFixed(1) + " MB: photos can be " +
            "at most " + Math.round(limit / 1048576) + " MB.";
        }
        photo.setCustomValidity(problem);
        hint.textContent = problem || usual;
        hint.classList.toggle("error", !!problem);
        thumb.hidden = true;
        if (file && !problem) {
          var reader = new FileReader();  // a data: URL (the pages' policy allows no blob:)
          reader.onload = function () { thumb.src = reader.result; thumb.hidden = false; };
          reader.readAsDataURL(file);
        }
        counter.textContent = count(shownText);
      });
    }
    function askServer(typed) {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var mine = ++asked, body = new FormData();
        body.append("body", typed);
        body.append("csrf_token", token);
        fetch(url, { method: "POST", body: body, headers: { "X-CSRFToken": token },
                     credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (result) { if (result && mine === asked) show(result, typed); })
          .catch(function () {});
      }, 250);
    }
    function update() {
      var typed = area.value, result = preview(typed, fields, business);
      if (result.server) { askServer(typed); return; }
      ++asked; // an answer still on its way is for an older text
      show(result, typed);
    }
    function useKind(name) {
      if (!kind || !note) return;
      kind.value = name;
      note.hidden = !name;
      if (name) note.querySelector("[data-kind-label]").textContent = labels[name] || name;
    }
    area.addEventListener("input", update);
    update();
    var clear = note && note.querySelector("[data-kind-clear]");
    if (clear) {
      clear.addEventListener("click", function (event) {
        event.preventDefault();
        useKind("");
        area.focus();
      });
    }
    var picker = document.querySelector("[data-picker] select");
    if (picker) {
      picker.addEventListener("change", function () {
        var option = picker.options[picker.selectedIndex];
        if (!option || !option.getAttribute("data-text")) return;
        area.value = option.getAttribute("data-text");
        useKind(option.value);
        update();
        area.focus();
        picker.selectedIndex = 0;
      });
    }
  }

  // ---- the template editor: chips, the live preview, the gap warning's fixes --------------
  // The chips' names and what each inserts come from the page (the server's care.merge); the
  // preview, its gaps and their fixes are rendered by the server and put in place as they are.
  function insertAtCursor(area, text) {
    var start = area.selectionStart, end = area.selectionEnd, before = area.value.slice(0, start);
    if (/[\p{L}\p{N}\],.!?]$/u.test(before)) text = " " + text; // not glued to a word
    area.setRangeText(text, start, end, "end");
    area.focus();
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // Each chip of `root` puts its merge field into `area` where the cursor is.
  function setUpChips(root, area) {
    root.querySelectorAll("[data-insert]").forEach(function (chip) {
      chip.hidden = false;
      // Keep the cursor (and the phone's keyboard) in the text while the chip is tapped.
      chip.addEventListener("mousedown", function (event) { event.preventDefault(); });
      chip.addEventListener("click", function () {
        insertAtCursor(area, chip.getAttribute("data-insert"));
      });
    });
  }

  function setUpTemplateEditor(form) {
    var area = form.querySelector("textarea#source");
    var region = form.querySelector("[data-template-preview]");
    var code = document.querySelector("[data-template-source]");
    var url = form.getAttribute("data-preview-url");
    var token = form.querySelector("input[name=csrf_token]").value;
    var timer = null, asked = 0;
    if (!area || area.readOnly) return;
    function refresh() {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var mine = ++asked, body = new FormData();
        body.append(area.name, area.value);
        body.append("csrf_token", token);
        fetch(url, { method: "POST", body: body, headers: { "X-CSRFToken": token },
                     credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (result) {
            if (!result || mine !== asked) return;
            region.innerHTML = result.html;
            if (code && result.ok) code.textContent = result.source;
          })
          .catch(function () {});
      }, 250);
    }
    setUpChips(form, area);
    // A fix goes into the text at once; saving stays the owner's own tap.
    region.addEventListener("click", function (event) {
      var fix = event.target.closest("[data-fix]");
      if (!fix) return;
      event.preventDefault();
      // The other fixes were for the text before this one: gone until the new answer comes.
      region.querySelectorAll("[data-fix]").forEach(function (b) { b.disabled = true; });
      area.value = fix.getAttribute("data-fix");
      area.focus();
      refresh();
    });
    area.addEventListener("input", refresh);
  }

  // ---- live regions -------------------------------------------------------------------------
  function setUpLive(region) {
    var url = region.getAttribute("data-live");
    var every = parseInt(document.body.getAttribute("data-live-ms") || "5000", 10);
    var etag = region.getAttribute("data-etag"), busy = false, stopped = false;
    function nearBottom() {
      var doc = document.scrollingElement || document.documentElement;
      return doc.scrollHeight - (doc.scrollTop + window.innerHeight) < 200;
    }
    function poll() {
      if (busy || stopped || document.hidden) return;
      busy = true;
      var headers = { "X-Requested-With": "fetch" };
      if (etag) headers["If-None-Match"] = etag;
      fetch(url, { headers: headers, cache: "no-store", credentials: "same-origin" })
        .then(function (r) {
          if (r.status === 401 || r.status === 403 || r.status === 404) { stopped = true; return null; }
          if (r.status !== 200) return null;
          var tag = r.headers.get("ETag");
          return r.text().then(function (html) {
            etag = tag;
            var stick = region.getAttribute("data-scroll") === "bottom" && nearBottom();
            region.innerHTML = html;
            region.setAttribute("data-updated", String(Date.now()));
            if (stick) window.scrollTo(0, document.scrollingElement.scrollHeight);
          });
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }
    setInterval(poll, every);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });
  }

  // ---- notifications on this device: Web Push through the service worker ---------------------
  // The page asks the browser for a subscription with the app's public VAPID key and posts it
  // (JSON, with the CSRF token); the server keeps one per device and the worker sends to it.
  function keyBytes(key) {
    var text = key.replace(/-/g, "+").replace(/_/g, "/");
    text += "===".slice(0, (4 - text.length % 4) % 4);
    return Uint8Array.from(atob(text), function (c) { return c.charCodeAt(0); });
  }

  function setUpPush(section) {
    var state = section.querySelector("[data-push-state]");
    var on = section.querySelector("[data-push-on]");
    var off = section.querySelector("[data-push-off]");
    var token = section.querySelector("input[name=csrf_token]").value;
    function say(text, isOn) { state.textContent = text; state.classList.toggle("on", !!isOn); }
    function show(subscribed) { on.hidden = subscribed; off.hidden = !subscribed; }
    if (!("serviceWorker" in navigator) || !("PushManager" in window) ||
        !("Notification" in window) || !window.isSecureContext) {
      say("This browser cannot show notifications from Regulars. On an iPhone, add Regulars " +
          "to your home screen first (Share, then Add to Home Screen) and open it from there.");
      return;
    }
    function post(url, data) {
      return fetch(url, { method: "POST", credentials: "same-origin", body: JSON.stringify(data),
        headers: { "Content-Type": "application/json", "X-CSRFToken": token,
                   "X-Requested-With": "fetch" } })
        .then(function (r) {
          return r.json().catch(function () { return {}; })
            .then(function (body) { return { ok: r.ok, body: body }; });
        });
    }
    function problem(words) { var e = new Error(words); e.words = words; return e; }
    function turnOn(registration) {
      on.disabled = true;
      say("Asking this browser…");
      Notification.requestPermission().then(function (permission) {
        if (permission !== "granted") {
          throw problem("Notifications are not allowed for Regulars in this browser. Allow " +
                        "them in the browser's site settings, then try again.");
        }
        return fetch(section.getAttribute("data-push-key"), { credentials: "same-origin",
                                                               cache: "no-store" })
          .then(function (r) {
            if (!r.ok) throw new Error("no key");
            return r.json();
          })
          .then(function (answer) {
            return registration.pushManager.subscribe({ userVisibleOnly: true,
                                                        applicationServerKey: keyBytes(answer.key) });
          })
          .catch(function () {
            throw problem("This browser would not turn notifications on. A private window " +
                          "cannot get them; on an iPhone, open Regulars from your home " +
                          "screen first.");
          });
      }).then(function (subscription) {
        return post(section.getAttribute("data-push-save"), subscription.toJSON())
          .then(function (answer) {
            if (!answer.ok) {
              subscription.unsubscribe();
              throw problem((answer.body.error && answer.body.error.message) ||
                            "This device could not be saved. Reload the page and try again.");
            }
            location.reload(); // the device shows in the list
          });
      }).catch(function (error) {
        say(error.words || "Notifications could not be turned on. Reload the page and try again.");
        on.disabled = false;
      });
    }
    function turnOff(registration) {
      off.disabled = true;
      registration.pushManager.getSubscription().then(function (subscription) {
        if (!subscription) return null;
        var endpoint = subscription.endpoint;
        return subscription.unsubscribe().then(function () {
          return post(section.getAttribute("data-push-forget"), { endpoint: endpoint });
        });
      }).then(function () { location.reload(); }, function () {
        say("Notifications could not be turned off. Try again.", true);
        off.disabled = false;
      });
    }
    if (Notification.permission === "denied") {
      say("Notifications are blocked for Regulars in this browser's site settings: allow " +
          "them there to get them on this device.");
      return;
    }
    say("Checking this device…");
    // This device is on when the browser has a subscription that the list below knows (by
    // its SHA-256: the page never shows a push address); one removed from another device or
    // forgotten by the server shows as off, and turning it on again posts it again.
    function listed(subscription) {
      if (!subscription) return Promise.resolve(null);
      var bytes = new TextEncoder().encode(subscription.endpoint);
      return crypto.subtle.digest("SHA-256", bytes).then(function (digest) {
        var hex = Array.from(new Uint8Array(digest)).map(function (b) {
          return b.toString(16).padStart(2, "0");
        }).join("");
        return section.querySelector('[data-device="' + hex + '"]');
      });
    }
    navigator.serviceWorker.ready.then(function (registration) {
      return registration.pushManager.getSubscription().then(listed).then(function (item) {
        if (item) {
          item.querySelector(".this-device").hidden = false;
          say("Notifications are on for this device.", true);
        } else {
          say("Notifications are off on this device.");
        }
        show(!!item);
        on.addEventListener("click", function () { turnOn(registration); });
        off.addEventListener("click", function () { turnOff(registration); });
      });
    }).catch(function () { say("This browser cannot show notifications from Regulars."); });
  }

  function ready() {
    document.querySelectorAll("[data-nojs]").forEach(function (el) { el.hidden = true; });
    document.querySelectorAll("[data-composer]").forEach(setUpComposer);
    document.querySelectorAll("[data-template-editor]").forEach(setUpTemplateEditor);
    document.querySelectorAll("[data-broadcast-compose]").forEach(function (form) {
      setUpChips(form, form.querySelector("textarea[name=text]"));
    });
    document.querySelectorAll("[data-live]").forEach(setUpLive);
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
    document.querySelectorAll("[data-select-on-focus]").forEach(function (input) {
      input.addEventListener("focus", function () { input.select(); });
    });
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        source.focus();
        source.select();
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(source.value).then(done, function () {});
        } else if (document.execCommand("copy")) {
          done();
        }
      });
    });
    // The app installs on a phone's home screen; its shell (not its pages) works offline.
    if ("serviceWorker" in navigator && window.isSecureContext) {
      navigator.serviceWorker.register("/sw.js").catch(function () {});
    }
    document.querySelectorAll("[data-push]").forEach(setUpPush);
    var thread = document.querySelector("[data-scroll=bottom]");
    if (thread && !location.hash) {
      var latest = document.getElementById("latest");
      if (latest) latest.scrollIntoView({ block: "end" });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
