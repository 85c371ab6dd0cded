import { manualClock, parseRawMail, waitFor } from '@acme/test-kit'
import { SMTPServer } from 'smtp-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SqlClient } from '../src/index.js'
import {
  bearer,
  createTenant,
  createWebhooksApp,
  signUp,
  sql,
  type WebhooksTestApp,
} from './support/app.js'
import { projectRoutes } from './support/project-routes.js'
import { type Receiver, startReceiver, status } from './support/receiver.js'

/**
 * The mail to a tenant's owners and admins when the engine disables one of its endpoints,
 * through core's mailer to a real SMTP server on loopback.
 */

interface ReceivedMail {
  to: string[]
  raw: string
}

const SLOW = { timeoutMs: 30_000, intervalMs: 25 }
const time = manualClock(new Date())
const mails: ReceivedMail[] = []
let smtp: SMTPServer
let receiver: Receiver
let t: WebhooksTestApp

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((recipient) => recipient.address)
        mails.push({ to, raw: Buffer.concat(chunks).toString('utf8') })
        callback()
      })
    },
  })
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve))
  const address = smtp.server.address()
  if (address === null || typeof address === 'string') throw new Error('SMTP server has no port')
  receiver = await startReceiver()
  t = await createWebhooksApp(
    {
      clock: time.now,
      ssrf: { allowAddresses: ['127.0.0.1'] },
      delivery: { sweepEverySeconds: 3_600 },
    },
    {
      label: 'webhooks_disabled_mail',
      routes: projectRoutes,
      core: { mail: { transport: 'smtp', url: `smtp://127.0.0.1:${address.port}` } },
    },
  )
})

afterAll(async () => {
  await t?.close()
  await receiver?.close()
  await new Promise<void>((resolve) => (smtp ? smtp.close(resolve) : resolve()))
})

const disabledMails = () =>
  mails
    .map((mail) => ({ to: mail.to, mail: parseRawMail(mail.raw) }))
    .filter(({ mail }) => mail.header('subject')?.startsWith('Webhook endpoint disabled'))

/** A tenant with an owner, an admin and a plain member; its endpoint at `path`. */
async function tenantWithEndpoint(label: string, path: string) {
  const owner = await signUp(t, `owner@${label}.test`)
  const admin = await signUp(t, `admin@${label}.test`)
  const member = await signUp(t, `member@${label}.test`)
  const tenant = await createTenant(t, owner.token, `Tenant ${label}`)
  await t.app.tenancy.tenants.addMember(tenant.id, admin.userId, ['admin'])
  await t.app.tenancy.tenants.addMember(tenant.id, member.userId, ['member'])
  const created = await t.app.inject({
    method: 'POST',
    url: `/tenants/${tenant.id}/webhooks/endpoints`,
    headers: bearer(owner.token),
    payload: {
      // The receiver's own token in the query string: it must not travel in a mail.
      url: `${receiver.url(path)}?token=receiver-own-token`,
      description: 'Billing sync',
      eventTypes: ['invoice.paid'],
    },
  })
  expect(created.statusCode).toBe(201)
  return { tenant, owner, endpoint: created.json<{ id: string }>() }
}

async function sendInvoice(tenantId: string, invoiceId: string) {
  const prisma = t.app.prisma as unknown as {
    $transaction<R>(work: (tx: SqlClient) => Promise<R>): Promise<R>
  }
  await prisma.$transaction((tx) =>
    t.app.webhooks.send(tx, tenantId, 'invoice.paid', { invoiceId, amount: 1 }),
  )
  await t.app.webhooks.sweep()
}

describe('mail when the engine disables an endpoint', () => {
  it("a 410 mails the tenant's owner and admins, not its members, without the URL's query", async () => {
    const { tenant, endpoint } = await tenantWithEndpoint('gone', '/gone')
    receiver.answer('/gone?token=receiver-own-token', status(410))
    await sendInvoice(tenant.id, 'inv_gone')

    const sent = await waitFor(() => {
      const found = disabledMails()
      return found.length >= 2 ? found : false
    }, SLOW)
    expect(sent.flatMap((entry) => entry.to).sort()).toEqual(['admin@gone.test', 'owner@gone.test'])
    const [first] = sent
    const text = first?.mail.text ?? ''
    expect(first?.mail.header('subject')).toBe('Webhook endpoint disabled in Tenant gone')
    expect(text).toContain(`${receiver.url('/gone')} (Billing sync) of Tenant gone was disabled`)
    expect(text).toContain('410 Gone')
    expect(text).toContain(`PATCH /tenants/${tenant.id}/webhooks/endpoints/${endpoint.id}`)
    expect(first?.mail.html).toContain('410 Gone')
    for (const entry of sent) {
      expect(`${entry.mail.text}${entry.mail.html}`).not.toContain('receiver-own-token')
    }
    const [stored] = await sql<{ enabled: boolean }>(
      t.db.owner.url,
      'SELECT enabled FROM webhook_endpoints WHERE id = $1',
      [endpoint.id],
    )
    expect(stored?.enabled).toBe(false)
  })

  it('members of a custom role holding webhooks:manage are mailed; of one without it, not', async () => {
    const { tenant, owner } = await tenantWithEndpoint('custom', '/custom')
    const role = async (name: string, permissions: string[]) => {
      const created = await t.app.inject({
        method: 'POST',
        url: '/rbac/roles',
        headers: { ...bearer(owner.token), 'x-tenant-id': tenant.id },
        payload: { name, permissions },
      })
      expect(created.statusCode).toBe(201)
    }
    await role('integrations', ['webhooks:manage'])
    await role('auditor', ['webhooks:read'])
    const integrator = await signUp(t, 'integrator@custom.test')
    const auditor = await signUp(t, 'auditor@custom.test')
    await t.app.tenancy.tenants.addMember(tenant.id, integrator.userId, ['integrations'])
    await t.app.tenancy.tenants.addMember(tenant.id, auditor.userId, ['auditor'])
    receiver.answer('/custom?token=receiver-own-token', status(410))
    await sendInvoice(tenant.id, 'inv_custom')
    const sent = await waitFor(() => {
      const found = disabledMails().filter((entry) => entry.to[0]?.endsWith('@custom.test'))
      return found.length >= 3 ? found : false
    }, SLOW)
    // Members are mailed in order of their address: the auditor's mail, had it been queued,
    // would have been queued before the integrator's and the owner's that arrived.
    expect(
      disabledMails()
        .filter((entry) => entry.to[0]?.endsWith('@custom.test'))
        .flatMap((entry) => entry.to)
        .sort(),
    ).toEqual(['admin@custom.test', 'integrator@custom.test', 'owner@custom.test'])
    expect(sent.length).toBe(3)
  })

  it('an endpoint failing for 5 days: the mail says how long', async () => {
    const { tenant } = await tenantWithEndpoint('dying', '/dying')
    receiver.answer('/dying?token=receiver-own-token', status(500))
    await sendInvoice(tenant.id, 'inv_dying_1')
    await waitFor(
      async () =>
        (
          await sql(
            t.db.owner.url,
            'SELECT id FROM webhook_attempts WHERE tenant_id = $1 AND outcome = $2',
            [tenant.id, 'failed'],
          )
        ).length === 1,
      SLOW,
    )
    expect(disabledMails().filter((entry) => entry.to.includes('owner@dying.test'))).toHaveLength(0)

    time.advance(5 * 86_400_000)
    await sendInvoice(tenant.id, 'inv_dying_2')
    const sent = await waitFor(() => {
      const found = disabledMails().filter((entry) => entry.to[0]?.endsWith('@dying.test'))
      return found.length >= 2 ? found : false
    }, SLOW)
    expect(sent.flatMap((entry) => entry.to).sort()).toEqual([
      'admin@dying.test',
      'owner@dying.test',
    ])
    expect(sent[0]?.mail.text).toContain('has failed for 5 days, without a success')
  })
})
