// The incident page keeps up with others' changes: it asks the small state endpoint
// (data-live-url, GET /ui/incidents/<id>/live) every few seconds, with If-None-Match so an
// unchanged incident costs a 304, and not while the tab is hidden. When someone else changed the
// incident it says so in the status banner ("INC-42 was updated by Tom Tech") with a "Show
// changes" button that swaps in the fresh parts of the page, never a form the user is typing in:
// the comment box is never replaced, and a card holding a focused or edited field is left alone.
"use strict";
(() => {
  const banner = document.getElementById("live-banner");
  if (!banner || !window.fetch || !window.DOMParser) {
    return;
  }
  const url = banner.dataset.liveUrl;
  const seconds = Number(banner.dataset.pollSeconds) || 10;
  // Parts of the page that only show the incident (no typing happens in them).
  const SHOWN = ["incident-title", "incident-badges", "incident-summary", "timeline", "sla", "details",
                 "attachments"];
  // Parts with forms: replaced only when the user is not in the middle of one (their hidden
  // `version` fields must follow the incident, or the next press would be refused as stale).
  const FORMS = ["actions", "watchers"];
  let etag = null;
  let seen = {version: Number(banner.dataset.version), last: Number(banner.dataset.lastEventId)};
  let busy = false;

  const changed = (state) => state.version !== seen.version || state.last_event_id !== seen.last;

  const edited = (element) => Array.from(element.querySelectorAll("input, textarea, select")).some((field) => {
    if (field.type === "hidden") {
      return false;
    }
    if (document.activeElement === field) {
      return true;
    }
    if (field.type === "checkbox" || field.type === "radio") {
      return field.checked !== field.defaultChecked;
    }
    if (field.tagName === "SELECT") {
      return Array.from(field.options).some((option) => option.selected !== option.defaultSelected);
    }
    return field.value !== field.defaultValue;
  });

  const say = (parts) => {
    banner.replaceChildren();
    if (!parts) {
      banner.classList.remove("alert", "alert-info");
      return;
    }
    banner.classList.add("alert", "alert-info");
    banner.append(...parts);
  };

  const swap = async (state) => {
    const response = await fetch(window.location.pathname, {headers: {Accept: "text/html"}, credentials: "same-origin"});
    if (!response.ok) {
      throw new Error(`page answered ${response.status}`);
    }
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const id of [...SHOWN, ...FORMS]) {
      const old = document.getElementById(id);
      const now = fresh.getElementById(id);
      if (!old || !now || (FORMS.includes(id) && edited(old))) {
        continue;
      }
      if (old.contains(document.activeElement) && document.activeElement !== document.body) {
        continue;  // never pull the focus from under the keyboard
      }
      old.replaceWith(document.adoptNode(now));
    }
    const next = fresh.getElementById("live-banner");
    seen = next
      ? {version: Number(next.dataset.version), last: Number(next.dataset.lastEventId)}
      : {version: state.version, last: state.last_event_id};
    document.dispatchEvent(new CustomEvent("live:refreshed"));
  };

  const offer = (state) => {
    const who = document.createElement("span");
    who.textContent = state.by;
    if (state.by_username) {
      who.title = state.by_username;
    }
    const text = document.createElement("span");
    text.className = "me-2";
    text.append(`${state.reference} was updated by `, who, ".");
    const show = document.createElement("button");
    show.type = "button";
    show.className = "btn btn-sm btn-primary";
    show.textContent = "Show changes";
    show.addEventListener("click", async () => {
      show.disabled = true;
      try {
        await swap(state);
        say([Object.assign(document.createElement("span"), {textContent: `Showing the latest changes to ${state.reference}.`})]);
        window.setTimeout(() => say(null), 5000);
      } catch {
        const reload = Object.assign(document.createElement("a"), {href: window.location.href, textContent: "Reload the page"});
        say([Object.assign(document.createElement("span"), {className: "me-2", textContent: "The changes could not be loaded."}), reload]);
      }
    });
    say([text, show]);
  };

  const poll = async () => {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    try {
      const headers = {Accept: "application/json"};
      if (etag) {
        headers["If-None-Match"] = etag;
      }
      const response = await fetch(url, {headers, credentials: "same-origin"});
      const json = (response.headers.get("Content-Type") || "").includes("application/json");
      if (response.status === 304 || !response.ok || !json) {
        return;  // unchanged; or logged out / gone: the next real page load says so
      }
      etag = response.headers.get("ETag");
      const state = await response.json();
      if (!changed(state)) {
        return;
      }
      if (state.by_you) {
        await swap(state);  // the user's own change (another tab): no news to announce
      } else {
        offer(state);
      }
    } catch {
      // offline for a moment: try again next time
    } finally {
      busy = false;
    }
  };

  window.setInterval(poll, seconds * 1000);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      poll();
    }
  });
})();
