/* The chat page of a deployed chatbot (and of its widget, which frames it): branding, history,
 * example prompts and a new conversation around the shared renderer (chatbot/chat-ui.js). */
(function () {
  "use strict";

  var boot = document.getElementById("smarter-chatbot");
  if (!boot || !window.SmarterChat) return;
  var branding = JSON.parse(boot.textContent);
  var messages = document.getElementById("messages");
  var intro = document.getElementById("intro");
  var notice = document.getElementById("notice");
  var examples = document.getElementById("examples");

  function safeLink(url) {
    try {
      var parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (error) {
      return null;
    }
  }

  if (branding.appBackgroundImageUrl && safeLink(branding.appBackgroundImageUrl)) {
    document.getElementById("backdrop").style.backgroundImage = "url(" + JSON.stringify(safeLink(branding.appBackgroundImageUrl)) + ")";
  }

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  function post(path, body, signal) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      credentials: "same-origin",
      body: JSON.stringify(body),
      signal: signal,
    });
  }

  async function errorText(response) {
    try {
      var body = await response.json();
      return body.description || "The chatbot could not answer (" + response.status + ").";
    } catch (error) {
      return "The chatbot could not answer (" + response.status + ").";
    }
  }

  async function loadConfig(body) {
    var response = await post("config/", body);
    if (!response.ok) {
      showNotice(response.status === 401 ? "This chatbot needs an API key." : await errorText(response));
      return null;
    }
    return response.json();
  }

  var newSession = true;
  var forgetting = Promise.resolve(null);
  var chat = window.SmarterChat.create({
    list: messages,
    form: document.getElementById("composer"),
    input: document.getElementById("prompt"),
    sendButton: document.getElementById("send"),
    newButton: document.getElementById("new-conversation"),
    feedbackUrl: messages.dataset.feedbackUrl,
    request: function (prompt, signal, current) {
      newSession = !current.sessionKey;
      // After "New chat", the turn waits until the cookie no longer names the old session.
      return forgetting.then(function () {
        return post("chat/", { prompt: prompt, session_key: current.sessionKey, stream: true }, signal);
      });
    },
    hooks: {
      // Example prompts invite a first question; once a conversation exists they step aside.
      beforeSend: function () {
        showNotice("");
        if (examples) examples.hidden = true;
      },
      // A new session's key arrives at the end of the stream; naming it stores the cookie.
      onDone: function (data) {
        if (newSession && data.session_key) loadConfig({ session_key: data.session_key });
      },
      onReset: function () {
        if (examples) examples.hidden = false;
        showNotice("");
        // The cookie forgets the session, so a reload starts afresh too.
        forgetting = loadConfig({ new_session: true });
      },
    },
  });

  Array.prototype.forEach.call(document.querySelectorAll(".example"), function (example) {
    example.addEventListener("click", function () {
      chat.send(example.textContent);
    });
    example.disabled = false; // the page serves them disabled until a click asks the question
  });
  var input = document.getElementById("prompt");
  input.addEventListener("input", function () {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 160) + "px";
  });
  if (intro && !intro.children.length) intro.remove();

  (async function start() {
    var data = await loadConfig({});
    if (!data) return;
    chat.sessionKey = data.session_key;
    if (data.history && data.history.length) {
      if (examples) examples.hidden = true;
      data.history.forEach(function (message) {
        chat.showHistoryMessage(message);
      });
    }
  })();
})();
