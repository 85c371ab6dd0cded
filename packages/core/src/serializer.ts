import fastJson from 'fast-json-stringify'
import type { FastifySerializerCompiler } from 'fastify'
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod'
import { z } from 'zod'

type JsonSchema = Parameters<typeof fastJson>[0]

/** Zod types whose output JSON Schema cannot describe; such schemas keep zod's serializer. */
const NEEDS_ZOD = new Set([
  'bigint',
  'custom',
  'function',
  'map',
  'nan',
  'pipe',
  'promise',
  'set',
  'symbol',
  'transform',
  'undefined',
  'void',
])

/**
 * Response schemas are zod, but parsing every response with zod cost about a third of the
 * throughput (docs/benchmarks.md). So each response schema becomes JSON Schema once and is
 * compiled with fast-json-stringify, which, like zod, writes only the declared properties: a
 * field a handler returns by mistake (a password hash) still never leaves. Dates are written as
 * ISO strings, as JSON.stringify would. Schemas with transforms or types JSON Schema cannot
 * express (codecs, pipes) keep zod's serializer, which encodes them.
 */
export const serializerCompiler: FastifySerializerCompiler<unknown> = (route) => {
  const { schema } = route
  if (!(schema instanceof z.ZodType)) return fastJson(schema as JsonSchema)
  let needsZod = false
  const jsonSchema = z.toJSONSchema(schema, {
    io: 'output',
    target: 'draft-07',
    unrepresentable: 'any',
    override: ({ zodSchema, jsonSchema: generated }) => {
      const type = zodSchema._zod.def.type
      if (type === 'date') {
        generated.type = 'string'
        generated.format = 'date-time'
      } else if (NEEDS_ZOD.has(type)) {
        needsZod = true
      }
    },
  }) as Record<string, unknown>
  if (needsZod) {
    return zodSerializerCompiler(route as Parameters<typeof zodSerializerCompiler>[0])
  }
  delete jsonSchema.$schema
  return fastJson(jsonSchema as unknown as JsonSchema)
}
