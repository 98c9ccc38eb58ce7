/**
 * A small helper for building DOM elements in the console (no framework): `h('td',
 * { class: 'x' }, 'text')`. Text children become text nodes, so nothing is parsed as
 * HTML: znode names and data reach the page only as text.
 */

/** Child is what `h` accepts as content: nodes and text. */
export type Child = Node | string | number | null | undefined

/** h makes an element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes))
    if (value !== undefined) element.setAttribute(name, value)
  append(element, ...children)
  return element
}

/** append adds children (text as text nodes) to an element. */
export function append(element: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined) continue
    element.append(typeof child === 'object' ? child : String(child))
  }
}

/** byId returns the element with `id`, or throws: the page's skeleton is index.html's. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id)
  if (element === null) throw new Error(`the page has no #${id}`)
  return element as T
}

/** describeError is an error as the console shows it: its stable code first when it has one. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message
  }
  return String(err)
}
