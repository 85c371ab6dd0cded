import { z } from 'zod'
import type { JobRunner } from '../jobs/types.js'
import type { Logger } from '../logger.js'
import type { Brand } from '../options.js'
import { applyBrandLayout } from './layout.js'
import type { MailTransport } from './transport.js'
import type { MailContent, Mailer } from './types.js'

export interface MailerOptions {
  brand: Brand
  transport: MailTransport
  jobs: JobRunner
  logger: Logger
}

// A line break in an address header would let data inject headers of its own.
const headerLine = z
  .string()
  .min(1)
  .regex(/^[^\r\n]*$/, 'must be a single line')

/** The `mail.send` payload: a message already rendered, so delivery needs nothing else. */
const renderedMailSchema = z.object({
  from: headerLine,
  to: headerLine,
  replyTo: headerLine.optional(),
  subject: z.string(),
  text: z.string(),
  html: z.string().optional(),
})

type RenderTemplate = (data: unknown, brand: Brand) => MailContent

export function createMailer(options: MailerOptions): Mailer & { close(): void } {
  const { brand, transport, jobs, logger } = options
  const from = formatMailbox(brand.name, brand.mailFrom ?? 'no-reply@localhost')
  const templates = new Map<string, RenderTemplate>()
  const sendJob = jobs.define({
    name: 'mail.send',
    schema: renderedMailSchema,
    // Bodies carry reset links and sign-in codes; nothing to keep once delivered.
    keepCompleted: false,
    handler: (mail) => transport.deliver(mail),
  })

  async function enqueue(to: string, content: MailContent, replyTo?: string): Promise<void> {
    const mail = {
      from,
      to,
      replyTo: replyTo ?? brand.supportEmail,
      ...applyBrandLayout(content, brand),
    }
    const { id } = await sendJob.enqueue(mail)
    logger.debug({ to, subject: content.subject, jobId: id }, 'mail queued')
  }

  return {
    registerTemplate(name, template) {
      if (templates.has(name)) throw new Error(`Mail template "${name}" is already registered`)
      // The registry's types tie each name to its data; the map itself cannot express that.
      templates.set(name, template as RenderTemplate)
    },
    async sendTemplate(name, to, data) {
      const template = templates.get(name)
      if (!template) throw new Error(`Mail template "${name}" is not registered`)
      await enqueue(to, template(data, brand))
    },
    send: (message) => enqueue(message.to, message, message.replyTo),
    get sent() {
      return transport.sent
    },
    close: () => transport.close(),
  }
}

/**
 * `"Name" <address>` with the name quoted and escaped, so a brand such as `Books "R" Us, Inc.`
 * stays one display name; nodemailer parses it back and encodes non-ASCII names.
 */
export function formatMailbox(name: string, address: string): string {
  const quoted = name.replace(/[\r\n]+/g, ' ').replace(/["\\]/g, '\\$&')
  return `"${quoted}" <${address}>`
}
