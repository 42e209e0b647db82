// Starts dynalite, the DynamoDB stand-in the tests use, bound to 127.0.0.1.
//
// dynalite 4.0.0 throws from a request's 'error' event (index.js:
// `req.on('error', function (err) { throw err })`), so a client that hangs up
// while dynalite still reads its request body ends the whole server with
// "Error: aborted" (ECONNRESET). A Go client does exactly that when its
// context is cancelled mid-call, and real DynamoDB shrugs it off. This
// wrapper keeps the server up for that one error; any other uncaught error
// still ends the process, so the test sees it die and prints this log.
//
// Usage: node shared/standin/dynalite.js --port <port> [--path <dir>] [--createTableMs 0]
"use strict";

const path = require("node:path");

process.on("uncaughtException", (err) => {
  if (err && err.code === "ECONNRESET" && err.message === "aborted") {
    console.error("dynalite.js: a client hung up mid-request; the server stays up");
    return;
  }
  console.error(err);
  process.exit(1);
});

const dynaliteDir = path.join(__dirname, "..", "..", "node_modules", "dynalite");
// minimist is dynalite's own dependency: resolve it from there.
const minimist = require(require.resolve("minimist", { paths: [dynaliteDir] }));
const argv = minimist(process.argv.slice(2));
const port = Number(argv.port);
if (!Number.isInteger(port) || port <= 0) {
  console.error("dynalite.js: pass --port <port> to listen on");
  process.exit(2);
}
const dynalite = require(dynaliteDir);
const server = dynalite(argv).listen(port, "127.0.0.1", () => {
  console.log("Dynalite listening at: http://127.0.0.1:%d", server.address().port);
});
