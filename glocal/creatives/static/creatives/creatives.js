// Character counters for zones with a limit; the server enforces the limit, this only informs.
(function () {
  function attach(input) {
    var max = parseInt(input.getAttribute("data-maxlength"), 10);
    if (!max || input.dataset.counter) return;
    input.dataset.counter = "1";
    var out = document.createElement("small");
    out.className = "counter";
    out.id = input.id + "_counter";
    out.setAttribute("aria-live", "polite");
    input.insertAdjacentElement("afterend", out);
    var described = (input.getAttribute("aria-describedby") || "").trim();
    input.setAttribute("aria-describedby", (described + " " + out.id).trim());
    function update() {
      var length = input.tagName === "TEXTAREA" ? input.value.replace(/<[^>]*>/g, "").length : input.value.length;
      out.textContent = length + " / " + max;
      out.classList.toggle("over", length > max);
    }
    input.addEventListener("input", update);
    update();
  }
  function scan() { document.querySelectorAll("[data-maxlength]").forEach(attach); }
  document.addEventListener("DOMContentLoaded", scan);
  document.addEventListener("htmx:afterSwap", scan);
})();
