import { z } from 'zod'
import { safeString } from './strings.js'

/** Page size ceiling for every list route: a client cannot ask for 100,000 rows at once. */
export const MAX_PAGE_SIZE = 100

/** Query schema shared by list routes: `?limit=` (1..100, default 20) and an opaque cursor. */
export const paginationQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(20),
    cursor: safeString().min(1).max(512).optional(),
  })
  .strict()

export const idParam = z.uuid()
