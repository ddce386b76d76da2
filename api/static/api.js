// Calls to this server's /v1 API: the API key (session storage) on every call, 401 handled by asking for a key,
// errors carried as ApiError with the server's `detail`, and server-sent events read from a fetch stream
// (EventSource cannot POST).
const KEY_STORAGE = "rag.apiKey";

export class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detailText(detail)}`);
    this.status = status;
    this.detail = detailText(detail);
  }
}

// A 4xx body's detail: one line, or a list of {loc, msg} for malformed requests.
export function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((e) => `${(e.loc || []).filter((p) => p !== "body").join(".")}: ${e.msg}`).join("; ");
  }
  return detail == null ? "" : JSON.stringify(detail);
}

async function errorOf(response) {
  let detail = response.statusText;
  try {
    const body = await response.json();
    detail = body.detail ?? body.error?.message ?? detail;
  } catch {
    // not JSON: keep the status text
  }
  return new ApiError(response.status, detail);
}

let askForKey = null; // (refused: ApiError | null) => Promise<string | null>, set by the page

export function onKeyNeeded(prompt) {
  askForKey = prompt;
}

export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

// fetch with the key; on 401, asks for a key and retries until one works or the person cancels.
export async function request(path, options = {}) {
  for (;;) {
    const key = storedKey();
    const headers = new Headers(options.headers || {});
    if (key) headers.set("Authorization", `Bearer ${key}`);
    let response;
    try {
      response = await fetch(path, { ...options, headers });
    } catch (err) {
      throw new ApiError(0, err.message);
    }
    if (response.ok) return response;
    const error = await errorOf(response);
    if (response.status !== 401 || !askForKey) throw error;
    const newKey = await askForKey(key ? error : null);
    if (!newKey) throw error;
    sessionStorage.setItem(KEY_STORAGE, newKey);
  }
}

export async function getJSON(path) {
  return (await request(path)).json();
}

// A doc_id may hold "/" (the route takes a path): encode each segment.
export function documentPath(docId) {
  return `/v1/documents/${docId.split("/").map(encodeURIComponent).join("/")}`;
}

function parseFrame(frame) {
  let event = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: JSON.parse(data.join("\n")) } : null;
}

// The server-sent events of a streamed response, as {event, data} with data parsed from JSON.
export async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        finished = true;
        break;
      }
      buffer += value.replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = parseFrame(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (event) yield event;
      }
    }
    const last = parseFrame(buffer);
    if (last) yield last;
  } finally {
    if (!finished) reader.cancel().catch(() => {}); // the reader stopped early: close the stream, the model stops
  }
}
