// Colour mode (Bootstrap 5.3 `data-bs-theme`): the system's choice unless the user picked light or
// dark in the navbar's Theme menu (kept in localStorage). Loaded in <head>, before the body is
// painted, so a dark page never flashes white; a file because the CSP allows no inline script.
"use strict";
(() => {
  const KEY = "portal-theme";
  const CHOICES = ["auto", "light", "dark"];
  const system = window.matchMedia("(prefers-color-scheme: dark)");

  const stored = () => {
    try {
      const value = window.localStorage.getItem(KEY);
      return CHOICES.includes(value) ? value : "auto";
    } catch {
      return "auto";  // storage switched off: follow the system
    }
  };
  const resolved = (choice) => (choice === "auto" ? (system.matches ? "dark" : "light") : choice);
  const apply = () => document.documentElement.setAttribute("data-bs-theme", resolved(stored()));

  apply();
  system.addEventListener("change", apply);
  // Paper is white: print in the light palette whatever the screen shows.
  window.addEventListener("beforeprint", () => document.documentElement.setAttribute("data-bs-theme", "light"));
  window.addEventListener("afterprint", apply);

  // The navbar's menu, once the body exists: hidden without this script (it could do nothing).
  const wire = () => {
    const menu = document.getElementById("theme-menu");
    if (!menu) {
      return;
    }
    const current = document.getElementById("theme-current");
    const mark = () => {
      const choice = stored();
      menu.querySelectorAll("[data-theme-value]").forEach((item) => {
        const chosen = item.dataset.themeValue === choice;
        item.classList.toggle("active", chosen);
        item.setAttribute("aria-pressed", String(chosen));
      });
      if (current) {
        current.textContent = choice;
      }
    };
    menu.querySelectorAll("[data-theme-value]").forEach((item) => {
      item.addEventListener("click", () => {
        try {
          if (item.dataset.themeValue === "auto") {
            window.localStorage.removeItem(KEY);
          } else {
            window.localStorage.setItem(KEY, item.dataset.themeValue);
          }
        } catch {
          // no storage: the choice lasts for this page only
          document.documentElement.setAttribute("data-bs-theme", resolved(item.dataset.themeValue));
          return;
        }
        apply();
        mark();
      });
    });
    menu.hidden = false;
    mark();
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})();
