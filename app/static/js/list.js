// The live incident list: every data-live-seconds (10 s) while the tab is visible, ask the list's
// own URL again with the ETag the results were drawn with; the server answers 304 while nothing it
// shows has changed. On a 200, only the inside of #list-results is replaced: the filter form, and
// anything typed in it, is never touched. Checked row boxes stay checked (by incident id), the
// focused element keeps the focus, and the row the keyboard is on stays current. Then the event
// "list:refreshed" tells the bulk bar to recount. Without this file the list is simply static.
"use strict";

(() => {
  const region = document.getElementById("list-results");
  if (!region || !window.fetch || !window.DOMParser) {
    return;
  }
  const seconds = Number(region.dataset.liveSeconds) || 10;
  let busy = false;
  let stopped = false;

  // How to find the focused element again in the new contents.
  function focusKey(element) {
    if (!element || !region.contains(element) || element === region) {
      return null;
    }
    if (element.id) {
      return `#${CSS.escape(element.id)}`;
    }
    if (element.matches(".bulk-select")) {
      return `.bulk-select[value="${CSS.escape(element.value)}"]`;
    }
    const href = element.getAttribute("href");
    if (href) {
      return `[href="${CSS.escape(href)}"]`;
    }
    const row = element.closest("[data-nav-row]");
    if (row && element.matches("button")) {
      return `[data-href="${CSS.escape(row.dataset.href)}"] button`;
    }
    return null;
  }

  function replace(fresh) {
    const checked = new Set(Array.from(region.querySelectorAll(".bulk-select:checked"), (box) => box.value));
    const current = region.querySelector("[data-nav-row].row-current");
    const currentHref = current ? current.dataset.href : null;
    const focus = focusKey(document.activeElement);

    region.replaceChildren(...Array.from(fresh.childNodes, (node) => document.importNode(node, true)));
    region.dataset.etag = fresh.dataset.etag || "";

    const boxes = Array.from(region.querySelectorAll(".bulk-select"));
    boxes.forEach((box) => {
      box.checked = checked.has(box.value);
    });
    const wholePage = region.querySelector("#bulk-select-page");
    if (wholePage) {
      wholePage.checked = boxes.length > 0 && boxes.every((box) => box.checked);
    }
    if (currentHref) {
      const row = region.querySelector(`[data-nav-row][data-href="${CSS.escape(currentHref)}"]`);
      if (row) {
        row.classList.add("row-current");
        row.setAttribute("aria-current", "true");
      }
    }
    if (focus) {
      const target = region.querySelector(focus);
      if (target) {
        target.focus({ preventScroll: true });
      }
    }
    document.dispatchEvent(new CustomEvent("list:refreshed"));
  }

  async function poll() {
    if (busy || stopped || document.hidden) {
      return;
    }
    busy = true;
    try {
      const headers = { Accept: "text/html" };
      if (region.dataset.etag) {
        headers["If-None-Match"] = `W/"${region.dataset.etag}"`;
      }
      const response = await fetch(region.dataset.liveUrl, {
        headers, credentials: "same-origin", cache: "no-store", redirect: "follow",
      });
      if (response.status === 304) {
        return;
      }
      if (!response.ok || response.redirected) {
        stopped = response.redirected || response.status === 401 || response.status === 403;
        return; // signed out (the login page) or a passing error: leave the page as it is
      }
      const html = await response.text();
      const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("list-results");
      if (fresh) {
        replace(fresh);
      }
    } catch {
      // The network is away for a moment: try again next time.
    } finally {
      busy = false;
    }
  }

  window.setInterval(poll, seconds * 1000);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      poll();
    }
  });
})();
