// Regain's pages work without this file; it only enhances them: a live
// password checklist, the resend countdown, a new CAPTCHA picture, the
// focus on the first error, and a waiting page that looks again by itself.
(function () {
  "use strict";
  var errors = document.getElementById("errors");
  if (errors) { errors.focus(); }

  var form = document.querySelector("form[data-policy]");
  if (form) {
    var pw = form.querySelector("#new_password");
    var again = form.querySelector("#confirm_password");
    var classes = function (s) {
      return [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9\s]/].filter(function (r) { return r.test(s); }).length;
    };
    var check = function () {
      var s = pw.value;
      form.querySelectorAll(".checklist li").forEach(function (li) {
        var n = parseInt(li.getAttribute("data-n"), 10) || 0;
        var ok = false;
        switch (li.getAttribute("data-rule")) {
          case "min": ok = Array.from(s).length >= n; break;
          case "max": ok = s.length > 0 && Array.from(s).length <= n; break;
          case "classes": ok = classes(s) >= n; break;
          case "no_space": ok = s.length > 0 && !/\s/.test(s); break;
          case "match": ok = s.length > 0 && s === again.value; break;
        }
        li.classList.toggle("ok", ok);
      });
    };
    pw.addEventListener("input", check);
    again.addEventListener("input", check);
    check();
  }

  var resend = document.querySelector("[data-countdown]");
  if (resend) {
    var left = parseInt(resend.getAttribute("data-countdown"), 10) || 0;
    var label = resend.textContent;
    var tick = function () {
      if (left > 0) {
        resend.disabled = true;
        resend.textContent = resend.getAttribute("data-countdown-label") + " " + left + resend.getAttribute("data-seconds");
        left -= 1;
        setTimeout(tick, 1000);
      } else {
        resend.disabled = false;
        resend.textContent = label;
      }
    };
    tick();
  }

  // A reset link: take its flow and token out of the fragment (and out of
  // the address bar and history), then exchange them for cookies.
  var link = document.querySelector("form[data-reset-link]");
  if (link && location.hash.length > 1) {
    var fragment = new URLSearchParams(location.hash.slice(1));
    link.querySelector("input[name=flow]").value = fragment.get("flow") || "";
    link.querySelector("input[name=token]").value = fragment.get("token") || "";
    history.replaceState(null, "", location.pathname);
    link.submit();
  }

  // Waiting for an administrator: look again every few seconds (a plain
  // reload; the page goes on by itself once the answer came).
  var poll = document.querySelector("[data-poll]");
  if (poll) {
    setTimeout(function () { location.reload(); }, (parseInt(poll.getAttribute("data-poll"), 10) || 5) * 1000);
  }

  var refresh = document.querySelector("[data-captcha-refresh]");
  if (refresh) {
    refresh.hidden = false;
    refresh.addEventListener("click", function () {
      fetch(refresh.getAttribute("data-captcha-refresh"), { method: "POST" })
        .then(function (r) { return r.json(); })
        .then(function (c) {
          document.getElementById("captcha_image").src = c.image;
          document.getElementById("captcha_id").value = c.id;
          document.getElementById("captcha_answer").value = "";
        });
    });
  }
})();
