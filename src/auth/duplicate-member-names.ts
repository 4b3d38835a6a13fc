const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d

const isJsonSpace = (code: number) => code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d

/**
 * Whether any object in `text` names a member twice, at any depth, comparing names after their
 * escapes are decoded (`"sub"` and `"\u0073ub"` are the same name). JSON.parse keeps the last
 * duplicate silently; RFC 7519 §4 lets a JWT parser refuse instead, which is what this is for.
 *
 * `text` must already be valid JSON (JSON.parse accepted it): then a string followed by `:` is
 * always a member name and the innermost open container is its object. One pass, no tree: on a
 * 700-byte Keycloak payload it takes about 9 µs (JSON.parse: 7 µs), where a general JSON AST
 * parser (@humanwhocodes/momoa 3.3, measured) took about 260 µs, twice a whole valid request.
 */
export function hasDuplicateMemberName(text: string): boolean {
  // One set of names per open object; null for an open array.
  const open: (Set<string> | null)[] = []
  let i = 0
  while (i < text.length) {
    const code = text.charCodeAt(i)
    if (code === OPEN_OBJECT) {
      open.push(new Set())
      i += 1
    } else if (code === OPEN_ARRAY) {
      open.push(null)
      i += 1
    } else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) {
      open.pop()
      i += 1
    } else if (code === QUOTE) {
      let end = i + 1
      let escaped = false
      for (;;) {
        const inner = text.charCodeAt(end)
        if (inner === BACKSLASH) {
          escaped = true
          end += 2
        } else if (inner === QUOTE) {
          break
        } else {
          end += 1
        }
      }
      let next = end + 1
      while (isJsonSpace(text.charCodeAt(next))) next += 1
      if (text.charCodeAt(next) === COLON) {
        const names = open[open.length - 1]
        const name = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end)
        if (!names || names.has(name)) return true
        names.add(name)
      }
      i = end + 1
    } else {
      i += 1
    }
  }
  return false
}
