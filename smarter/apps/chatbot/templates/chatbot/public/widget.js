/* Smarter chatbot widget: a launcher button and a panel framing the chatbot's page.
 * Embed with <script src="https://<chatbot host>/widget.js" async></script>.
 * Options, as attributes of that tag: data-color="#0f766e" (the launcher's colour, #rgb or
 * #rrggbb) and data-position="left|right" (the corner; right by default). */
(function () {
  "use strict";
  var options = {{ options|safe }};
  var script = document.currentScript;
  if (window.__smarterWidget && window.__smarterWidget[options.pageUrl]) return;
  window.__smarterWidget = window.__smarterWidget || {};
  window.__smarterWidget[options.pageUrl] = true;

  var PREFIX = "Smarter widget: ";
  var COLOR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
  var chatbotOrigin = new URL(options.pageUrl).origin;

  function warn(text) {
    if (window.console && console.warn) console.warn(PREFIX + text);
  }

  function attribute(name) {
    return script && script.getAttribute(name) !== null ? script.getAttribute(name).trim() : null;
  }

  function chosenColor() {
    var value = attribute("data-color");
    if (value === null || value === "") return options.color;
    if (COLOR.test(value)) return value;
    warn('data-color="' + value + '" is not a colour such as #0f766e; using ' + options.color + ".");
    return options.color;
  }

  function chosenSide() {
    var value = attribute("data-position");
    if (value === null || value === "") return "right";
    if (value === "left" || value === "right") return value;
    warn('data-position="' + value + '" must be left or right; using right.');
    return "right";
  }

  // Text on the launcher: white or near-black, whichever reads better on its colour.
  function textOn(color) {
    var hex = color.slice(1);
    if (hex.length === 3) hex = hex.replace(/./g, "$&$&");
    var channels = [0, 2, 4].map(function (at) {
      var value = parseInt(hex.slice(at, at + 2), 16) / 255;
      return value <= 0.03928 ? value / 12.92 : Math.pow((value + 0.055) / 1.055, 2.4);
    });
    var luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
    return (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) ? "#0f172a" : "#ffffff";
  }

  function style(node, rules) {
    Object.keys(rules).forEach(function (name) {
      node.style.setProperty(name, rules[name]);
    });
    return node;
  }

  // Whether the chatbot lets this site frame it: its /config/ answers a CORS request only for
  // the origins it allows (the same list as its page's frame-ancestors).
  function checkOrigin(done) {
    if (location.origin === chatbotOrigin) return done("allowed");
    fetch(options.configUrl, { credentials: "omit", cache: "no-store" }).then(
      function () {
        done("allowed");
      },
      function () {
        // Refused by CORS, or unreachable: a request that needs no permission tells them apart.
        fetch(options.configUrl, { mode: "no-cors", credentials: "omit", cache: "no-store" }).then(
          function () {
            done("refused");
          },
          function () {
            done("unreachable");
          }
        );
      }
    );
  }

  function mount() {
    var color = chosenColor();
    var side = chosenSide();
    var host = document.createElement("div");
    host.setAttribute("data-smarter-widget", "");
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var font = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

    var panel = style(document.createElement("div"), {
      position: "fixed", bottom: "92px", width: "380px", height: "600px",
      "max-width": "calc(100vw - 40px)", "max-height": "calc(100vh - 120px)", "border-radius": "18px",
      overflow: "hidden", "box-shadow": "0 24px 60px rgba(15, 23, 42, 0.25)", background: "#fff",
      display: "none", "flex-direction": "column", "z-index": "2147483000", font: "15px/1.5 " + font,
      color: "#0f172a",
    });
    panel.style.setProperty(side, "20px");
    panel.id = "smarter-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", options.appName);

    var bar = style(document.createElement("div"), {
      display: "flex", "justify-content": "flex-end", padding: "4px", background: "#f1f5f9",
      "border-bottom": "1px solid #e2e8f0",
    });
    var close = style(document.createElement("button"), {
      border: "0", background: "transparent", color: "#0f172a", cursor: "pointer", padding: "6px 10px",
      "border-radius": "8px", font: "600 14px " + font,
    });
    close.type = "button";
    close.textContent = "Close";
    close.setAttribute("aria-label", "Close the chat");
    bar.appendChild(close);
    panel.appendChild(bar);

    var body = style(document.createElement("div"), { flex: "1", "min-height": "0", position: "relative" });
    panel.appendChild(body);
    var frame = null;
    var state = "unchecked"; // unchecked | checking | allowed | refused | unreachable

    var launcher = style(document.createElement("button"), {
      position: "fixed", bottom: "20px", width: "60px", height: "60px", border: "0",
      "border-radius": "50%", background: color, color: textOn(color), cursor: "pointer", padding: "0",
      "box-shadow": "0 10px 30px rgba(15, 23, 42, 0.3)", "z-index": "2147483000", overflow: "hidden",
      font: "600 22px " + font,
    });
    launcher.style.setProperty(side, "20px");
    launcher.type = "button";
    launcher.setAttribute("aria-label", "Chat with " + (options.appAssistant || options.appName));
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", panel.id);
    launcher.title = options.appName;
    if (options.appLogoUrl) {
      var logo = style(document.createElement("img"), { width: "100%", height: "100%", "object-fit": "cover" });
      logo.src = options.appLogoUrl;
      logo.alt = "";
      launcher.appendChild(logo);
    } else {
      launcher.textContent = (options.appName || "?").charAt(0).toUpperCase();
    }

    var focusRule = document.createElement("style");
    focusRule.textContent = "button:focus-visible{outline:3px solid #2563eb;outline-offset:2px}";
    root.appendChild(focusRule);

    function isOpen() {
      return panel.style.display !== "none";
    }

    function showFrame() {
      frame = style(document.createElement("iframe"), { width: "100%", height: "100%", border: "0", display: "block" });
      frame.src = options.pageUrl;
      frame.title = options.appName;
      frame.setAttribute("allow", "clipboard-write");
      frame.addEventListener("load", function () {
        if (isOpen()) frame.contentWindow.postMessage({ smarterWidget: "focus" }, chatbotOrigin);
      });
      body.appendChild(frame);
      frame.focus();
    }

    function showMessage(text) {
      var message = style(document.createElement("div"), { padding: "24px", color: "#0f172a" });
      message.setAttribute("role", "alert");
      message.setAttribute("data-smarter-notice", state);
      message.textContent = text;
      body.appendChild(message);
      close.focus();
    }

    function settle(result) {
      state = result;
      if (result === "allowed") {
        showFrame();
      } else if (result === "refused") {
        warn(
          location.origin + " may not embed the chatbot " + options.name + ". Add it to the chatbot's " +
            "allowed origins: in the console, Publish / Embed on the chatbot's page, or " +
            "spec.config.allowedOrigins in its manifest."
        );
        showMessage(
          "This chat is not available on this site yet: the site's address (" + location.origin +
            ") is not among the chatbot's allowed origins. The site's owner can add it in the console."
        );
      } else {
        warn(chatbotOrigin + " could not be reached.");
        showMessage("The chat could not be reached. Check your connection and try again later.");
      }
    }

    function open() {
      panel.style.display = "flex";
      launcher.setAttribute("aria-expanded", "true");
      if (state === "unchecked") {
        state = "checking";
        checkOrigin(settle);
      } else if (frame) {
        frame.focus();
        frame.contentWindow.postMessage({ smarterWidget: "focus" }, chatbotOrigin);
      } else {
        close.focus();
      }
    }

    function hide() {
      panel.style.display = "none";
      launcher.setAttribute("aria-expanded", "false");
      launcher.focus();
    }

    launcher.addEventListener("click", function () {
      if (isOpen()) hide();
      else open();
    });
    close.addEventListener("click", hide);
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && isOpen()) hide();
    });
    // The framed page reports Escape pressed inside it (keys there never reach this page).
    window.addEventListener("message", function (event) {
      if (!frame || event.source !== frame.contentWindow || event.origin !== chatbotOrigin) return;
      if (event.data && event.data.smarterWidget === "close" && isOpen()) hide();
    });

    root.appendChild(panel);
    root.appendChild(launcher);
    document.body.appendChild(host);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
