// What a client of the product does over HTTP, with Node's fetch: sign up, log in, make a tenant.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Answer {
  status: number
  body: Record<string, unknown>
}

export async function call(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  })
  const text = await response.text()
  return {
    status: response.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  }
}

export interface Member {
  email: string
  /** A client address of its own (X-Forwarded-For), so per-address limits count it alone. */
  ip: string
  authorization: string
  userId: string
}

export interface Owner extends Member {
  tenantId: string
  headers: Record<string, string>
}

const PASSWORD = 'correct horse battery staple'

export async function signUp(base: string, email: string, ip: string): Promise<Member> {
  const via = { 'x-forwarded-for': ip }
  const registered = await call(base, 'POST', '/auth/register', {
    headers: via,
    body: { email, password: PASSWORD },
  })
  if (registered.status !== 202) throw new Error(`register ${email}: ${registered.status}`)
  return logIn(base, email, ip)
}

export async function logIn(base: string, email: string, ip: string): Promise<Member> {
  const login = await call(base, 'POST', '/auth/login', {
    headers: { 'x-forwarded-for': ip },
    body: { email, password: PASSWORD },
  })
  if (login.status !== 200)
    throw new Error(`login ${email}: ${login.status} ${JSON.stringify(login.body)}`)
  const user = login.body.user as { id: string }
  return { email, ip, authorization: `Bearer ${login.body.accessToken as string}`, userId: user.id }
}

export async function ownerOfNewTenant(base: string, email: string, ip: string): Promise<Owner> {
  const member = await signUp(base, email, ip)
  const tenant = await call(base, 'POST', '/tenants', {
    headers: { authorization: member.authorization, 'x-forwarded-for': ip },
    body: { name: email.split('@')[1] ?? email },
  })
  if (tenant.status !== 201) throw new Error(`tenant for ${email}: ${tenant.status}`)
  const tenantId = tenant.body.id as string
  return {
    ...member,
    tenantId,
    headers: {
      authorization: member.authorization,
      'x-tenant-id': tenantId,
      'x-forwarded-for': ip,
    },
  }
}

/** The messages in the starter's mail folder, by recipient (file transport: one .eml each). */
export function mailsByRecipient(dir: string): Map<string, string[]> {
  const byRecipient = new Map<string, string[]>()
  let files: string[] = []
  try {
    files = readdirSync(dir).filter((file) => file.endsWith('.eml'))
  } catch {
    return byRecipient
  }
  for (const file of files) {
    const text = readFileSync(join(dir, file), 'utf8')
    const to =
      /^To: (.+)$/im
        .exec(text)?.[1]
        ?.trim()
        .replace(/^.*<|>$/g, '') ?? ''
    byRecipient.set(to, [...(byRecipient.get(to) ?? []), text])
  }
  return byRecipient
}
