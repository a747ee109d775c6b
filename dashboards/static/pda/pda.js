// Berth list auto-refresh: the rows are fetched again every 10 s (same filter), no library.
(function () {
  var rows = document.getElementById("rows");
  if (!rows) return;
  setInterval(function () {
    fetch(rows.dataset.src, {credentials: "same-origin"}).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html !== null) rows.innerHTML = html;
    }).catch(function () {});
  }, 10000);
})();
