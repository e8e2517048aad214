/* Smarter chatbot widget: a launcher button and a panel framing the chatbot's page.
 * Embed with <script src="https://<chatbot host>/widget.js" async></script>. */
(function () {
  "use strict";
  var options = {{ options|safe }};
  if (window.__smarterWidget && window.__smarterWidget[options.pageUrl]) return;
  window.__smarterWidget = window.__smarterWidget || {};
  window.__smarterWidget[options.pageUrl] = true;

  function style(node, rules) {
    Object.keys(rules).forEach(function (name) {
      node.style.setProperty(name, rules[name]);
    });
    return node;
  }

  function mount() {
    var host = document.createElement("div");
    host.setAttribute("data-smarter-widget", "");
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;

    var panel = style(document.createElement("div"), {
      position: "fixed", right: "20px", bottom: "92px", width: "380px", height: "600px",
      "max-width": "calc(100vw - 40px)", "max-height": "calc(100vh - 120px)", "border-radius": "18px",
      overflow: "hidden", "box-shadow": "0 24px 60px rgba(15, 23, 42, 0.25)", background: "#fff",
      display: "none", "z-index": "2147483000",
    });
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", options.appName);
    var frame = null;

    var button = style(document.createElement("button"), {
      position: "fixed", right: "20px", bottom: "20px", width: "60px", height: "60px", border: "0",
      "border-radius": "50%", background: "#4f46e5", color: "#fff", cursor: "pointer", padding: "0",
      "box-shadow": "0 10px 30px rgba(79, 70, 229, 0.45)", "z-index": "2147483000", overflow: "hidden",
      font: "600 22px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    });
    button.type = "button";
    button.setAttribute("aria-label", "Chat with " + (options.appAssistant || options.appName));
    button.setAttribute("aria-expanded", "false");
    button.title = options.appName;
    if (options.appLogoUrl) {
      var logo = style(document.createElement("img"), { width: "100%", height: "100%", "object-fit": "cover" });
      logo.src = options.appLogoUrl;
      logo.alt = "";
      button.appendChild(logo);
    } else {
      button.textContent = (options.appName || "?").charAt(0).toUpperCase();
    }

    button.addEventListener("click", function () {
      var open = panel.style.display === "none";
      if (open && !frame) {
        frame = style(document.createElement("iframe"), { width: "100%", height: "100%", border: "0" });
        frame.src = options.pageUrl;
        frame.title = options.appName;
        frame.setAttribute("allow", "clipboard-write");
        panel.appendChild(frame);
      }
      panel.style.display = open ? "block" : "none";
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });

    root.appendChild(panel);
    root.appendChild(button);
    document.body.appendChild(host);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
