// Relative times for every <time datetime> on the page: the server writes the exact UTC time (the
// words a page without scripts shows); this rewrites the words to "3 h ago" / "in 2 h" and the
// title to the exact time in the browser's own time zone, and again every minute. Times that
// arrive later (the live list, the detail page's refresh) are picked up as they are added.
"use strict";

(() => {
  const MINUTE = 60;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;
  const exact = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });
  const dateOnly = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });

  // "just now", "5 min ago", "3 h ago", "2 d ago", "in 2 h"; past 30 days the local date.
  function relative(moment, now) {
    const seconds = Math.round((moment.getTime() - now) / 1000);
    const span = Math.abs(seconds);
    if (span < MINUTE) {
      return seconds > 0 ? "in under 1 min" : "just now";
    }
    if (span >= 30 * DAY) {
      return dateOnly.format(moment);
    }
    let words;
    if (span < HOUR) {
      words = `${Math.floor(span / MINUTE)} min`;
    } else if (span < DAY) {
      words = `${Math.floor(span / HOUR)} h`;
    } else {
      words = `${Math.floor(span / DAY)} d`;
    }
    return seconds > 0 ? `in ${words}` : `${words} ago`;
  }

  function render(element, now) {
    const moment = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(moment.getTime())) {
      return;
    }
    element.title = exact.format(moment);
    const words = relative(moment, now);
    if (element.textContent !== words) {
      element.textContent = words;
    }
  }

  function refresh(root) {
    const now = Date.now();
    if (root.matches && root.matches("time[datetime]")) {
      render(root, now);
    }
    root.querySelectorAll("time[datetime]").forEach((element) => render(element, now));
  }

  refresh(document);
  window.setInterval(() => refresh(document), MINUTE * 1000);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      refresh(document);
    }
  });
  // Elements added later (a region replaced in place); our own text changes add only text nodes.
  new MutationObserver((records) => {
    records.forEach((record) => record.addedNodes.forEach((node) => {
      if (node.nodeType === Node.ELEMENT_NODE) {
        refresh(node);
      }
    }));
  }).observe(document.body, { childList: true, subtree: true });
})();
