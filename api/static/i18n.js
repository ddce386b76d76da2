// The page's strings in French and English, chosen from the browser's language. Answers (abstentions included)
// come from the server in the question's language.
const STRINGS = {
  en: {
    tagline: "Answers with their sources",
    newConversation: "New conversation",
    documents: "Documents",
    empty: "Ask a question about your documents. Each answer cites the exact sentence it comes from: click a number to see it in its document.",
    questionLabel: "Your question",
    placeholder: "Ask a question…",
    ask: "Ask",
    hint: "Enter asks · Shift+Enter for a new line · Esc closes a panel",
    close: "Close",
    dropHere: "Drop files here to add them",
    types: ".txt, .md, .html or .pdf",
    chooseFiles: "Choose files…",
    keyTitle: "API key",
    keyLabel: "Key",
    keyNeeded: "This server needs an API key. It is kept for this tab only (session storage).",
    keyRefused: "401: the key was refused ({detail}). Check it and try again.",
    cancel: "Cancel",
    useKey: "Use this key",
    unauthorized: "401: no valid API key. Reload the page to enter one.",
    loading: "The models are loading…",
    startFailed: "The server could not start: {detail}",
    offline: "The server does not answer.",
    searching: "Searching the documents…",
    rewriting: "Reading the question in the conversation…",
    writing: "{n} passages read · writing…",
    rewrittenAs: "Read as:",
    citations: "Sources",
    passagesRead: "Passages read ({n})",
    openSource: "Source {n}: {doc}, characters {start} to {end}",
    openPassage: "Open passage {n} in {doc}",
    cutOff: "The answer was cut off; ask again.",
    error: "Error {status}: {detail}",
    rewrite: "rewrite", retrieve: "retrieve", generate: "generate", total: "total",
    documents_one: "{n} document", documents_other: "{n} documents",
    chars_one: "{n} character", chars_other: "{n} characters",
    chunks_one: "{n} chunk", chunks_other: "{n} chunks",
    noDocuments: "No documents yet.",
    shownOf: "The first {shown} of {total} are listed.",
    delete: "Delete",
    deleteConfirm: "Delete {doc}?",
    deleting: "Deleting…",
    indexing: "Indexing…",
    added: "added · {chunks}",
    replaced: "replaced · {chunks}",
    unchanged: "unchanged",
    loadingDocument: "Loading…",
    spanMeta: "characters {start}–{end} of {chars}",
  },
  fr: {
    tagline: "Des réponses avec leurs sources",
    newConversation: "Nouvelle conversation",
    documents: "Documents",
    empty: "Posez une question sur vos documents. Chaque réponse cite la phrase exacte dont elle vient : cliquez sur un numéro pour la voir dans son document.",
    questionLabel: "Votre question",
    placeholder: "Posez une question…",
    ask: "Demander",
    hint: "Entrée pour demander · Maj+Entrée pour une nouvelle ligne · Échap ferme un panneau",
    close: "Fermer",
    dropHere: "Déposez des fichiers ici pour les ajouter",
    types: ".txt, .md, .html ou .pdf",
    chooseFiles: "Choisir des fichiers…",
    keyTitle: "Clé d'API",
    keyLabel: "Clé",
    keyNeeded: "Ce serveur demande une clé d'API. Elle est gardée pour cet onglet seulement (session storage).",
    keyRefused: "401 : la clé a été refusée ({detail}). Vérifiez-la et réessayez.",
    cancel: "Annuler",
    useKey: "Utiliser cette clé",
    unauthorized: "401 : aucune clé d'API valide. Rechargez la page pour en saisir une.",
    loading: "Les modèles se chargent…",
    startFailed: "Le serveur n'a pas pu démarrer : {detail}",
    offline: "Le serveur ne répond pas.",
    searching: "Recherche dans les documents…",
    rewriting: "Lecture de la question dans la conversation…",
    writing: "{n} passages lus · rédaction…",
    rewrittenAs: "Compris comme :",
    citations: "Sources",
    passagesRead: "Passages lus ({n})",
    openSource: "Source {n} : {doc}, caractères {start} à {end}",
    openPassage: "Ouvrir le passage {n} dans {doc}",
    cutOff: "La réponse a été interrompue ; posez la question à nouveau.",
    error: "Erreur {status} : {detail}",
    rewrite: "réécriture", retrieve: "recherche", generate: "génération", total: "total",
    documents_one: "{n} document", documents_other: "{n} documents",
    chars_one: "{n} caractère", chars_other: "{n} caractères",
    chunks_one: "{n} segment", chunks_other: "{n} segments",
    noDocuments: "Aucun document pour l'instant.",
    shownOf: "Les {shown} premiers sur {total} sont listés.",
    delete: "Supprimer",
    deleteConfirm: "Supprimer {doc} ?",
    deleting: "Suppression…",
    indexing: "Indexation…",
    added: "ajouté · {chunks}",
    replaced: "remplacé · {chunks}",
    unchanged: "inchangé",
    loadingDocument: "Chargement…",
    spanMeta: "caractères {start}–{end} sur {chars}",
  },
};

export const lang = (navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en";

const numbers = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
const plurals = new Intl.PluralRules(lang);

export function num(value) {
  return numbers.format(value);
}

// "1 chunk", "6 chunks", "0 segment": the noun `key` (documents, chars, chunks) agreeing with n.
export function count(n, key) {
  return t(`${key}_${plurals.select(n) === "one" ? "one" : "other"}`, { n: num(n) });
}

// What a document holds, as listed: "3,519 characters · 5 chunks".
export function sizeOf(doc) {
  return `${count(doc.chars, "chars")} · ${count(doc.chunks, "chunks")}`;
}

export function t(key, vars = {}) {
  let text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

// Fills the static page's labels: data-i18n (text), data-i18n-placeholder, data-i18n-label (aria-label).
export function translatePage() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}
