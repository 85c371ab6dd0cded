import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseRawMail, waitFor } from '@acme/test-kit'
import addressparser from 'nodemailer/lib/addressparser'
import { SMTPServer } from 'smtp-server'
import { afterEach, describe, expect, it } from 'vitest'
import { CoreErrors } from '../src/errors.js'
import { createInProcessRunner } from '../src/jobs/in-process-runner.js'
import type { JobRunner } from '../src/jobs/types.js'
import { applyBrandLayout, escapeHtml } from '../src/mail/layout.js'
import { createMailer } from '../src/mail/mailer.js'
import { createMailTransport, type MailOptions } from '../src/mail/transport.js'
import type { MailTemplate } from '../src/mail/types.js'
import type { Brand } from '../src/options.js'
import { type CapturingLogger, createCapturingLogger } from './support/capture-logger.js'

declare module '../src/mail/types.js' {
  interface AcmeMailTemplates {
    'test.welcome': { name: string; resetUrl: string }
  }
}

const brand: Brand = {
  name: 'Northwind Books',
  baseUrl: 'https://books.example.com',
  supportEmail: 'help@books.example.com',
  mailFrom: 'hello@books.example.com',
}

const welcome: MailTemplate<{ name: string; resetUrl: string }> = (data, { name }) => ({
  subject: `Welcome to ${name}`,
  text: `Hi ${data.name},\nset your password: ${data.resetUrl}`,
  html: `<p>Hi ${escapeHtml(data.name)},</p><p><a href="${escapeHtml(data.resetUrl)}">Set your password</a></p>`,
})

const settings = { concurrency: 2, attempts: 2, backoffMs: 10, keepFailed: 10 }
const cleanups: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function buildMailer(mail: MailOptions, mailBrand: Brand = brand) {
  const logger = createCapturingLogger()
  const jobs: JobRunner = createInProcessRunner({ settings, logger })
  const transport = createMailTransport(mail, logger)
  const mailer = createMailer({ brand: mailBrand, transport, jobs, logger })
  mailer.registerTemplate('test.welcome', welcome)
  // The runner first, so no delivery runs against a closed transport.
  cleanups.push(async () => {
    await jobs.close()
    mailer.close()
  })
  return { mailer, jobs, logger }
}

interface ReceivedMail {
  envelopeTo: string[]
  raw: string
}

async function startSmtpSink(): Promise<{ url: string; received: ReceivedMail[] }> {
  const received: ReceivedMail[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        const envelopeTo = session.envelope.rcptTo.map((recipient) => recipient.address)
        received.push({ envelopeTo, raw: Buffer.concat(chunks).toString('utf8') })
        callback()
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise<void>((resolve) => server.close(resolve)))
  const address = server.server.address()
  if (address === null || typeof address === 'string') throw new Error('SMTP sink has no port')
  return { url: `smtp://127.0.0.1:${address.port}`, received }
}

describe('mailer over SMTP', () => {
  it('delivers a branded template through a job to a real SMTP server', async () => {
    const smtp = await startSmtpSink()
    const { mailer } = buildMailer({ transport: 'smtp', url: smtp.url })

    await mailer.sendTemplate('test.welcome', 'ada@example.org', {
      name: '<script>alert(1)</script> Ada',
      resetUrl: 'https://books.example.com/reset?token=abc&user=1',
    })
    const [message] = await waitFor(() => smtp.received.length === 1 && smtp.received)
    if (!message) throw new Error('no message received')
    const mail = parseRawMail(message.raw)

    expect(message.envelopeTo).toEqual(['ada@example.org'])
    expect(addressparser(mail.header('from') ?? '')).toEqual([
      { name: 'Northwind Books', address: 'hello@books.example.com' },
    ])
    expect(mail.header('to')).toBe('ada@example.org')
    expect(mail.header('reply-to')).toBe('help@books.example.com')
    expect(mail.header('subject')).toBe('Welcome to Northwind Books')

    expect(mail.text).toContain('Hi <script>alert(1)</script> Ada,')
    expect(mail.text).toContain(
      'set your password: https://books.example.com/reset?token=abc&user=1',
    )
    expect(mail.text).toContain('Sent by Northwind Books.')
    expect(mail.text).toContain('Questions? Write to help@books.example.com')

    expect(mail.html).toContain('Northwind Books</div>')
    expect(mail.html).toContain('<p>Hi &lt;script&gt;alert(1)&lt;/script&gt; Ada,</p>')
    expect(mail.html).toContain('href="https://books.example.com/reset?token=abc&amp;user=1"')
    expect(mail.html).not.toContain('<script>')
    expect(mail.html).toContain('<a href="https://books.example.com"')
    expect(message.raw.toLowerCase()).not.toContain('acme')
  })

  it('keeps a brand name with quotes and commas as one display name', async () => {
    const smtp = await startSmtpSink()
    const quotedBrand = { ...brand, name: 'Books "R" Us, Inc.' }
    const { mailer } = buildMailer({ transport: 'smtp', url: smtp.url }, quotedBrand)

    await mailer.send({ to: 'ada@example.org', subject: 'Hello', text: 'Hello there' })
    const [message] = await waitFor(() => smtp.received.length === 1 && smtp.received)
    const from = parseRawMail(message?.raw ?? '').header('from') ?? ''

    expect(addressparser(from)).toEqual([
      { name: 'Books "R" Us, Inc.', address: 'hello@books.example.com' },
    ])
  })
})

describe('mailer over the memory transport', () => {
  it('delivers a hand-built message with the brand sender and layout', async () => {
    const { mailer } = buildMailer({ transport: 'memory' })

    await mailer.send({
      to: 'bob@example.org',
      replyTo: 'orders@books.example.com',
      subject: 'Your order',
      text: 'Your order shipped.',
      html: '<p>Your order shipped.</p>',
    })
    await waitFor(() => mailer.sent.length === 1)

    expect(mailer.sent[0]).toEqual({
      from: '"Northwind Books" <hello@books.example.com>',
      to: 'bob@example.org',
      replyTo: 'orders@books.example.com',
      subject: 'Your order',
      text: expect.stringMatching(/^Your order shipped\.\n\n-- \nSent by Northwind Books\./),
      html: expect.stringContaining('<p>Your order shipped.</p>'),
    })
  })

  it('falls back to no-reply@localhost and no Reply-To when the brand sets neither', async () => {
    const { mailer } = buildMailer(
      { transport: 'memory' },
      { name: 'Tiny', baseUrl: 'http://x.test' },
    )

    await mailer.send({ to: 'bob@example.org', subject: 'Hi', text: 'Hi' })
    await waitFor(() => mailer.sent.length === 1)

    expect(mailer.sent[0]?.from).toBe('"Tiny" <no-reply@localhost>')
    expect(mailer.sent[0]?.replyTo).toBeUndefined()
  })

  it('refuses unknown and duplicate templates, and header injection', async () => {
    const { mailer } = buildMailer({ transport: 'memory' })

    const unknownName = 'test.missing' as 'test.welcome'
    await expect(
      mailer.sendTemplate(unknownName, 'bob@example.org', { name: 'Bob', resetUrl: 'x' }),
    ).rejects.toThrow('Mail template "test.missing" is not registered')
    expect(() => mailer.registerTemplate('test.welcome', welcome)).toThrow('already registered')
    await expect(
      mailer.send({ to: 'bob@example.org\r\nBcc: eve@example.org', subject: 'Hi', text: 'Hi' }),
    ).rejects.toBeInstanceOf(CoreErrors.InvalidJobPayload)
  })
})

describe('mailer over the file transport', () => {
  let dir: string | undefined

  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('writes an .eml file and logs where, never the body', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mail-test-'))
    const mailDir = join(dir, 'nested', 'mail')
    const { mailer, logger } = buildMailer({ transport: 'file', dir: mailDir })

    await mailer.sendTemplate('test.welcome', 'ada@example.org', {
      name: 'Ada',
      resetUrl: 'https://books.example.com/reset?token=secret-reset-token',
    })
    const [fileName] = await waitFor(async () => {
      const files = await readdir(mailDir).catch(() => [])
      return files.length === 1 && files
    })
    if (!fileName) throw new Error('no mail file written')

    expect(fileName).toMatch(/^\d{4}-\d{2}-\d{2}T[\d-]+Z-[0-9a-f]{8}\.eml$/)
    const file = join(mailDir, fileName)
    const mail = parseRawMail(await readFile(file, 'utf8'))
    expect(mail.header('subject')).toBe('Welcome to Northwind Books')
    expect(mail.text).toContain('token=secret-reset-token')
    expect((await stat(file)).mode & 0o777).toBe(0o600)

    expect(infoLines(logger)).toEqual([
      { to: 'ada@example.org', subject: 'Welcome to Northwind Books', file },
    ])
    expect(logger.text()).not.toContain('secret-reset-token')
  })
})

function infoLines(logger: CapturingLogger) {
  return logger.lines.filter((line) => line.level === 'info').map((line) => line.object)
}

describe('brand layout', () => {
  const content = { subject: 'Hi <you>', text: 'Body text.\n\n', html: '<p>Body</p>' }

  it('escapes HTML special characters', () => {
    expect(escapeHtml(`<a href="x">Tom & Jerry's</a>`)).toBe(
      '&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;',
    )
  })

  it('wraps HTML with the escaped brand and adds a text footer', () => {
    const evilBrand: Brand = {
      name: '<b>Evil</b> & Co',
      baseUrl: 'https://evil.example.com/"x',
      supportEmail: 'help@evil.example.com',
    }
    const wrapped = applyBrandLayout(content, evilBrand)

    expect(wrapped.subject).toBe('Hi <you>')
    expect(wrapped.html).toContain('<p>Body</p>')
    expect(wrapped.html).toContain('<title>Hi &lt;you&gt;</title>')
    expect(wrapped.html).toContain('&lt;b&gt;Evil&lt;/b&gt; &amp; Co</div>')
    expect(wrapped.html).toContain('Sent by &lt;b&gt;Evil&lt;/b&gt; &amp; Co.')
    expect(wrapped.html).toContain('href="mailto:help@evil.example.com"')
    expect(wrapped.html).toContain('href="https://evil.example.com/&quot;x"')
    expect(wrapped.html).not.toContain('<b>')
    expect(wrapped.html).not.toContain('<table')
    expect(wrapped.text).toBe(
      'Body text.\n\n-- \nSent by <b>Evil</b> & Co.\n' +
        'Questions? Write to help@evil.example.com\nhttps://evil.example.com/"x\n',
    )
  })

  it('leaves out the support line without a support address, and HTML without HTML', () => {
    const plain = applyBrandLayout({ subject: 'Hi', text: 'Body' }, brand)
    const { supportEmail: _omitted, ...noSupport } = brand
    const wrapped = applyBrandLayout(content, noSupport)

    expect(plain.html).toBeUndefined()
    expect(wrapped.html).not.toContain('Questions?')
    expect(wrapped.text).not.toContain('Questions?')
    expect(`${wrapped.html}${wrapped.text}`.toLowerCase()).not.toContain('acme')
  })
})
