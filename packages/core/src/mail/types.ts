import type { Brand } from '../options.js'

export interface MailContent {
  subject: string
  /** Plain-text body; always sent. */
  text: string
  /** Optional HTML body; wrapped in the brand layout. */
  html?: string
}

export interface MailMessage extends MailContent {
  to: string
  /** Reply-To; defaults to the brand's support address when set. */
  replyTo?: string
}

/** A template turns data into content; the layout adds the brand around it. */
export type MailTemplate<Data> = (data: Data, brand: Brand) => MailContent

/** Registry of template names to their data; plugins add theirs by module augmentation. */
export interface AcmeMailTemplates {}

/** `app.mailer`: every send goes through a job so a slow SMTP server never holds a request. */
export interface Mailer {
  registerTemplate<K extends keyof AcmeMailTemplates & string>(
    name: K,
    template: MailTemplate<AcmeMailTemplates[K]>,
  ): void
  /** Renders the template with the brand and enqueues the send. */
  sendTemplate<K extends keyof AcmeMailTemplates & string>(
    name: K,
    to: string,
    data: AcmeMailTemplates[K],
  ): Promise<void>
  /** Enqueues a message built by hand; the brand layout and sender still apply. */
  send(message: MailMessage): Promise<void>
  /** Messages delivered by the `memory` transport (tests); empty for other transports. */
  readonly sent: readonly DeliveredMail[]
}

export interface DeliveredMail {
  from: string
  to: string
  replyTo?: string
  subject: string
  text: string
  html?: string
}
