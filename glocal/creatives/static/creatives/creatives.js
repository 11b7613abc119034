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

// The live SMS counter of an SMS template's text zones (textarea[data-sms-counter]): GSM-7 or UCS-2,
// how many SMS, characters left before another one — counted on the whole message (data-sms-rest: the
// rest of the rendered SMS) with the same rules as glocal/creatives/sms.py, which the server applies.
(function () {
  var GSM_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM_EXTENSION = "\f^{}\\[~]|€";

  function analyse(text) {
    var chars = Array.from(text);
    var outside = chars.filter(function (ch) { return GSM_BASIC.indexOf(ch) === -1 && GSM_EXTENSION.indexOf(ch) === -1; });
    var gsm = outside.length === 0;
    var units = chars.map(function (ch) {
      if (gsm) return GSM_EXTENSION.indexOf(ch) !== -1 ? 2 : 1;
      return ch.codePointAt(0) > 0xffff ? 2 : 1;
    });
    var single = gsm ? 160 : 70, multi = gsm ? 153 : 67;
    var total = units.reduce(function (a, b) { return a + b; }, 0);
    var segments = 0;
    if (total > 0 && total <= single) segments = 1;
    else if (total > single) {
      segments = 1;
      var used = 0;
      units.forEach(function (size) { // a 2-unit character never straddles two segments
        if (used + size > multi) { segments += 1; used = 0; }
        used += size;
      });
    }
    var left = segments <= 1 ? single - total : segments * multi - total;
    var unique = outside.filter(function (ch, i) { return outside.indexOf(ch) === i; });
    return { encoding: gsm ? "GSM-7" : "UCS-2", characters: chars.length, segments: segments, left: left, outside: unique };
  }

  function attach(input) {
    if (input.dataset.smsReady) return;
    input.dataset.smsReady = "1";
    var words = {};
    try { words = JSON.parse(input.getAttribute("data-sms-labels") || "{}"); } catch (e) { words = {}; }
    var rest = input.getAttribute("data-sms-rest");
    var out = document.createElement("p");
    out.className = "sms-live";
    out.id = input.id + "_sms";
    out.setAttribute("aria-live", "polite");
    out.setAttribute("data-testid", "sms-live");
    var summary = document.createElement("span");
    var note = document.createElement("small");
    note.className = "help";
    out.appendChild(summary);
    out.appendChild(note);
    var anchor = document.getElementById(input.id + "_counter") || input;
    anchor.insertAdjacentElement("afterend", out);
    var described = (input.getAttribute("aria-describedby") || "").trim();
    input.setAttribute("aria-describedby", (described + " " + out.id).trim());
    function say(key, values) {
      var text = words[key] || key;
      Object.keys(values).forEach(function (name) { text = text.replace("%(" + name + ")s", values[name]); });
      return text;
    }
    function update() {
      var value = input.value.replace(/\r\n/g, "\n");
      var info = analyse(rest === null ? value : rest + value);
      summary.textContent = [
        say("characters", { n: info.characters }),
        info.encoding,
        say("segments", { n: info.segments }),
        say("left", { n: info.left }),
      ].join(" · ");
      var notes = [];
      if (info.outside.length) notes.push(say("ucs2", { chars: info.outside.slice(0, 10).join(" ") }));
      if (rest !== null) notes.push(words.whole || "");
      note.textContent = notes.length ? " " + notes.join(" ") : "";
      out.classList.toggle("ucs2", info.encoding !== "GSM-7");
    }
    input.addEventListener("input", update);
    update();
  }
  function scan() { document.querySelectorAll("textarea[data-sms-counter]").forEach(attach); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan);
  else scan();
  document.addEventListener("htmx:afterSwap", scan);
})();
