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

export const email = z.string().trim().max(320).pipe(z.email())
/** Length rules live in the password policy (a WeakPassword error says which); this only bounds input. */
export const password = z.string().min(1).max(4_096)
