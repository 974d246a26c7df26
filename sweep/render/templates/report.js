(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("sweep-data").textContent);
  var jobs = {}, photos = {};
  DATA.photos.forEach(function (p) {
    photos[p.id] = p;
    p.artists.forEach(function (a) { jobs[a.id] = a; });
  });
  function loss(v) { return (typeof v === "number" && isFinite(v)) ? Number(v.toPrecision(3)).toString() : "\u2013"; }
  function pad(i) { return (i < 10 ? "0" : "") + i; }
  function setText(root, sel, text) { var el = root.querySelector(sel); if (el) el.textContent = text; }

  function showJob(viewer, pos) {
    var job = jobs[viewer.getAttribute("data-job")];
    var f = job.frames[pos];
    viewer.querySelector("img.frame").src = f.src;
    setText(viewer, ".v-weight", f.label);
    setText(viewer, ".v-frame", "#" + pad(f.index) + " of " + job.frames.length);
    setText(viewer, ".v-content", loss(f.content));
    setText(viewer, ".v-style", loss(f.style));
    setText(viewer, "code.pick", job.pick + f.index + " --size 1024");
    viewer.classList.toggle("is-balanced", pos === job.suggested);
  }
  function showCompare(box, pos) {
    var photo = photos[box.getAttribute("data-compare")];
    box.querySelectorAll("img[data-job]").forEach(function (img) {
      img.src = jobs[img.getAttribute("data-job")].frames[pos].src;
    });
    setText(box, ".v-weight", photo.artists[0].frames[pos].label);
  }
  function update(slider) {
    var pos = parseInt(slider.value, 10);
    var viewer = slider.closest(".viewer"), box = slider.closest("[data-compare]");
    if (viewer) showJob(viewer, pos); else if (box) showCompare(box, pos);
  }

  var sliders = Array.prototype.slice.call(document.querySelectorAll("input.scrub"));
  var active = null;
  function activate(slider) {
    if (active) active.classList.remove("active");
    active = slider;
    if (active) active.classList.add("active");
  }
  sliders.forEach(function (slider) {
    slider.addEventListener("input", function () { activate(slider); update(slider); });
    slider.addEventListener("focus", function () { activate(slider); });
    update(slider);
  });
  activate(sliders[0] || null);

  document.querySelectorAll(".viewer .to-balanced").forEach(function (button) {
    button.addEventListener("click", function () {
      var viewer = button.closest(".viewer"), slider = viewer.querySelector("input.scrub");
      slider.value = jobs[viewer.getAttribute("data-job")].suggested;
      activate(slider); update(slider);
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || !active) return;
    var t = event.target, tag = t && t.tagName;
    if (t && t.classList && t.classList.contains("scrub")) return;  // the browser steps a focused slider
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || tag === "VIDEO" || (t && t.isContentEditable)) return;
    var max = parseInt(active.max, 10), pos = parseInt(active.value, 10), next = pos;
    if (event.key === "ArrowRight") next = Math.min(max, pos + 1);
    else if (event.key === "ArrowLeft") next = Math.max(0, pos - 1);
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = max;
    else return;
    event.preventDefault();
    if (next !== pos) { active.value = next; update(active); }
  });

  window.addEventListener("load", function () {  // warm the cache so scrubbing is instant
    Object.keys(jobs).forEach(function (id) {
      jobs[id].frames.forEach(function (f) { var img = new Image(); img.src = f.src; });
    });
  });
})();
