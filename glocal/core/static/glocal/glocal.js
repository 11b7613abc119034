// Registers the service worker so Glocal installs on a phone's home screen.
if ("serviceWorker" in navigator) {
  window.addEventListener("load", () => navigator.serviceWorker.register("/sw.js").catch(() => {}));
}

// Behaviours declared in the markup, never in inline handlers (the Content-Security-Policy refuses
// inline scripts and on…= attributes):
// - data-autosubmit on a field: changing it submits its form (the form's button stays for keyboards);
// - data-confirm="question" on a form: submitting asks first.
document.addEventListener("change", (event) => {
  const field = event.target instanceof Element ? event.target.closest("[data-autosubmit]") : null;
  if (field && field.form) field.form.submit();
});
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.getAttribute("data-confirm") : null;
  if (question && !window.confirm(question)) event.preventDefault();
});
