// The upload page: drop files on the field, see what will be sent (a thumbnail, size and
// type of each file) and which files the server will refuse for their size or type, and
// open the DICOM window options only when a DICOM file is chosen. The server checks every
// file again, by its content: this only saves a wasted upload.
// Text goes through gettext/ngettext/interpolate, the functions Django's JavaScript
// catalogue defines; until the page loads one, the fallbacks below return the English.
(function () {
  "use strict";
  var gettext = window.gettext || function (text) { return text; };
  var ngettext = window.ngettext || function (one, many, n) { return n === 1 ? one : many; };
  var interpolate = window.interpolate || function (text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, name) { return String(values[name]); });
  };

  var zone = document.getElementById("drop-zone");
  if (!zone) { return; }
  var input = zone.querySelector("input[type=file]");
  var preview = document.getElementById("upload-preview");
  var list = document.getElementById("previews");
  var summary = document.getElementById("preview-summary");
  var dicom = document.getElementById("dicom-options");
  var maxBytes = parseInt(zone.getAttribute("data-max-bytes"), 10);
  var maxFiles = parseInt(zone.getAttribute("data-max-files"), 10);

  function megabytes(bytes) {
    if (bytes < 1024 * 1024) { return Math.max(1, Math.round(bytes / 1024)) + " KB"; }
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  // What the first bytes say the file is: the server decides by the same signatures.
  function kind(bytes) {
    if (bytes.length >= 3 && bytes[0] === 0xFF && bytes[1] === 0xD8 && bytes[2] === 0xFF) { return "JPEG"; }
    if (bytes.length >= 4 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4E && bytes[3] === 0x47) { return "PNG"; }
    if (bytes.length >= 132 && String.fromCharCode(bytes[128], bytes[129], bytes[130], bytes[131]) === "DICM") { return "DICOM"; }
    return null;
  }

  function head(file) {
    return file.slice(0, 132).arrayBuffer().then(function (buffer) { return new Uint8Array(buffer); });
  }

  function problem(file, type) {
    if (file.size > maxBytes) {
      return interpolate(gettext("Too large: %(size)s; the limit is %(limit)s."),
        { size: megabytes(file.size), limit: megabytes(maxBytes) }, true);
    }
    if (file.size === 0) { return gettext("The file is empty."); }
    if (!type) { return gettext("Not a JPEG, PNG or DICOM file."); }
    return "";
  }

  function thumbnail(file, type) {
    if (type === "JPEG" || type === "PNG") {
      var canvas = document.createElement("canvas");
      canvas.width = canvas.height = 128;
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", interpolate(gettext("Preview of %(name)s"), { name: file.name }, true));
      if (window.createImageBitmap && file.size <= maxBytes) {
        createImageBitmap(file).then(function (bitmap) {
          var scale = Math.max(128 / bitmap.width, 128 / bitmap.height);
          var width = bitmap.width * scale, height = bitmap.height * scale;
          canvas.getContext("2d").drawImage(bitmap, (128 - width) / 2, (128 - height) / 2, width, height);
        }).catch(function () { /* undecodable here: the server will say why */ });
      }
      return canvas;
    }
    var box = document.createElement("span");
    box.className = "preview-box";
    box.setAttribute("aria-hidden", "true");
    box.textContent = type || "?";
    return box;
  }

  function item(file, type, why) {
    var entry = document.createElement("li");
    entry.className = "preview" + (why ? " refused" : "");
    entry.appendChild(thumbnail(file, type));
    var name = document.createElement("p");
    name.className = "preview-name";
    name.textContent = file.name;
    entry.appendChild(name);
    var facts = document.createElement("p");
    facts.className = "muted";
    facts.textContent = (type || gettext("Unknown type")) + " · " + megabytes(file.size);
    entry.appendChild(facts);
    if (why) {
      var note = document.createElement("p");
      note.className = "preview-problem";
      note.textContent = interpolate(gettext("Will be refused: %(reason)s"), { reason: why }, true);
      entry.appendChild(note);
    }
    return entry;
  }

  function show() {
    var files = Array.prototype.slice.call(input.files || []);
    list.textContent = "";
    preview.hidden = files.length === 0;
    Promise.all(files.map(head)).then(function (heads) {
      var refused = 0, anyDicom = false;
      files.forEach(function (file, i) {
        var type = kind(heads[i]);
        var why = problem(file, type);
        if (why) { refused += 1; }
        if (type === "DICOM" || /\.dcm$/i.test(file.name)) { anyDicom = true; }
        list.appendChild(item(file, type, why));
      });
      var text = interpolate(ngettext("%(n)s file chosen.", "%(n)s files chosen.", files.length), { n: files.length }, true);
      if (refused) {
        text += " " + interpolate(ngettext("%(n)s will be refused (see below).", "%(n)s will be refused (see below).", refused), { n: refused }, true);
      }
      if (files.length > maxFiles) {
        text += " " + interpolate(gettext("At most %(max)s files per upload: choose fewer."), { max: maxFiles }, true);
      }
      summary.textContent = text;
      showDicom(anyDicom);
    });
  }

  function showDicom(anyDicom) {
    if (!dicom || dicom.hasAttribute("data-keep")) { return; }
    dicom.hidden = !anyDicom;
    dicom.open = anyDicom;
  }

  showDicom(false);
  input.addEventListener("change", show);
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    if (!event.dataTransfer || !event.dataTransfer.files.length) { return; }
    input.files = event.dataTransfer.files;
    show();
  });
  if (input.files && input.files.length) { show(); }
})();
