// Each check of the topology: what a buyer running several instances relies on, observed over
// HTTP through haproxy or on one instance directly.
import { setTimeout as sleep } from 'node:timers/promises'
import { call, type Member, mailsByRecipient, type Owner } from './client.js'

export interface Outcome {
  check: string
  pass: boolean
  detail: string
}

/** Polls `probe` every 20 ms until true; the milliseconds it took, or null after `limitMs * 5`. */
async function millisUntil(probe: () => Promise<boolean>, limitMs: number): Promise<number | null> {
  const started = performance.now()
  while (performance.now() - started < limitMs * 5) {
    if (await probe()) return Math.round(performance.now() - started)
    await sleep(20)
  }
  return null
}

/**
 * Many tenants' requests at once through the load balancer, spread over every instance and
 * PgBouncer's shared server connections: each answer holds its own tenant's rows only, and a
 * tenant named by someone outside it is a 404.
 */
export async function isolation(base: string, owners: Owner[], requests: number): Promise<Outcome> {
  let violations = 0
  let crossings = 0
  let done = 0
  const one = async (i: number) => {
    const owner = owners[i % owners.length] as Owner
    if (i % 5 === 4) {
      const other = owners[(i + 1) % owners.length] as Owner
      const crossing = await call(base, 'GET', '/projects', {
        headers: { ...owner.headers, 'x-tenant-id': other.tenantId },
      })
      if (crossing.status !== 404) crossings += 1
    } else {
      const page = await call(base, 'GET', '/projects?limit=50', { headers: owner.headers })
      const items = (page.body.items ?? []) as Array<{ name: string }>
      const foreign = items.filter((item) => !item.name.startsWith(owner.tenantId))
      if (page.status !== 200 || foreign.length > 0 || items.length !== 3) violations += 1
    }
    done += 1
  }
  const running = new Set<Promise<void>>()
  for (let i = 0; i < requests; i += 1) {
    const task = one(i).finally(() => running.delete(task))
    running.add(task)
    if (running.size >= 50) await Promise.race(running)
  }
  await Promise.all(running)
  return {
    check: 'isolation: concurrent requests of many tenants, 3 instances, PgBouncer',
    pass: violations === 0 && crossings === 0 && done === requests,
    detail: `${requests} requests from ${owners.length} tenants: ${violations} wrong pages, ${crossings} cross-tenant answers other than 404`,
  }
}

/** Logout on one instance; the same access token is refused on the others within 1 s. */
export async function logoutEverywhere(instances: string[], member: Member): Promise<Outcome> {
  const [first, ...others] = instances as [string, ...string[]]
  const headers = { authorization: member.authorization, 'x-forwarded-for': member.ip }
  for (const base of instances) {
    const me = await call(base, 'GET', '/auth/me', { headers })
    if (me.status !== 200) throw new Error(`token not accepted before logout: ${me.status}`)
  }
  const out = await call(first, 'POST', '/auth/logout', { headers })
  if (out.status !== 204) throw new Error(`logout: ${out.status}`)
  const times = await Promise.all(
    others.map((base) =>
      millisUntil(
        async () => (await call(base, 'GET', '/auth/me', { headers })).status === 401,
        1_000,
      ),
    ),
  )
  const worst = Math.max(...times.map((time) => time ?? Number.POSITIVE_INFINITY))
  return {
    check: 'logout on one instance refused by the others within 1 s',
    pass: worst <= 1_000,
    detail: `refused after ${times.map((time) => (time === null ? 'never' : `${time} ms`)).join(', ')}`,
  }
}

/**
 * An owner gives a viewer the admin role on one instance; the others let the member create a
 * project within 1 s (memberships are cached per instance and invalidated over Redis).
 */
export async function roleChange(
  instances: string[],
  owner: Owner,
  member: Member,
  mailDir: string,
): Promise<Outcome> {
  const [first, ...others] = instances as [string, ...string[]]
  const invited = await call(first, 'POST', `/tenants/${owner.tenantId}/invitations`, {
    headers: owner.headers,
    body: { email: member.email, roles: ['viewer'] },
  })
  if (invited.status !== 201)
    throw new Error(`invite: ${invited.status} ${JSON.stringify(invited.body)}`)
  const token = await invitationToken(mailDir, member.email)
  const memberVia = { authorization: member.authorization, 'x-forwarded-for': member.ip }
  const accepted = await call(first, 'POST', '/invitations/accept', {
    headers: memberVia,
    body: { token },
  })
  if (accepted.status >= 300) throw new Error(`accept: ${accepted.status}`)
  const asMember = { ...memberVia, 'x-tenant-id': owner.tenantId }
  const create = (base: string, name: string) =>
    call(base, 'POST', '/projects', { headers: asMember, body: { name } })
  for (const base of others) {
    const refused = await create(base, `${owner.tenantId}-refused`)
    if (refused.status !== 403)
      throw new Error(`viewer create before the change: ${refused.status}`)
  }
  const changed = await call(
    first,
    'PATCH',
    `/tenants/${owner.tenantId}/members/${member.userId}`,
    {
      headers: owner.headers,
      body: { roles: ['admin'] },
    },
  )
  if (changed.status !== 200)
    throw new Error(`role change: ${changed.status} ${JSON.stringify(changed.body)}`)
  const times = await Promise.all(
    others.map((base, i) =>
      millisUntil(
        async () => (await create(base, `${owner.tenantId}-as-admin-${i}`)).status === 201,
        1_000,
      ),
    ),
  )
  const worst = Math.max(...times.map((time) => time ?? Number.POSITIVE_INFINITY))
  return {
    check: 'role change seen by every instance within 1 s',
    pass: worst <= 1_000,
    detail: `admin's first project accepted after ${times.map((time) => (time === null ? 'never' : `${time} ms`)).join(', ')}`,
  }
}

async function invitationToken(mailDir: string, email: string): Promise<string> {
  for (let attempt = 0; attempt < 300; attempt += 1) {
    for (const text of mailsByRecipient(mailDir).get(email) ?? []) {
      const decoded = text.replace(/=\r?\n/g, '').replace(/=3D/g, '=')
      const token = /accept-invitation\?token=([A-Za-z0-9_-]+)/.exec(decoded)?.[1]
      if (token) return token
    }
    await sleep(100)
  }
  throw new Error(`no invitation mail for ${email}`)
}

/**
 * A tenant on the Starter plan (100 requests a minute) sends 60 requests to each of the three
 * instances: with one shared count about 80 are refused (each instance counting alone would
 * refuse none). Then a billing process moves it to Enterprise; within 1 s every instance
 * serves it again.
 */
export async function sharedLimitAndPlan(
  instances: string[],
  owner: Owner,
  upgrade: () => Promise<void>,
): Promise<Outcome[]> {
  const statuses: number[] = []
  await Promise.all(
    instances.map(async (base) => {
      for (let i = 0; i < 60; i += 1) {
        statuses.push((await call(base, 'GET', '/projects', { headers: owner.headers })).status)
      }
    }),
  )
  const refused = statuses.filter((status) => status === 429).length
  const limited: Outcome = {
    check: 'per-tenant rate limit shared by the instances',
    pass: refused >= 70 && refused <= 90 && statuses.every((s) => s === 200 || s === 429),
    detail: `${statuses.length} requests over 3 instances on a 100/min plan: ${refused} refused (429)`,
  }
  await upgrade()
  const times = await Promise.all(
    instances.map((base) =>
      millisUntil(
        async () =>
          (await call(base, 'GET', '/projects', { headers: owner.headers })).status === 200,
        1_000,
      ),
    ),
  )
  const worst = Math.max(...times.map((time) => time ?? Number.POSITIVE_INFINITY))
  return [
    limited,
    {
      check: 'plan change seen by every instance within 1 s',
      pass: worst <= 1_000,
      detail: `served again after ${times.map((time) => (time === null ? 'never' : `${time} ms`)).join(', ')} (from the end of the billing process)`,
    },
  ]
}

/**
 * Every account registered gets its welcome and verification mail, each from a job on the queue
 * in Redis Cluster, whichever instance's worker took it. `exactlyOnce`: also none sent twice;
 * without it (an instance killed mid-job), a job the dead worker had done but not acknowledged
 * runs again once its lock expires: jobs are at-least-once, so a repeat is counted, not failed.
 */
export async function mailsDelivered(
  mailDir: string,
  emails: string[],
  timeoutMs: number,
  label: string,
  exactlyOnce: boolean,
): Promise<Outcome> {
  const deadline = Date.now() + timeoutMs
  let counts: number[] = []
  for (;;) {
    const mails = mailsByRecipient(mailDir)
    counts = emails.map((email) => (mails.get(email) ?? []).filter(isSignUpMail).length)
    if (counts.every((count) => count >= 2) || Date.now() > deadline) break
    await sleep(200)
  }
  const missing = counts.filter((count) => count < 2).length
  const twice = counts.filter((count) => count > 2).length
  return {
    check: label,
    pass: missing === 0 && (!exactlyOnce || twice === 0),
    detail: `${emails.length} accounts: ${missing} missing a mail, ${twice} with a mail sent twice`,
  }
}

function isSignUpMail(text: string): boolean {
  return !/accept-invitation/.test(text.replace(/=\r?\n/g, ''))
}
