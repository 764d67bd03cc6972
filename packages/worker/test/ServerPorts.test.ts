import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { FdLayout, ListenSpec } from "@starter/core"
import * as Either from "effect/Either"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as ServerPorts from "../src/ServerPorts.js"

/** Every key form start_server emits (spec §3.4), as Perl printed them in one run. */
const perlExample =
  "18081=4;[::1]:18082=5;[::1]:18083=6;localhost:18084=7;18085=8;127.0.0.1:18086=9;18087=7;127.0.0.1:18088=11;[::]:18090=12;0.0.0.0:18090=13;18091=0;/tmp/ssH.sock=14"

describe("ServerPorts", () => {
  it("parses every key form Perl's start_server emits, in order", () => {
    expect(ServerPorts.parse(perlExample)).toEqual([
      { key: "18081", fd: 4 },
      { key: "[::1]:18082", fd: 5 },
      { key: "[::1]:18083", fd: 6 },
      { key: "localhost:18084", fd: 7 },
      { key: "18085", fd: 8 },
      { key: "127.0.0.1:18086", fd: 9 },
      { key: "18087", fd: 7 },
      { key: "127.0.0.1:18088", fd: 11 },
      { key: "[::]:18090", fd: 12 },
      { key: "0.0.0.0:18090", fd: 13 },
      { key: "18091", fd: 0 },
      { key: "/tmp/ssH.sock", fd: 14 }
    ])
  })

  it("serverPorts() is Perl's hash: key → fd", () => {
    expect(ServerPorts.serverPorts({ SERVER_STARTER_PORT: "127.0.0.1:8080=3;/tmp/app.sock=4;8081=5" })).toEqual({
      "127.0.0.1:8080": 3,
      "/tmp/app.sock": 4,
      "8081": 5
    })
  })

  it("the empty string means no sockets (start_server with neither --port nor --path)", () => {
    expect(ServerPorts.parse("")).toEqual([])
    expect(ServerPorts.serverPorts({ SERVER_STARTER_PORT: "" })).toEqual({})
  })

  it("throws Perl's error when the variable is absent", () => {
    expect(() => ServerPorts.serverPorts({})).toThrow(new ServerPorts.ServerStarterPortMissing())
    expect(() => ServerPorts.serverPorts({})).toThrow(
      "no environment variable SERVER_STARTER_PORT. Did you start the process using server_starter?"
    )
  })

  it("splits at the first '=' as Perl does, and refuses an fd that is not a number", () => {
    expect(ServerPorts.parse("a=1;;8080=3;")).toEqual([
      { key: "a", fd: 1 },
      { key: "8080", fd: 3 }
    ])
    expect(() => ServerPorts.parse("b=c=2")).toThrow('invalid SERVER_STARTER_PORT entry: "b=c=2" (expected KEY=FD)')
    expect(() => ServerPorts.parse("8080")).toThrow(ServerPorts.InvalidServerStarterPort)
    expect(() => ServerPorts.parse("8080=")).toThrow(ServerPorts.InvalidServerStarterPort)
  })

  it("tells unix paths from ports", () => {
    for (const key of ["/tmp/app.sock", "app.sock", "/run/x:80"]) expect(ServerPorts.isUnixPath(key)).toBe(true)
    for (const key of ["8080", "127.0.0.1:8080", "[::1]:8080", "localhost:80"]) {
      expect(ServerPorts.isUnixPath(key)).toBe(false)
    }
  })
})

// ---------------------------------------------------------------------------------------
// Generated specs, as start_server's `--port` / `--path` grammar allows them.

const port = fc.integer({ min: 1, max: 65535 })
const host = fc.oneof(fc.constant("localhost"), fc.ipV4(), fc.constantFrom("::1", "::", "fe80::1", "2001:db8::42"))
const portOption = fc.oneof(
  port.map(String),
  fc.tuple(fc.constantFrom("", "u"), port).map(([u, p]) => `${u}${p}`),
  fc.tuple(host, port).map(([h, p]) => (h.includes(":") ? `[${h}]:${p}` : `${h}:${p}`)),
  fc.tuple(fc.constant("::1"), port).map(([h, p]) => `${h}:${p}`)
)
const unixPath = fc
  .array(fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/), { minLength: 1, maxLength: 4 })
  .map((parts) => `/tmp/${parts.join("/")}.sock`)

/** What start_server would publish for these options: the core's own printer. */
const published = (ports: ReadonlyArray<string>, paths: ReadonlyArray<string>) => {
  const specs = Either.getOrThrow(ListenSpec.parseListenSpecs(ports, paths))
  return FdLayout.layout(specs.map((spec, i) => ({ spec, fd: 100 + i })))
}

describe("ServerPorts against start_server's printer (fast-check)", () => {
  it("reads back exactly the keys and fds the supervisor published", () => {
    fc.assert(
      fc.property(fc.array(portOption, { maxLength: 6 }), fc.array(unixPath, { maxLength: 3 }), (ports, paths) => {
        const layout = published(ports, paths)
        const parsed = ServerPorts.parse(layout.serverStarterPort)
        expect(parsed.map((p) => p.key)).toEqual(layout.keys)
        expect(parsed.map((p) => p.fd)).toEqual(layout.fds.map((f) => f.childFd))
      }),
      { seed: 20261201 }
    )
  })

  it("format and parse round-trip", () => {
    const key = fc.oneof(
      port.map(String),
      fc.tuple(host, port).map(([h, p]) => (h.includes(":") ? `[${h}]:${p}` : `${h}:${p}`)),
      unixPath
    )
    const entry = fc.record({ key, fd: fc.integer({ min: 0, max: 1023 }) })
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 8 }), (entries) => {
        expect(ServerPorts.parse(ServerPorts.format(entries))).toEqual(entries)
      }),
      { seed: 20261201 }
    )
  })
})

const perl = fs.existsSync("/usr/share/perl5/Server/Starter.pm")
const perlRequired = process.env.STARTER_REQUIRE_PERL === "1"

describe.skipIf(!perl && !perlRequired)("ServerPorts against Perl's server_ports()", () => {
  it("agrees with Server::Starter::server_ports on generated values", () => {
    const values = fc.sample(fc.tuple(fc.array(portOption, { maxLength: 6 }), fc.array(unixPath, { maxLength: 3 })), {
      numRuns: 200,
      seed: 42
    })
    const specs = values.map(([ports, paths]) => published(ports, paths).serverStarterPort)
    // One perl for all of them: a line of SERVER_STARTER_PORT in, its hash as JSON out.
    const script =
      'use Server::Starter qw(server_ports); use JSON::PP; my $j = JSON::PP->new->canonical; while (my $l = <STDIN>) { chomp $l; $ENV{SERVER_STARTER_PORT} = $l; print $j->encode(server_ports()), "\\n" }'
    const output = execFileSync("perl", ["-e", script], { input: `${specs.join("\n")}\n`, encoding: "utf8" })
    const perlHashes = output.trimEnd().split("\n")
    specs.forEach((spec, i) => {
      const ours = Object.fromEntries(
        Object.entries(ServerPorts.serverPorts({ SERVER_STARTER_PORT: spec })).map(([k, v]) => [k, String(v)])
      )
      expect(ours).toEqual(JSON.parse(perlHashes[i] ?? "null"))
    })
  })
})
