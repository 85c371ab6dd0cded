import { z } from 'zod'

export const userView = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string().nullable(),
  emailVerified: z.boolean(),
  createdAt: z.date(),
})

export const tokenPair = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int(),
  user: userView,
})

/** The answer of login and refresh: without `refreshToken` when it travels in the cookie. */
export const tokenPairBody = tokenPair.extend({
  refreshToken: z.string().optional(),
})

export type TokenPair = z.infer<typeof tokenPair>
export type TokenPairBody = z.infer<typeof tokenPairBody>

/** With the refresh cookie on, the body has no refresh token; without it, it always has one. */
export function tokenPairSchema(cookie: boolean) {
  return cookie
    ? tokenPairBody.describe('The refresh token is in the httpOnly refresh cookie, not here.')
    : tokenPair
}

export const email = z.string().trim().max(320).pipe(z.email())
/** Length rules live in the password policy (a WeakPassword error says which); this only bounds input. */
export const password = z.string().min(1).max(4_096)
