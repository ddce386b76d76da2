// The documents panel: the list (count, size, chunks), uploads by drag-and-drop or file picker with a progress
// state while the server indexes, the server's reason when one is refused, and deletion after a confirmation.
import { documentPath, getJSON, request } from "./api.js";
import { button, el } from "./dom.js";
import { count, num, sizeOf, t } from "./i18n.js";
import { forgetDocuments, openSource } from "./source.js";

const LIST_LIMIT = 1000; // the API's largest page
const dialog = document.getElementById("documents");
const list = document.getElementById("document-list");
const summary = document.getElementById("documents-summary");
const badge = document.getElementById("documents-count");
const uploads = document.getElementById("uploads");
const input = document.getElementById("file-input");
const zone = document.getElementById("drop-zone");

function row(doc) {
  const item = el("li", "document");
  item.dataset.docId = doc.doc_id;
  const open = button(doc.doc_id, "doc-open", () => openSource(doc.doc_id, null, null, open));
  open.title = doc.source;
  const info = el("span", "meta", sizeOf(doc));
  const remove = button(t("delete"), "quiet danger delete", () => confirmDelete(item, doc));
  item.append(open, info, remove);
  return item;
}

function confirmDelete(item, doc) {
  const question = el("span", "confirm-text", t("deleteConfirm", { doc: doc.doc_id }));
  const yes = button(t("delete"), "danger confirm-delete", async () => {
    yes.disabled = no.disabled = true;
    question.textContent = t("deleting");
    try {
      await request(documentPath(doc.doc_id), { method: "DELETE" });
    } catch (err) {
      question.textContent = t("error", { status: err.status, detail: err.detail });
      question.classList.add("error");
      no.disabled = false;
      return;
    }
    forgetDocuments();
    await refreshDocuments();
  });
  const no = button(t("cancel"), "quiet", () => item.replaceWith(row(doc)));
  item.classList.add("confirming");
  item.replaceChildren(question, el("span", "spacer"), no, yes);
  no.focus();
}

export async function refreshDocuments() {
  list.setAttribute("aria-busy", "true");
  let data;
  try {
    data = await getJSON(`/v1/documents?limit=${LIST_LIMIT}`);
  } finally {
    list.setAttribute("aria-busy", "false");
  }
  const docs = data.documents;
  const chars = docs.reduce((sum, d) => sum + d.chars, 0);
  const chunks = docs.reduce((sum, d) => sum + d.chunks, 0);
  badge.textContent = num(data.total);
  summary.textContent = [count(data.total, "documents"), count(chars, "chars"), count(chunks, "chunks")].join(" · ");
  if (data.total > docs.length) summary.append(" · ", t("shownOf", { shown: num(docs.length), total: num(data.total) }));
  list.replaceChildren(...(docs.length ? docs.map(row) : [el("li", "empty", t("noDocuments"))]));
  return data;
}

async function upload(file) {
  const item = el("li", "upload");
  const status = el("span", "meta", t("indexing"));
  const progress = el("progress");
  item.append(el("span", "name", file.name), progress, status);
  uploads.prepend(item);
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    const response = await request("/v1/documents", { method: "POST", body: form });
    const body = await response.json();
    status.textContent = body.status === "unchanged" ? t("unchanged") : t(body.status, { chunks: count(body.chunks, "chunks") });
    item.classList.add("done");
  } catch (err) {
    status.textContent = t("error", { status: err.status, detail: err.detail });
    status.setAttribute("role", "alert");
    item.classList.add("failed");
  } finally {
    progress.remove();
  }
}

async function uploadAll(files) {
  for (const file of files) await upload(file); // one at a time: the server indexes one change at a time
  forgetDocuments();
  await refreshDocuments().catch(() => {});
}

export function openDocuments() {
  if (!dialog.open) dialog.showModal();
  refreshDocuments().catch((err) => {
    summary.textContent = t("error", { status: err.status, detail: err.detail });
  });
}

document.getElementById("documents-open").addEventListener("click", openDocuments);
document.getElementById("documents-close").addEventListener("click", () => dialog.close());
document.getElementById("choose-files").addEventListener("click", () => input.click());
input.addEventListener("change", () => {
  const files = [...input.files];
  input.value = "";
  uploadAll(files);
});
dialog.addEventListener("click", (event) => {
  if (event.target === dialog) dialog.close();
});

// Files dropped anywhere on the page are uploaded (and never opened by the browser in place of the page).
for (const type of ["dragenter", "dragover"]) {
  window.addEventListener(type, (event) => {
    if (![...(event.dataTransfer?.types || [])].includes("Files")) return;
    event.preventDefault();
    zone.classList.add("over");
  });
}
window.addEventListener("dragleave", (event) => {
  if (event.relatedTarget === null) zone.classList.remove("over");
});
window.addEventListener("drop", (event) => {
  if (!event.dataTransfer?.files?.length) return;
  event.preventDefault();
  zone.classList.remove("over");
  openDocuments();
  uploadAll([...event.dataTransfer.files]);
});
