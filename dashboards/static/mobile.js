// The registrant's pass page: fetch a fresh pass every 30 s (each lives 60 s).
// Without JavaScript, the page's <noscript> meta refresh reloads it instead.
(function () {
  "use strict";
  var img = document.getElementById("pass-qr");
  if (!img) { return; }
  var seconds = parseInt(img.getAttribute("data-refresh"), 10) || 0;
  if (seconds <= 0) { return; }
  var url = img.getAttribute("data-url");
  var note = document.getElementById("pass-note");
  function refresh() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) {
        if (result.ok && result.body.token) {
          img.src = result.body.qr;
          img.setAttribute("data-token", result.body.token);
          img.classList.remove("stale");
        } else if (note) {
          note.textContent = result.body.error || "";
          img.classList.add("stale");
        }
      })
      .catch(function () { img.classList.add("stale"); });
  }
  window.setInterval(refresh, seconds * 1000);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { refresh(); }
  });
}());
