// azure-preflight HTML report: status filter, search, expand/collapse, copy buttons, print expansion.
// Inline in the page and hashed into its CSP; it reads the DOM only (the data is in the markup, escaped).
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");

  var rows = Array.prototype.slice.call(document.querySelectorAll("tbody.result"));
  var boxes = Array.prototype.slice.call(document.querySelectorAll("#controls input[name=status]"));
  var search = document.getElementById("search");
  var shown = document.getElementById("shown");
  var noMatch = document.getElementById("no-match");
  // Lower-cased text of every result, computed once: the search looks at ids, summaries and evidence alike.
  var haystacks = rows.map(function (row) { return row.textContent.toLowerCase(); });

  function apply() {
    var wanted = {};
    boxes.forEach(function (box) { wanted[box.value] = box.checked; });
    var needle = search.value.trim().toLowerCase();
    var visible = 0;
    rows.forEach(function (row, i) {
      var show = wanted[row.getAttribute("data-status")] !== false &&
                 (needle === "" || haystacks[i].indexOf(needle) !== -1);
      row.hidden = !show;
      if (show) { visible += 1; }
    });
    shown.textContent = visible + " of " + rows.length + " shown";
    noMatch.hidden = visible !== 0 || rows.length === 0;
  }

  boxes.forEach(function (box) { box.addEventListener("change", apply); });
  search.addEventListener("input", apply);

  function setAll(open) {
    document.querySelectorAll("tbody.result details, details.passes").forEach(function (d) { d.open = open; });
  }
  document.getElementById("expand-all").addEventListener("click", function () { setAll(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { setAll(false); });

  // Printing shows everything: open every <details> for the print, then restore what the reader had.
  var before = null;
  window.addEventListener("beforeprint", function () {
    var all = document.querySelectorAll("details");
    before = Array.prototype.map.call(all, function (d) { return d.open; });
    all.forEach(function (d) { d.open = true; });
  });
  window.addEventListener("afterprint", function () {
    if (before === null) { return; }
    document.querySelectorAll("details").forEach(function (d, i) { d.open = before[i]; });
    before = null;
  });

  function flash(button, text) {
    button.textContent = text;
    window.setTimeout(function () { button.textContent = "Copy"; }, 1500);
  }

  // Fallback for pages opened where the async clipboard API is unavailable or refused (file://, old
  // browsers): select the command and use the legacy copy command.
  function legacyCopy(button) {
    var code = button.parentNode.querySelector("code");
    var range = document.createRange();
    range.selectNodeContents(code);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    flash(button, ok ? "Copied" : "Press Ctrl+C");
  }

  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy");
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { flash(button, "Copied"); },
                                                 function () { legacyCopy(button); });
      } else {
        legacyCopy(button);
      }
    });
  });

  apply();
})();
