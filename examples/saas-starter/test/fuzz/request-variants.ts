/** Variants of everything but the body: path parameters, query string, headers, method. */
import {
  HOSTILE_INTEGER_QUERY_VALUES,
  HOSTILE_QUERIES,
  hostilePathSegments,
} from './hostile-values.js'
import { typesOf } from './json-schema.js'
import type { Parameter } from './openapi.js'
import { baseBody, request, toQueryString, type Variant, type VariantInput } from './request.js'

export function pathVariants(input: VariantInput): Variant[] {
  const variants: Variant[] = []
  for (const parameter of input.operation.pathParams) {
    for (const [name, segment] of hostilePathSegments(input.ids[parameter.name])) {
      variants.push(
        request(input, 'path', `${parameter.name}: ${name}`, baseBody(input), {
          ids: { [parameter.name]: segment },
        }),
      )
    }
  }
  if (input.operation.pathParams.length === 0) {
    const plain = request(input, 'path', '', baseBody(input))
    const path = input.operation.path
    const extra: Array<[string, string]> = [
      ['path suffix of 5,000 chars', `${path}/${'a'.repeat(5000)}`],
      ['%ff after the path', `${path}/%ff`],
      ['double slash', `/${path}`],
    ]
    for (const [name, url] of extra) variants.push({ ...plain, name, url })
  }
  return variants
}

export function queryVariants(input: VariantInput): Variant[] {
  const body = baseBody(input)
  const variants = HOSTILE_QUERIES.map(([name, query]) =>
    request(input, 'query', name, body, { query }),
  )
  for (const parameter of input.operation.queryParams) {
    for (const [name, value] of queryValues(parameter)) {
      const rest = { ...input.validQueries[0], [parameter.name]: undefined }
      const prefix = toQueryString(rest)
      const pair = `${parameter.name}=${value.replace('{name}', parameter.name)}`
      variants.push(
        request(input, 'query', `${parameter.name}: ${name}`, body, {
          query: prefix ? `${prefix}&${pair}` : pair,
        }),
      )
    }
  }
  return variants
}

function queryValues(parameter: Parameter): Array<[string, string]> {
  if (
    typesOf(parameter.schema).includes('integer') ||
    typesOf(parameter.schema).includes('number')
  ) {
    return HOSTILE_INTEGER_QUERY_VALUES
  }
  return [
    ['random uuid (no row)', '5b3f1c9e-8a4d-4e2b-9c7f-1d2e3f4a5b6c'],
    ['malformed', 'not-a-uuid'],
    ['encoded NUL', 'a%00b'],
    ['encoded lone surrogate', '%ED%A0%80'],
    ['SQL-like', encodeURIComponent("1' OR 1=1")],
    ['5,000 chars', 'a'.repeat(5000)],
    ['empty', ''],
  ]
}

const ALG_NONE_JWT =
  'eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDAiLCJ0aWQiOm51bGx9.'

export function headerVariants(input: VariantInput, base: unknown): Variant[] {
  const header = (name: string, headers: Record<string, string | null>) =>
    request(input, 'header', name, base, { headers })
  return [
    header('bearer garbage', { authorization: 'Bearer garbage' }),
    header('bearer alg=none JWT', { authorization: `Bearer ${ALG_NONE_JWT}` }),
    header('bearer of 10 KB', { authorization: `Bearer ${'a'.repeat(10_000)}` }),
    header('Basic scheme', { authorization: 'Basic dXNlcjpwYXNz' }),
    header('empty bearer', { authorization: 'Bearer ' }),
    header('unknown API key', { authorization: `Bearer ak_AAAAAAAAAAAA_${'A'.repeat(43)}` }),
    header('tenant: random uuid', { 'x-tenant-id': '5b3f1c9e-8a4d-4e2b-9c7f-1d2e3f4a5b6c' }),
    header('tenant: malformed', { 'x-tenant-id': "1' OR '1'='1" }),
    header('tenant: 5,000 chars', { 'x-tenant-id': 'a'.repeat(5000) }),
    header('tenant: latin1 bytes', { 'x-tenant-id': '\u00ff\u00fe' }),
    header('request id: hostile', { 'x-request-id': `../${'a'.repeat(300)}` }),
    header('accept: text/html', { accept: 'text/html' }),
  ]
}

export function methodVariants(input: VariantInput): Variant[] {
  const other = input.operation.method === 'PUT' ? 'PATCH' : 'PUT'
  return [request(input, 'method', `wrong method ${other}`, baseBody(input), { method: other })]
}
