/**
 * A client's file name made safe to keep as metadata: the last path segment only, no control
 * characters, no bidirectional overrides, no leading dots, at most 255 characters. Never used as
 * a path: files are stored under server-generated keys.
 */
export function sanitiseFileName(raw: string | undefined): string {
  const lastSegment = (raw ?? '').split(/[/\\]/).pop() ?? ''
  const cleaned = lastSegment
    .normalize('NFC')
    // C0/C1 controls (NUL included), DEL, and bidirectional controls that disguise extensions.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
    .replace(/[\u0000-\u001F\u007F-\u009F\u200E\u200F\u202A-\u202E\u2066-\u2069]/g, '')
    .replace(/[\uD800-\uDFFF]/g, (char, index: number, whole: string) => {
      // Keep well-formed surrogate pairs only.
      const code = char.charCodeAt(0)
      if (code <= 0xdbff) {
        const next = whole.charCodeAt(index + 1)
        return next >= 0xdc00 && next <= 0xdfff ? char : ''
      }
      const previous = whole.charCodeAt(index - 1)
      return previous >= 0xd800 && previous <= 0xdbff ? char : ''
    })
    .replace(/^[.\s]+/, '')
    .trim()
  const limited = Array.from(cleaned).slice(0, 255).join('')
  return limited.length > 0 ? limited : 'file'
}

/**
 * RFC 6266 `Content-Disposition`: an ASCII `filename` fallback (quoted, with anything outside
 * printable ASCII, quotes and backslashes replaced) and the exact name as RFC 8187 `filename*`.
 */
export function contentDisposition(disposition: 'attachment' | 'inline', fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7E]|["\\%;]/g, '_')
  const encoded = encodeURIComponent(fileName).replace(
    /['()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  )
  return `${disposition}; filename="${fallback}"; filename*=UTF-8''${encoded}`
}
