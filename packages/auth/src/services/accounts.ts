import type { AuthDb } from '../db.js'
import { AuthErrors } from '../errors.js'
import type { AuthServices } from '../types.js'

type PasswordService = AuthServices['passwords']

export interface PublicUser {
  id: string
  email: string
  name: string | null
  emailVerified: boolean
  createdAt: Date
}

const PUBLIC_USER = {
  id: true,
  email: true,
  name: true,
  emailVerifiedAt: true,
  createdAt: true,
} as const

type PublicUserRow = {
  id: string
  email: string
  name: string | null
  emailVerifiedAt: Date | null
  createdAt: Date
}

export function toPublicUser(row: PublicUserRow): PublicUser {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    emailVerified: row.emailVerifiedAt !== null,
    createdAt: row.createdAt,
  }
}

/** Emails are compared case-insensitively: stored trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase()
}

/**
 * Checks a password login. Unknown email, wrong password and suspended account all fail the
 * same way after exactly one argon2 verification. A hash below the current parameters is
 * upgraded on success.
 */
export async function verifyLogin(
  db: AuthDb,
  passwords: PasswordService,
  input: { email: string; password: string },
): Promise<PublicUser> {
  const user = await db.user.findUnique({
    where: { email: normalizeEmail(input.email) },
    select: { ...PUBLIC_USER, passwordHash: true, status: true },
  })
  const { valid, needsRehash } = await passwords.verify(user?.passwordHash ?? null, input.password)
  if (!user || !valid || user.status !== 'active') throw new AuthErrors.InvalidCredentials()
  if (needsRehash) {
    await db.user.update({
      where: { id: user.id },
      data: { passwordHash: await passwords.hash(input.password) },
    })
  }
  return toPublicUser(user)
}

export async function findPublicUser(db: AuthDb, id: string): Promise<PublicUser | null> {
  const row = await db.user.findUnique({ where: { id }, select: PUBLIC_USER })
  return row ? toPublicUser(row) : null
}

export async function updateProfile(
  db: AuthDb,
  id: string,
  changes: { name?: string | null },
): Promise<PublicUser> {
  const row = await db.user.update({ where: { id }, data: changes, select: PUBLIC_USER })
  return toPublicUser(row)
}

/**
 * PWD-04: a password change must prove the current password. A missing one is checked like a
 * wrong one (one argon2 verification against the real hash), so both cost and answer the same.
 */
export async function verifyCurrentPassword(
  db: AuthDb,
  passwords: PasswordService,
  userId: string,
  password: string | undefined,
): Promise<void> {
  const user = await db.user.findUnique({
    where: { id: userId },
    select: { passwordHash: true, status: true },
  })
  // The policy never allows an empty password, so '' cannot match.
  const { valid } = await passwords.verify(user?.passwordHash ?? null, password ?? '')
  if (!user || !valid || user.status !== 'active') throw new AuthErrors.CurrentPasswordInvalid()
}
