// The maintenance page reloads itself a second after the maintenance's expected end, given as
// `data-until` (Unix seconds) on this script's element. A file of its own, not inline: the
// pages' Content-Security-Policy allows scripts from /.hiatus/ only.
(function () {
  var until = Number(document.currentScript && document.currentScript.dataset.until);
  var ms = until * 1000 - Date.now();
  if (ms > 0 && ms < 2147483647) { setTimeout(function () { location.reload(); }, ms + 1000); }
})();
