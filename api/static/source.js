// The source view: a document's text with the cited span [start:end] highlighted (<mark>), scrolled into view.
// Built from text nodes only: a document holding markup shows it as text.
import { documentPath, getJSON } from "./api.js";
import { num, sizeOf, t } from "./i18n.js";

const dialog = document.getElementById("source");
const title = document.getElementById("source-title");
const meta = document.getElementById("source-meta");
const body = document.getElementById("source-text");
const texts = new Map(); // doc_id -> the document (text and counts), until documents change
let opener = null;
let shown = 0; // the latest request wins when clicks overlap

// The server counts characters as Unicode code points (Python); JavaScript strings index UTF-16 code units.
export function unitOffset(text, codePoints) {
  if (!/[\uD800-\uDFFF]/.test(text)) return codePoints;
  let units = 0;
  let count = 0;
  for (const ch of text) {
    if (count === codePoints) break;
    units += ch.length;
    count += 1;
  }
  return units;
}

export function forgetDocuments() {
  texts.clear();
}

async function documentOf(docId) {
  if (!texts.has(docId)) texts.set(docId, await getJSON(documentPath(docId)));
  return texts.get(docId);
}

function showText(doc, start, end) {
  const text = doc.text;
  if (start == null) {
    body.replaceChildren(document.createTextNode(text));
    meta.textContent = sizeOf(doc);
    body.scrollTop = 0;
    return;
  }
  const from = unitOffset(text, start);
  const to = unitOffset(text, end);
  const mark = document.createElement("mark");
  mark.append(document.createTextNode(text.slice(from, to)));
  body.replaceChildren(document.createTextNode(text.slice(0, from)), mark, document.createTextNode(text.slice(to)));
  meta.textContent = t("spanMeta", { start: num(start), end: num(end), chars: num(doc.chars) });
  mark.scrollIntoView({ block: "center" });
}

// Opens doc_id, highlighting [start:end] when given; `from` gets the focus back when the view closes.
export async function openSource(docId, start = null, end = null, from = null) {
  const request = ++shown;
  opener = from || document.activeElement;
  title.textContent = docId;
  meta.textContent = t("loadingDocument");
  body.replaceChildren();
  if (!dialog.open) dialog.showModal();
  body.focus();
  try {
    const doc = await documentOf(docId);
    if (request === shown) showText(doc, start, end);
  } catch (err) {
    if (request === shown) meta.textContent = t("error", { status: err.status, detail: err.detail });
  }
}

dialog.addEventListener("close", () => {
  shown += 1;
  if (opener && opener.isConnected) opener.focus();
  opener = null;
});
document.getElementById("source-close").addEventListener("click", () => dialog.close());
dialog.addEventListener("click", (event) => {
  if (event.target === dialog) dialog.close(); // a click on the backdrop
});
