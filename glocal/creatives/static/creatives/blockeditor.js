// The block editor of email templates (HQ): a palette of blocks, a page of sections → columns → blocks,
// native HTML5 drag and drop to add and reorder, and on every block keyboard buttons (Move up, Move down,
// Duplicate, Remove, Save this block for reuse) and a small properties form, including whether the stores
// may edit it (a zone) and how. The document is JSON written into the form's textarea[data-blocks],
// which is what the form submits (without JavaScript it can be edited there); the server validates it
// and compiles it to MJML (glocal/creatives/blocks.py). The words come translated from the page
// (#block-config); no library, no CDN.
(function () {
  "use strict";

  var config, words, doc, textarea, canvas, status, form;
  var dragging = null; // {kind: "new"|"saved"|"move", type, block, path}
  var open = {}; // ids of the blocks whose properties are open
  var keyTyped = {}; // ids of the blocks whose zone key was typed (not derived from the label)
  var selected = null; // {s, c}: the column the Add buttons fill
  var counter = 0;

  function say(key, params) {
    var text = words[key] || key;
    Object.keys(params || {}).forEach(function (name) {
      text = text.replace("%(" + name + ")s", params[name]);
    });
    return text;
  }
  function announce(text) { if (status) status.textContent = text; }
  function newId() { counter += 1; return "b" + Date.now().toString(36) + counter; }
  function copy(value) { return JSON.parse(JSON.stringify(value)); }

  function fresh(type) {
    var block = { type: type, id: newId() };
    if (type === "section") return { type: "section", id: block.id, columns: [{ type: "column", id: newId(), blocks: [] }] };
    if (type === "text") block.html = "<p>" + words.newText + "</p>";
    if (type === "image") block.alt = "";
    if (type === "button") { block.label = words.newButton; block.href = "https://"; }
    if (type === "product") block.products = [{ name: "", price: "" }, { name: "", price: "" }];
    if (type === "store") { block.map_label = words.newMap; block.phone_label = words.newPhone; }
    if (type === "spacer") block.height = 20;
    if (type === "divider") block.thickness = 1;
    return block;
  }

  // Every block and section gets an id (the editor's handle; the server keeps it as it is).
  function identify(node) {
    if (!node.id) node.id = newId();
    (node.columns || []).forEach(function (column) {
      if (!column.id) column.id = newId();
      column.blocks.forEach(identify);
    });
    return node;
  }
  // A copy (duplicate, saved block inserted): new ids, zone keys derived afresh.
  function renew(node) {
    var made = copy(node);
    (function walk(item) {
      item.id = newId();
      if (item.zone) delete item.zone.key;
      (item.columns || []).forEach(function (column) { column.id = newId(); column.blocks.forEach(walk); });
    })(made);
    return made;
  }

  function sync() {
    textarea.value = JSON.stringify(doc);
    textarea.dispatchEvent(new Event("input", { bubbles: true })); // the live preview (htmx) follows
  }

  // -- zone keys ---------------------------------------------------------------------------------

  function slug(text, fallback) {
    var key = (text || "").normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 30).replace(/_+$/, "");
    if (!key || !/^[a-z]/.test(key)) key = (fallback + "_" + key).replace(/_+$/, "").slice(0, 30);
    return key;
  }
  function usedKeys(except) {
    var keys = {};
    doc.sections.forEach(function (section) {
      section.columns.forEach(function (column) {
        column.blocks.forEach(function (block) {
          if (block !== except && block.zone && block.zone.key) keys[block.zone.key] = true;
        });
      });
    });
    return keys;
  }
  function deriveKey(block) {
    var base = slug(block.zone.label, block.type), key = base, n = 2, used = usedKeys(block);
    while (used[key]) { key = base.slice(0, 27) + "_" + n; n += 1; }
    return key;
  }

  // -- places --------------------------------------------------------------------------------------

  function columnAt(s, c) { return doc.sections[s] && doc.sections[s].columns[c]; }
  function take(path) {
    if (path.b === undefined) return doc.sections.splice(path.s, 1)[0];
    return columnAt(path.s, path.c).blocks.splice(path.b, 1)[0];
  }
  function wrap(block) {
    var section = fresh("section");
    section.columns[0].blocks.push(block);
    return section;
  }
  function placeOnPage(item, index) {
    doc.sections.splice(index, 0, item.type === "section" ? item : wrap(item));
  }
  function placeInColumn(item, s, c, index) {
    if (item.type === "section") { placeOnPage(item, s + 1); return; }
    columnAt(s, c).blocks.splice(index, 0, item);
  }

  function addFromPalette(type, saved) {
    var item = saved ? renew(saved) : fresh(type);
    open[item.id] = true;
    if (item.type !== "section" && selected && columnAt(selected.s, selected.c)) {
      placeInColumn(item, selected.s, selected.c, columnAt(selected.s, selected.c).blocks.length);
    } else {
      placeOnPage(item, doc.sections.length);
    }
    changed(item.id, null);
    announce(say("added", { block: config.types[item.type] || item.type }));
  }

  function move(path, delta) {
    if (path.b === undefined) {
      var target = path.s + delta;
      if (target < 0 || target >= doc.sections.length) return false;
      doc.sections.splice(target, 0, doc.sections.splice(path.s, 1)[0]);
      return true;
    }
    var blocks = columnAt(path.s, path.c).blocks, to = path.b + delta;
    if (to >= 0 && to < blocks.length) {
      blocks.splice(to, 0, blocks.splice(path.b, 1)[0]);
      return true;
    }
    var next = doc.sections[path.s + delta]; // past the column's edge: into the next section
    if (!next) return false;
    var column = next.columns[Math.min(path.c, next.columns.length - 1)];
    var block = blocks.splice(path.b, 1)[0];
    if (delta < 0) column.blocks.push(block); else column.blocks.unshift(block);
    return true;
  }

  // -- rendering -----------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "className") node.className = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function controls(path, id, label) {
    var bar = el("div", { className: "be-controls", role: "group", "aria-label": label });
    [["moveUp", "up"], ["moveDown", "down"], ["duplicate", "duplicate"], ["remove", "remove"], ["saveBlock", "save"]]
      .forEach(function (pair) {
        var button = el("button", {
          type: "button", className: "secondary be-" + pair[1], "data-action": pair[1], "data-id": id,
          "aria-label": words[pair[0]] + " — " + label, text: words[pair[0]],
        });
        button.dataset.path = JSON.stringify(path);
        bar.appendChild(button);
      });
    return bar;
  }

  function summary(block) {
    if (block.type === "text") return (block.html || "").replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 60);
    if (block.type === "button") return block.label || "";
    if (block.type === "image") return block.alt || "";
    if (block.type === "product") return (block.products || []).map(function (p) { return p.name; }).join(" · ");
    return "";
  }

  function render(focus) {
    canvas.innerHTML = "";
    if (!doc.sections.length) canvas.appendChild(el("p", { className: "be-empty muted", text: words.emptyPage }));
    doc.sections.forEach(function (section, s) { canvas.appendChild(renderSection(section, s)); });
    canvas.appendChild(renderFooter());
    canvas.dispatchEvent(new CustomEvent("htmx:afterSwap", { bubbles: true })); // richtext.js sets up
    if (focus) {
      var target = canvas.querySelector(focus);
      if (target) target.focus();
    }
  }

  function renderSection(section, s) {
    var title = say("section", { n: s + 1 });
    var node = el("div", { className: "be-section", "data-id": section.id, "data-testid": "section" });
    node.dataset.path = JSON.stringify({ s: s });
    node.appendChild(el("div", { className: "be-head" }, [
      el("strong", { className: "be-drag", draggable: "true", text: "⠿ " + title }), controls({ s: s }, section.id, title),
    ]));
    node.appendChild(properties(section, title));
    var columns = el("div", { className: "be-columns" });
    section.columns.forEach(function (column, c) {
      var name = say("column", { n: c + 1 });
      var box = el("div", {
        className: "be-column", tabindex: "-1", role: "group", "aria-label": title + ", " + name,
        "data-s": String(s), "data-c": String(c), "data-testid": "column",
      });
      if (selected && selected.s === s && selected.c === c) box.classList.add("selected");
      column.blocks.forEach(function (block, b) { box.appendChild(renderBlock(block, s, c, b)); });
      if (!column.blocks.length) box.appendChild(el("p", { className: "be-hint muted", text: words.dropHere }));
      columns.appendChild(box);
    });
    node.appendChild(columns);
    return node;
  }

  function renderBlock(block, s, c, b) {
    var label = (config.types[block.type] || block.type);
    var node = el("div", {
      className: "be-block" + (block.zone ? " editable" : ""), tabindex: "-1",
      "data-id": block.id, "data-testid": "block-" + block.type, "aria-label": label,
    });
    node.dataset.path = JSON.stringify({ s: s, c: c, b: b });
    var text = summary(block);
    node.appendChild(el("div", { className: "be-head" }, [
      el("strong", { className: "be-drag", draggable: "true", text: "⠿ " + label }),
      el("span", { className: "be-summary muted", text: text }),
      block.zone ? el("span", { className: "tag", text: words.editable }) : null,
      controls({ s: s, c: c, b: b }, block.id, label + (text ? " « " + text.slice(0, 30) + " »" : "")),
    ]));
    node.appendChild(properties(block, label));
    return node;
  }

  function renderFooter() {
    var id = "be-unsubscribe";
    var input = el("input", { id: id, type: "text", maxlength: "100", placeholder: words.newUnsubscribe });
    input.value = doc.unsubscribe_label || "";
    input.addEventListener("input", function () {
      if (input.value) doc.unsubscribe_label = input.value; else delete doc.unsubscribe_label;
      sync();
    });
    return el("div", { className: "be-footer" }, [
      el("p", { className: "muted", text: words.footer }),
      el("div", { className: "field" }, [el("label", { for: id, text: words.unsubscribe }), input]),
    ]);
  }

  // -- properties ----------------------------------------------------------------------------------

  function fieldId(block, name) { return "be-" + block.id + "-" + name; }

  function input(block, target, name, label, kind, options) {
    var id = fieldId(block, (options && options.prefix || "") + name);
    var control;
    if (kind === "select") {
      control = el("select", { id: id });
      options.choices.forEach(function (choice) {
        var option = el("option", { value: choice.value, text: choice.label });
        if (String(target[name] === undefined ? "" : target[name]) === String(choice.value)) option.selected = true;
        control.appendChild(option);
      });
    } else if (kind === "richtext") {
      control = el("textarea", {
        id: id, rows: "5", "data-richtext": config.rich.buttons, "data-richtext-tags": config.rich.tags,
        "data-richtext-schemes": config.rich.schemes, "data-richtext-labels": JSON.stringify(config.rich.labels),
      });
      control.value = target[name] || "";
    } else {
      control = el("input", { id: id, type: kind === "number" ? "number" : "text" });
      if (kind === "colour") control.setAttribute("list", "be-colours");
      if (options && options.min !== undefined) { control.min = options.min; control.max = options.max; }
      control.value = target[name] === undefined ? "" : target[name];
    }
    var help = options && options.help ? el("small", { className: "help", id: id + "_help", text: options.help }) : null;
    if (help) control.setAttribute("aria-describedby", help.id);
    control.addEventListener("input", function () {
      var value = control.value;
      if (kind === "number") value = value === "" ? "" : parseInt(value, 10);
      if (value === "" || (kind === "number" && isNaN(value))) delete target[name];
      else target[name] = value;
      if (options && options.after) options.after();
      refreshSummary(block);
      sync();
    });
    return el("div", { className: "field" }, [el("label", { for: id, text: label }), control, help]);
  }

  function checkbox(block, id, label, checked, onChange) {
    var box = el("input", { id: fieldId(block, id), type: "checkbox" });
    box.checked = !!checked;
    box.addEventListener("change", function () { onChange(box.checked); });
    return el("div", { className: "field check" }, [box, el("label", { for: box.id, text: label })]);
  }

  function aligns() {
    return { choices: [{ value: "", label: "—" }, { value: "left", label: words.left },
      { value: "center", label: words.center }, { value: "right", label: words.right }] };
  }
  function colour(block, name, label) { return input(block, block, name, label, "colour", { help: words.colourHelp }); }
  function images(block, target, prefix) {
    var choices = [{ value: "", label: words.none }].concat(config.images);
    return [
      config.images.length ? input(block, target, "asset", words.asset, "select", { choices: choices, prefix: prefix }) : null,
      input(block, target, "src", words.src, "url", { prefix: prefix }),
    ];
  }

  var FIELDS = {
    section: function (b) {
      return [colour(b, "background", words.background), input(b, b, "padding", words.padding, "number", { min: 0, max: 80 }),
        columnCount(b)];
    },
    text: function (b) {
      return [input(b, b, "html", words.html, "richtext"), input(b, b, "align", words.align, "select", aligns()),
        colour(b, "color", words.color), input(b, b, "size", words.size, "number", { min: 8, max: 60 })];
    },
    image: function (b) {
      return images(b, b, "").concat([input(b, b, "alt", words.alt, "text"), input(b, b, "href", words.href, "url"),
        input(b, b, "width", words.width, "number", { min: 20, max: 600 }), input(b, b, "align", words.align, "select", aligns())]);
    },
    button: function (b) {
      return [input(b, b, "label", words.label, "text"), input(b, b, "href", words.href, "url"),
        colour(b, "background", words.buttonColour), colour(b, "color", words.color), input(b, b, "align", words.align, "select", aligns())];
    },
    product: function (b) {
      var parts = [];
      b.products.forEach(function (item, n) {
        var prefix = "p" + n + "-";
        var set = el("fieldset", { className: "be-product" }, [el("legend", { text: say("product", { n: n + 1 }) })]
          .concat(images(b, item, prefix))
          .concat([input(b, item, "name", words.name, "text", { prefix: prefix }), input(b, item, "price", words.price, "text", { prefix: prefix }),
            input(b, item, "href", words.href, "url", { prefix: prefix })]));
        parts.push(set);
      });
      var more = el("button", { type: "button", className: "secondary", text: words.addProduct, id: fieldId(b, "more") });
      more.disabled = b.products.length >= 3;
      more.addEventListener("click", function () { b.products.push({ name: "", price: "" }); changed(b.id, "#" + more.id); });
      var fewer = el("button", { type: "button", className: "secondary", text: words.removeProduct, id: fieldId(b, "fewer") });
      fewer.disabled = b.products.length <= 2;
      fewer.addEventListener("click", function () { b.products.pop(); changed(b.id, "#" + fewer.id); });
      parts.push(el("div", { className: "actions" }, [more, fewer]));
      return parts;
    },
    store: function (b) {
      return [el("p", { className: "help", text: words.storeCard }), input(b, b, "title", words.title, "text"),
        input(b, b, "phone_label", words.phoneLabel, "text"), input(b, b, "map_label", words.mapLabel, "text"),
        input(b, b, "align", words.align, "select", aligns())];
    },
    social: function (b) { return [el("p", { className: "help", text: words.social }), input(b, b, "align", words.align, "select", aligns())]; },
    spacer: function (b) { return [input(b, b, "height", words.height, "number", { min: 4, max: 200 })]; },
    divider: function (b) { return [colour(b, "color", words.color), input(b, b, "thickness", words.thickness, "number", { min: 1, max: 10 })]; },
  };

  function columnCount(section) {
    var choices = [1, 2, 3].map(function (n) { return { value: n, label: String(n) }; });
    var holder = { count: section.columns.length };
    return input(section, holder, "count", words.columns, "select", {
      choices: choices,
      after: function () {
        var n = parseInt(holder.count, 10) || 1;
        while (section.columns.length < n) section.columns.push({ type: "column", id: newId(), blocks: [] });
        while (section.columns.length > n) { // the blocks of a removed column move to the last one kept
          var gone = section.columns.pop();
          section.columns[section.columns.length - 1].blocks = section.columns[section.columns.length - 1].blocks.concat(gone.blocks);
        }
        selected = null;
        changed(section.id, "#" + fieldId(section, "count"));
      },
    });
  }

  function zoneFields(block) {
    var parts = [checkbox(block, "editable", words.editable, !!block.zone, function (on) {
      if (on) {
        block.zone = { label: config.types[block.type] };
        block.zone.key = deriveKey(block);
      } else {
        delete block.zone;
      }
      changed(block.id, "#" + fieldId(block, "editable"));
    })];
    if (!block.zone) {
      parts.push(el("p", { className: "help", text: words.lockedNote }));
      return parts;
    }
    var zone = block.zone;
    parts.push(input(block, zone, "label", words.zoneLabel, "text", {
      prefix: "zone-",
      after: function () {
        if (keyTyped[block.id]) return;
        zone.key = deriveKey(block);
        var keyInput = document.getElementById(fieldId(block, "zone-key"));
        if (keyInput) keyInput.value = zone.key;
      },
    }));
    parts.push(input(block, zone, "key", words.zoneKey, "text", {
      prefix: "zone-", help: words.zoneKeyHelp, after: function () { keyTyped[block.id] = true; },
    }));
    var roles = el("fieldset", { className: "be-roles" }, [el("legend", { text: words.roles })]);
    config.roles.forEach(function (role) {
      roles.appendChild(checkbox(block, "role-" + role.value, role.label, (zone.roles || []).indexOf(role.value) !== -1, function (on) {
        var list = (zone.roles || []).filter(function (r) { return r !== role.value; });
        if (on) list.push(role.value);
        if (list.length) zone.roles = list; else delete zone.roles;
        sync();
      }));
    });
    parts.push(roles);
    parts.push(checkbox(block, "required", words.required, zone.required, function (on) {
      if (on) zone.required = true; else delete zone.required;
      sync();
    }));
    if (block.type === "text" || block.type === "button") {
      parts.push(input(block, zone, "max_length", words.maxLength, "number", { prefix: "zone-", min: 1, max: 10000 }));
    }
    if (block.type === "image" || block.type === "product") {
      var formats = el("fieldset", { className: "be-formats" }, [el("legend", { text: words.formats })]);
      config.formats.forEach(function (format) {
        formats.appendChild(checkbox(block, "format-" + format, format.toUpperCase(), (zone.formats || []).indexOf(format) !== -1, function (on) {
          var list = (zone.formats || []).filter(function (f) { return f !== format; });
          if (on) list.push(format);
          if (list.length) zone.formats = list; else delete zone.formats;
          sync();
        }));
      });
      parts.push(formats);
      parts.push(input(block, zone, "min_width", words.minWidth, "number", { prefix: "zone-", min: 1, max: 5000 }));
      parts.push(input(block, zone, "max_kb", words.maxKb, "number", { prefix: "zone-", min: 1, max: 20000 }));
    }
    return parts;
  }

  function properties(block, label) {
    var details = el("details", { className: "be-props", "data-id": block.id });
    if (open[block.id]) details.open = true;
    details.addEventListener("toggle", function () { open[block.id] = details.open; });
    details.appendChild(el("summary", { text: words.properties + " — " + label }));
    var fields = (FIELDS[block.type] || function () { return []; })(block);
    if (["text", "image", "button", "product"].indexOf(block.type) !== -1) {
      fields = fields.concat([el("div", { className: "be-zone" }, zoneFields(block))]);
    }
    fields.forEach(function (node) { if (node) details.appendChild(node); });
    return details;
  }

  function refreshSummary(block) {
    var node = canvas.querySelector('.be-block[data-id="' + block.id + '"] .be-summary');
    if (node) node.textContent = summary(block);
  }

  function changed(id, focus) {
    if (id) open[id] = true;
    render(focus);
    sync();
  }

  // -- actions (keyboard and pointer) --------------------------------------------------------------

  function saveForReuse(item) {
    var name = window.prompt(words.saveName, config.types[item.type] || "");
    if (!name) return;
    var holder = document.getElementById("be-saved");
    var body = new FormData();
    body.append("name", name);
    body.append("block", JSON.stringify(item));
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    fetch(holder.getAttribute("data-save-url"), {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "", "HX-Request": "true" },
    }).then(function (response) { return response.text(); }).then(function (html) {
      var box = document.createElement("div");
      box.innerHTML = html;
      var next = box.querySelector("#be-saved");
      if (next) holder.replaceWith(next);
      var message = document.querySelector("#be-saved [role=status], #be-saved [role=alert]");
      if (message) announce(message.textContent);
    });
  }

  function act(button) {
    var path = JSON.parse(button.dataset.path);
    var action = button.getAttribute("data-action");
    var id = button.getAttribute("data-id");
    var item = path.b === undefined ? doc.sections[path.s] : columnAt(path.s, path.c).blocks[path.b];
    if (action === "save") { saveForReuse(item); return; }
    if (action === "remove") {
      take(path);
      selected = null;
      changed(null, ".be-canvas");
      canvas.setAttribute("tabindex", "-1");
      canvas.focus();
      announce(words.removed);
      return;
    }
    if (action === "duplicate") {
      var twin = renew(item);
      if (path.b === undefined) doc.sections.splice(path.s + 1, 0, twin);
      else columnAt(path.s, path.c).blocks.splice(path.b + 1, 0, twin);
      changed(twin.id, '[data-id="' + twin.id + '"] .be-duplicate');
      return;
    }
    if (move(path, action === "up" ? -1 : 1)) {
      changed(null, '[data-action="' + action + '"][data-id="' + id + '"]');
      announce(words.moved);
    }
  }

  // -- drag and drop -------------------------------------------------------------------------------

  function payloadOf(node) {
    if (node.hasAttribute("data-saved")) return { kind: "saved", block: JSON.parse(node.getAttribute("data-saved")) };
    if (node.hasAttribute("data-type")) return { kind: "new", type: node.getAttribute("data-type") };
    return { kind: "move", path: JSON.parse(node.dataset.path) };
  }

  function indexAmong(nodes, y) {
    for (var i = 0; i < nodes.length; i += 1) {
      var box = nodes[i].getBoundingClientRect();
      if (y < box.top + box.height / 2) return i;
    }
    return nodes.length;
  }

  function drop(event) {
    if (!dragging) return;
    event.preventDefault();
    event.stopPropagation();
    var payload = dragging;
    dragging = null;
    var column = event.target.closest(".be-column");
    var item;
    if (payload.kind === "move") {
      item = payload.path.b === undefined ? doc.sections[payload.path.s] : columnAt(payload.path.s, payload.path.c).blocks[payload.path.b];
    } else {
      item = payload.kind === "saved" ? renew(payload.block) : fresh(payload.type);
      open[item.id] = true;
    }
    var marker = { marker: true };
    // A marker keeps the target place while the moved item leaves its old one.
    if (column && item.type !== "section") {
      var s = parseInt(column.dataset.s, 10), c = parseInt(column.dataset.c, 10);
      var index = indexAmong(column.querySelectorAll(":scope > .be-block"), event.clientY);
      columnAt(s, c).blocks.splice(index, 0, marker);
    } else {
      var at = indexAmong(canvas.querySelectorAll(":scope > .be-section"), event.clientY);
      doc.sections.splice(at, 0, marker);
    }
    if (payload.kind === "move") removeItem(item);
    replaceMarker(item);
    changed(item.id, '[data-id="' + item.id + '"]');
    announce(payload.kind === "move" ? words.moved : say("added", { block: config.types[item.type] || item.type }));
  }

  function removeItem(item) {
    var i = doc.sections.indexOf(item);
    if (i !== -1) { doc.sections.splice(i, 1); return; }
    doc.sections.forEach(function (section) {
      section.columns.forEach(function (column) {
        var j = column.blocks.indexOf(item);
        if (j !== -1) column.blocks.splice(j, 1);
      });
    });
  }

  function replaceMarker(item) {
    var i = doc.sections.findIndex(function (x) { return x.marker; });
    if (i !== -1) { doc.sections.splice(i, 1, item.type === "section" ? item : wrap(item)); return; }
    doc.sections.forEach(function (section) {
      section.columns.forEach(function (column) {
        var j = column.blocks.findIndex(function (x) { return x.marker; });
        if (j !== -1) column.blocks.splice(j, 1, item);
      });
    });
  }

  function setUp() {
    var source = document.getElementById("block-config");
    textarea = document.querySelector("textarea[data-blocks]");
    canvas = document.querySelector(".be-canvas");
    if (!source || !textarea || !canvas) return;
    config = JSON.parse(source.textContent);
    words = config.words;
    status = document.getElementById("be-status");
    form = textarea.form;
    try { doc = JSON.parse(textarea.value || "null"); } catch (e) { doc = null; }
    if (!doc || !Array.isArray(doc.sections)) return; // the JSON stays editable as it is; the server says what is wrong
    doc.sections.forEach(identify);
    var holder = textarea.closest(".field");
    (holder || textarea).hidden = true;
    (holder || textarea).style.display = "none"; // a .field's display would show it
    var list = el("datalist", { id: "be-colours" });
    config.brand.forEach(function (name) { list.appendChild(el("option", { value: name })); });
    canvas.parentNode.appendChild(list);

    var editor = canvas.closest(".block-editor");
    editor.addEventListener("click", function (event) {
      var add = event.target.closest(".be-add");
      if (add) {
        if (add.hasAttribute("data-saved")) addFromPalette(null, JSON.parse(add.getAttribute("data-saved")));
        else addFromPalette(add.getAttribute("data-type"));
        return;
      }
      var button = event.target.closest(".be-controls button");
      if (button) act(button);
    });
    canvas.addEventListener("focusin", function (event) {
      var column = event.target.closest(".be-column");
      if (!column) return;
      var next = { s: parseInt(column.dataset.s, 10), c: parseInt(column.dataset.c, 10) };
      if (selected && selected.s === next.s && selected.c === next.c) return;
      selected = next;
      canvas.querySelectorAll(".be-column.selected").forEach(function (n) { n.classList.remove("selected"); });
      column.classList.add("selected");
    });
    editor.addEventListener("dragstart", function (event) {
      var node = event.target.closest(".be-palette-item, .be-block, .be-section");
      if (!node || event.target.closest("input, textarea, select, [contenteditable]")) return;
      dragging = payloadOf(node);
      event.dataTransfer.effectAllowed = dragging.kind === "move" ? "move" : "copy";
      event.dataTransfer.setData("text/plain", node.getAttribute("data-type") || "block");
      event.stopPropagation();
    });
    editor.addEventListener("dragend", function () { dragging = null; canvas.classList.remove("dragging"); });
    canvas.addEventListener("dragover", function (event) {
      if (!dragging) return;
      event.preventDefault();
      canvas.classList.add("dragging");
    });
    canvas.addEventListener("dragleave", function (event) {
      if (event.target === canvas) canvas.classList.remove("dragging");
    });
    canvas.addEventListener("drop", function (event) { canvas.classList.remove("dragging"); drop(event); });
    render(null);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
