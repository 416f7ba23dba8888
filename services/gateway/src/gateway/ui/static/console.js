// Keyrelay console: a little progressive enhancement. Every page works without it.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.body && document.body.classList.add("js");

  // Project switcher: submit on change.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });

  // Confirm destructive forms.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });

  // Copy buttons (the API key shown once).
  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var target = document.getElementById(btn.getAttribute("data-copy"));
      if (!target) { return; }
      var text = target.textContent.trim();
      var done = function () { btn.textContent = "Copied"; setTimeout(function () { btn.textContent = "Copy"; }, 2000); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { selectText(target); });
      } else { selectText(target); done(); }
    });
  });
  function selectText(el) {
    var range = document.createRange(); range.selectNodeContents(el);
    var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
    try { document.execCommand("copy"); } catch (e) { /* selection left for the user */ }
  }

  // All / None for model toggles: tick the boxes; the buttons still submit without JS.
  document.querySelectorAll("[data-check]").forEach(function (btn) {
    btn.addEventListener("click", function (ev) {
      ev.preventDefault();
      var on = btn.getAttribute("data-check") === "all";
      btn.form.querySelectorAll("input[name=enabled]").forEach(function (box) { if (!box.disabled) { box.checked = on; } });
    });
  });

  // Slug: suggested from the name until edited by hand, clash checked as you type.
  var source = document.querySelector("[data-slug-source]");
  var slug = document.querySelector("[data-slug-target]");
  var status = document.getElementById("f-slug-check");
  if (source && slug) {
    var touched = slug.value !== "";
    var timer = null;
    var suggest = function (name) { return name.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64); };
    var check = function () {
      if (!status) { return; }
      var value = slug.value.trim();
      if (!value) { status.textContent = ""; status.className = "slug-check"; return; }
      fetch("/ui/integrations/slug-check?slug=" + encodeURIComponent(value), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (body) {
          if (slug.value.trim() !== value) { return; }
          status.textContent = body.available ? "✓ " + value + " is free" : body.reason;
          status.className = "slug-check " + (body.available ? "ok" : "bad");
        })
        .catch(function () { status.textContent = ""; });
    };
    var later = function () { clearTimeout(timer); timer = setTimeout(check, 250); };
    source.addEventListener("input", function () { if (!touched) { slug.value = suggest(source.value); later(); } });
    slug.addEventListener("input", function () { touched = true; later(); });
    if (slug.value) { later(); }
  }
})();
