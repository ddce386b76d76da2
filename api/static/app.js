// The page: questions and their streamed answers, follow-ups sent with the conversation so far, citation chips
// that open the source view, the API key prompt, and the server's readiness. Every text from the server or a
// document is put in the page as text (textContent, text nodes), never parsed as HTML.
import { ApiError, getJSON, onKeyNeeded, readEvents, request } from "./api.js";
import { button, el } from "./dom.js";
import { openDocuments, refreshDocuments } from "./documents.js";
import { num, t, translatePage } from "./i18n.js";
import { openSource } from "./source.js";

const MARKERS = /\[(\d+(?:\s*[,;]\s*\d+)*)\]/g; // [1], [1, 2] as the server writes them
const form = document.getElementById("ask-form");
const input = document.getElementById("question");
const askButton = document.getElementById("ask-button");
const turnsList = document.getElementById("turns");
const empty = document.getElementById("empty");
const notice = document.getElementById("notice");

let history = []; // finished turns: {question, answer, rewritten_question}
let maxTurns = 3; // RAG_CHAT_TURNS, read from the spec's maxItems
let asking = null; // the AbortController of the answer being written

function showNotice(text, kind = "info") {
  notice.textContent = text;
  notice.className = `notice ${kind}`;
  notice.hidden = !text;
}

// ---- one turn ------------------------------------------------------------------------------------------------------
function chip(citation) {
  const node = button(String(citation.n), "chip", () => openSource(citation.doc_id, citation.start, citation.end, node));
  node.dataset.n = citation.n;
  node.dataset.docId = citation.doc_id;
  node.dataset.start = citation.start;
  node.dataset.end = citation.end;
  node.setAttribute("aria-label", t("openSource", { n: citation.n, doc: citation.doc_id, start: citation.start, end: citation.end }));
  node.title = citation.doc_id;
  return node;
}

// The verified answer with its [n] markers turned into chips (a marker without a citation stays text).
function renderAnswer(target, text, citations) {
  target.replaceChildren();
  let last = 0;
  for (const match of text.matchAll(MARKERS)) {
    target.append(text.slice(last, match.index));
    for (const n of match[1].split(/\s*[,;]\s*/).map(Number)) {
      const citation = citations.find((c) => c.n === n);
      target.append(citation ? chip(citation) : `[${n}]`);
    }
    last = match.index + match[0].length;
  }
  target.append(text.slice(last));
}

function timings(answer, rewriteMs) {
  const ms = (value) => `${num(Math.round(value))} ms`;
  const parts = [];
  if (rewriteMs) parts.push(`${t("rewrite")} ${ms(rewriteMs)}`);
  const tm = answer.timings_ms || {};
  parts.push(`${t("retrieve")} ${ms(tm.retrieve || 0)}`, `${t("generate")} ${ms(tm.generate || 0)}`,
    `${t("total")} ${ms((tm.total || 0) + (rewriteMs || 0))}`);
  if (answer.usage?.tokens_per_second) parts.push(`${num(answer.usage.tokens_per_second)} tok/s`);
  return parts.join(" · ");
}

class TurnView {
  constructor(question) {
    this.item = el("li", "turn");
    this.rewritten = el("p", "rewritten");
    this.rewritten.hidden = true;
    this.answer = el("div", "answer draft");
    this.answer.setAttribute("aria-live", "polite");
    this.answer.setAttribute("aria-busy", "true"); // read out once verified, not token by token
    this.sources = el("ol", "citations");
    this.passages = el("details", "passages");
    this.passages.hidden = true;
    this.status = el("p", "status", t("searching"));
    this.status.setAttribute("role", "status");
    this.rewriteMs = 0;
    this.item.append(el("p", "question", question), this.rewritten, this.answer, this.sources, this.passages, this.status);
    turnsList.append(this.item);
    empty.hidden = true;
    this.item.scrollIntoView({ block: "end" });
  }

  showRewrite(data) {
    this.rewriteMs = data.rewrite_ms || 0;
    if (!data.rewritten_question) return;
    this.rewritten.replaceChildren(el("span", "label", t("rewrittenAs")), " ", el("span", "text", data.rewritten_question));
    this.rewritten.hidden = false;
  }

  showPassages(passages) {
    this.status.textContent = t("writing", { n: passages.length });
    const listed = el("ol");
    for (const p of passages) {
      const item = el("li");
      const open = button(`${p.doc_id} [${p.start}:${p.end}]`, "passage-open", () => openSource(p.doc_id, p.start, p.end, open));
      open.setAttribute("aria-label", t("openPassage", { n: p.n, doc: p.doc_id }));
      item.append(el("span", "n", `${p.n}`), open, el("p", "passage-text", p.text));
      listed.append(item);
    }
    this.passages.replaceChildren(el("summary", null, t("passagesRead", { n: passages.length })), listed);
    this.passages.hidden = passages.length === 0;
  }

  draft(text) {
    this.answer.append(text);
  }

  finish(answer) {
    this.answer.className = answer.abstained ? "answer abstained" : "answer";
    this.answer.setAttribute("aria-busy", "false");
    renderAnswer(this.answer, answer.answer, answer.citations);
    this.sources.replaceChildren(...answer.citations.map((c) => {
      const item = el("li");
      item.append(chip(c), el("span", "doc", c.doc_id), el("q", "quote", c.quote));
      return item;
    }));
    this.status.textContent = timings(answer, this.rewriteMs);
  }

  fail(error) {
    this.answer.className = "answer failed";
    this.answer.setAttribute("aria-busy", "false");
    this.answer.textContent = t("error", { status: error.status ?? "", detail: error.detail ?? error.message });
    this.status.textContent = "";
  }
}

// ---- asking --------------------------------------------------------------------------------------------------------
async function ask(question) {
  const view = new TurnView(question);
  const controller = new AbortController();
  asking = controller;
  askButton.disabled = true;
  const body = { question, stream: true, history: history.slice(-maxTurns) };
  let done = null;
  try {
    const response = await request("/v1/ask", {
      method: "POST", signal: controller.signal, body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    });
    view.status.textContent = body.history.length ? t("rewriting") : t("searching");
    for await (const { event, data } of readEvents(response)) {
      if (event === "rewrite") view.showRewrite(data);
      else if (event === "passages") view.showPassages(data);
      else if (event === "token") view.draft(data.text);
      else if (event === "done") done = data;
      else if (event === "error") throw new ApiError(500, data.detail);
    }
    if (!done) throw new ApiError("", t("cutOff"));
    view.finish(done);
    history.push({ question, answer: done.answer, rewritten_question: done.rewritten_question ?? null });
  } catch (err) {
    if (controller.signal.aborted) return;
    view.fail(err);
  } finally {
    if (asking === controller) {
      asking = null;
      askButton.disabled = false;
    }
  }
}

function newConversation() {
  asking?.abort();
  history = [];
  turnsList.replaceChildren();
  empty.hidden = false;
  input.value = "";
  input.focus();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const question = input.value.trim();
  if (!question || asking) return;
  input.value = "";
  fitInput();
  ask(question);
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

function fitInput() {
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  input.style.overflowY = input.scrollHeight > 200 ? "auto" : "hidden";
}
input.addEventListener("input", fitInput);
document.getElementById("new-conversation").addEventListener("click", newConversation);

// ---- the API key ---------------------------------------------------------------------------------------------------
const keyDialog = document.getElementById("key-dialog");
const keyInput = document.getElementById("key-input");
const keyError = document.getElementById("key-error");
let keyPrompt = null; // one prompt at a time, shared by the calls that got 401

function promptForKey(refused) {
  document.getElementById("key-message").textContent = t("keyNeeded");
  keyError.hidden = !refused;
  keyError.textContent = refused ? t("keyRefused", { detail: refused.detail }) : "";
  keyInput.value = "";
  return new Promise((resolve) => {
    const finish = (key) => {
      keyDialog.removeEventListener("close", onClose);
      document.getElementById("key-form").removeEventListener("submit", onSubmit);
      if (keyDialog.open) keyDialog.close();
      resolve(key);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      finish(keyInput.value.trim() || null);
    };
    const onClose = () => finish(null);
    document.getElementById("key-form").addEventListener("submit", onSubmit);
    keyDialog.addEventListener("close", onClose);
    keyDialog.showModal();
    keyInput.focus();
  });
}

onKeyNeeded((refused) => {
  keyPrompt ??= promptForKey(refused).then((key) => {
    keyPrompt = null;
    if (!key) showNotice(t("unauthorized"), "error");
    return key;
  });
  return keyPrompt;
});
document.getElementById("key-cancel").addEventListener("click", () => keyDialog.close());

// ---- start-up ------------------------------------------------------------------------------------------------------
async function waitUntilReady() {
  for (;;) {
    let response;
    try {
      response = await fetch("/readyz");
    } catch {
      showNotice(t("offline"), "error");
      await new Promise((r) => setTimeout(r, 3000));
      continue;
    }
    const body = await response.json().catch(() => ({}));
    if (response.ok) break;
    if (body.status === "error") return showNotice(t("startFailed", { detail: body.detail }), "error");
    showNotice(t("loading"));
    await new Promise((r) => setTimeout(r, 2000));
  }
  showNotice("");
  try {
    await refreshDocuments();
  } catch (err) {
    if (err.status !== 401) showNotice(t("error", { status: err.status, detail: err.detail }), "error");
  }
}

async function readLimits() {
  try {
    const spec = await getJSON("/openapi.json");
    maxTurns = spec.components.schemas.AskRequest.properties.history.maxItems ?? maxTurns;
  } catch {
    // keep the default
  }
}

translatePage();
readLimits();
waitUntilReady();
input.focus();
