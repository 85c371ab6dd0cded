/**
 * Content types uploads can be stored as: what sniffing can tell from the bytes. Binary formats
 * come from their magic numbers (`file-type`); the text formats from parsing the whole content.
 */
export const TEXT_TYPES = ['text/plain', 'text/csv', 'application/json'] as const
export type TextType = (typeof TEXT_TYPES)[number]

export const isTextType = (type: string): type is TextType =>
  (TEXT_TYPES as readonly string[]).includes(type)

/** What a route accepts when it says nothing: common images, PDF and the text formats. */
export const DEFAULT_ALLOWED_TYPES = [
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'application/pdf',
  'text/plain',
  'text/csv',
  'application/json',
] as const

/**
 * Types never stored, whatever an allowlist says: markup a browser renders as a page (stored
 * HTML or SVG served from the app's origin is stored cross-site scripting) and executables.
 */
export const REFUSED_TYPES = new Set([
  'text/html',
  'image/svg+xml',
  'application/xml',
  'application/x-elf',
  'application/x-msdownload',
  'application/x-mach-binary',
  'application/x-sh',
  'text/x-shellscript',
])

/** Extensions a client's file name may claim, for the mismatch check. */
export const TYPE_OF_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  heic: 'image/heic',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  bmp: 'image/bmp',
  ico: 'image/x-icon',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  mp3: 'audio/mpeg',
  mp4: 'video/mp4',
  webm: 'video/webm',
  txt: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  svg: 'image/svg+xml',
  html: 'text/html',
  htm: 'text/html',
  xml: 'application/xml',
  exe: 'application/x-msdownload',
  dll: 'application/x-msdownload',
}
