import { bodyVariants, contentTypeVariants, fieldVariants } from './body-variants.js'
import { baseBody, request, urlOf, type Variant, type VariantInput } from './request.js'
import { headerVariants, methodVariants, pathVariants, queryVariants } from './request-variants.js'

export type { Variant, VariantInput } from './request.js'

/** Every variant of one operation, for one identity (the runner adds its headers). */
export function buildVariants(input: VariantInput): Variant[] {
  const { operation } = input
  const base = baseBody(input)
  const variants: Variant[] = [
    ...validVariants(input),
    ...(operation.body ? fieldVariants(input, base) : []),
    ...bodyVariants(input, base),
    ...contentTypeVariants(input, base),
    ...pathVariants(input),
    ...queryVariants(input),
    ...headerVariants(input, base),
    ...methodVariants(input),
  ]
  if (operation.method === 'DELETE') {
    variants.push({
      family: 'parallel',
      name: 'same DELETE x5 at once',
      method: 'DELETE',
      url: urlOf(input),
      headers: {},
      parallel: 5,
    })
  }
  for (let index = 0; variants.length < input.minimum; index++) {
    const noise = input.noise[index % Math.max(input.noise.length, 1)] ?? `n${index}=1`
    variants.push(request(input, 'noise', `generated query #${index + 1}`, base, { query: noise }))
  }
  return variants
}

function validVariants(input: VariantInput): Variant[] {
  const count = Math.max(input.validBodies.length, input.validQueries.length, 1)
  const variants: Variant[] = []
  for (let index = 0; index < count; index++) {
    const body = input.operation.body
      ? (input.validBodies[index] ?? input.validBodies[0])
      : undefined
    const query = input.validQueries[index] ?? input.validQueries[0]
    variants.push(request(input, 'valid', `generated #${index + 1}`, body, {}, query))
  }
  if (input.realBody !== undefined) {
    variants.push(request(input, 'valid', 'real values', input.realBody))
  }
  return variants
}
