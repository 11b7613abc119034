// A small rich-text editor for the rich-text zones (textarea[data-richtext]): a toolbar with only the
// buttons for the tags the zone allows (bold, italic, link, bulleted list, line break), Ctrl+B / Ctrl+I /
// Ctrl+K, and a labelled editable region. Every change is written, as HTML, into the textarea, which
// stays the field the form submits (hidden once the editor is ready; without JavaScript it is used as
// it is). The server sanitises the HTML as before: this only spares the store typing tags.
(function () {
  "use strict";

  var COMMANDS = {
    bold: { command: "bold", tags: ["STRONG", "B"] },
    italic: { command: "italic", tags: ["EM", "I"] },
    list: { command: "insertUnorderedList", tags: ["UL"] },
    link: { tags: ["A"] },
    "break": {},
  };
  var ICONS = { bold: "B", italic: "I", list: "•≡", "break": "↵" };
  // The link icon: two chain links (Feather's "link" icon, MIT licence), drawn rather than a glyph that
  // a phone's fonts may lack.
  var LINK_PATHS = [
    "M10 13a5 5 0 0 0 7.54.54l3-3a5 5 0 0 0-7.07-7.07l-1.72 1.71",
    "M14 11a5 5 0 0 0-7.54-.54l-3 3a5 5 0 0 0 7.07 7.07l1.71-1.71",
  ];

  function linkIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "18");
    svg.setAttribute("height", "18");
    svg.setAttribute("fill", "none");
    svg.setAttribute("stroke", "currentColor");
    svg.setAttribute("stroke-width", "2");
    svg.setAttribute("stroke-linecap", "round");
    svg.setAttribute("aria-hidden", "true");
    LINK_PATHS.forEach(function (d) {
      var path = document.createElementNS(ns, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    });
    return svg;
  }
  var RENAME = { B: "strong", I: "em", DIV: "p" };
  var counter = 0;

  function closestIn(node, root, tags) {
    for (var el = node && node.nodeType === 1 ? node : node && node.parentNode; el && el !== root; el = el.parentNode) {
      if (tags.indexOf(el.nodeName) !== -1) return el;
    }
    return null;
  }

  // Keeps only the tags the zone allows (renaming b → strong, i → em, div → p) and, on links, an href
  // with an allowed scheme; anything else is replaced by its content. Works on an inert document.
  function clean(html, allowed, schemes) {
    var doc = document.implementation.createHTMLDocument("");
    var source = doc.createElement("div");
    source.innerHTML = html;
    var out = doc.createElement("div");
    function copy(from, to) {
      Array.prototype.forEach.call(from.childNodes, function (node) {
        if (node.nodeType === 3) {
          to.appendChild(doc.createTextNode(node.nodeValue));
          return;
        }
        if (node.nodeType !== 1 || /^(SCRIPT|STYLE|TEMPLATE|IFRAME|OBJECT)$/.test(node.nodeName)) return;
        var name = (RENAME[node.nodeName] || node.nodeName).toLowerCase();
        if (allowed.indexOf(name) === -1) {
          copy(node, to);
          return;
        }
        var el = doc.createElement(name);
        if (name === "a") {
          var href = (node.getAttribute("href") || "").trim();
          if (!schemeOk(href, schemes)) {
            copy(node, to);
            return;
          }
          el.setAttribute("href", href);
        }
        copy(node, el);
        to.appendChild(el);
      });
    }
    copy(source, out);
    return out.innerHTML.replace(/<p><\/p>/g, "").trim();
  }

  function schemeOk(href, schemes) {
    var match = /^([a-z][a-z0-9+.-]*):/i.exec(href);
    return !!match && schemes.indexOf(match[1].toLowerCase()) !== -1;
  }

  function setUp(textarea) {
    if (textarea.dataset.richtextReady) return;
    textarea.dataset.richtextReady = "1";
    var buttons = (textarea.getAttribute("data-richtext") || "").split(/\s+/).filter(Boolean);
    var allowed = (textarea.getAttribute("data-richtext-tags") || "").split(/\s+/).filter(Boolean);
    var schemes = (textarea.getAttribute("data-richtext-schemes") || "").split(/\s+/).filter(Boolean);
    var words = {};
    try {
      words = JSON.parse(textarea.getAttribute("data-richtext-labels") || "{}");
    } catch (e) {
      words = {};
    }
    var id = textarea.id || "richtext-" + ++counter;
    textarea.id = id;
    var label = document.querySelector('label[for="' + id + '"]');
    if (label && !label.id) label.id = id + "_label";
    var zoneName = label ? label.textContent.replace(/\s*:\s*$/, "").trim() : "";

    var wrapper = document.createElement("div");
    wrapper.className = "richtext";
    var toolbar = document.createElement("div");
    toolbar.className = "richtext-toolbar";
    toolbar.setAttribute("role", "toolbar");
    toolbar.setAttribute("aria-label", (words.toolbar || "Formatting").replace("%(zone)s", zoneName));
    toolbar.setAttribute("aria-controls", id + "_editor");
    var editor = document.createElement("div");
    editor.className = "richtext-editor";
    editor.id = id + "_editor";
    editor.contentEditable = "true";
    editor.setAttribute("role", "textbox");
    editor.setAttribute("aria-multiline", "true");
    if (label) {
      editor.setAttribute("aria-labelledby", label.id);
      label.addEventListener("click", function () { editor.focus(); });
    }
    var described = textarea.getAttribute("aria-describedby");
    if (described) editor.setAttribute("aria-describedby", described);
    if (textarea.getAttribute("aria-invalid")) editor.setAttribute("aria-invalid", textarea.getAttribute("aria-invalid"));
    editor.innerHTML = clean(textarea.value, allowed, schemes);

    var controls = {};
    buttons.forEach(function (name, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "richtext-button richtext-" + name;
      button.setAttribute("aria-label", words[name] || name);
      button.title = words[name] || name;
      button.setAttribute("data-action", name);
      if (COMMANDS[name] && COMMANDS[name].tags) button.setAttribute("aria-pressed", "false");
      button.tabIndex = index === 0 ? 0 : -1; // one tab stop; the arrow keys move along the toolbar
      if (name === "link") {
        button.appendChild(linkIcon());
      } else {
        var icon = document.createElement("span");
        icon.setAttribute("aria-hidden", "true");
        icon.textContent = ICONS[name] || name;
        button.appendChild(icon);
      }
      // Keep the editor's selection: a mouse press on a button must not move the focus away first.
      button.addEventListener("mousedown", function (event) { event.preventDefault(); });
      button.addEventListener("click", function () { act(name); });
      toolbar.appendChild(button);
      controls[name] = button;
    });
    toolbar.addEventListener("keydown", function (event) {
      var list = Array.prototype.slice.call(toolbar.querySelectorAll("button"));
      var at = list.indexOf(document.activeElement);
      var to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: list.length - 1 }[event.key];
      if (to === undefined || at === -1) return;
      event.preventDefault();
      to = (to + list.length) % list.length;
      list.forEach(function (b, i) { b.tabIndex = i === to ? 0 : -1; });
      list[to].focus();
    });

    function sync() {
      var html = clean(editor.innerHTML, allowed, schemes);
      if (html === textarea.value) return;
      textarea.value = html;
      // the character counter, the live preview (htmx) and the simulation follow the textarea
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    }

    function selectionInEditor() {
      var selection = window.getSelection();
      return selection && selection.rangeCount && editor.contains(selection.anchorNode) ? selection : null;
    }

    function refresh() {
      var selection = selectionInEditor();
      Object.keys(controls).forEach(function (name) {
        var spec = COMMANDS[name];
        if (!spec || !spec.tags) return;
        var on = !!selection && !!closestIn(selection.anchorNode, editor, spec.tags);
        controls[name].setAttribute("aria-pressed", on ? "true" : "false");
      });
    }

    function act(name) {
      editor.focus();
      var spec = COMMANDS[name];
      if (name === "link") {
        var selection = selectionInEditor();
        var current = selection && closestIn(selection.anchorNode, editor, ["A"]);
        var href = window.prompt(words.prompt || "Link", current ? current.getAttribute("href") : "https://");
        if (href === null) return;
        href = href.trim();
        if (!href || href === "https://") {
          document.execCommand("unlink");
        } else if (schemeOk(href, schemes)) {
          if (selection && selection.isCollapsed && !current) document.execCommand("insertText", false, href);
          if (current && selection && selection.isCollapsed) current.setAttribute("href", href);
          else document.execCommand("createLink", false, href);
        } else {
          window.alert((words.badLink || "").replace("%(schemes)s", schemes.join(", ")));
          return;
        }
      } else if (name === "break") {
        document.execCommand("insertLineBreak");
      } else if (spec && spec.command) {
        document.execCommand(spec.command);
      }
      sync();
      refresh();
    }

    editor.addEventListener("input", sync);
    editor.addEventListener("blur", sync);
    editor.addEventListener("keyup", refresh);
    editor.addEventListener("mouseup", refresh);
    editor.addEventListener("focus", refresh);
    document.addEventListener("selectionchange", function () {
      if (document.activeElement === editor) refresh();
    });
    editor.addEventListener("keydown", function (event) {
      if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
      var key = event.key.toLowerCase();
      var name = { b: "bold", i: "italic", k: "link" }[key];
      if (!name) return;
      event.preventDefault(); // the browser's own bold would write <b>, or nothing the zone allows
      if (controls[name]) act(name);
    });
    editor.addEventListener("paste", function (event) {
      // pasted text keeps its words, not its styles: the allowed tags only
      var data = event.clipboardData;
      if (!data) return;
      event.preventDefault();
      var html = data.getData("text/html");
      if (html) document.execCommand("insertHTML", false, clean(html, allowed, schemes));
      else document.execCommand("insertText", false, data.getData("text/plain"));
    });

    try {
      document.execCommand("defaultParagraphSeparator", false, "p");
    } catch (e) {
      /* older browsers: <div>, renamed to <p> by clean() */
    }
    wrapper.appendChild(toolbar);
    wrapper.appendChild(editor);
    textarea.parentNode.insertBefore(wrapper, textarea);
    textarea.hidden = true;
    textarea.setAttribute("aria-hidden", "true");
    textarea.tabIndex = -1;
  }

  function scan(root) {
    (root || document).querySelectorAll("textarea[data-richtext]").forEach(setUp);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { scan(); });
  else scan();
  document.addEventListener("htmx:afterSwap", function (event) { scan(event.target); });
})();
