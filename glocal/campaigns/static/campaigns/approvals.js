// The approval queue (campaigns/approvals.html): select-all and the keyboard shortcuts listed on the
// page (j/k move, a approve, r request changes, x select, Esc close the comment, ? the list). No inline
// script: everything is wired by data- attributes. Without JavaScript the page works with its buttons.
(function () {
  "use strict";
  const queue = document.querySelector("[data-queue]");
  if (!queue) return;
  const items = () => Array.from(queue.querySelectorAll("[data-item]"));
  const boxes = () => Array.from(queue.querySelectorAll("[data-select]"));
  const help = document.querySelector("[data-shortcuts]");
  const toggle = document.querySelector("[data-shortcuts-toggle]");
  const STORE = "glocal.approvals.shortcuts";

  // The shortcuts can be turned off (single-key shortcuts, WCAG 2.1.4); the choice is remembered.
  if (toggle) {
    try {
      if (window.localStorage.getItem(STORE) === "off") toggle.checked = false;
    } catch (error) { /* storage refused: on by default */ }
    toggle.addEventListener("change", () => {
      try { window.localStorage.setItem(STORE, toggle.checked ? "on" : "off"); } catch (error) { /* ignored */ }
    });
  }

  // -- select-all ------------------------------------------------------------------------------------
  const all = document.querySelector("[data-select-all]");
  const counter = document.querySelector("[data-selected-count]");
  function updateCount() {
    const list = boxes();
    const n = list.filter((box) => box.checked).length;
    if (all) {
      all.checked = n > 0 && n === list.length;
      all.indeterminate = n > 0 && n < list.length;
    }
    if (counter) counter.textContent = n ? (counter.dataset.text || "{n}").replace("{n}", String(n)) : "";
  }
  if (all) {
    all.addEventListener("change", () => {
      boxes().forEach((box) => { box.checked = all.checked; });
      updateCount();
    });
  }
  queue.addEventListener("change", (event) => {
    if (event.target.matches("[data-select]")) updateCount();
  });

  // -- the proof in focus ------------------------------------------------------------------------------
  let current = null;
  function setCurrent(item) {
    if (current) current.classList.remove("focused");
    current = item;
    if (item) item.classList.add("focused");
  }
  function focusItem(item) {
    if (!item) return;
    setCurrent(item);
    item.focus({ preventScroll: true });
    item.scrollIntoView({ block: "nearest" });
  }
  function move(step) {
    const list = items();
    if (!list.length) return;
    const at = list.indexOf(current);
    const next = at < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, at + step));
    focusItem(list[next]);
  }
  queue.addEventListener("focusin", (event) => {
    const item = event.target.closest("[data-item]");
    if (item && item !== current) setCurrent(item);
  });

  // After a decision the queue comes back on the next proof (its address ends with #q-<id>).
  function comeBackTo(item, form) {
    const next = form.querySelector("[data-next]");
    if (!next) return;
    const list = items();
    const at = list.indexOf(item);
    const neighbour = list[at + 1] || list[at - 1];
    next.value = next.value.split("#")[0] + (neighbour ? "#" + neighbour.id : "");
  }
  queue.addEventListener("submit", (event) => {
    const item = event.target.closest("[data-item]");
    if (item) comeBackTo(item, event.target);
  });
  function submit(form) {
    if (typeof form.requestSubmit === "function") form.requestSubmit();
    else {
      comeBackTo(form.closest("[data-item]"), form);
      form.submit();
    }
  }

  function typing(target) {
    if (!(target instanceof Element)) return false;
    if (target.isContentEditable) return true;
    return target.matches("textarea, select, input:not([type=checkbox]):not([type=radio]):not([type=submit]):not([type=button])");
  }

  const ACTIONS = {
    j: () => move(1),
    k: () => move(-1),
    x: () => {
      if (!current) return;
      const box = current.querySelector("[data-select]");
      box.checked = !box.checked;
      updateCount();
    },
    a: () => {
      if (current) submit(current.querySelector("[data-approve]"));
    },
    r: () => {
      if (!current) return;
      const reject = current.querySelector("[data-reject]");
      reject.open = true;
      reject.querySelector("textarea").focus();
    },
    "?": () => {
      if (help) help.open = !help.open;
    },
  };

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      const reject = event.target instanceof Element ? event.target.closest("[data-reject]") : null;
      if (reject) {
        reject.open = false;
        focusItem(reject.closest("[data-item]"));
        event.preventDefault();
      }
      return;
    }
    if ((toggle && !toggle.checked) || typing(event.target)) return;
    const action = ACTIONS[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });

  // Back from a decision: the proof the address names gets the focus.
  if (window.location.hash.startsWith("#q-")) {
    const item = document.getElementById(window.location.hash.slice(1));
    if (item && item.matches("[data-item]")) focusItem(item);
  }
  updateCount();
})();
