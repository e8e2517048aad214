/* The chatbot's page inside the widget's frame: Escape pressed here closes the widget (keys in a
 * frame never reach the embedding page), and the widget's "focus" puts the cursor in the message box. */
(function () {
  "use strict";
  if (window.parent === window) return;
  document.addEventListener("keydown", function (event) {
    // The message names nothing private: any embedding page may hear it.
    if (event.key === "Escape") window.parent.postMessage({ smarterWidget: "close" }, "*");
  });
  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || !event.data || event.data.smarterWidget !== "focus") return;
    var prompt = document.getElementById("prompt");
    if (prompt) prompt.focus();
  });
})();
