import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as InheritedSockets from "../src/InheritedSockets.js"
import * as ListenSpec from "../src/ListenSpec.js"

type Address = InheritedSockets.SocketAddress

const tcp = (host: string, port: number, family: 4 | 6 = 4): Address => ({
  _tag: "Inet",
  protocol: "tcp",
  family,
  host,
  port
})
const udp = (host: string, port: number): Address => ({ _tag: "Inet", protocol: "udp", family: 4, host, port })
const unix = (path: string): Address => ({ _tag: "Unix", path })

const port = (value: string, address: Address) => ({ spec: Either.getOrThrow(ListenSpec.parsePort(value)), address })
const path = (value: string) => ({ spec: ListenSpec.unixSpec(value), address: unix(value) })

describe("InheritedSockets", () => {
  it("describes each address as the --port/--path value naming it, and keys parse back to Perl's", () => {
    const sockets = [
      { fd: 3, address: tcp("127.0.0.1", 8080) },
      { fd: 4, address: unix("/run/app.sock") },
      { fd: 5, address: tcp("::1", 8080, 6) },
      { fd: 6, address: udp("0.0.0.0", 53) }
    ]
    const options = InheritedSockets.asOptions(sockets)
    expect(options).toEqual({
      ports: ["127.0.0.1:8080", "[::1]:8080", "0.0.0.0:u53"],
      paths: ["/run/app.sock"]
    })
    const specs = Either.getOrThrow(ListenSpec.parseListenSpecs(options.ports, options.paths))
    expect(specs.map((s) => s.key)).toEqual(["127.0.0.1:8080", "[::1]:8080", "0.0.0.0:53", "/run/app.sock"])
  })

  it("answers the fds in the order of the options, whatever order systemd passed them in", () => {
    const inherited = [
      { fd: 3, address: unix("/run/app.sock") },
      { fd: 4, address: tcp("127.0.0.1", 8081) },
      { fd: 5, address: tcp("127.0.0.1", 8080) }
    ]
    const specs = [port("127.0.0.1:8080", tcp("127.0.0.1", 8080)), port("127.0.0.1:8081", tcp("127.0.0.1", 8081))]
    expect(InheritedSockets.match([...specs, path("/run/app.sock")], inherited)).toEqual(Either.right([5, 4, 3]))
  })

  it("a bare port matches 0.0.0.0 first, else the [::] socket systemd makes of ListenStream=PORT", () => {
    const v4 = { fd: 3, address: tcp("0.0.0.0", 8080) }
    const v6 = { fd: 4, address: tcp("::", 8080, 6) }
    const bare = port("8080", tcp("0.0.0.0", 8080))
    expect(InheritedSockets.match([bare], [v6])).toEqual(Either.right([4]))
    expect(InheritedSockets.match([bare, port("[::]:8080", tcp("::", 8080, 6))], [v6, v4])).toEqual(
      Either.right([3, 4])
    )
    // A host spelled out is that host only.
    const explicit = port("0.0.0.0:8080", tcp("0.0.0.0", 8080))
    expect(Either.isLeft(InheritedSockets.match([explicit], [v6]))).toBe(true)
  })

  it("refuses an option that names no passed socket, in one line that lists what was passed", () => {
    const inherited = [{ fd: 3, address: tcp("127.0.0.1", 8080) }]
    expect(InheritedSockets.match([port("8081", tcp("0.0.0.0", 8081))], inherited)).toEqual(
      Either.left(
        new InheritedSockets.Mismatch({
          message: "--port=8081 (0.0.0.0:8081) matches no socket passed by systemd (passed: 127.0.0.1:8080 on fd 3)"
        })
      )
    )
    // TCP and UDP on the same port are different sockets.
    const udpOption = port("127.0.0.1:u8080=5", udp("127.0.0.1", 8080))
    expect(InheritedSockets.match([udpOption], inherited)).toEqual(
      Either.left(
        new InheritedSockets.Mismatch({
          message: "--port=127.0.0.1:u8080=5 matches no socket passed by systemd (passed: 127.0.0.1:8080 on fd 3)"
        })
      )
    )
  })

  it("refuses two options for one socket, and a passed socket no option names", () => {
    const inherited = [
      { fd: 3, address: tcp("127.0.0.1", 8080) },
      { fd: 4, address: unix("/run/app.sock") }
    ]
    const twice = [port("127.0.0.1:8080", tcp("127.0.0.1", 8080)), port("localhost:8080", tcp("127.0.0.1", 8080))]
    expect(Either.flip(InheritedSockets.match(twice, inherited)).pipe(Either.getOrThrow).message).toBe(
      "--port=localhost:8080 (127.0.0.1:8080) names the same passed socket as an earlier option"
    )
    expect(
      Either.flip(InheritedSockets.match([port("127.0.0.1:8080", tcp("127.0.0.1", 8080))], inherited)).pipe(
        Either.getOrThrow
      ).message
    ).toBe(
      "systemd passed /run/app.sock on fd 4, which no --port or --path names (name every passed socket, or none to adopt them all)"
    )
  })
})
