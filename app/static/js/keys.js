// Keyboard shortcuts (the contract in docs: `/` search, `j`/`k` move among [data-nav-row] rows,
// `o` or Enter open the highlighted row, `c` comment, `?` this list). Ignored while the user types
// in a field or holds Ctrl, Alt or Meta, so no shortcut ever eats a typed letter or a browser key.
"use strict";
(() => {
  const CURRENT = "row-current";
  let currentHref = null;  // kept by URL, so a row re-rendered by a live refresh stays highlighted

  const typing = (element) => element instanceof HTMLElement
    && (element.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(element.tagName));
  const rows = () => Array.from(document.querySelectorAll("[data-nav-row]"));
  const currentRow = () => rows().find((row) => row.dataset.href === currentHref) || null;

  const highlight = (row) => {
    rows().forEach((other) => {
      other.classList.remove(CURRENT);
      other.removeAttribute("aria-current");
    });
    if (!row) {
      currentHref = null;
      return;
    }
    currentHref = row.dataset.href;
    row.classList.add(CURRENT);
    row.setAttribute("aria-current", "true");
    row.scrollIntoView({block: "nearest"});
  };

  const move = (step) => {
    const all = rows();
    if (!all.length) {
      return false;
    }
    const at = all.indexOf(currentRow());
    const next = at === -1 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    highlight(all[next]);
    return true;
  };

  const focusSearch = () => {
    const box = document.querySelector("[data-search-box]");
    if (box) {
      box.focus();
      if (box.select) {
        box.select();
      }
      return true;
    }
    const list = document.body.dataset.listUrl;
    if (list) {  // no search box here: the list has one
      window.location.assign(`${list}#search`);
      return true;
    }
    return false;
  };

  const focusComment = () => {
    const box = document.querySelector("[data-comment-box]");
    if (!box) {
      return false;
    }
    box.scrollIntoView({block: "center"});
    box.focus();
    return true;
  };

  const help = () => {
    const dialog = document.getElementById("keys-help");
    if (!dialog || !window.bootstrap) {
      return false;
    }
    window.bootstrap.Modal.getOrCreateInstance(dialog).show();
    return true;
  };

  const open = (event) => {
    const row = currentRow();
    // Enter on a focused link or button does its own thing; `o` and a bare Enter open the row.
    if (!row || (event.key === "Enter" && event.target !== document.body && event.target !== row
                 && !(event.target instanceof HTMLElement && event.target.id === "main"))) {
      return false;
    }
    window.location.assign(row.dataset.href);
    return true;
  };

  const KEYS = {"/": focusSearch, "j": () => move(1), "k": () => move(-1), "o": open, "Enter": open,
                "c": focusComment, "?": help};

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.isComposing) {
      return;
    }
    if (typing(event.target) || document.querySelector(".modal.show")) {
      return;
    }
    const action = KEYS[event.key];
    if (action && action(event)) {
      event.preventDefault();
    }
  });

  // A live refresh of the list replaces its rows: highlight the same incident again.
  document.addEventListener("list:refreshed", () => {
    const row = currentRow();
    if (row) {
      highlight(row);
    }
  });

  // Arrived from `/` on another page: the list's search box, focused.
  if (window.location.hash === "#search") {
    const box = document.querySelector("[data-search-box]");
    if (box) {
      box.focus();
    }
  }
})();
