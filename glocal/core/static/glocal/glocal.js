// Registers the service worker so Glocal installs on a phone's home screen.
if ("serviceWorker" in navigator) {
  window.addEventListener("load", () => navigator.serviceWorker.register("/sw.js").catch(() => {}));
}

// Behaviours declared in the markup, never in inline handlers (the Content-Security-Policy refuses
// inline scripts and on…= attributes):
// - data-autosubmit on a field: changing it submits its form (the form's button stays for keyboards);
// - data-confirm="question" on a form: submitting asks first;
// - data-menu-toggle on a button: opens and closes the main navigation, which collapses on a phone;
// - every table.table is wrapped in a region that scrolls sideways on its own (focusable, labelled).
document.addEventListener("change", (event) => {
  const field = event.target instanceof Element ? event.target.closest("[data-autosubmit]") : null;
  if (field && field.form) field.form.submit();
});
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.getAttribute("data-confirm") : null;
  if (question && !window.confirm(question)) event.preventDefault();
});

// The main navigation: collapsed below 760 px behind the "Menu" button (the CSS collapses it only once
// this script has marked the page, so without JavaScript the navigation is simply open).
function setUpMenu() {
  const toggle = document.querySelector("[data-menu-toggle]");
  const nav = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
  if (!toggle || !nav || toggle.dataset.ready) return;
  toggle.dataset.ready = "1";
  const here = window.location.pathname;
  nav.querySelectorAll("a[href]").forEach((link) => {
    const path = new URL(link.href, window.location.href).pathname;
    if (path === here) link.setAttribute("aria-current", "page");
  });
  const setOpen = (open) => {
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    nav.classList.toggle("open", open);
  };
  toggle.hidden = false;
  document.documentElement.classList.add("js-menu");
  toggle.addEventListener("click", () => setOpen(toggle.getAttribute("aria-expanded") !== "true"));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
      setOpen(false);
      toggle.focus();
    }
  });
}

// Tables scroll inside their own box: a region named after the table's caption, its aria-label or
// the heading just before it, focusable so that a keyboard can scroll it.
function wrapTables(root) {
  root.querySelectorAll("table.table, table.calendar").forEach((table) => {
    if (table.parentElement && table.parentElement.classList.contains("table-wrap")) return;
    if (table.classList.contains("stack")) return; // becomes cards on a phone
    const wrap = document.createElement("div");
    wrap.className = "table-wrap";
    wrap.setAttribute("role", "region");
    wrap.tabIndex = 0;
    let name = table.getAttribute("aria-label") || (table.caption && table.caption.textContent.trim()) || "";
    if (!name) {
      let previous = table.previousElementSibling;
      while (previous && !/^H[1-6]$/.test(previous.tagName)) previous = previous.previousElementSibling;
      if (!previous) {
        const section = table.closest("section, article");
        previous = section && section.querySelector("h1, h2, h3");
      }
      name = previous ? previous.textContent.trim() : document.title;
    }
    wrap.setAttribute("aria-label", name);
    table.parentNode.insertBefore(wrap, table);
    wrap.appendChild(table);
  });
}

function enhance() {
  setUpMenu();
  wrapTables(document);
}
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", enhance);
else enhance();
document.addEventListener("htmx:afterSwap", (event) => wrapTables(event.target instanceof Element ? event.target : document));
