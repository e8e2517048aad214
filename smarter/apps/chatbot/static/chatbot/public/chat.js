/* The chat page of a deployed chatbot: history, example prompts, streamed answers.
 *
 * Model output is untrusted. It is never parsed as HTML: `renderMarkdown` builds DOM nodes whose
 * text is set as text, and allows only paragraphs, bold, italics, code, lists and http(s) links.
 */
(function () {
  "use strict";

  // --- safe markdown --------------------------------------------------------------------------
  var INLINE = /`([^`\n]+)`|\*\*([^*\n]+?)\*\*|\*([^*\s][^*\n]*?)\*|(^|[^\w])_([^_\s][^_\n]*?)_(?!\w)|\[([^\]\n]+)\]\(([^()\s]+)\)/g;

  function safeLink(url) {
    try {
      var parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (error) {
      return null;
    }
  }

  function appendInline(parent, text) {
    var pattern = new RegExp(INLINE.source, "g");
    var last = 0;
    var match;
    while ((match = pattern.exec(text)) !== null) {
      var start = match.index;
      var lead = match[4] || "";
      parent.appendChild(document.createTextNode(text.slice(last, start) + lead));
      var node;
      if (match[1] !== undefined) {
        node = document.createElement("code");
        node.textContent = match[1];
      } else if (match[2] !== undefined) {
        node = document.createElement("strong");
        appendInline(node, match[2]);
      } else if (match[3] !== undefined) {
        node = document.createElement("em");
        appendInline(node, match[3]);
      } else if (match[5] !== undefined) {
        node = document.createElement("em");
        appendInline(node, match[5]);
      } else {
        var href = safeLink(match[7]);
        if (href) {
          node = document.createElement("a");
          node.setAttribute("href", href);
          node.setAttribute("target", "_blank");
          node.setAttribute("rel", "noopener noreferrer");
          node.textContent = match[6];
        } else {
          node = document.createTextNode(match[0]);
        }
      }
      parent.appendChild(node);
      last = pattern.lastIndex;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function inlineNode(tag, text) {
    var node = document.createElement(tag);
    appendInline(node, text);
    return node;
  }

  function renderMarkdown(source) {
    var fragment = document.createDocumentFragment();
    var lines = String(source).replace(/\r\n?/g, "\n").split("\n");
    var i = 0;
    while (i < lines.length) {
      var line = lines[i];
      if (/^\s*```/.test(line)) {
        var code = [];
        i += 1;
        while (i < lines.length && !/^\s*```/.test(lines[i])) {
          code.push(lines[i]);
          i += 1;
        }
        i += 1;
        var pre = document.createElement("pre");
        var codeNode = document.createElement("code");
        codeNode.textContent = code.join("\n");
        pre.appendChild(codeNode);
        fragment.appendChild(pre);
        continue;
      }
      var bullet = /^\s*[-*+]\s+(.*)$/;
      var numbered = /^\s*\d+[.)]\s+(.*)$/;
      if (bullet.test(line) || numbered.test(line)) {
        var pattern = bullet.test(line) ? bullet : numbered;
        var list = document.createElement(pattern === bullet ? "ul" : "ol");
        while (i < lines.length && pattern.test(lines[i])) {
          list.appendChild(inlineNode("li", pattern.exec(lines[i])[1]));
          i += 1;
        }
        fragment.appendChild(list);
        continue;
      }
      if (!line.trim()) {
        i += 1;
        continue;
      }
      var paragraph = [];
      while (i < lines.length && lines[i].trim() && !/^\s*```/.test(lines[i]) && !bullet.test(lines[i]) && !numbered.test(lines[i])) {
        paragraph.push(lines[i]);
        i += 1;
      }
      var p = document.createElement("p");
      paragraph.forEach(function (text, index) {
        if (index > 0) p.appendChild(document.createElement("br"));
        appendInline(p, text);
      });
      fragment.appendChild(p);
    }
    return fragment;
  }

  window.SmarterMarkdown = {
    render: renderMarkdown,
    toHtml: function (source) {
      var box = document.createElement("div");
      box.appendChild(renderMarkdown(source));
      return box.innerHTML;
    },
  };

  // --- the page -------------------------------------------------------------------------------
  var boot = document.getElementById("smarter-chatbot");
  if (!boot) return;
  var branding = JSON.parse(boot.textContent);
  var messages = document.getElementById("messages");
  var intro = document.getElementById("intro");
  var form = document.getElementById("composer");
  var input = document.getElementById("prompt");
  var sendButton = document.getElementById("send");
  var notice = document.getElementById("notice");
  var examples = document.getElementById("examples");
  var sessionKey = null;
  var busy = false;

  // Example prompts invite a first question; once a conversation exists they step aside.
  function hideExamples() {
    if (examples) examples.hidden = true;
  }

  if (branding.appBackgroundImageUrl && safeLink(branding.appBackgroundImageUrl)) {
    document.getElementById("backdrop").style.backgroundImage = "url(" + JSON.stringify(safeLink(branding.appBackgroundImageUrl)) + ")";
  }

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  function scrollDown() {
    messages.scrollTop = messages.scrollHeight;
  }

  function addMessage(role, content) {
    var row = document.createElement("div");
    row.className = "message " + role;
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    if (role === "user") bubble.textContent = content;
    else bubble.appendChild(renderMarkdown(content));
    row.appendChild(bubble);
    messages.appendChild(row);
    scrollDown();
    return bubble;
  }

  function setAnswer(bubble, text) {
    bubble.textContent = "";
    bubble.appendChild(renderMarkdown(text));
    scrollDown();
  }

  // The documents an answer came from (the turn's `citations`), under the answer: each document
  // once, with the numbers of the chunks quoted from it, in the order they were retrieved.
  function showSources(bubble, citations) {
    if (!citations || !citations.length) return;
    var chunks = {};
    var order = [];
    citations.forEach(function (citation) {
      var key = String(citation.documentId);
      if (!chunks[key]) {
        chunks[key] = { name: citation.document, numbers: [] };
        order.push(key);
      }
      chunks[key].numbers.push(citation.chunk);
    });
    var box = document.createElement("div");
    box.className = "sources";
    var label = document.createElement("span");
    label.className = "sources-label";
    label.textContent = "Sources";
    box.appendChild(label);
    var list = document.createElement("ul");
    order.forEach(function (key) {
      var item = document.createElement("li");
      item.className = "source";
      var name = document.createElement("span");
      name.className = "source-name";
      name.textContent = chunks[key].name;
      item.appendChild(name);
      var where = document.createElement("span");
      where.className = "source-chunks";
      where.textContent = (chunks[key].numbers.length > 1 ? " · chunks " : " · chunk ") + chunks[key].numbers.join(", ");
      item.appendChild(where);
      list.appendChild(item);
    });
    box.appendChild(list);
    bubble.appendChild(box);
    scrollDown();
  }

  function typing(bubble) {
    bubble.textContent = "";
    var dots = document.createElement("span");
    dots.className = "typing";
    dots.setAttribute("aria-label", "Answering");
    for (var n = 0; n < 3; n += 1) dots.appendChild(document.createElement("span"));
    bubble.appendChild(dots);
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      credentials: "same-origin",
      body: JSON.stringify(body),
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

  async function loadConfig(rememberKey) {
    var response = await post("config/", rememberKey ? { session_key: rememberKey } : {});
    if (!response.ok) {
      showNotice(response.status === 401 ? "This chatbot needs an API key." : await errorText(response));
      return null;
    }
    return response.json();
  }

  async function start() {
    var data = await loadConfig(null);
    if (!data) return;
    sessionKey = data.session_key;
    if (data.history && data.history.length) {
      hideExamples();
      data.history.forEach(function (message) {
        var bubble = addMessage(message.role, message.content);
        // An answer from a knowledge base keeps its sources after a reload.
        if (message.role === "assistant") showSources(bubble, message.citations);
      });
    }
  }

  // Reads `event: ...\ndata: ...\n\n` frames from a streamed response.
  async function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      var end;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        var frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        var name = "message";
        var data = "";
        frame.split("\n").forEach(function (line) {
          if (line.indexOf("event:") === 0) name = line.slice(6).trim();
          else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
        });
        onEvent(name, data ? JSON.parse(data) : null);
      }
    }
  }

  async function send(prompt) {
    prompt = prompt.trim();
    if (!prompt || busy) return;
    busy = true;
    sendButton.disabled = true;
    showNotice("");
    hideExamples();
    addMessage("user", prompt);
    var bubble = addMessage("assistant", "");
    bubble.parentNode.setAttribute("aria-busy", "true");
    typing(bubble);
    var answer = "";
    try {
      var response = await post("chat/", { prompt: prompt, session_key: sessionKey, stream: true });
      if (!response.ok) {
        bubble.parentNode.classList.add("error");
        setAnswer(bubble, await errorText(response));
        return;
      }
      var wasNew = !sessionKey;
      await readEvents(response, function (name, data) {
        if (name === "token") {
          answer += data.text;
          setAnswer(bubble, answer);
        } else if (name === "done") {
          setAnswer(bubble, data.message.content);
          showSources(bubble, data.citations);
          sessionKey = data.session_key;
        } else if (name === "error") {
          bubble.parentNode.classList.add("error");
          setAnswer(bubble, data.description || "The chatbot could not answer.");
        }
      });
      // A new session's key arrives at the end of the stream; naming it stores the cookie.
      if (wasNew && sessionKey) await loadConfig(sessionKey);
    } catch (error) {
      bubble.parentNode.classList.add("error");
      setAnswer(bubble, "The connection was interrupted. Please try again.");
    } finally {
      bubble.parentNode.removeAttribute("aria-busy");
      busy = false;
      sendButton.disabled = false;
      input.focus();
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var prompt = input.value;
    input.value = "";
    input.style.height = "";
    send(prompt);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("input", function () {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 160) + "px";
  });
  Array.prototype.forEach.call(document.querySelectorAll(".example"), function (button) {
    button.addEventListener("click", function () {
      send(button.textContent);
    });
  });
  if (intro && !intro.children.length) intro.remove();

  start();
})();
