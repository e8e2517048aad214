// A knowledge base's page: files uploaded one by one with a progress bar each, and the documents
// table refreshed while any document is queued or being ingested. Without script the forms post
// as they are and the page refreshes itself.
(function () {
  "use strict";
  const REFRESH_MS = 2000;
  const form = document.getElementById("upload-form");
  const input = document.getElementById("upload-files");
  const list = document.getElementById("uploads");
  let timer = null;

  function csrfToken() {
    return form.querySelector("input[name=csrfmiddlewaretoken]").value;
  }

  function panel() {
    return document.getElementById("documents-panel");
  }

  // The counts and the table, fetched again; again later while a document is pending.
  function refresh() {
    const current = panel();
    if (!current) return Promise.resolve();
    return fetch(current.dataset.refresh, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        const holder = document.createElement("div");
        holder.innerHTML = html;
        const fresh = holder.querySelector("#documents-panel");
        if (fresh) panel().replaceWith(fresh);
        schedule();
      });
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    const current = panel();
    if (current && current.dataset.pending === "true") timer = setTimeout(refresh, REFRESH_MS);
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function uploadRow(file) {
    const row = element("li", "upload");
    row.dataset.file = file.name;
    const head = element("div", "upload-head");
    head.appendChild(element("span", "upload-name", file.name));
    const percent = element("span", "upload-percent", "0 %");
    head.appendChild(percent);
    const bar = element("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Upload of " + file.name);
    const state = element("div", "upload-state", "Waiting");
    row.append(head, bar, state);
    list.appendChild(row);
    return {
      progress: function (value) { bar.value = value; percent.textContent = value + " %"; },
      state: function (text) { state.textContent = text; },
      done: function (text) { row.classList.add("done"); state.textContent = text; },
      failed: function (text) { row.classList.add("failed"); state.textContent = text; },
    };
  }

  // The API's error envelope in words: its description, then each field's path and message.
  function described(xhr) {
    try {
      const body = JSON.parse(xhr.responseText);
      const fields = (body.errors || []).map(function (error) { return error.loc + ": " + error.msg; });
      return [body.description].concat(fields).join(" · ");
    } catch (error) {
      return "The upload failed (" + xhr.status + ").";
    }
  }

  function send(file, row) {
    return new Promise(function (resolve) {
      const data = new FormData();
      data.append("file", file);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) row.progress(Math.floor((event.loaded / event.total) * 100));
      });
      xhr.upload.addEventListener("load", function () {
        row.progress(100);
        row.state("Sent; the server is taking it in…");
      });
      xhr.addEventListener("load", function () {
        if (xhr.status === 202) {
          row.progress(100);
          const body = JSON.parse(xhr.responseText);
          row.done("Uploaded: " + body.status);
        } else {
          row.failed(described(xhr));
        }
        resolve();
      });
      xhr.addEventListener("error", function () { row.failed("The connection failed; nothing was uploaded."); resolve(); });
      xhr.addEventListener("abort", function () { row.failed("The upload was stopped."); resolve(); });
      row.state("Uploading");
      xhr.send(data);
    });
  }

  if (form && input && list) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const files = Array.from(input.files);
      if (!files.length) return;
      const maxBytes = Number(form.dataset.maxBytes);
      list.textContent = "";
      const rows = files.map(function (file) { return [file, uploadRow(file)]; });
      input.value = "";
      // One file at a time: each bar moves on its own, and the server takes one upload at a time.
      rows.reduce(function (previous, pair) {
        return previous.then(function () {
          const file = pair[0];
          const row = pair[1];
          if (file.size > maxBytes) {
            row.failed("A document may be at most " + form.dataset.maxMib + " MiB; this one was not sent.");
            return undefined;
          }
          return send(file, row).then(refresh);
        });
      }, Promise.resolve());
    });
  }
  schedule();
})();
