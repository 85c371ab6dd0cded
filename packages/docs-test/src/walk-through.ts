import { join } from 'node:path'
import { waitFor } from '@acme/test-kit'
import { type Answer, type HttpSession, stringField } from './http-session.js'
import { linkParameter, readMails } from './mail.js'

export const ANN = { email: 'ann@initech.test', password: 'correct horse battery staple' }
export const BOB = { email: 'bob@initech.test', password: 'battery staple correct horse' }

/**
 * The page's "Try it", request by request: Ann signs up, creates a tenant and writes a note,
 * invites Bob as a viewer; Bob accepts from the mailed link, reads, and tries to write.
 */
export async function walkThrough(
  session: HttpSession,
  appDir: string,
): Promise<{ tenantId: string; annNotes: Answer; bobNotes: Answer }> {
  await session.call('Ann', 'POST /auth/register', { body: ANN })
  const annToken = stringField(
    await session.call('Ann', 'POST /auth/login', { body: ANN }),
    'accessToken',
  )
  const tenantId = stringField(
    await session.call('Ann', 'POST /tenants', { token: annToken, body: { name: 'Initech' } }),
    'id',
  )
  const asAnn = { token: annToken, tenantId }
  await session.call('Ann', 'POST /notes', { ...asAnn, body: { title: 'Welcome' } })
  const annNotes = await session.call('Ann', 'GET /notes', asAnn)
  await session.call('Ann', 'POST /tenants/:tenantId/invitations', {
    ...asAnn,
    params: { tenantId },
    body: { email: BOB.email, roles: ['viewer'] },
  })
  // Written just after the answer: a person finds it in .data/mail a moment later.
  const token = await waitFor(
    () => {
      const mails = readMails(join(appDir, '.data', 'mail'))
      const mail = mails.findLast((candidate) => candidate.to === BOB.email)
      return (mail && linkParameter(mail.text, 'token')) ?? false
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  )

  await session.call('Bob', 'POST /auth/register', { body: BOB })
  const bobToken = stringField(
    await session.call('Bob', 'POST /auth/login', { body: BOB }),
    'accessToken',
  )
  await session.call('Bob', 'POST /invitations/accept', { token: bobToken, body: { token } })
  const asBob = { token: bobToken, tenantId }
  const bobNotes = await session.call('Bob', 'GET /notes', asBob)
  await session.call('Bob', 'POST /notes', { ...asBob, body: { title: 'Not mine to write' } })
  return { tenantId, annNotes, bobNotes }
}
