/**
 * The fanout worker: the only writer of frames to client sockets.
 *
 * It consumes intents, resolves their audience from the table, posts through
 * the Management API of this stage, prunes rows of gone connections and puts
 * what it could not finish back on the queue. Because it feeds its own
 * queue, Lambda's recursive-loop detection is switched off for it: a large
 * broadcast legitimately chains many continuations.
 */
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { WorkerSettings } from './config';
import { RustFunctionFactory } from './rust-functions';

/**
 * The DynamoDB actions the worker uses: row lookups, GSI queries, scan segments, and the
 * conditional deletes that prune gone connections. Nothing else: it never writes rows.
 */
export const WORKER_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:DeleteItem',
] as const;

/** Options for {@link FanoutWorker}. */
export interface FanoutWorkerProps {
  /** Builds the function with the shared runtime settings. */
  readonly functions: RustFunctionFactory;
  /** Connection rows and their GSIs. */
  readonly table: dynamodb.ITable;
  /**
   * Intents queue: event source, and target of continuations and retries. Intents the
   * worker gives up on reach the dead-letter queue through the queue's redrive policy, so
   * the worker needs no access to it.
   */
  readonly queue: sqs.IQueue;
  /** The stage whose connections the worker posts to. */
  readonly stage: apigwv2.WebSocketStage;
  /** Sizing, event source and fanout tuning. */
  readonly settings: WorkerSettings;
}

/** The fanout Lambda and its SQS event source. */
export class FanoutWorker extends Construct {
  /** The worker function. */
  readonly function: lambda.Function;

  constructor(scope: Construct, id: string, props: FanoutWorkerProps) {
    super(scope, id);
    const s = props.settings;

    this.function = props.functions.create(this, 'Function', {
      binary: 'switchboard-fanout',
      description: 'Switchboard fanout worker',
      memoryMb: s.memoryMb,
      timeoutSecs: s.timeoutSecs,
      allowRecursiveLoop: true,
      environment: {
        WEBSOCKET_ENDPOINT: props.stage.callbackUrl,
        FANOUT_CONCURRENCY: String(s.postConcurrency),
        FANOUT_SEGMENTS: String(s.scanSegments),
        FANOUT_PAGE_SIZE: String(s.pageSize),
        FANOUT_MAX_PER_INVOCATION: String(s.maxPerInvocation),
        FANOUT_MAX_ATTEMPTS: String(s.maxAttempts),
        FANOUT_POST_TIMEOUT_MS: String(s.postTimeoutMs),
      },
    });

    props.table.grant(this.function, ...WORKER_TABLE_ACTIONS);
    props.queue.grantSendMessages(this.function);
    props.stage.grantManagementApiAccess(this.function);
    this.function.addEventSource(
      new SqsEventSource(props.queue, {
        batchSize: s.batchSize,
        maxConcurrency: s.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
  }
}
