import type { Brand } from '../options.js'
import type { MailContent } from './types.js'

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** For every value a template puts into HTML: names, addresses, anything a user typed. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char)
}

const FONT = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif"

/** Wraps content in the brand's header and footer; the template's HTML goes in unchanged. */
export function applyBrandLayout(content: MailContent, brand: Brand): MailContent {
  return {
    subject: content.subject,
    text: `${content.text.trimEnd()}\n\n${textFooter(brand)}`,
    ...(content.html === undefined
      ? {}
      : { html: htmlLayout(content.subject, content.html, brand) }),
  }
}

/** Ends with a full stop, without doubling one already there (`Northwind Inc.`). */
function sentence(value: string): string {
  return /[.!?]$/.test(value) ? value : `${value}.`
}

function textFooter(brand: Brand): string {
  const lines = [`Sent by ${sentence(brand.name)}`]
  if (brand.supportEmail) lines.push(`Questions? Write to ${brand.supportEmail}`)
  lines.push(brand.baseUrl)
  // "-- " is the signature delimiter mail clients recognise.
  return `-- \n${lines.join('\n')}\n`
}

function htmlLayout(subject: string, body: string, brand: Brand): string {
  const name = escapeHtml(brand.name)
  const baseUrl = escapeHtml(brand.baseUrl)
  const support = brand.supportEmail ? escapeHtml(brand.supportEmail) : undefined
  const footerLine = 'margin:0 0 4px;'
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(subject)}</title></head>`,
    `<body style="margin:0;padding:0;background:#f4f4f5;color:#18181b;font-family:${FONT};">`,
    '<div style="max-width:560px;margin:0 auto;padding:24px 16px;">',
    `<div style="font-size:20px;font-weight:600;padding:0 0 16px;">${name}</div>`,
    '<div style="background:#ffffff;border-radius:8px;padding:24px;font-size:16px;line-height:1.5;">',
    body,
    '</div>',
    '<div style="padding:16px 0 0;font-size:12px;line-height:1.5;color:#71717a;">',
    `<p style="${footerLine}">Sent by ${sentence(name)}</p>`,
    support
      ? `<p style="${footerLine}">Questions? Write to <a href="mailto:${support}" style="color:#71717a;">${support}</a></p>`
      : '',
    `<p style="${footerLine}"><a href="${baseUrl}" style="color:#71717a;">${baseUrl}</a></p>`,
    '</div>',
    '</div>',
    '</body>',
    '</html>',
  ]
    .filter((line) => line !== '')
    .join('\n')
}
