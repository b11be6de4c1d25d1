// The job form's live parts: the cron field's reading and next runs, the retention preview,
// and the backup options that apply to the chosen datasource, fetched from the admin's
// staff-only JSON endpoints as the fields change.
(function () {
  "use strict";

  function debounce(fn, ms) {
    let timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function setupCron() {
    const box = document.querySelector(".dg-cron");
    const cron = document.querySelector('[name="schedule_cron"]');
    if (!box || !cron) return;
    const zone = document.querySelector('[name="schedule_timezone"]');
    const description = document.getElementById("cron-description");
    const error = document.getElementById("cron-error");
    const runs = document.getElementById("cron-next-runs");

    const refresh = debounce(function () {
      const params = new URLSearchParams({ cron: cron.value, tz: zone ? zone.value : "UTC" });
      fetch(box.dataset.cronPreviewUrl + "?" + params, { credentials: "same-origin" })
        .then((response) => response.json())
        .then((data) => {
          description.textContent = data.description || "";
          error.textContent = cron.value.trim() ? data.error || "" : "";
          // Each entry is a <time> element the server built and escaped.
          runs.innerHTML = (data.next_runs || []).map((run) => "<li>" + run + "</li>").join("");
        });
    }, 250);

    box.querySelectorAll("[data-cron-preset]").forEach(function (button) {
      button.addEventListener("click", function () {
        cron.value = button.dataset.cron;
        cron.dispatchEvent(new Event("input", { bubbles: true }));
        cron.focus();
      });
    });
    cron.addEventListener("input", refresh);
    if (zone) zone.addEventListener("change", refresh);
  }

  function setupRetention() {
    const box = document.getElementById("retention-preview");
    if (!box) return;
    const keys = ["keep_daily", "keep_weekly", "keep_monthly", "auto_delete"];
    const inputs = keys.map((key) => document.querySelector('[name="retention_' + key + '"]'));
    const refresh = debounce(function () {
      const params = new URLSearchParams();
      keys.forEach(function (key, i) {
        const input = inputs[i];
        if (!input) return;
        params.set(key, input.type === "checkbox" ? (input.checked ? "1" : "0") : input.value);
      });
      fetch(box.dataset.url + "?" + params, { credentials: "same-origin" })
        .then((response) => response.json())
        .then((data) => {
          // Server-rendered and escaped, as on page load.
          if (data.html !== undefined) box.innerHTML = data.html;
        });
    }, 300);
    inputs.forEach(function (input) {
      if (input) input.addEventListener(input.type === "checkbox" ? "change" : "input", refresh);
    });
  }

  function setupOptions() {
    const select = document.querySelector('select[name="datasource"]');
    const url = select && select.dataset.optionsUrl;
    if (!url) return;
    const inputs = document.querySelectorAll("[data-option-applies]");
    let shownFor = select.value;
    let latest = 0;

    function apply(names) {
      inputs.forEach(function (input) {
        const applies = names.indexOf(input.name) !== -1;
        // job_form.css hides the row of an option marked false; disabled, it is not posted.
        input.dataset.optionApplies = applies ? "true" : "false";
        input.disabled = !applies;
      });
    }

    function refresh() {
      // select2 reports a pick through jQuery and a plain select natively; act once per value.
      if (select.value === shownFor) return;
      shownFor = select.value;
      const asked = ++latest;
      const params = new URLSearchParams({ datasource: select.value });
      fetch(url + "?" + params, { credentials: "same-origin" })
        .then((response) => (response.ok ? response.json() : null))
        .then((data) => {
          if (asked === latest && data && data.options) apply(data.options);
        });
    }

    select.addEventListener("change", refresh);
    // The admin's autocomplete (select2) triggers its change through jQuery, which native
    // listeners do not hear.
    if (window.django && window.django.jQuery) window.django.jQuery(select).on("change", refresh);
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupCron();
    setupRetention();
    setupOptions();
  });
})();
