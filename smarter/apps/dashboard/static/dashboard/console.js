// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
  });
  document.addEventListener("click", function (event) {
    const toggle = event.target.closest("[data-toggle]");
    if (toggle) document.getElementById(toggle.dataset.toggle).classList.toggle("open");
    const copy = event.target.closest("[data-copy]");
    if (copy) {
      const source = document.getElementById(copy.dataset.copy);
      navigator.clipboard.writeText(source.value || source.textContent).then(function () {
        copy.textContent = "Copied";
        setTimeout(function () { copy.textContent = "Copy"; }, 1500);
      });
    }
    const jump = event.target.closest("[data-line]");
    if (jump) {
      const area = document.getElementById(jump.dataset.target);
      const lines = area.value.split("\n");
      const line = Number(jump.dataset.line) - 1;
      const start = lines.slice(0, line).join("\n").length + (line ? 1 : 0);
      area.focus();
      area.setSelectionRange(start, start + (lines[line] || "").length);
    }
    // A link that opens a dialog when script runs (without it, the link's page has the same content).
    const opener = event.target.closest("[data-dialog]");
    if (opener) {
      const dialog = document.getElementById(opener.dataset.dialog);
      if (dialog && dialog.showModal) {
        event.preventDefault();
        dialog.opener = opener;
        dialog.showModal();  // modal: the page behind is inert, Tab stays inside, Escape closes
      }
    }
    const closer = event.target.closest("[data-close-dialog]");
    if (closer) closer.closest("dialog").close();
    const confirmButton = event.target.closest("[data-confirm]");
    if (confirmButton && !window.confirm(confirmButton.dataset.confirm)) event.preventDefault();
  });
  document.querySelectorAll("dialog").forEach(function (dialog) {
    dialog.addEventListener("close", function () { if (dialog.opener) dialog.opener.focus(); });
    // Tab from the last control goes round to the first (and Shift+Tab back), never out of the dialog.
    dialog.addEventListener("keydown", function (event) {
      if (event.key !== "Tab") return;
      const stops = Array.from(dialog.querySelectorAll("a[href], button, input, textarea, select, [tabindex]"))
        .filter(function (element) { return !element.disabled && element.tabIndex >= 0 && element.offsetParent !== null; });
      if (!stops.length) return;
      const first = stops[0], last = stops[stops.length - 1];
      if (event.shiftKey && document.activeElement === first) { event.preventDefault(); last.focus(); }
      else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
    });
  });
  // The chatbot form's preview follows the branding fields as they are typed.
  const form = document.getElementById("chatbot-form");
  if (form) {
    const bind = function (field, apply) {
      const input = form.querySelector('[name="' + field + '"]');
      if (input) input.addEventListener("input", function () { apply(input.value); });
    };
    const text = function (id, fallback) { return function (value) { document.getElementById(id).textContent = value || fallback; }; };
    bind("appName", text("preview-name", "Chatbot"));
    bind("appAssistant", text("preview-assistant", "Assistant"));
    bind("appWelcomeMessage", text("preview-welcome", "Hello! How can I help?"));
    bind("appPlaceholder", text("preview-placeholder", "Type a message…"));
    bind("appExamplePrompts", function (value) {
      const box = document.getElementById("preview-examples");
      box.textContent = "";
      value.split("\n").map((line) => line.trim()).filter(Boolean).forEach(function (line) {
        const chip = document.createElement("span");
        chip.className = "chip";
        chip.textContent = line;
        box.appendChild(chip);
      });
    });
    bind("appLogoUrl", function (value) {
      const logo = document.getElementById("preview-logo");
      logo.hidden = !/^https?:\/\//.test(value);
      if (!logo.hidden) logo.src = value;
    });
    bind("appInfoUrl", function (value) { document.getElementById("preview-info").hidden = !value; });
    // The background is set here, never in a style attribute: the page's policy ignores those,
    // and a tenant's URL must not become CSS text. It starts as the saved value.
    const background = function (value) {
      document.getElementById("preview").style.backgroundImage = /^https?:\/\//.test(value) ? "url(" + JSON.stringify(value) + ")" : "";
    };
    background(document.getElementById("preview").dataset.background || "");
    bind("appBackgroundImageUrl", background);
  }
  // The apply page's drop zone: files dropped on it become the form's files.
  const zone = document.getElementById("dropzone");
  const files = document.getElementById("files");
  if (zone && files) {
    const show = function () {
      document.getElementById("file-names").textContent = Array.from(files.files).map(function (f) { return f.name; }).join(", ");
    };
    files.addEventListener("change", show);
    ["dragenter", "dragover"].forEach(function (name) { zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); }); });
    ["dragleave", "drop"].forEach(function (name) { zone.addEventListener(name, function () { zone.classList.remove("over"); }); });
    zone.addEventListener("drop", function (e) { e.preventDefault(); files.files = e.dataTransfer.files; show(); });
  }
})();
