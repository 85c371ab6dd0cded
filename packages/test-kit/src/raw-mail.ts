/** Just enough MIME to read what nodemailer sends: headers, and the text and HTML parts. */
export interface ParsedMail {
  header(name: string): string | undefined
  text: string | undefined
  html: string | undefined
}

export function parseRawMail(raw: string): ParsedMail {
  const parsed: ParsedMail & { headers: Map<string, string> } = {
    headers: new Map(),
    header: (name) => parsed.headers.get(name.toLowerCase()),
    text: undefined,
    html: undefined,
  }
  const { headers, body } = splitEntity(raw.replace(/\r\n/g, '\n'))
  parsed.headers = headers
  collectParts(headers, body, parsed)
  return parsed
}

function splitEntity(entity: string): { headers: Map<string, string>; body: string } {
  const end = entity.indexOf('\n\n')
  const head = end === -1 ? entity : entity.slice(0, end)
  const body = end === -1 ? '' : entity.slice(end + 2)
  const headers = new Map<string, string>()
  // Folded header lines continue with whitespace.
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':')
    if (colon === -1) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim())
  }
  return { headers, body }
}

function collectParts(headers: Map<string, string>, body: string, into: ParsedMail): void {
  const contentType = headers.get('content-type') ?? 'text/plain'
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1]
  if (contentType.toLowerCase().startsWith('multipart/') && boundary) {
    const sections = body.split(`--${boundary}`).slice(1)
    for (const section of sections) {
      if (section.startsWith('--')) break
      const part = splitEntity(section.replace(/^\n/, ''))
      collectParts(part.headers, part.body, into)
    }
    return
  }
  const decoded = decodeBody(body, headers.get('content-transfer-encoding'))
  if (contentType.toLowerCase().startsWith('text/html')) into.html = decoded
  else if (contentType.toLowerCase().startsWith('text/plain')) into.text = decoded
}

function decodeBody(body: string, encoding = '7bit'): string {
  switch (encoding.toLowerCase()) {
    case 'base64':
      return Buffer.from(body, 'base64').toString('utf8')
    case 'quoted-printable': {
      // As percent-encoding, so multi-byte UTF-8 sequences decode together.
      const percentEncoded = body
        .replace(/=\n/g, '')
        .replace(/%/g, '%25')
        .replace(/=([0-9A-F]{2})/gi, '%$1')
      return decodeURIComponent(percentEncoded)
    }
    default:
      return body
  }
}
