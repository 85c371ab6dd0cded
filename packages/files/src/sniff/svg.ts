import { AcmeConfigError } from '@acme/core'

/** Largest SVG a route sanitises: it is read whole into memory to be parsed. */
export const SVG_MAX_BYTES = 1024 * 1024

const SVG_NAMESPACE = 'http://www.w3.org/2000/svg'

/** Answers the sanitised document, or null when what is left is not one SVG element. */
export type SvgSanitiser = (svg: string) => string | null

interface DomWindow {
  XMLSerializer: new () => { serializeToString(node: unknown): string }
}
interface Fragment {
  children: ArrayLike<{ namespaceURI: string | null; localName: string }>
}
interface Purifier {
  sanitize(source: string, config: Record<string, unknown>): Fragment
}

let loading: Promise<SvgSanitiser> | undefined

// By name, so that neither package (nor DOMPurify's DOM typings) is a compile-time dependency.
const optionalPeer = (name: string): Promise<unknown> => import(name)

/**
 * DOMPurify on a jsdom window, loaded once on first use (both are optional peer dependencies:
 * only apps that sanitise SVG install them). Rejects with a configuration error without them.
 */
export function svgSanitiser(): Promise<SvgSanitiser> {
  loading ??= load()
  return loading
}

async function load(): Promise<SvgSanitiser> {
  let window: DomWindow
  let purify: Purifier
  try {
    const { JSDOM } = (await optionalPeer('jsdom')) as {
      JSDOM: new (html: string) => { window: DomWindow }
    }
    const { default: createPurifier } = (await optionalPeer('dompurify')) as {
      default: (window: DomWindow) => Purifier
    }
    window = new JSDOM('').window
    purify = createPurifier(window)
  } catch (error) {
    loading = undefined
    throw new AcmeConfigError('@acme/files', [
      `upload.svg "sanitise" needs the packages dompurify and jsdom (${(error as Error).message})`,
    ])
  }
  const serializer = new window.XMLSerializer()
  return (svg) => {
    // Parsed as HTML (no DTD, so no entity expansion), then filtered to DOMPurify's SVG and SVG
    // filter profiles: scripts, event handlers, javascript: links, foreignObject and <use> go.
    const fragment = purify.sanitize(svg, {
      USE_PROFILES: { svg: true, svgFilters: true },
      RETURN_DOM_FRAGMENT: true,
    })
    const roots = Array.from(fragment.children)
    const [root] = roots
    if (roots.length !== 1 || root?.namespaceURI !== SVG_NAMESPACE || root.localName !== 'svg') {
      return null
    }
    // Serialised as XML with its namespace, so a browser opens the file as an SVG image.
    return serializer.serializeToString(root)
  }
}
