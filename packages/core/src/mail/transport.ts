import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import nodemailer, { type SendMailOptions } from 'nodemailer'
import type { Logger } from '../logger.js'
import type { ResolvedCoreOptions } from '../options.js'
import type { DeliveredMail } from './types.js'

export type MailOptions = ResolvedCoreOptions['mail']

export interface MailTransport {
  deliver(mail: DeliveredMail): Promise<void>
  /** What the `memory` transport delivered; always empty for the others. */
  readonly sent: DeliveredMail[]
  close(): void
}

export function createMailTransport(options: MailOptions, logger: Logger): MailTransport {
  switch (options.transport) {
    case 'smtp':
      return createSmtpTransport(options.url, logger)
    case 'file':
      return createFileTransport(options.dir, logger)
    case 'memory':
      return createMemoryTransport(logger)
  }
}

function createSmtpTransport(url: string, logger: Logger): MailTransport {
  const transporter = nodemailer.createTransport(url)
  return {
    sent: [],
    async deliver(mail) {
      const info = await transporter.sendMail(toNodemailer(mail))
      logger.debug({ to: mail.to, subject: mail.subject, messageId: info.messageId }, 'mail sent')
    },
    close: () => transporter.close(),
  }
}

/** Writes each message as an .eml file, for development: open it in any mail client. */
function createFileTransport(dir: string, logger: Logger): MailTransport {
  const transporter = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: 'windows',
  })
  return {
    sent: [],
    async deliver(mail) {
      const info = await transporter.sendMail(toNodemailer(mail))
      await mkdir(dir, { recursive: true, mode: 0o700 })
      const file = join(dir, `${fileTimestamp()}-${randomBytes(4).toString('hex')}.eml`)
      // Owner-only: bodies carry reset links and sign-in codes.
      await writeFile(file, info.message, { flag: 'wx', mode: 0o600 })
      // Never the body, for the same reason.
      logger.info({ to: mail.to, subject: mail.subject, file }, 'mail written to file')
    },
    close: () => transporter.close(),
  }
}

function createMemoryTransport(logger: Logger): MailTransport {
  const sent: DeliveredMail[] = []
  return {
    sent,
    async deliver(mail) {
      sent.push({ ...mail })
      logger.debug({ to: mail.to, subject: mail.subject }, 'mail kept in memory')
    },
    close: () => {},
  }
}

function toNodemailer(mail: DeliveredMail): SendMailOptions {
  const { from, to, replyTo, subject, text, html } = mail
  return { from, to, replyTo, subject, text, html }
}

/** Sortable and safe in file names on every OS. */
function fileTimestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-')
}
