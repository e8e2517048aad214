/* The chat renderer shared by a deployed chatbot's page (and so its widget) and the console's
 * sandbox: the message list, markdown answers streamed in, stop, new conversation, copy,
 * regenerate, feedback, the "Using <plugin>…" indicator and auto-scroll.
 *
 * Model output, prompts and branding are untrusted. Markdown is rendered by markdown-it with raw
 * HTML off, then every node goes through DOMPurify with a short list of allowed tags and
 * attributes; links open in a new tab with rel="noopener noreferrer" and only http(s) and mailto
 * targets survive; images are not rendered at all. When the libraries (npm packages served from
 * /static/vendor/) are missing, answers are shown as plain text: never as HTML.
 *
 * A page calls `SmarterChat.create({...})` with its elements, how to send a prompt (its own
 * request body and headers) and hooks for its own panels; see docs/chat-ui.md.
 */
(function () {
  "use strict";

  var ALLOWED_TAGS = [
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li",
    "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
  ];
  var ALLOWED_ATTR = ["href", "class", "start", "title"];
  var SAFE_LINK = /^(https?:\/\/|mailto:)/i;
  var ALIGN = /text-align:\s*(left|right|center)/;
  var engine = null;

  function escapeText(text) {
    return String(text).replace(/[&<>"']/g, function (character) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[character];
    });
  }

  function highlight(code, language) {
    var hljs = window.hljs;
    if (!hljs) return "";
    try {
      var known = language && hljs.getLanguage(language) ? language : null;
      var result = known ? hljs.highlight(code, { language: known, ignoreIllegals: true }) : hljs.highlightAuto(code);
      var name = (result.language || "plaintext").replace(/[^\w-]/g, "");
      return '<pre><code class="hljs language-' + name + '">' + result.value + "</code></pre>";
    } catch (error) {
      return "";
    }
  }

  // markdown-it and DOMPurify, configured once; false when either did not load.
  function markdownEngine() {
    if (engine !== null) return engine;
    var purify = window.DOMPurify;
    if (typeof window.markdownit !== "function" || !purify || !purify.isSupported) {
      engine = false;
      return engine;
    }
    var md = window.markdownit({ html: false, linkify: true, breaks: true, typographer: false, highlight: highlight });
    md.disable("image");
    md.validateLink = function (url) {
      return SAFE_LINK.test(String(url).trim());
    };
    // A table cell's alignment comes as a style attribute, which the page's policy forbids.
    purify.addHook("uponSanitizeAttribute", function (node, data) {
      if (data.attrName === "style") {
        var align = ALIGN.exec(data.attrValue || "");
        if (align && (node.nodeName === "TH" || node.nodeName === "TD")) node.classList.add("align-" + align[1]);
        data.keepAttr = false;
      }
    });
    purify.addHook("afterSanitizeAttributes", function (node) {
      if (node.nodeName !== "A") return;
      var href = node.getAttribute("href");
      if (href && SAFE_LINK.test(href.trim())) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      } else {
        node.removeAttribute("href");
      }
    });
    engine = { md: md, purify: purify };
    return engine;
  }

  /** `source` as sanitized HTML (a string), or as escaped plain text when the libraries are absent. */
  function toHtml(source) {
    var tools = markdownEngine();
    if (!tools) return '<p class="plain-text">' + escapeText(source) + "</p>";
    return tools.purify.sanitize(tools.md.render(String(source)), {
      ALLOWED_TAGS: ALLOWED_TAGS,
      ALLOWED_ATTR: ALLOWED_ATTR,
      ALLOW_DATA_ATTR: false,
    });
  }

  /** `source` rendered into `target`, replacing what it held. */
  function renderInto(target, source) {
    var tools = markdownEngine();
    target.textContent = "";
    if (!tools) {
      var plain = document.createElement("p");
      plain.className = "plain-text";
      plain.textContent = String(source);
      target.appendChild(plain);
      return;
    }
    target.appendChild(
      tools.purify.sanitize(tools.md.render(String(source)), {
        ALLOWED_TAGS: ALLOWED_TAGS,
        ALLOWED_ATTR: ALLOWED_ATTR,
        ALLOW_DATA_ATTR: false,
        RETURN_DOM_FRAGMENT: true,
      })
    );
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function button(className, label, title) {
    var node = el("button", className, label);
    node.type = "button";
    if (title) {
      node.title = title;
      node.setAttribute("aria-label", title);
    }
    return node;
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
        onEvent(name, data ? JSON.parse(data) : {});
      }
    }
  }

  // The API's error envelope as one readable text: the description, then each field's path.
  function envelopeText(body, status) {
    var text = (body && body.description) || "The chatbot could not answer (" + status + ").";
    ((body && body.errors) || []).forEach(function (problem) {
      if (problem && problem.loc) text += "\n" + problem.loc + ": " + problem.msg;
    });
    return text;
  }

  async function responseError(response) {
    try {
      return envelopeText(await response.json(), response.status);
    } catch (error) {
      return "The chatbot could not answer (" + response.status + ").";
    }
  }

  // The documents an answer came from (the turn's `citations`), under the answer: each document
  // once, with the numbers of the chunks quoted from it, in the order they were retrieved.
  function sourcesBox(citations) {
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
    var box = el("div", "sources");
    box.appendChild(el("span", "sources-label", "Sources"));
    var list = el("ul");
    order.forEach(function (key) {
      var item = el("li", "source");
      item.appendChild(el("span", "source-name", chunks[key].name));
      var numbers = chunks[key].numbers;
      item.appendChild(el("span", "source-chunks", (numbers.length > 1 ? " · chunks " : " · chunk ") + numbers.join(", ")));
      list.appendChild(item);
    });
    box.appendChild(list);
    return box;
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    var area = el("textarea", "visually-hidden");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    var copied = document.execCommand("copy");
    area.remove();
    if (!copied) throw new Error("copy refused");
  }

  var SCROLL_SLACK = 48;

  /**
   * A chat on a page. Options:
   *   list        the element messages are appended to (and scrolled, unless `scroller`)
   *   form, input, sendButton
   *   request(prompt, signal, chat) -> Promise<Response>: sends one turn (the page's own body)
   *   feedbackUrl, feedbackHeaders(): where thumbs and comments are posted
   *   newButton   a "new conversation" button, if the page has one
   *   stopButtonClass  the class of the "Stop" button the renderer adds before `sendButton`
   *   hooks: placeExchange(userNode, answerNode) -> nodes to remove on reset,
   *          beforeSend(prompt), onEvent(name, data, exchange), onDone(data, exchange),
   *          afterTurn(exchange), onReset()
   */
  function Chat(options) {
    var self = this;
    this.options = options;
    this.hooks = options.hooks || {};
    this.list = options.list;
    this.scroller = options.scroller || options.list;
    this.input = options.input;
    this.form = options.form;
    this.sendButton = options.sendButton;
    this.sessionKey = null;
    this.busy = false;
    this.controller = null;
    this.exchanges = [];
    this.lastPrompt = null;
    this.follow = true;

    this.stopButton = button(options.stopButtonClass || "stop-button", "Stop", "Stop generating");
    this.stopButton.hidden = true;
    this.sendButton.parentNode.insertBefore(this.stopButton, this.sendButton);
    this.stopButton.addEventListener("click", function () {
      self.stop();
    });

    this.announcer = el("div", "visually-hidden chat-announcer");
    this.announcer.setAttribute("role", "status");
    this.announcer.setAttribute("aria-live", "polite");
    this.list.parentNode.insertBefore(this.announcer, this.list.nextSibling);

    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      var prompt = self.input.value;
      if (!prompt.trim() || self.busy) return;
      self.input.value = "";
      self.input.style.height = "";
      self.send(prompt);
    });
    this.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        self.form.requestSubmit();
      }
    });
    // Following the newest text stops when the reader scrolls up, and resumes at the bottom.
    var scrolled = this.scroller === document.scrollingElement ? window : this.scroller;
    scrolled.addEventListener("scroll", function () {
      var box = self.scroller;
      self.follow = box.scrollHeight - box.scrollTop - box.clientHeight <= SCROLL_SLACK;
    });
    if (options.newButton) {
      options.newButton.addEventListener("click", function () {
        self.reset();
      });
    }
  }

  Chat.prototype.scrollDown = function (force) {
    if (force) this.follow = true;
    if (this.follow) this.scroller.scrollTop = this.scroller.scrollHeight;
  };

  Chat.prototype.userNode = function (text) {
    var row = el("div", "message user");
    row.appendChild(el("div", "bubble user", text));
    return row;
  };

  Chat.prototype.answerNode = function () {
    var row = el("div", "message assistant");
    var bubble = el("div", "bubble assistant");
    var body = el("div", "markdown");
    bubble.appendChild(body);
    row.appendChild(bubble);
    var status = el("p", "tool-status");
    status.setAttribute("role", "status");
    status.hidden = true;
    row.appendChild(status);
    var cut = el("p", "cut-short");
    cut.hidden = true;
    row.appendChild(cut);
    return { row: row, bubble: bubble, body: body, status: status, cut: cut };
  };

  Chat.prototype.place = function (userNode, answerRow) {
    if (this.hooks.placeExchange) return this.hooks.placeExchange(userNode, answerRow) || [userNode, answerRow];
    this.list.appendChild(userNode);
    this.list.appendChild(answerRow);
    return [userNode, answerRow];
  };

  /** A message of an earlier visit (the session's history), with its sources. */
  Chat.prototype.showHistoryMessage = function (message) {
    var node;
    if (message.role === "user") {
      node = this.userNode(message.content);
    } else {
      var answer = this.answerNode();
      renderInto(answer.body, message.content);
      if (message.citations && message.citations.length) answer.bubble.appendChild(sourcesBox(message.citations));
      this.addActions({ answer: answer, markdown: message.content, prompt: null }, false);
      node = answer.row;
    }
    this.list.appendChild(node);
    this.exchanges.push({ nodes: [node], history: true });
    this.scrollDown(true);
  };

  Chat.prototype.setBusy = function (busy) {
    this.busy = busy;
    this.sendButton.disabled = busy;
    this.sendButton.hidden = busy;
    this.stopButton.hidden = !busy;
    var last = this.exchanges[this.exchanges.length - 1];
    this.exchanges.forEach(function (exchange) {
      if (exchange.regenerate) exchange.regenerate.hidden = busy || exchange !== last;
    });
  };

  Chat.prototype.addActions = function (exchange, canRegenerate) {
    var self = this;
    var bar = el("div", "answer-actions");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Answer actions");
    var copy = button("action copy", "Copy", "Copy the answer");
    copy.addEventListener("click", async function () {
      try {
        await copyText(exchange.markdown);
        self.flash(copy, "Copied");
      } catch (error) {
        self.flash(copy, "Copy failed");
      }
    });
    bar.appendChild(copy);
    if (canRegenerate) {
      var again = button("action regenerate", "Regenerate", "Regenerate: ask the same question again");
      again.addEventListener("click", function () {
        if (!self.busy && exchange.prompt) self.send(exchange.prompt);
      });
      exchange.regenerate = again;
      bar.appendChild(again);
    }
    exchange.actions = bar;
    exchange.answer.row.appendChild(bar);
    return bar;
  };

  Chat.prototype.flash = function (node, text) {
    var label = node.dataset.label || node.textContent;
    node.dataset.label = label;
    node.textContent = text;
    setTimeout(function () {
      node.textContent = label;
    }, 1500);
  };

  // Thumbs up or down and a comment, for an answer whose turn the server numbered.
  Chat.prototype.addFeedback = function (exchange, turn) {
    var url = this.options.feedbackUrl;
    if (!url || turn === undefined || turn === null) return;
    var self = this;
    var box = el("div", "feedback");
    var up = button("action feedback-up", "👍", "Good answer");
    var down = button("action feedback-down", "👎", "Bad answer");
    var commentToggle = button("action feedback-comment-toggle", "Comment", "Comment on this answer");
    var note = el("span", "feedback-note");
    note.setAttribute("role", "status");
    var form = el("form", "feedback-form");
    form.hidden = true;
    var label = el("label", "visually-hidden", "Your comment on this answer");
    var field = el("textarea", "feedback-text");
    field.rows = 2;
    field.maxLength = 2000;
    field.id = "feedback-" + Math.random().toString(36).slice(2);
    label.htmlFor = field.id;
    var submit = el("button", "action feedback-send", "Send comment");
    submit.type = "submit";
    form.appendChild(label);
    form.appendChild(field);
    form.appendChild(submit);
    var state = { rating: null };
    up.setAttribute("aria-pressed", "false");
    down.setAttribute("aria-pressed", "false");

    async function post() {
      up.setAttribute("aria-pressed", String(state.rating === "up"));
      down.setAttribute("aria-pressed", String(state.rating === "down"));
      var headers = { "Content-Type": "application/json", Accept: "application/json" };
      var extra = self.options.feedbackHeaders ? self.options.feedbackHeaders() : {};
      Object.keys(extra).forEach(function (name) {
        headers[name] = extra[name];
      });
      try {
        var response = await fetch(url, {
          method: "POST",
          credentials: "same-origin",
          headers: headers,
          body: JSON.stringify({ session_key: self.sessionKey, turn: turn, rating: state.rating, comment: field.value }),
        });
        note.textContent = response.ok ? "Thanks for your feedback." : await responseError(response);
      } catch (error) {
        note.textContent = "The feedback could not be sent.";
      }
    }
    function rate(rating) {
      state.rating = state.rating === rating ? null : rating;
      post();
    }
    up.addEventListener("click", function () {
      rate("up");
    });
    down.addEventListener("click", function () {
      rate("down");
    });
    commentToggle.addEventListener("click", function () {
      form.hidden = !form.hidden;
      commentToggle.setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) field.focus();
    });
    commentToggle.setAttribute("aria-expanded", "false");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      post();
      form.hidden = true;
      commentToggle.setAttribute("aria-expanded", "false");
    });
    box.appendChild(up);
    box.appendChild(down);
    box.appendChild(commentToggle);
    box.appendChild(note);
    exchange.actions.appendChild(box);
    exchange.answer.row.appendChild(form);
  };

  Chat.prototype.stop = function () {
    if (this.controller) this.controller.abort();
  };

  /** A new conversation: the page's messages go, the next prompt starts a new session. */
  Chat.prototype.reset = function () {
    this.stop();
    this.exchanges.forEach(function (exchange) {
      exchange.nodes.forEach(function (node) {
        node.remove();
      });
    });
    this.exchanges = [];
    this.sessionKey = null;
    this.lastPrompt = null;
    this.announcer.textContent = "";
    if (this.hooks.onReset) this.hooks.onReset();
    this.input.focus();
  };

  Chat.prototype.markCut = function (exchange, text) {
    exchange.answer.row.classList.add("cut-short");
    exchange.answer.cut.textContent = text;
    exchange.answer.cut.hidden = false;
  };

  Chat.prototype.send = async function (prompt) {
    prompt = String(prompt).trim();
    if (!prompt || this.busy) return;
    var self = this;
    if (this.hooks.beforeSend) this.hooks.beforeSend(prompt);
    var answer = this.answerNode();
    var userNode = this.userNode(prompt);
    var exchange = { prompt: prompt, answer: answer, markdown: "", tools: {}, done: false };
    exchange.nodes = this.place(userNode, answer.row);
    this.exchanges.push(exchange);
    this.lastPrompt = prompt;
    answer.row.setAttribute("aria-busy", "true");
    answer.body.appendChild(typingDots());
    this.scrollDown(true);
    this.controller = new AbortController();
    this.setBusy(true);
    var frame = null;

    function paint() {
      frame = null;
      renderInto(answer.body, exchange.markdown);
      self.scrollDown(false);
    }
    function schedule() {
      if (frame === null) frame = requestAnimationFrame(paint);
    }
    function toolStatus() {
      var names = Object.keys(exchange.tools).map(function (id) {
        return exchange.tools[id];
      });
      answer.status.hidden = names.length === 0;
      answer.status.textContent = names.length ? "Using " + names.join(", ") + "…" : "";
    }
    function onEvent(name, data) {
      if (name === "token") {
        exchange.markdown += data.text || "";
        schedule();
      } else if (name === "tool_call") {
        exchange.tools[data.id] = data.plugin || data.tool;
        toolStatus();
      } else if (name === "tool_result") {
        delete exchange.tools[data.id];
        toolStatus();
      } else if (name === "done") {
        exchange.done = true;
        exchange.data = data;
        if (data.session_key) self.sessionKey = data.session_key;
        exchange.markdown = (data.message && data.message.content) || exchange.markdown;
        if (frame !== null) cancelAnimationFrame(frame);
        paint();
        if (data.citations && data.citations.length) answer.bubble.appendChild(sourcesBox(data.citations));
        if (data.finish_reason === "length") self.markCut(exchange, "The answer was cut short: it reached the length limit.");
      } else if (name === "error") {
        exchange.failed = envelopeText(data, 502);
      }
      if (self.hooks.onEvent) self.hooks.onEvent(name, data, exchange);
    }

    try {
      var response = await this.options.request(prompt, this.controller.signal, this);
      var type = response.headers.get("Content-Type") || "";
      if (!response.ok || type.indexOf("text/event-stream") !== 0) {
        exchange.failed = await responseError(response);
      } else {
        await readEvents(response, onEvent);
      }
    } catch (error) {
      if (error && error.name === "AbortError") exchange.stopped = true;
      else exchange.interrupted = true;
    } finally {
      if (frame !== null) {
        cancelAnimationFrame(frame);
        paint();
      }
      this.controller = null;
      exchange.tools = {};
      toolStatus();
      answer.row.removeAttribute("aria-busy");
      this.finish(exchange);
      this.setBusy(false);
      this.input.focus();
    }
  };

  // How a turn ended: a whole answer, or one cut short (stopped, failed, interrupted) said so.
  Chat.prototype.finish = function (exchange) {
    var answer = exchange.answer;
    var partial = exchange.markdown.trim() !== "";
    if (!partial) answer.body.textContent = "";
    if (exchange.failed && !partial) {
      answer.row.classList.add("error");
      answer.bubble.classList.add("failed");
      var text = el("p", "plain-text", exchange.failed);
      answer.body.appendChild(text);
    } else if (exchange.failed) {
      this.markCut(exchange, "The answer was cut short by an error: " + exchange.failed);
    } else if (exchange.stopped) {
      this.markCut(exchange, partial ? "Stopped: the answer is incomplete." : "Stopped before any answer.");
    } else if (!exchange.done) {
      this.markCut(exchange, "The connection was interrupted: the answer is incomplete. Please try again.");
    }
    this.addActions(exchange, true);
    if (exchange.done && exchange.data) this.addFeedback(exchange, exchange.data.turn);
    if (exchange.done) this.announcer.textContent = answer.bubble.textContent;
    else if (!answer.cut.hidden) this.announcer.textContent = answer.cut.textContent;
    if (this.hooks.onDone && exchange.done) this.hooks.onDone(exchange.data, exchange);
    if (this.hooks.afterTurn) this.hooks.afterTurn(exchange);
    this.scrollDown(false);
  };

  function typingDots() {
    var dots = el("span", "typing");
    dots.setAttribute("aria-label", "Answering");
    for (var n = 0; n < 3; n += 1) dots.appendChild(el("span"));
    return dots;
  }

  window.SmarterChat = {
    create: function (options) {
      return new Chat(options);
    },
    toHtml: toHtml,
    renderInto: renderInto,
    /** Whether markdown is rendered (the libraries loaded) or answers are plain text. */
    rendersMarkdown: function () {
      return Boolean(markdownEngine());
    },
  };
})();
