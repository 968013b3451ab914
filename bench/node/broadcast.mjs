// The broadcast most WebSocket-on-Lambda code does: read the connections table with a
// Scan, then post to every connection at once with Promise.all, on AWS SDK v3 defaults.
// Switchboard's benchmark (scenario 3) runs it beside its own worker, on the same table
// and the same Management API, and compares time and delivery.
//
// Environment:
//   DYNAMODB_ENDPOINT    DynamoDB endpoint (moto on loopback in the benchmark)
//   TABLE                the connections table
//   MANAGEMENT_ENDPOINT  Management API base, stage included: http://127.0.0.1:PORT/stage
//   MODE                 "single": one Scan call, as the pattern is usually written;
//                        "paged": follow LastEvaluatedKey, posting each page before the next
//
// Prints one JSON line: {"mode","scanned","posted","failed","elapsedMs","scanMs"}, where
// scanMs is the part of elapsedMs spent waiting for Scan pages.

import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";

const { DYNAMODB_ENDPOINT, TABLE, MANAGEMENT_ENDPOINT, MODE = "single" } = process.env;
if (!DYNAMODB_ENDPOINT || !TABLE || !MANAGEMENT_ENDPOINT) {
  console.error("set DYNAMODB_ENDPOINT, TABLE and MANAGEMENT_ENDPOINT");
  process.exit(2);
}

// Loopback servers accept any signature; fixed values keep the developer's own
// credentials and region out of the run.
const common = {
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
};
const db = new DynamoDBClient({ ...common, endpoint: DYNAMODB_ENDPOINT });
const api = new ApiGatewayManagementApiClient({ ...common, endpoint: MANAGEMENT_ENDPOINT });
const frame = new TextEncoder().encode(JSON.stringify({ bench: "common-pattern" }));

let posted = 0;
let failed = 0;

// Failures are counted instead of rejecting Promise.all, so that one bad connection does
// not hide how many others were reached.
async function postAll(items) {
  await Promise.all(
    items.map(async (item) => {
      try {
        await api.send(
          new PostToConnectionCommand({ ConnectionId: item.connectionId.S, Data: frame }),
        );
        posted += 1;
      } catch {
        failed += 1;
      }
    }),
  );
}

const started = performance.now();
let scanned = 0;
let scanMs = 0;
let startKey;
do {
  const scanStarted = performance.now();
  const page = await db.send(new ScanCommand({ TableName: TABLE, ExclusiveStartKey: startKey }));
  scanMs += performance.now() - scanStarted;
  const items = page.Items ?? [];
  scanned += items.length;
  await postAll(items);
  startKey = MODE === "paged" ? page.LastEvaluatedKey : undefined;
} while (startKey);
const elapsedMs = performance.now() - started;

console.log(JSON.stringify({ mode: MODE, scanned, posted, failed, elapsedMs, scanMs }));
