/**
 * The Switchboard stack: table, queue, WebSocket API, handlers, fanout worker
 * and monitoring, wired from one validated {@link SwitchboardConfig}.
 *
 * Resource names are left to CDK so that several environments (and several
 * copies for tests) can share an account; everything a user needs is an
 * output.
 */
import { CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { assertValidConfig, SwitchboardConfig } from './config';
import { ConnectionHandlers } from './connection-handlers';
import { ConnectionsTable } from './connections-table';
import { FanoutWorker } from './fanout-worker';
import { IntentsQueue } from './intents-queue';
import { Monitoring } from './monitoring';
import { RustFunctionFactory } from './rust-functions';
import { TokenKeys } from './token-keys';
import { WebSocketApi } from './websocket-api';

/** Options for {@link SwitchboardStack}. */
export interface SwitchboardStackProps extends StackProps {
  /** The deployment's settings; validated before anything is built. */
  readonly config: SwitchboardConfig;
  /** Folder of `cargo lambda build` output: one `<binary>/bootstrap` per function. */
  readonly lambdaDir: string;
}

/** One complete Switchboard deployment. */
export class SwitchboardStack extends Stack {
  /** Connection rows. */
  readonly connections: ConnectionsTable;
  /** Intents queue and dead-letter queue. */
  readonly intents: IntentsQueue;
  /** The WebSocket API and its stage. */
  readonly webSocket: WebSocketApi;
  /** Token verification settings and the HS256 key, if any. */
  readonly tokenKeys: TokenKeys;
  /** `$connect`, `$disconnect` and `$default` functions. */
  readonly handlers: ConnectionHandlers;
  /** The fanout worker. */
  readonly fanout: FanoutWorker;
  /** Dashboard, alarms and their topic. */
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: SwitchboardStackProps) {
    super(scope, id, props);
    const config = props.config;
    assertValidConfig(config);
    const retention = config.observability.logRetentionDays as logs.RetentionDays;

    this.connections = new ConnectionsTable(this, 'Connections');
    this.intents = new IntentsQueue(this, 'Intents', {
      consumerTimeout: Duration.seconds(config.worker.timeoutSecs),
      maxReceiveCount: config.queue.maxReceiveCount,
      maxMessageSizeBytes: config.queue.maxMessageSizeBytes,
      retentionPeriod: Duration.hours(config.queue.retentionHours),
    });
    const table = this.connections.table;
    const queue = this.intents.queue;
    const functions = new RustFunctionFactory({
      lambdaDir: props.lambdaDir,
      logRetention: retention,
      environment: {
        CONNECTIONS_TABLE: table.tableName,
        INTENTS_QUEUE_URL: queue.queueUrl,
        RUST_LOG: config.observability.logLevel,
      },
    });

    this.tokenKeys = new TokenKeys(this, 'TokenKeys', { auth: config.auth });
    this.handlers = new ConnectionHandlers(this, 'Handlers', {
      functions,
      table,
      queue,
      keys: this.tokenKeys,
      websocket: config.websocket,
      sizing: config.handlers,
    });
    this.webSocket = new WebSocketApi(this, 'WebSocket', {
      connectHandler: this.handlers.connect,
      disconnectHandler: this.handlers.disconnect,
      defaultHandler: this.handlers.default,
      stageName: config.websocket.stageName,
      routeSelectionExpression: config.websocket.routeSelectionExpression,
      throttleRateLimit: config.websocket.throttleRateLimit,
      throttleBurstLimit: config.websocket.throttleBurstLimit,
      accessLogRetention: retention,
      manageAccountLogRole: config.manageApiGatewayLogRole,
    });
    this.fanout = new FanoutWorker(this, 'Fanout', {
      functions,
      table,
      queue,
      stage: this.webSocket.stage,
      settings: config.worker,
    });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      worker: this.fanout.function,
      handlers: this.handlers.all,
      queue,
      deadLetterQueue: this.intents.deadLetterQueue,
      stage: this.webSocket.stage,
      workerErrorsThreshold: config.observability.workerErrorsThreshold,
      throttledPostsPerMinute: config.observability.throttledPostsPerMinute,
      throttledMinutes: config.observability.throttledMinutes,
    });
    this.addOutputs();
  }

  /**
   * Lets `grantee` (a backend's role, in this stack or another) publish intents.
   * It gets SendMessage on the intents queue and nothing else of Switchboard's.
   */
  grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.intents.grantPublish(grantee);
  }

  private addOutputs(): void {
    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output('WebSocketUrl', this.webSocket.stage.url, 'Clients connect here (wss)');
    output(
      'ManagementEndpoint',
      this.webSocket.stage.callbackUrl,
      'Management API base of this stage (@connections)',
    );
    output('IntentsQueueUrl', this.intents.queue.queueUrl, 'Publishers send intents here');
    output('IntentsQueueArn', this.intents.queue.queueArn, 'Grant sqs:SendMessage on this');
    output(
      'DeadLetterQueueUrl',
      this.intents.deadLetterQueue.queueUrl,
      'Intents that could not be delivered',
    );
    output('AlarmTopicArn', this.monitoring.alarmTopic.topicArn, 'Subscribe to get alarms');
    if (this.tokenKeys.secret !== undefined) {
      output('JwtSecretArn', this.tokenKeys.secret.secretArn, 'HS256 key that signs tokens');
    }
  }
}
