// The list's bulk bar (web/_bulk_bar.html): hidden until a row is ticked, "3 selected" as rows are
// ticked, the header box ticks the page, and only the chosen action's fields are shown. Without this
// file the bar is always shown with every field, and the form works the same.
"use strict";

(() => {
  const form = document.getElementById("bulk-form");
  const bar = document.getElementById("bulk-bar");
  if (!form || !bar) {
    return;
  }
  const count = document.getElementById("bulk-count");
  const action = document.getElementById("bulk-action");
  const matching = document.getElementById("bulk-scope-matching");
  const apply = document.getElementById("bulk-apply");

  // The rows are replaced in place by js/list.js, so they are looked up each time, never kept.
  const boxes = () => Array.from(document.querySelectorAll("input.bulk-select"));

  function recount() {
    const all = boxes();
    const ticked = all.filter((box) => box.checked).length;
    count.textContent = `${ticked} selected`;
    bar.hidden = ticked === 0 && !matching.checked;
    const page = document.getElementById("bulk-select-page");
    if (page) {
      page.checked = all.length > 0 && ticked === all.length;
      page.indeterminate = ticked > 0 && ticked < all.length;
    }
    apply.textContent = matching.checked ? "Apply to all matching" : `Apply to ${ticked}`;
  }

  function showFields() {
    form.querySelectorAll("[data-bulk-for]").forEach((field) => {
      field.hidden = field.dataset.bulkFor !== action.value;
    });
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.id === "bulk-select-page") {
      boxes().forEach((box) => {
        box.checked = target.checked;
      });
    }
    if (target.id === "bulk-select-page" || target.classList.contains("bulk-select") || target.name === "scope") {
      recount();
    }
  });
  action.addEventListener("change", showFields);
  document.addEventListener("list:refreshed", recount);

  showFields();
  recount();
})();
