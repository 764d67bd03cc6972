import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as FdLayout from "../src/FdLayout.js"
import { InvalidPortSpec, parseListenSpecs, parsePort, unixSpec } from "../src/ListenSpec.js"

const parsed = (value: string) => Either.getOrThrow(parsePort(value))

describe("parsePort (Perl's Starter.pm L95-137)", () => {
  // The keys of the spec's §3.4 transcript, which Perl printed for these exact options.
  it.each([
    ["18081", { key: "18081", host: undefined, family: 4, protocol: "tcp", port: 18081, fd: undefined }],
    ["[::1]:18082", { key: "[::1]:18082", host: "::1", family: 6, protocol: "tcp", port: 18082, fd: undefined }],
    ["::1:18083", { key: "[::1]:18083", host: "::1", family: 6, protocol: "tcp", port: 18083, fd: undefined }],
    [
      "localhost:18084",
      { key: "localhost:18084", host: "localhost", family: 4, protocol: "tcp", port: 18084, fd: undefined }
    ],
    ["u18085", { key: "18085", host: undefined, family: 4, protocol: "udp", port: 18085, fd: undefined }],
    [
      "127.0.0.1:u18086",
      { key: "127.0.0.1:18086", host: "127.0.0.1", family: 4, protocol: "udp", port: 18086, fd: undefined }
    ],
    ["18087=7", { key: "18087", host: undefined, family: 4, protocol: "tcp", port: 18087, fd: 7 }],
    [
      " 127.0.0.1: 18088 ",
      { key: "127.0.0.1:18088", host: "127.0.0.1", family: 4, protocol: "tcp", port: 18088, fd: undefined }
    ],
    ["[::]:18090", { key: "[::]:18090", host: "::", family: 6, protocol: "tcp", port: 18090, fd: undefined }],
    [
      "0.0.0.0:18090",
      { key: "0.0.0.0:18090", host: "0.0.0.0", family: 4, protocol: "tcp", port: 18090, fd: undefined }
    ],
    ["18091=0", { key: "18091", host: undefined, family: 4, protocol: "tcp", port: 18091, fd: 0 }],
    [
      "[127.0.0.1]:8080",
      { key: "127.0.0.1:8080", host: "127.0.0.1", family: 4, protocol: "tcp", port: 8080, fd: undefined }
    ],
    ["host:8080=5", { key: "host:8080", host: "host", family: 4, protocol: "tcp", port: 8080, fd: 5 }]
  ])("%j", (value, expected) => {
    expect(parsed(value)).toEqual({
      _tag: "Inet",
      fdText: expected.fd === undefined ? undefined : String(expected.fd),
      ...expected
    })
  })

  it("keeps the host as typed, including a trailing space before the colon (Perl then fails to resolve it)", () => {
    expect(parsed(" 127.0.0.1 : 18088 ").host).toBe("127.0.0.1 ")
  })

  it.each(["abc", "80,8080", "", "host:", "[::1]"])("rejects %j with Perl's message", (value) => {
    expect(parsePort(value)).toEqual(Either.left(new InvalidPortSpec({ value })))
    expect(new InvalidPortSpec({ value }).message).toBe(`invalid \`\`port'' value:${value}`)
  })
})

describe("SERVER_STARTER_PORT", () => {
  it("lists ports in command-line order, then paths", () => {
    const specs = Either.getOrThrow(parseListenSpecs(["8080", "127.0.0.1:8081"], ["/tmp/a.sock"]))
    expect(specs.map((s) => s.key)).toEqual(["8080", "127.0.0.1:8081", "/tmp/a.sock"])
  })

  it("is the empty string when nothing is bound", () => {
    expect(FdLayout.layout([]).serverStarterPort).toBe("")
  })

  it("numbers sockets from 3, honours =N exactly and never reuses a claimed fd", () => {
    const sockets = [
      { spec: parsed("8080"), fd: 20 },
      { spec: parsed("8081=3"), fd: 21 },
      { spec: unixSpec("/tmp/a.sock"), fd: 22 },
      { spec: parsed("8082=0"), fd: 23 }
    ]
    const layout = FdLayout.layout(sockets)
    expect(layout.serverStarterPort).toBe("8080=4;8081=3;/tmp/a.sock=5;8082=0")
    expect(layout.fds).toEqual([
      { childFd: 4, fd: 20 },
      { childFd: 3, fd: 21 },
      { childFd: 5, fd: 22 },
      { childFd: 0, fd: 23 }
    ])
  })
})
