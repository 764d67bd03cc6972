/**
 * The descriptors a child gets at 3, 4, … (a `stdio` array's numbers). Bun's spawn fills the
 * slots one after the other, so a source below its slot that is itself an earlier slot
 * (systemd's sockets at 3 and 4, passed on at 5 and 6) would be overwritten before it is
 * placed. Such sources are passed as copies above every slot. Node's spawn needs none of
 * this; it does no harm there.
 */
import type * as LibcCalls from "./LibcCalls.js"

/** `stdio` with such sources replaced by copies; `release` closes the copies once spawned. */
export const placeable = <S>(
  libc: LibcCalls.Service,
  stdio: ReadonlyArray<number | S>
): { readonly stdio: ReadonlyArray<number | S>; readonly release: () => void } => {
  const copies: Array<number> = []
  const release = () => {
    for (const fd of copies.splice(0)) libc.close(fd)
  }
  try {
    const placed = stdio.map((source, slot) => {
      if (typeof source !== "number" || source < 3 || source >= slot) return source
      const copy = libc.duplicateAbove(source, stdio.length)
      copies.push(copy)
      return copy
    })
    return { stdio: placed, release }
  } catch (error) {
    release()
    throw error
  }
}
