// tokend console: small conveniences on top of pages that work without JavaScript.
// Copy buttons, confirm dialogs (with the regenerate overlap's note), "select all", the expiry toggle, and permission checkboxes
// that follow the chosen role template and the chosen owner. No inline script anywhere (CSP).
(function () {
  "use strict";

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  // Copy buttons: <button data-copy="input-id" hidden>Copy</button>
  each("[data-copy]", function (btn) {
    var label = btn.textContent;
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var target = document.getElementById(btn.getAttribute("data-copy"));
      if (!target) { return; }
      var text = target.value;
      var done = function () {
        btn.textContent = "Copied";
        window.setTimeout(function () { btn.textContent = label; }, 2000);
      };
      var fallback = function () {
        target.focus();
        target.select();
        try { document.execCommand("copy"); } catch (e) { /* the value stays selected */ }
        done();
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else {
        fallback();
      }
    });
  });

  // Read-only value fields select themselves on focus, for manual copying.
  each("input.mono[readonly]", function (input) {
    input.addEventListener("focus", function () { input.select(); });
  });

  // Confirmations: data-confirm on a form or on its submit button. Without JavaScript the
  // server answers a confirmation page instead; with it, the dialog adds `confirmed=1`.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var btn = e.submitter;
    var message = (btn && btn.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    var old = form.querySelector("input[name=confirmed][data-added]");
    if (old) { old.parentNode.removeChild(old); }
    if (!message) { return; }
    // A select marked data-confirm-note adds its chosen option's data-note (regenerate: what
    // happens to the current value).
    var choice = form.querySelector("select[data-confirm-note]");
    var picked = choice && choice.options[choice.selectedIndex];
    if (picked && picked.getAttribute("data-note")) { message += " " + picked.getAttribute("data-note"); }
    if (!window.confirm(message)) {
      e.preventDefault();
      return;
    }
    var flag = document.createElement("input");
    flag.type = "hidden";
    flag.name = "confirmed";
    flag.value = "1";
    flag.setAttribute("data-added", "");
    form.appendChild(flag);
  });

  // Select all tokens in the list.
  var all = document.getElementById("select-all");
  if (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      each("input[name=ids]", function (box) { box.checked = all.checked; });
    });
  }

  // "Set expiration date and time" enables the date field.
  each("[data-expiry-toggle]", function (box) {
    var input = document.getElementById(box.getAttribute("data-expiry-toggle"));
    if (!input) { return; }
    var sync = function () { input.disabled = !box.checked; };
    box.addEventListener("change", sync);
    sync();
  });

  // Permission checkboxes follow the role template (or user role): a template checks its
  // permissions and locks the boxes; Custom unlocks them.
  var boxes = function () {
    return Array.prototype.slice.call(document.querySelectorAll("#perm-grid input[name=permissions]"));
  };
  each("select[data-perm-source]", function (select) {
    var apply = function () {
      var opt = select.options[select.selectedIndex];
      if (!opt) { return; }
      var custom = opt.value === "custom";
      var perms = (opt.getAttribute("data-perms") || "").split(" ");
      boxes().forEach(function (b) {
        if (!custom) { b.checked = perms.indexOf(b.value) >= 0; }
        b.disabled = !custom;
      });
    };
    select.addEventListener("change", apply);
    apply();
  });

  // "Shared with" matters only for shared tokens.
  each("select[data-kind-source]", function (select) {
    var apply = function () {
      each("[data-shown-for-kind]", function (el) {
        el.hidden = el.getAttribute("data-shown-for-kind") !== select.value;
      });
    };
    select.addEventListener("change", apply);
    apply();
  });

  // On the create form, the boxes offered are those the chosen owner holds.
  each("input[data-owner-perms]", function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var apply = function () {
      if (!list) { return; }
      var match = null;
      Array.prototype.forEach.call(list.options, function (o) {
        if (o.value.toLowerCase() === input.value.trim().toLowerCase()) { match = o; }
      });
      if (!match) { return; }
      var held = (match.getAttribute("data-perms") || "").split(" ");
      boxes().forEach(function (b) {
        var label = b.closest("label");
        var has = held.indexOf(b.value) >= 0;
        if (label) { label.hidden = !has; }
        if (!has) { b.checked = false; }
      });
    };
    input.addEventListener("change", apply);
    input.addEventListener("input", apply);
  });

  // Owner type-ahead: suggestions by email or name from the server, over every user in reach
  // (the list in the page is only a start). Choosing a different owner re-renders the form
  // for them on the server, keeping what was typed, so templates and permissions follow.
  each("input[data-owner-search]", function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var url = input.getAttribute("data-owner-search");
    var apply = input.form && input.form.querySelector("[data-owner-apply]");
    var timer = null;
    var asked = null;
    if (!list || !window.fetch) { return; }
    var fill = function (users) {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      users.forEach(function (u) {
        var o = document.createElement("option");
        o.value = u.email;
        o.label = u.name + " <" + u.email + ">";
        o.setAttribute("data-perms", u.perms);
        list.appendChild(o);
      });
    };
    input.addEventListener("input", function () {
      var q = input.value.trim();
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        if (q === asked) { return; }
        asked = q;
        window.fetch(url + "?q=" + encodeURIComponent(q), {
          credentials: "same-origin",
          headers: { "Accept": "application/json" }
        }).then(function (r) { return r.ok ? r.json() : []; }).then(fill, function () {});
      }, 150);
    });
    input.addEventListener("change", function () {
      var v = input.value.trim().toLowerCase();
      var initial = (input.getAttribute("data-owner-initial") || "").toLowerCase();
      if (!apply || v === initial) { return; }
      var known = Array.prototype.some.call(list.options, function (o) {
        return o.value.toLowerCase() === v;
      });
      if (known) { apply.click(); }
    });
  });
}());
