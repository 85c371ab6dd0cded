import { fileTypeFromBuffer } from 'file-type'
import type { SvgPolicy } from '../options.js'
import { isTextType, REFUSED_TYPES, type TextType, TYPE_OF_EXTENSION } from './types.js'

/** Bytes read before deciding a file's type: enough for every magic number file-type checks. */
export const SNIFF_BYTES = 4_100

/** The outcome of looking at a file's first bytes. */
export type Sniffed =
  /** A binary format recognised by its magic number: the type is final. */
  | { kind: 'binary'; type: string }
  /** No magic number: text, to be confirmed by parsing the whole content as `type`. */
  | { kind: 'text'; type: TextType }
  /** An SVG document, to be sanitised before it is stored (routes with `svg: 'sanitise'`). */
  | { kind: 'svg'; type: 'image/svg+xml' }
  /** Refused whatever the allowlist: `type` is what it looked like. */
  | { kind: 'refused'; type: string; reason: string }

const ALIASES: Record<string, string> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'text/x-csv': 'text/csv',
  'application/csv': 'text/csv',
  // What browsers on Windows with Excel installed send for a .csv file.
  'application/vnd.ms-excel': 'text/csv',
  'text/json': 'application/json',
  'application/x-pdf': 'application/pdf',
}
const normal = (type: string) => ALIASES[type] ?? type

/**
 * The types a client claims for a part: its file name's extension, when known, and its part
 * header unless that says nothing (`application/octet-stream`, or `text/plain`, which the
 * multipart parser also reports for a part sent without a header). Every claim must match what
 * the bytes are, or the upload is refused (415).
 */
export function claimedTypes(mimetype: string | undefined, filename: string): string[] {
  const claims: string[] = []
  const extension = /\.([a-z0-9]{1,8})$/i.exec(filename)?.[1]?.toLowerCase()
  const fromName = extension ? TYPE_OF_EXTENSION[extension] : undefined
  if (fromName) claims.push(fromName)
  const header = mimetype?.split(';')[0]?.trim().toLowerCase()
  if (header && header !== 'application/octet-stream' && header !== 'text/plain') {
    claims.push(normal(header))
  }
  return claims
}

/** True when none of the claims contradicts the type the bytes have. */
export function claimsMatch(claims: readonly string[], type: string): boolean {
  return claims.every((claim) => claim === type)
}

// Markup that browsers render: checked on text before it may pass as plain text.
const MARKUP =
  /^(?:\s|<!--[\s\S]*?-->)*<(?:!doctype\s+html|html|head|body|script|iframe|svg|\?xml|!entity|div|a\s|img|meta|style|object|embed)\b/i

// A document whose first element is <svg>, after an XML declaration, comments or a doctype.
const SVG_DOCUMENT =
  /^(?:\s|<\?xml[\s\S]*?\?>|<!--[\s\S]*?-->|<!doctype[^[>]*(?:\[[\s\S]*?\])?\s*>)*<svg\b/i

/**
 * An SVG is sanitised when the route asks for it and allows the type; otherwise refused, as
 * is markup that holds an <svg> without being an SVG document.
 */
function svgOrRefused(text: string, allowed: ReadonlySet<string>, svg: SvgPolicy): Sniffed {
  if (svg === 'sanitise' && allowed.has('image/svg+xml') && SVG_DOCUMENT.test(text)) {
    return { kind: 'svg', type: 'image/svg+xml' }
  }
  return {
    kind: 'refused',
    type: 'image/svg+xml',
    reason:
      svg === 'sanitise' ? 'not an SVG document' : 'SVG is refused on this route (not sanitised)',
  }
}

/**
 * Decides what the bytes are. `allowed` is the route's allowlist: a text file is confirmed as
 * the claimed text format when the route allows it, otherwise as plain text.
 */
export async function sniff(
  head: Uint8Array,
  claims: readonly string[],
  allowed: ReadonlySet<string>,
  svg: SvgPolicy = 'refuse',
): Promise<Sniffed> {
  const detected = await fileTypeFromBuffer(head)
  if (detected) {
    const text = Buffer.from(head).toString('utf8')
    if (detected.mime === 'application/xml' && /<svg\b/i.test(text)) {
      return svgOrRefused(text.replace(/^\uFEFF/, ''), allowed, svg)
    }
    if (REFUSED_TYPES.has(detected.mime)) {
      return { kind: 'refused', type: detected.mime, reason: 'executable or active content' }
    }
    return { kind: 'binary', type: detected.mime }
  }
  const text = Buffer.from(head)
    .toString('utf8')
    .replace(/^\uFEFF/, '')
  if (text.startsWith('#!')) {
    return { kind: 'refused', type: 'text/x-shellscript', reason: 'a script (#!)' }
  }
  if (MARKUP.test(text)) {
    if (/<svg\b/i.test(text)) return svgOrRefused(text, allowed, svg)
    return { kind: 'refused', type: 'text/html', reason: 'HTML or XML markup' }
  }
  const claim = claims.find(isTextType)
  if (claim && allowed.has(claim)) return { kind: 'text', type: claim }
  return { kind: 'text', type: 'text/plain' }
}
