// Share links: the full input state in the URL fragment, versioned and compact.
//   #v1.<base64url(JSON of the fields that differ from the defaults)>
//   #v1z.<base64url(deflate-raw(JSON))>   (used when it is shorter, e.g. with a pasted config.json)
// Nothing in the fragment is sent to the server. Decoding never trusts the content (see sanitizeRequest).
import { diffFromDefaults, sanitizeRequest } from "./fields.js";

export const LINK_VERSION = 1;
const MAX_FRAGMENT = 600_000;

function b64urlEncode(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function b64urlDecode(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("invalid characters");
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const MAX_DECODED = 2 * 1024 * 1024; // a state with a pasted config.json is well under this

/** Run bytes through a (de)compression stream, refusing output larger than MAX_DECODED (zip bombs). */
async function pipe(bytes, stream) {
  const reader = new Blob([bytes]).stream().pipeThrough(stream).getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_DECODED) {
      await reader.cancel();
      throw new Error("link content too large");
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

const COMPRESS_ABOVE = 400; // bytes of JSON; below this the plain form is shorter

/** The plain (uncompressed) fragment, synchronously; null when the compressed form may be shorter. */
export function encodeStateSync(request) {
  const raw = new TextEncoder().encode(JSON.stringify(diffFromDefaults(request)));
  if (raw.length > COMPRESS_ABOVE && typeof CompressionStream === "function") return null;
  return `v${LINK_VERSION}.${b64urlEncode(raw)}`;
}

export async function encodeState(request) {
  const json = JSON.stringify(diffFromDefaults(request));
  const raw = new TextEncoder().encode(json);
  let frag = `v${LINK_VERSION}.${b64urlEncode(raw)}`;
  if (raw.length > COMPRESS_ABOVE && typeof CompressionStream === "function") {
    try {
      const z = `v${LINK_VERSION}z.${b64urlEncode(await pipe(raw, new CompressionStream("deflate-raw")))}`;
      if (z.length < frag.length) frag = z;
    } catch {
      /* keep the plain form */
    }
  }
  return frag;
}

export async function shareUrl(request) {
  const url = new URL(location.href);
  url.hash = await encodeState(request);
  return url.href;
}

/** A share link that cannot be read: `code` (link.<code> in the i18n files) and its params, for the page to say in
 * the user's language; the English message is for the console. */
export class LinkError extends Error {
  constructor(code, params = {}, english = code) {
    super(english);
    this.code = code;
    this.params = params;
  }
}

/** Decode a fragment (without '#'). Returns null when there is no state in it; throws LinkError when tampered. */
export async function decodeFragment(fragment) {
  if (!fragment) return null;
  const m = /^v(\d+)(z?)\.(.*)$/s.exec(fragment);
  if (!m) {
    if (/^v\d/.test(fragment) || fragment.length > 40) throw new LinkError("format", {}, "unrecognised link format");
    return null; // a plain anchor such as #result
  }
  if (Number(m[1]) !== LINK_VERSION) throw new LinkError("version", { version: m[1] }, `unsupported link version ${m[1]}`);
  if (fragment.length > MAX_FRAGMENT) throw new LinkError("too_long", {}, "link too long");
  let obj;
  try {
    let bytes = b64urlDecode(m[3]);
    if (m[2]) bytes = await pipe(bytes, new DecompressionStream("deflate-raw"));
    obj = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new LinkError("decode", {}, `cannot decode link (${e.message})`);
  }
  const { ok, request, problems, issues } = sanitizeRequest(obj);
  if (!ok) throw new LinkError("fields", { issues: issues.slice(0, 3) }, problems.slice(0, 3).join("; "));
  return request;
}
