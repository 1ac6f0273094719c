// fedcare console: what-if sliders, inline form checks, live study progress. No library.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";

  // -- the assessment page: inline checks, what-if sliders, the form sent in place -------
  var initAssess = function (root) {
    // -- inline validation of the assessment form (the server checks again) -------------
    root.querySelectorAll(".assess-form input[data-low]").forEach(function (input) {
      input.addEventListener("input", function () {
        var p = document.getElementById("e-" + input.name);
        var v = input.value.trim();
        var unit = document.getElementById("u-" + input.name);
        var converted = unit && unit.selectedIndex > 0;  // another unit: the server converts
        var bad = v !== "" && (isNaN(Number(v)) || (!converted &&
          (Number(v) < Number(input.dataset.low) || Number(v) > Number(input.dataset.high))));
        if (p) {
          p.hidden = !bad;
          p.textContent = bad ? ("expected a number in " + input.dataset.low + "-" +
            input.dataset.high) : "";
        }
        input.setAttribute("aria-invalid", bad ? "true" : "false");
        if (bad && p) { input.setAttribute("aria-describedby", p.id); }
      });
    });

    // -- what-if sliders -------------------------------------------------------------------
    var result = root.querySelector("#result");
    if (result) {
      var base = JSON.parse(result.dataset.profile || "{}");
      var lang = result.dataset.lang || "en";
      var out = document.getElementById("whatif-result");
      var timer = null, seq = 0;
      var controls = root.querySelectorAll("#whatif [data-field]");
      var update = function () {
        var profile = Object.assign({}, base);
        controls.forEach(function (c) {
          if (c.type === "checkbox") { profile[c.dataset.field] = c.checked; return; }
          var v = Number(c.value);
          var shown = document.getElementById(c.id + "-out");
          if (shown) { shown.textContent = c.value; }
          profile[c.dataset.field] = c.dataset.scale ? v * Number(c.dataset.scale) : v;
        });
        var mine = ++seq;
        var t0 = performance.now();
        fetch("/console/api/assess", {
          method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
          body: JSON.stringify({profile: profile, lang: lang})
        }).then(function (r) { return r.json().then(function (b) { return [r.status, b]; }); })
          .then(function (rb) {
            if (mine !== seq) { return; }
            var body = rb[1];
            if (rb[0] !== 200) { out.textContent = "—"; return; }
            document.getElementById("gauge").innerHTML = body.gauge;
            out.textContent = body.risk_text + " " + body.tier_text;
            out.dataset.ms = String(Math.round(performance.now() - t0));
            document.body.dataset.whatifMs = out.dataset.ms;
          });
      };
      controls.forEach(function (c) {
        c.addEventListener("input", function () {
          var shown = document.getElementById(c.id + "-out");
          if (shown) { shown.textContent = c.value; }
          clearTimeout(timer);
          timer = setTimeout(update, 60);
        });
        c.addEventListener("change", update);
      });
      var reset = document.getElementById("whatif-reset");
      if (reset) {
        reset.addEventListener("click", function () {
          controls.forEach(function (c) {
            if (c.type === "checkbox") { c.checked = !!base[c.dataset.field]; }
            else {
              var v = base[c.dataset.field];
              c.value = c.dataset.scale ? (v / Number(c.dataset.scale)).toFixed(1) : Math.round(v);
            }
          });
          update();
        });
      }
    }
    bindAssessForm(root);
  };

  // The assessment form is sent with fetch and the page's main part replaced in place (no
  // full page load: the result shows within a few tens of ms); without fetch, or when the
  // answer is not a console page, the browser submits it as usual.
  var bindAssessForm = function (root) {
    var form = root.querySelector("form.assess-form");
    if (!form || !window.fetch || !window.DOMParser || !window.URLSearchParams) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; }
      fetch(form.action, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/x-www-form-urlencoded"},
        body: new URLSearchParams(new FormData(form)).toString()
      }).then(function (r) { return r.text(); })
        .then(function (html) {
          var page = new DOMParser().parseFromString(html, "text/html");
          var fresh = page.getElementById("main");
          var main = document.getElementById("main");
          if (!fresh || !main) { form.submit(); return; }
          main.innerHTML = fresh.innerHTML;
          if (page.title) { document.title = page.title; }
          initAssess(main);
          // focus the result (or the page, showing the form's errors) for screen readers
          var heading = main.querySelector("#h-result");
          if (heading) { heading.setAttribute("tabindex", "-1"); }
          (heading || main).focus();
        })
        .catch(function () { form.submit(); });
    });
  };
  initAssess(document);

  // -- live study progress ---------------------------------------------------------------
  var job = document.getElementById("job");
  if (job) {
    var poll = function () {
      fetch("/console/api/jobs/" + job.dataset.job, {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (j) {
          document.getElementById("job-state").textContent = j.state;
          document.getElementById("job-stage").textContent = j.stage;
          document.getElementById("job-round").textContent = j.round;
          var bar = document.getElementById("job-progress");
          bar.value = j.round; bar.textContent = j.round + " of " + j.rounds;
          if (j.chart) { document.getElementById("job-chart").innerHTML = j.chart; }
          if (j.last_round_end) {
            document.body.dataset.lastRoundEnd = String(j.last_round_end);
            document.body.dataset.roundShownAt = String(Date.now() / 1000);
            document.body.dataset.roundShown = String(j.round);
          }
          if (j.run) {
            var done = document.getElementById("job-done");
            document.getElementById("job-run").href = "/console/runs/" + j.run;
            done.hidden = false;
          }
          if (j.error) {
            var e = document.getElementById("job-error");
            e.textContent = j.error; e.hidden = false;
          }
          if (j.state !== "finished" && j.state !== "failed") { setTimeout(poll, 250); }
        })
        .catch(function () { setTimeout(poll, 1000); });
    };
    poll();
  }

  // -- a study on a live federation: sites' answers, rounds, charts -------------------------
  var live = document.getElementById("live");
  if (live) {
    var finalStates = ["finished", "failed", "stopped"];
    var pollLive = function () {
      fetch("/console/api/federation/" + live.dataset.stamp, {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (j) {
          if (j.html !== undefined) { live.innerHTML = j.html; }
          live.dataset.state = j.state;
          if (j.last_round_end) {
            document.body.dataset.lastRoundEnd = String(j.last_round_end);
            document.body.dataset.roundShownAt = String(Date.now() / 1000);
            document.body.dataset.roundShown = String(j.round);
          }
          if (finalStates.indexOf(j.state) < 0) { setTimeout(pollLive, 1000); }
        })
        .catch(function () { setTimeout(pollLive, 3000); });
    };
    if (finalStates.indexOf(live.dataset.state) < 0) { setTimeout(pollLive, 1000); }
  }
})();
