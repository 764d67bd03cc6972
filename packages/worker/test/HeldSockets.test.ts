import { describe, expect, it } from "vitest"
import * as HeldSockets from "../src/internal/HeldSockets.js"
import * as ListenRequest from "../src/internal/ListenRequest.js"

const callback = () => {}

describe("ListenRequest.parse reads listen()'s arguments as Node does", () => {
  it("(port[, host][, backlog][, callback])", () => {
    expect(ListenRequest.parse([3000])).toMatchObject({ target: { _tag: "Port", port: 3000, host: undefined } })
    expect(ListenRequest.parse(["3000", callback])).toMatchObject({
      target: { _tag: "Port", port: 3000, host: undefined },
      callback
    })
    expect(ListenRequest.parse([3000, "0.0.0.0", 77, callback])).toMatchObject({
      target: { _tag: "Port", port: 3000, host: "0.0.0.0" },
      backlog: 77,
      callback
    })
    expect(ListenRequest.parse([3000, 12])).toMatchObject({ target: { _tag: "Port", port: 3000 }, backlog: 12 })
  })

  it("(path[, backlog][, callback]) and (options[, callback])", () => {
    expect(ListenRequest.parse(["/tmp/app.sock", 5])).toMatchObject({
      target: { _tag: "Path", path: "/tmp/app.sock" },
      backlog: 5
    })
    expect(ListenRequest.parse([{ port: 3000, host: "localhost", backlog: 9 }, callback])).toMatchObject({
      target: { _tag: "Port", port: 3000, host: "localhost" },
      backlog: 9,
      callback
    })
    expect(ListenRequest.parse([{ path: "app.sock" }])).toMatchObject({ target: { _tag: "Path", path: "app.sock" } })
    const signal = new AbortController().signal
    expect(ListenRequest.parse([{ port: 3000, signal }]).signal).toBe(signal)
  })

  it("anything start_server cannot hold is Other: no port, port 0, an fd, a handle", () => {
    for (const args of [[], [callback], [0], [{ port: 0 }], [{ fd: 3 }], [{ handle: {} }], [{ _handle: {} }], [-1]]) {
      expect(ListenRequest.parse(args).target).toEqual({ _tag: "Other" })
    }
  })
})

const port = (p: number, host?: string): ListenRequest.ListenTarget => ({ _tag: "Port", port: p, host })

describe("HeldSockets: which inherited socket a listen gets", () => {
  it("reads every key form start_server publishes", () => {
    expect(HeldSockets.endpointOf("3000", "/srv")).toEqual({ _tag: "Port", port: 3000, host: undefined })
    expect(HeldSockets.endpointOf("0.0.0.0:3000", "/srv")).toEqual({ _tag: "Port", port: 3000, host: undefined })
    expect(HeldSockets.endpointOf("[::]:3000", "/srv")).toEqual({ _tag: "Port", port: 3000, host: undefined })
    expect(HeldSockets.endpointOf("[::1]:3000", "/srv")).toEqual({ _tag: "Port", port: 3000, host: "::1" })
    expect(HeldSockets.endpointOf("Localhost:3000", "/srv")).toEqual({ _tag: "Port", port: 3000, host: "localhost" })
    expect(HeldSockets.endpointOf("app.sock", "/srv")).toEqual({ _tag: "Path", path: "/srv/app.sock" })
  })

  it("a listen on a held port gets it whatever host it names, once", () => {
    for (const host of [undefined, "", "0.0.0.0", "::", "[::]", "127.0.0.1", "localhost", "::1"]) {
      const held = HeldSockets.make([{ key: "127.0.0.1:3000", fd: 3 }], "/srv")
      expect(held.claim(port(3000, host))).toMatchObject({ key: "127.0.0.1:3000", fd: 3 })
      expect(held.unclaimed()).toEqual([])
      // Fastify's second binding for `localhost` (::1): the socket is this process's already.
      expect(held.claim(port(3000, "::1"))).toBe("taken")
    }
  })

  it("prefers the socket on the host the listen names, then start_server's order", () => {
    const held = HeldSockets.make(
      [
        { key: "127.0.0.1:3000", fd: 3 },
        { key: "[::1]:3000", fd: 4 },
        { key: "3000", fd: 5 }
      ],
      "/srv"
    )
    expect(held.claim(port(3000, "[::1]"))).toMatchObject({ fd: 4 })
    expect(held.claim(port(3000, "::"))).toMatchObject({ fd: 5 })
    expect(held.claim(port(3000, "::1"))).toMatchObject({ fd: 3 })
    expect(held.claim(port(3000))).toBe("taken")
  })

  it("a listen on a path gets the socket bound there, relative paths from the cwd", () => {
    const held = HeldSockets.make(
      [
        { key: "3000", fd: 3 },
        { key: "/srv/app.sock", fd: 4 }
      ],
      "/srv"
    )
    expect(held.claim({ _tag: "Path", path: "./app.sock" })).toMatchObject({ fd: 4 })
    expect(held.unclaimed().map(({ key }) => key)).toEqual(["3000"])
  })

  it("anything else is not start_server's: another port, another path, port 0", () => {
    const held = HeldSockets.make(
      [
        { key: "3000", fd: 3 },
        { key: "/srv/app.sock", fd: 4 }
      ],
      "/srv"
    )
    expect(held.claim(port(3001))).toBeUndefined()
    expect(held.claim({ _tag: "Path", path: "/srv/other.sock" })).toBeUndefined()
    expect(held.claim({ _tag: "Other" })).toBeUndefined()
    expect(held.unclaimed()).toHaveLength(2)
  })
})
