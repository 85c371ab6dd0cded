import { paginationQuery, safeString } from '@acme/core'
import { z } from 'zod'

export const tenantParams = z.object({ tenantId: z.uuid() }).strict()
export const fileParams = z.object({ tenantId: z.uuid(), fileId: z.uuid() }).strict()

export const fileView = z.object({
  id: z.uuid(),
  ownerId: z.uuid().describe('The user who uploaded it (an API key uploads as its creator).'),
  name: z.string().describe('The client’s file name, sanitised: metadata only.'),
  sizeBytes: z.number().int(),
  contentType: z.string().describe('Sniffed from the content, never the client’s header.'),
  sha256: z.string().describe('SHA-256 of the content, hex.'),
  status: z
    .enum(['quarantined', 'available'])
    .describe('`quarantined` until the scanning hook passes it; only `available` downloads.'),
  createdAt: z.date(),
})

export const fileList = z.object({
  items: z.array(fileView),
  nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null: none.'),
})

export const listQuery = paginationQuery
  .extend({
    mine: z
      .enum(['true', 'false'])
      .optional()
      .describe('`true`: only the caller’s own files (what `files:read:own` sees anyway).'),
  })
  .strict()

export const uploadResult = z.object({ items: z.array(fileView) })

export const signedLink = z.object({
  url: z.string().describe('Path of the download, relative to the API’s base URL.'),
  expiresAt: z.date(),
})

export const signedParams = z.object({ tenantId: z.uuid(), fileId: z.uuid() }).strict()
export const signedQuery = z
  .object({
    expires: z.coerce.number().int().min(0).max(99_999_999_999),
    signature: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,100}$/)
      .describe('The link’s HMAC, base64url.'),
  })
  .strict()

export const fileBytes = z.string().describe('The file’s bytes, streamed, with its content type.')

export const directUploadBody = z
  .object({
    name: safeString()
      .min(1)
      .max(255)
      .describe('The file’s name: metadata, and its extension must match the content.'),
  })
  .strict()

export const directUploadStart = z.object({
  ticket: z.string().describe('Pass to the confirm route once the bytes are uploaded.'),
  method: z.literal('PUT'),
  url: z.string().describe('Where the client sends the bytes, directly to storage.'),
  headers: z.record(z.string(), z.string()).describe('Headers to send with them.'),
  expiresAt: z.date(),
})

export const directUploadConfirm = z
  .object({
    ticket: z
      .string()
      .min(1)
      .max(2_000)
      .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/),
  })
  .strict()
