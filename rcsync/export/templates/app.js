// rcsync export: local times and the conversation filter. Runs from file://, no network.
(function () {
  "use strict";
  var format = { dateStyle: "medium", timeStyle: "short" };
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    var when = new Date(el.dateTime);
    if (isNaN(when.getTime())) return;
    el.textContent = when.toLocaleString(undefined, format);
    el.title = el.dateTime.slice(0, 19).replace("T", " ") + " UTC";
  });
  var box = document.getElementById("q");
  if (!box) return;
  var items = Array.prototype.slice.call(document.querySelectorAll("#conversations > li"));
  var status = document.getElementById("status");
  // Enter in the box must not submit (reload) the page; the CSP forbids inline handlers.
  box.form.addEventListener("submit", function (event) { event.preventDefault(); });
  box.addEventListener("input", function () {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    items.forEach(function (li) {
      var text = li.getAttribute("data-search") || "";
      var match = words.every(function (w) { return text.indexOf(w) !== -1; });
      li.hidden = !match;
      if (match) shown += 1;
    });
    status.textContent = words.length ? shown + " of " + items.length + " conversations" : "";
  });
})();
