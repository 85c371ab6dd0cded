/**
 * Instantiates a WebAssembly module and returns its exports. Node has the `WebAssembly` global,
 * but this package compiles without the DOM lib that declares it, so it is reached and checked
 * at run time instead of through a type assertion.
 */
export async function instantiateWasm(bytes: Uint8Array, imports: object): Promise<object> {
  const runtime: unknown = Reflect.get(globalThis, 'WebAssembly')
  const instantiate: unknown =
    typeof runtime === 'object' && runtime !== null
      ? Reflect.get(runtime, 'instantiate')
      : undefined
  if (typeof runtime !== 'object' || runtime === null || typeof instantiate !== 'function') {
    throw new Error('this JavaScript runtime has no WebAssembly support')
  }
  const source: unknown = await Reflect.apply(instantiate, runtime, [bytes, imports])
  const instance: unknown =
    typeof source === 'object' && source !== null ? Reflect.get(source, 'instance') : undefined
  const exports: unknown =
    typeof instance === 'object' && instance !== null ? Reflect.get(instance, 'exports') : undefined
  if (typeof exports !== 'object' || exports === null) {
    throw new Error('WebAssembly.instantiate returned no exports')
  }
  return exports
}
