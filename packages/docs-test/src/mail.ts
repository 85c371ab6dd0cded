import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Mail {
  file: string
  to: string
  subject: string
  /** The text/plain part, transfer encoding undone. */
  text: string
}

/**
 * The mails core's file transport wrote to `dir` (`.data/mail/*.eml`), oldest first. Reads
 * what a person opening the files reads: the headers and the plain-text part.
 */
export function readMails(dir: string): Mail[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.eml'))
    .sort()
    .map((name) => parseMail(join(dir, name), readFileSync(join(dir, name), 'utf8')))
}

export function parseMail(file: string, source: string): Mail {
  const raw = source.replaceAll('\r\n', '\n')
  const headerEnd = raw.indexOf('\n\n')
  const headers = raw.slice(0, headerEnd).replace(/\n[ \t]+/g, ' ')
  const header = (name: string) =>
    new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(headers)?.[1]?.trim() ?? ''
  const body = raw.slice(headerEnd + 2)
  const boundary = /boundary="?([^";]+)"?/i.exec(header('Content-Type'))?.[1]
  const parts = boundary ? body.split(`--${boundary}`).slice(1, -1) : [`${headers}\n\n${body}`]
  const plain = parts.find((part) => /content-type:\s*text\/plain/i.test(part)) ?? parts[0] ?? ''
  const partHeaderEnd = plain.replace(/^\n/, '').indexOf('\n\n')
  const partHeaders = plain.replace(/^\n/, '').slice(0, partHeaderEnd)
  const content = plain.replace(/^\n/, '').slice(partHeaderEnd + 2)
  const quoted = /content-transfer-encoding:\s*quoted-printable/i.test(partHeaders)
  return {
    file,
    to: header('To'),
    subject: header('Subject'),
    text: quoted ? decodeQuotedPrintable(content) : content,
  }
}

export function decodeQuotedPrintable(text: string): string {
  const bytes = text
    .replace(/=\n/g, '')
    .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
  return Buffer.from(bytes, 'latin1').toString('utf8')
}

/** The value of query parameter `name` in the first link of `text` that carries it. */
export function linkParameter(text: string, name: string): string | undefined {
  for (const link of text.match(/https?:\/\/\S+/g) ?? []) {
    const value = new URL(link).searchParams.get(name)
    if (value) return value
  }
  return undefined
}
