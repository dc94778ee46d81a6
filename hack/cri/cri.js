#!/usr/bin/env node
// hack/cri/cri.js SOCKET METHOD [REQUEST_JSON]: one call of CRI v1's
// RuntimeService (cri.proto) on the unix socket SOCKET, e.g.
//
//   node hack/cri/cri.js /tmp/x/containerd.sock RunPodSandbox '{"config": {...}}'
//
// The request is JSON with cri.proto's field names (snake_case; enums by
// name); the reply is printed as one line of JSON, every field present.
// An error is one line on stderr, "cri: METHOD: CODE DETAILS", exit 1;
// bad usage exits 2. A call gets 60 s (CRI_TIMEOUT_MS to change).
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function die(code, msg) {
  process.stderr.write(`cri: ${msg}\n`);
  process.exit(code);
}

function main(argv) {
  if (argv.length < 2 || argv.length > 3) {
    die(2, 'usage: cri.js SOCKET METHOD [REQUEST_JSON]');
  }
  const [socket, method, json] = argv;
  let request = {};
  if (json !== undefined) {
    try {
      request = JSON.parse(json);
    } catch (e) {
      die(2, `${method}: request: ${e.message}`);
    }
  }
  const def = protoLoader.loadSync(path.join(__dirname, 'cri.proto'), {
    keepCase: true, longs: String, enums: String, defaults: true,
  });
  const Service = grpc.loadPackageDefinition(def).runtime.v1.RuntimeService;
  if (typeof Service.prototype[method] !== 'function') {
    die(2, `${method}: no such method in cri.proto`);
  }
  const client = new Service(`unix://${socket}`, grpc.credentials.createInsecure());
  const deadline = new Date(Date.now() + Number(process.env.CRI_TIMEOUT_MS || 60000));
  client[method](request, { deadline }, (err, reply) => {
    client.close();
    if (err) {
      die(1, `${method}: ${grpc.status[err.code] || err.code} ${err.details}`);
    }
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  });
}

main(process.argv.slice(2));
