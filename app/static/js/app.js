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
