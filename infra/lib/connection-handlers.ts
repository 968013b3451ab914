/**
 * The `$connect`, `$disconnect` and `$default` Lambdas.
 *
 * They only decide: they write connection rows and enqueue intents, and never
 * call the Management API, so they get no `execute-api` permission at all.
 */
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { HandlerSettings, WebSocketSettings } from './config';
import { RustFunctionFactory } from './rust-functions';
import { TokenKeys } from './token-keys';

/** The DynamoDB actions the handlers use on connection rows. */
export const HANDLER_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
] as const;

/** Options for {@link ConnectionHandlers}. */
export interface ConnectionHandlersProps {
  /** Builds the functions with the shared runtime settings. */
  readonly functions: RustFunctionFactory;
  /** Connection rows. */
  readonly table: dynamodb.ITable;
  /** Intents queue the handlers send replies and broadcasts to. */
  readonly queue: sqs.IQueue;
  /** Token verification settings; only `$default` reads the key. */
  readonly keys: TokenKeys;
  /** Auth deadline and idle timeout. */
  readonly websocket: WebSocketSettings;
  /** Memory and timeout. */
  readonly sizing: HandlerSettings;
}

/** The three route handlers, each with its own least-privilege role. */
export class ConnectionHandlers extends Construct {
  /** Runs on `$connect`: records an unauthenticated connection. */
  readonly connect: lambda.Function;
  /** Runs on `$disconnect`: removes the row. */
  readonly disconnect: lambda.Function;
  /** Runs on every message: auth, ping, broadcast, send. */
  readonly default: lambda.Function;

  constructor(scope: Construct, id: string, props: ConnectionHandlersProps) {
    super(scope, id);
    const environment = {
      ...props.keys.environment,
      AUTH_TIMEOUT_SECS: String(props.websocket.authTimeoutSecs),
      IDLE_TIMEOUT_SECS: String(props.websocket.idleTimeoutSecs),
    };
    const make = (fnId: string, binary: string, description: string) => {
      const fn = props.functions.create(this, fnId, {
        binary,
        description,
        memoryMb: props.sizing.memoryMb,
        timeoutSecs: props.sizing.timeoutSecs,
        environment,
      });
      props.table.grant(fn, ...HANDLER_TABLE_ACTIONS);
      props.queue.grantSendMessages(fn);
      return fn;
    };

    this.connect = make('ConnectRoute', 'switchboard-connect', 'Switchboard $connect');
    this.disconnect = make('DisconnectRoute', 'switchboard-disconnect', 'Switchboard $disconnect');
    this.default = make('DefaultRoute', 'switchboard-default', 'Switchboard $default');
    props.keys.grantRead(this.default);
  }

  /** All three functions, for dashboards and alarms. */
  get all(): lambda.Function[] {
    return [this.connect, this.disconnect, this.default];
  }
}
