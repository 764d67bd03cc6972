#!/usr/bin/env node
// An Express 5 app as it would be written without start_server: `app.listen(PORT)`, no
// @starter/worker import. Run it unmodified, from this directory (where @starter/worker is
// installed), with the hook preloaded:
//
//   PORT=8080 ../node_modules/.bin/start_server --port=127.0.0.1:8080 --ready=notify-fd \
//     -- node --import @starter/worker/register register-app.mjs
//
// The hook makes `listen(8080)` listen on start_server's socket, reports readiness once it
// does, and drains on SIGTERM. Without start_server, `node register-app.mjs` binds 8080 itself.
import express from "express"

const port = Number(process.env.PORT ?? 8080)
const generation = Number(process.env.SERVER_STARTER_GENERATION ?? 0)

const app = express()
app.get("/", (_req, res) => res.json({ hello: "world", generation, pid: process.pid }))
app.listen(port, () => console.log(`listening on ${port}`))
