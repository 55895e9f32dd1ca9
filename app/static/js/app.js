// Progressive enhancements only: every page works without this file.
// Loaded as a file because the Content-Security-Policy allows no inline script.
"use strict";

// "Copy" buttons for values shown once (a new API token): shown only where the clipboard works.
document.querySelectorAll("[data-copy-target]").forEach((button) => {
  const target = document.getElementById(button.dataset.copyTarget);
  if (!target || !navigator.clipboard) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(target.value);
      button.textContent = "Copied";
    } catch {
      target.select();
      button.textContent = "Press Ctrl+C";
    }
  });
});

// "Print" buttons (the incident page): the stylesheet's @media print does the rest.
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});

// After a refused form the page comes back with the messages next to the fields: put the keyboard
// (and a screen reader) on the first field to fix. A form that came back with only a message
// (an expired form) gets its first field focused, what was typed still in it.
(() => {
  const invalid = document.querySelector("main .is-invalid, main [aria-invalid='true']");
  if (invalid) {
    invalid.focus();
    return;
  }
  const refused = document.querySelector("main form .alert-danger");
  const field = refused && refused.closest("form").querySelector("textarea, select, input:not([type='hidden'])");
  if (field) {
    field.focus();
  }
})();
