/* riskopt report: inlined into every HTML report. No network, no libraries.
   1. fit(): a table wider than its container (div.tbl) becomes one card per row (table.cards),
      so nothing scrolls sideways whatever columns a report adds; re-checked on resize.
   2. Sortable tables: a click on a column header sorts the rows by that column (numbers by value,
      "$1.2M" and "65.3 %" included), a second click reverses; the first click keeps ties stable. */
(function () {
  "use strict";
  var SCALE = { k: 1e3, K: 1e3, M: 1e6, B: 1e9, T: 1e12 };
  var NUM = /([-+\u2212]?)\$?(\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?)\s*([kKMBT]?)/;

  function fit() {
    var boxes = document.querySelectorAll("div.tbl");
    Array.prototype.forEach.call(boxes, function (box) {
      var t = box.querySelector("table");
      if (!t) { return; }
      t.classList.remove("cards");
      if (box.scrollWidth > box.clientWidth + 1) { t.classList.add("cards"); }
    });
  }

  // image-map coordinates are in the PNG's pixels: scale them to the size the image is shown at
  function maps() {
    var imgs = document.querySelectorAll("img[usemap]");
    Array.prototype.forEach.call(imgs, function (img) {
      var map = document.querySelector("map[name='" + img.getAttribute("usemap").slice(1) + "']");
      if (!map || !img.naturalWidth) { return; }
      var r = img.clientWidth / img.naturalWidth;
      Array.prototype.forEach.call(map.areas, function (a) {
        if (!a.dataset.px) { a.dataset.px = a.coords; }
        a.coords = a.dataset.px.split(",").map(function (c) { return Math.round(+c * r); }).join(",");
      });
    });
  }

  function key(cell) {
    var s = (cell.textContent || "").trim();
    var m = NUM.exec(s);
    if (!m) { return { n: null, s: s.toLowerCase() }; }
    var v = parseFloat(m[2].replace(/,/g, "")) * (SCALE[m[3]] || 1);
    return { n: (m[1] === "-" || m[1] === "\u2212") ? -v : v, s: s.toLowerCase() };
  }

  function compare(a, b) {
    if (a.n !== null && b.n !== null) { return a.n - b.n; }
    if (a.n !== null) { return -1; }
    if (b.n !== null) { return 1; }
    return a.s < b.s ? -1 : (a.s > b.s ? 1 : 0);
  }

  function sortable(table) {
    var body = table.tBodies[0];
    var head = table.tHead;
    if (!body || !head || body.rows.length < 3) { return; }
    var ths = head.rows[0].cells;
    Array.prototype.forEach.call(ths, function (th, j) {
      th.classList.add("sortable");
      th.tabIndex = 0;
      th.title = "Sort by " + (th.textContent || "").trim();
      function go() {
        var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        Array.prototype.forEach.call(ths, function (o) { o.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows).map(function (r, i) {
          return { r: r, i: i, k: key(r.cells[j] || r.cells[0]) };
        });
        rows.sort(function (a, b) { return dir * compare(a.k, b.k) || a.i - b.i; });
        rows.forEach(function (x) { body.appendChild(x.r); });
      }
      th.addEventListener("click", go);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); }
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("div.tbl table"), sortable);
  fit();
  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) { window.cancelAnimationFrame(pending); }
    pending = window.requestAnimationFrame(function () { fit(); maps(); });
  });
  window.addEventListener("load", maps);
  window.addEventListener("beforeprint", fit);
})();
