/**
 * The purity scanner shared by the purity tests: it strips comments and string
 * contents with a small lexer (template expressions are kept, since code can hide
 * there), then looks for banned globals in the code and checks every import target.
 */

/** coreImportAllowed admits sibling files and protocol/ only. */
export function coreImportAllowed(target: string): boolean {
  return /^\.\/[\w-]+\.js$/.test(target) || /^\.\.\/\.\.\/protocol\/[\w-]+\.js$/.test(target)
}

/** BANNED are the globals core code may not mention, with why. */
export const BANNED: readonly [RegExp, string][] = [
  [/\bDate\b/, 'the clock (Date)'],
  [/\bperformance\b/, 'the clock (performance)'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask|clearTimeout|clearInterval)\b/, 'timers'],
  [/\bMath\s*\.\s*random\b/, 'randomness (Math.random)'],
  [/\bcrypto\b/, 'crypto'],
  [/\bprocess\b/, 'process'],
  [/\bconsole\b/, 'the console'],
  [/\brequire\s*\(/, 'require()'],
  [/\bimport\s*\(/, 'dynamic import'],
  [/\bglobalThis\b/, 'globalThis'],
  [/\b(WeakRef|FinalizationRegistry)\b/, 'garbage-collector-dependent behaviour'],
]

/**
 * codeOnly removes comments and the contents of string literals, keeping `${...}`
 * expressions of template literals (which are code), and returns what is left.
 */
export function codeOnly(source: string): string {
  let out = ''
  let i = 0
  const templateDepth: number[] = [] // brace depth at which each open template's `${` began
  let braces = 0
  const n = source.length
  const readString = (quote: string) => {
    i++
    while (i < n && source[i] !== quote) i += source[i] === '\\' ? 2 : 1
    i++
    out += quote + quote
  }
  const readTemplate = () => {
    // Positioned just after a backtick or a closing `}` of an expression.
    while (i < n) {
      const ch = source[i]
      if (ch === '\\') i += 2
      else if (ch === '`') {
        i++
        out += '`'
        return
      } else if (ch === '$' && source[i + 1] === '{') {
        i += 2
        out += '${'
        templateDepth.push(braces)
        braces++
        return
      } else i++
    }
  }
  while (i < n) {
    const ch = source[i] as string
    const next = source[i + 1]
    if (ch === '/' && next === '/') {
      while (i < n && source[i] !== '\n') i++
    } else if (ch === '/' && next === '*') {
      i = source.indexOf('*/', i + 2)
      i = i < 0 ? n : i + 2
    } else if (ch === "'" || ch === '"') {
      readString(ch)
    } else if (ch === '`') {
      out += '`'
      i++
      readTemplate()
    } else if (ch === '{') {
      braces++
      out += ch
      i++
    } else if (ch === '}') {
      braces--
      i++
      if (templateDepth.length > 0 && templateDepth[templateDepth.length - 1] === braces) {
        templateDepth.pop()
        out += '}'
        readTemplate()
      } else out += '}'
    } else {
      out += ch
      i++
    }
  }
  return out
}

/**
 * problems lists every purity violation in one file's source. `importAllowed` decides
 * which import targets the layer may use; `allowedWhat` names them in the message.
 */
export function problems(
  file: string,
  source: string,
  importAllowed: (target: string) => boolean = coreImportAllowed,
  allowedWhat = 'sibling core files and protocol/',
): string[] {
  const found: string[] = []
  for (const match of source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]/gm)) {
    const target = match[1] as string
    if (!importAllowed(target))
      found.push(`${file}: imports '${target}' (only ${allowedWhat} are allowed)`)
  }
  for (const match of source.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm))
    found.push(`${file}: side-effect import '${match[1]}'`)
  const code = codeOnly(source)
  for (const [pattern, what] of BANNED) if (pattern.test(code)) found.push(`${file}: uses ${what}`)
  return found
}
