// The sandbox: the shared chat renderer (chatbot/chat-ui.js) streams each turn, and the sandbox
// shows its inspector beside the answer. Tool results and the messages sent are untrusted: the
// inspector only ever sets them as text, never as HTML.
(function () {
  "use strict";
  const root = document.getElementById("sandbox");
  if (!root || !window.SmarterChat) return;
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const transcript = document.getElementById("transcript");
  const composer = document.getElementById("composer");
  const prompt = document.getElementById("prompt");
  const send = document.getElementById("send");
  const system = document.getElementById("o-system");
  const model = document.getElementById("o-model");
  const temperature = document.getElementById("o-temperature");
  const maxTokens = document.getElementById("o-max-tokens");
  const badge = document.getElementById("overrides-badge");
  const pluginBoxes = Array.from(document.querySelectorAll("#overrides input[name=plugin]"));

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function pretty(value) {
    if (value === null || value === undefined) return "";
    return typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }

  function overrides() {
    const result = {};
    if (system.value !== system.dataset.default) result.system_role = system.value;
    if (model.value.trim()) result.model = model.value.trim();
    if (temperature.value !== "") result.temperature = Number(temperature.value);
    if (maxTokens.value !== "") result.max_tokens = Number(maxTokens.value);
    const changed = pluginBoxes.some((box) => box.checked !== (box.dataset.attached === "1"));
    if (changed) result.plugins = pluginBoxes.filter((box) => box.checked).map((box) => box.value);
    return result;
  }

  function refreshBadge() {
    badge.hidden = Object.keys(overrides()).length === 0;
  }
  document.getElementById("overrides").addEventListener("input", refreshBadge);
  document.getElementById("reset-overrides").addEventListener("click", function () {
    system.value = system.dataset.default;
    model.value = temperature.value = maxTokens.value = "";
    pluginBoxes.forEach((box) => { box.checked = box.dataset.attached === "1"; });
    refreshBadge();
  });
  document.getElementById("save-version").addEventListener("click", async function () {
    const result = document.getElementById("version-result");
    result.textContent = "Saving…";
    const response = await fetch(root.dataset.saveVersionUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(overrides()),
    });
    const body = await response.json();
    if (!response.ok) {
      const details = (body.errors || []).map((e) => e.loc + ": " + e.msg).join("; ");
      result.textContent = body.description + (details ? " " + details : "");
      return;
    }
    if (body.saved === null) {
      result.textContent = "Nothing to save: the overrides match the saved chatbot.";
      return;
    }
    result.textContent = "Saved as version " + body.saved + ".";
    // The saved configuration is now the default: the overrides are no longer overrides.
    system.dataset.default = system.value;
    model.value = temperature.value = maxTokens.value = "";
    pluginBoxes.forEach((box) => { box.dataset.attached = box.checked ? "1" : "0"; });
    refreshBadge();
  });
  function section(title) {
    const box = el("section", "inspect-section");
    box.appendChild(el("h3", null, title));
    return box;
  }

  // A knowledge plugin's call: it says which knowledge base it searched, and its result is the
  // chunks it found, best first, each with its document, number, score and text.
  function retrieved(call) {
    return Boolean(call.executed && call.executed.knowledgeBase && call.result && Array.isArray(call.result.results));
  }

  function chunkList(results) {
    const list = el("ol", "retrieved-chunks");
    if (!results.length) list.appendChild(el("li", "muted small", "Nothing matched the query."));
    results.forEach(function (chunk) {
      const item = el("li", "retrieved-chunk");
      const head = el("div", "chunk-head");
      head.appendChild(el("span", "pill chunk-score", "score " + Number(chunk.score).toFixed(4)));
      head.appendChild(el("strong", "chunk-document", chunk.document));
      head.appendChild(el("span", "muted small chunk-number", "chunk " + chunk.chunk));
      item.appendChild(head);
      item.appendChild(el("pre", "code chunk-text", chunk.text));
      list.appendChild(item);
    });
    return list;
  }

  function renderInspector(body, details) {
    body.textContent = "";
    const meta = section("Turn");
    const stats = el("dl", "facts compact");
    const facts = [
      ["Model", details.provider + " / " + details.model],
      ["Tokens", details.tokens.prompt + " prompt + " + details.tokens.completion + " completion = " + details.tokens.total],
      ["Cost", "$" + details.cost.toFixed(6)],
      ["Latency", details.latency_ms + " ms"],
      ["Model calls", details.rounds],
    ];
    facts.forEach(function (fact) { stats.appendChild(el("dt", null, fact[0])); stats.appendChild(el("dd", "stat-" + fact[0].toLowerCase().replace(" ", "-"), fact[1])); });
    meta.appendChild(stats);
    if (details.error) meta.appendChild(el("p", "field-error", details.error));
    body.appendChild(meta);

    const plugins = section("Plugins selected");
    if (!details.selections.length) plugins.appendChild(el("p", "muted small", "No plugins offered to this chatbot."));
    details.selections.forEach(function (choice) {
      const row = el("div", "selection " + (choice.selected ? "selected" : "skipped"));
      row.appendChild(el("span", "pill " + (choice.selected ? "ok" : ""), choice.selected ? "selected" : "not selected"));
      row.appendChild(el("strong", null, choice.plugin));
      let why = "rule: " + choice.rule;
      if (choice.term) why += " · term: “" + choice.term + "”";
      if (choice.where) why += " · in: " + choice.where;
      row.appendChild(el("span", "muted small why", why));
      plugins.appendChild(row);
    });
    body.appendChild(plugins);

    const calls = section("Tool calls");
    if (!details.tool_calls.length) calls.appendChild(el("p", "muted small", "The model called no tool."));
    details.tool_calls.forEach(function (call) {
      const box = el("div", "tool-call");
      const head = el("div", "tool-call-head");
      head.appendChild(el("strong", "tool-name", call.plugin || call.tool));
      head.appendChild(el("span", "muted small tool-ms", call.ms + " ms · round " + call.round));
      box.appendChild(head);
      box.appendChild(el("div", "label", "Arguments"));
      box.appendChild(el("pre", "code tool-arguments", pretty(call.arguments)));
      if (call.error) {
        box.appendChild(el("div", "label", "Error"));
        box.appendChild(el("pre", "code error tool-error", call.error));
      } else if (retrieved(call)) {
        box.appendChild(el("div", "label", "Retrieved chunks (" + call.result.results.length + ")"));
        box.appendChild(chunkList(call.result.results));
      } else {
        box.appendChild(el("div", "label", "Result"));
        box.appendChild(el("pre", "code tool-result", pretty(call.result)));
      }
      if (call.executed) {
        box.appendChild(el("div", "label", "As executed"));
        box.appendChild(el("pre", "code tool-executed", pretty(call.executed)));
      }
      calls.appendChild(box);
    });
    body.appendChild(calls);

    const sent = el("details", "inspect-section messages");
    sent.appendChild(el("summary", null, "Messages sent to the model (" + details.messages.length + ")"));
    details.messages.forEach(function (message) {
      const item = el("div", "sent-message");
      item.appendChild(el("span", "pill role-" + message.role, message.role));
      item.appendChild(el("pre", "code", message.content || pretty(message.tool_calls)));
      sent.appendChild(item);
    });
    body.appendChild(sent);
  }

  async function inspect(turn, turnId) {
    const url = root.dataset.inspectUrl.replace(/\/0\/$/, "/" + turnId + "/");
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return;
    const details = await response.json();
    turn.querySelector(".inspector-live").textContent = "";
    turn.querySelector(".inspector-meta").textContent = "turn " + details.index;
    turn.dataset.turnId = String(details.id);
    renderInspector(turn.querySelector(".inspector-body"), details);
  }

  function liveCall(turn, data, done) {
    const live = turn.querySelector(".inspector-live");
    let row = live.querySelector('[data-call="' + CSS.escape(data.id) + '"]');
    if (!row) { row = el("div", "live-call"); row.dataset.call = data.id; live.appendChild(row); }
    row.textContent = done
      ? "✓ " + data.plugin + " answered in " + data.ms + " ms"
      : "… calling " + (data.plugin || data.tool) + " " + JSON.stringify(data.arguments);
  }

  // The conversation is the shared chat renderer's (chatbot/chat-ui.js); the sandbox adds the
  // turn's inspector beside each answer, and its overrides to each request.
  window.SmarterChat.create({
    list: transcript,
    scroller: document.scrollingElement,
    form: composer,
    input: prompt,
    sendButton: send,
    newButton: document.getElementById("new-session"),
    stopButtonClass: "button danger stop-button",
    feedbackUrl: root.dataset.feedbackUrl,
    feedbackHeaders: function () {
      return { "X-CSRFToken": csrf };
    },
    request: function (text, signal, chat) {
      return fetch(root.dataset.turnUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "text/event-stream" },
        body: JSON.stringify({ prompt: text, session_key: chat.sessionKey, overrides: overrides() }),
        signal: signal,
      });
    },
    hooks: {
      placeExchange: function (userNode, answerNode) {
        const turn = document.getElementById("turn-template").content.firstElementChild.cloneNode(true);
        turn.querySelector(".turn-chat").append(userNode, answerNode);
        transcript.appendChild(turn);
        return [turn];
      },
      beforeSend: function () {
        document.getElementById("transcript-empty").hidden = true;
      },
      onEvent: function (name, data, exchange) {
        const turn = exchange.nodes[0];
        if (name === "tool_call") liveCall(turn, data, false);
        else if (name === "tool_result") liveCall(turn, data, true);
        else if (name === "turn") inspect(turn, data.turn_id);
      },
      onReset: function () {
        document.getElementById("transcript-empty").hidden = false;
      },
    },
  });
  transcript.addEventListener("click", function (event) {
    const example = event.target.closest(".example");
    if (example) { prompt.value = example.textContent; composer.requestSubmit(); }
  });
})();
