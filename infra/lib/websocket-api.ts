/**
 * The API Gateway WebSocket API: three routes, one throttled and logged stage.
 *
 * Every client message goes to `$default`; the handler routes on `action`
 * itself, so one integration serves the whole protocol and unknown actions
 * get a protocol error instead of API Gateway's generic one.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Fields of one access log line (JSON), from API Gateway's WebSocket `$context`. */
const ACCESS_LOG_FIELDS: Readonly<Record<string, string>> = {
  requestId: '$context.requestId',
  connectionId: '$context.connectionId',
  eventType: '$context.eventType',
  routeKey: '$context.routeKey',
  status: '$context.status',
  requestTimeEpoch: '$context.requestTimeEpoch',
  sourceIp: '$context.identity.sourceIp',
  integrationLatency: '$context.integration.latency',
  error: '$context.error.message',
};

/** Options for {@link WebSocketApi}. */
export interface WebSocketApiProps {
  /** Integration of `$connect`. */
  readonly connectHandler: lambda.IFunction;
  /** Integration of `$disconnect`. */
  readonly disconnectHandler: lambda.IFunction;
  /** Integration of `$default`, which receives every client message. */
  readonly defaultHandler: lambda.IFunction;
  /** Stage name; the last path segment of the URLs. */
  readonly stageName: string;
  /** Where API Gateway reads the route key, e.g. `$request.body.action`. */
  readonly routeSelectionExpression: string;
  /** Steady-state requests per second for the stage. */
  readonly throttleRateLimit: number;
  /** Burst size for the stage. */
  readonly throttleBurstLimit: number;
  /** Retention of the access log group. */
  readonly accessLogRetention: logs.RetentionDays;
  /**
   * Create the API Gateway account's CloudWatch role, without which API
   * Gateway refuses to write access logs. It is one setting per region.
   * @default true
   */
  readonly manageAccountLogRole?: boolean;
}

/** WebSocket API with Lambda routes and a stage that deploys on change. */
export class WebSocketApi extends Construct {
  /** The API. */
  readonly api: apigwv2.WebSocketApi;
  /** The only stage; its `url` is for clients, its `callbackUrl` for the worker. */
  readonly stage: apigwv2.WebSocketStage;
  /** Where the stage writes one JSON line per connect, message and disconnect. */
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: WebSocketApiProps) {
    super(scope, id);
    const route = (name: string, fn: lambda.IFunction) => ({
      integration: new WebSocketLambdaIntegration(`${name}Integration`, fn),
    });

    this.api = new apigwv2.WebSocketApi(this, 'Api', {
      description: 'Switchboard client WebSocket API',
      routeSelectionExpression: props.routeSelectionExpression,
      connectRouteOptions: route('Connect', props.connectHandler),
      disconnectRouteOptions: route('Disconnect', props.disconnectHandler),
      defaultRouteOptions: route('Default', props.defaultHandler),
    });
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new apigwv2.WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: props.stageName,
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: apigateway.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

    if (props.manageAccountLogRole ?? true) {
      const role = new iam.Role(this, 'CloudWatchRole', {
        assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
        managedPolicies: [
          iam.ManagedPolicy.fromAwsManagedPolicyName(
            'service-role/AmazonAPIGatewayPushToCloudWatchLogs',
          ),
        ],
      });
      // Kept on teardown: the account setting outlives this stack, and other
      // APIs in the region may log through the same role.
      role.applyRemovalPolicy(RemovalPolicy.RETAIN);
      const account = new apigateway.CfnAccount(this, 'Account', {
        cloudWatchRoleArn: role.roleArn,
      });
      this.stage.node.addDependency(account);
    }
  }
}
