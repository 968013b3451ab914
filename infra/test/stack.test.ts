/**
 * The shape of the template for each preset environment: routes, stage,
 * table, queues, event source, runtime, environment, IAM, outputs, alarms.
 */
import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ENVIRONMENTS } from '../lib/environments';
import { METRICS } from '../lib/monitoring';
import {
  allPolicyResources,
  functionId,
  resourceProps,
  onlyId,
  render,
  roleStatements,
  synth,
} from './template';

const HANDLER_ENV = [
  'AUTH_TIMEOUT_SECS',
  'CONNECTIONS_TABLE',
  'IDLE_TIMEOUT_SECS',
  'INTENTS_QUEUE_URL',
  'JWT_AUDIENCE',
  'JWT_ISSUER',
  'JWT_LEEWAY_SECS',
  'JWT_SECRET_ARN',
  'RUST_LOG',
  'TENANT_CLAIM',
];
const FANOUT_ENV = [
  'CONNECTIONS_TABLE',
  'FANOUT_CONCURRENCY',
  'FANOUT_MAX_ATTEMPTS',
  'FANOUT_MAX_PER_INVOCATION',
  'FANOUT_PAGE_SIZE',
  'FANOUT_POST_TIMEOUT_MS',
  'FANOUT_SEGMENTS',
  'INTENTS_QUEUE_URL',
  'RUST_LOG',
  'WEBSOCKET_ENDPOINT',
];
const SEND = 'sqs:SendMessage,sqs:GetQueueAttributes,sqs:GetQueueUrl';
const CONSUME =
  'sqs:ReceiveMessage,sqs:ChangeMessageVisibility,sqs:GetQueueUrl,' +
  'sqs:DeleteMessage,sqs:GetQueueAttributes';
const LOGS = 'logs:CreateLogStream,logs:PutLogEvents';
const ROW_RW = 'dynamodb:GetItem,dynamodb:PutItem,dynamodb:UpdateItem,dynamodb:DeleteItem';

for (const envName of Object.keys(ENVIRONMENTS)) {
  const config = ENVIRONMENTS[envName];

  describe(`When the ${envName} environment is synthesised`, () => {
    let template: Template;
    let ids: Record<string, string>;

    before(() => {
      template = synth(config).template;
      const queues = template.findResources('AWS::SQS::Queue');
      const intents = Object.keys(queues).find((id) => queues[id].Properties.RedrivePolicy);
      const dlq = Object.keys(queues).find((id) => id !== intents);
      ids = {
        table: onlyId(template, 'AWS::DynamoDB::Table'),
        api: onlyId(template, 'AWS::ApiGatewayV2::Api'),
        secret: onlyId(template, 'AWS::SecretsManager::Secret'),
        intents: intents!,
        dlq: dlq!,
        connect: functionId(template, 'HandlersConnectRoute'),
        disconnect: functionId(template, 'HandlersDisconnectRoute'),
        default: functionId(template, 'HandlersDefaultRoute'),
        fanout: functionId(template, 'FanoutFunction'),
      };
    });

    const fn = (name: string) => resourceProps(template, ids[name]);
    const logGroupArn = (name: string) => `{${fn(name).LoggingConfig.LogGroup.Ref}.Arn}`;
    const tableArns = () => `{${ids.table}.Arn} {${ids.table}.Arn}/index/*`;

    it('should route $connect, $disconnect and $default to their Lambdas', () => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
        ProtocolType: 'WEBSOCKET',
        RouteSelectionExpression: '$request.body.action',
      });
      const integrations = template.findResources('AWS::ApiGatewayV2::Integration');
      const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));
      const targets: Record<string, string> = {};
      for (const route of routes) {
        const integrationId = render(route.Properties.Target).replace(/^integrations\/\{|\}$/g, '');
        const uri = render(integrations[integrationId].Properties.IntegrationUri);
        targets[route.Properties.RouteKey] = uri.match(/\{(\w+)\.Arn\}/)![1];
      }
      assert.deepEqual(targets, {
        $connect: ids.connect,
        $disconnect: ids.disconnect,
        $default: ids.default,
      });
    });

    it('should throttle the stage and write JSON access logs', () => {
      const stages = template.findResources('AWS::ApiGatewayV2::Stage');
      const [stage] = Object.values(stages);
      assert.equal(stage.Properties.StageName, config.websocket.stageName);
      assert.equal(stage.Properties.AutoDeploy, true);
      assert.deepEqual(stage.Properties.DefaultRouteSettings, {
        ThrottlingRateLimit: config.websocket.throttleRateLimit,
        ThrottlingBurstLimit: config.websocket.throttleBurstLimit,
      });
      const logs = stage.Properties.AccessLogSettings;
      assert.match(render(logs.DestinationArn), /^\{WebSocketAccessLogs\w+\.Arn\}$/);
      const format = JSON.parse(logs.Format);
      assert.equal(format.requestId, '$context.requestId');
      assert.equal(format.connectionId, '$context.connectionId');
      assert.ok(stage.DependsOn.some((d: string) => d.startsWith('WebSocketAccount')));
      const account = Object.values(template.findResources('AWS::ApiGateway::Account'));
      const roleId = account[0].Properties.CloudWatchRoleArn['Fn::GetAtt'][0];
      assert.equal(template.toJSON().Resources[roleId].DeletionPolicy, 'Retain');
    });

    it('should key the table on connectionId with both GSIs, TTL and on-demand billing', () => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        KeySchema: [{ AttributeName: 'connectionId', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        GlobalSecondaryIndexes: [
          {
            IndexName: 'userId-index',
            KeySchema: [{ AttributeName: 'userId', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
          },
          {
            IndexName: 'tenantId-index',
            KeySchema: [{ AttributeName: 'tenantId', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'connectionId', AttributeType: 'S' },
          { AttributeName: 'userId', AttributeType: 'S' },
          { AttributeName: 'tenantId', AttributeType: 'S' },
        ]),
      });
      assert.equal(resourceProps(template, ids.table).TableName, undefined);
    });

    it('should redrive intents to the dead-letter queue with explicit sizes', () => {
      const queues = template.toJSON().Resources;
      const intents = queues[ids.intents].Properties;
      const dlq = queues[ids.dlq].Properties;
      assert.deepEqual(intents.RedrivePolicy, {
        deadLetterTargetArn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] },
        maxReceiveCount: config.queue.maxReceiveCount,
      });
      assert.equal(intents.MaximumMessageSize, 1048576);
      assert.equal(dlq.MaximumMessageSize, 1048576);
      assert.equal(intents.MessageRetentionPeriod, config.queue.retentionHours * 3600);
      assert.equal(dlq.MessageRetentionPeriod, 14 * 86400);
      assert.equal(intents.SqsManagedSseEnabled, true);
      assert.equal(intents.QueueName, undefined);
    });

    it('should keep the visibility timeout at least six times the worker timeout', () => {
      const visibility = template.toJSON().Resources[ids.intents].Properties.VisibilityTimeout;
      assert.equal(fn('fanout').Timeout, config.worker.timeoutSecs);
      assert.ok(visibility >= 6 * fn('fanout').Timeout, `${visibility}`);
    });

    it('should report batch item failures with the configured batch and concurrency', () => {
      template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [ids.intents, 'Arn'] },
        FunctionName: { Ref: ids.fanout },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: config.worker.batchSize,
        ScalingConfig: { MaximumConcurrency: config.worker.maxConcurrency },
      });
    });

    it('should run every function as Rust on provided.al2023 for arm64', () => {
      const functions = Object.values(template.findResources('AWS::Lambda::Function'));
      assert.equal(functions.length, 4);
      for (const f of functions) {
        assert.equal(f.Properties.Runtime, 'provided.al2023');
        assert.deepEqual(f.Properties.Architectures, ['arm64']);
        assert.equal(f.Properties.Handler, 'bootstrap');
      }
      assert.equal(fn('fanout').RecursiveLoop, 'Allow');
      assert.equal(fn('default').RecursiveLoop, 'Terminate');
      assert.equal(fn('fanout').MemorySize, config.worker.memoryMb);
      assert.equal(fn('connect').MemorySize, config.handlers.memoryMb);
    });

    it('should give the handlers their table, queue, timeouts and auth settings', () => {
      for (const name of ['connect', 'disconnect', 'default']) {
        const env = fn(name).Environment.Variables;
        assert.deepEqual(Object.keys(env).sort(), HANDLER_ENV);
        assert.deepEqual(env.CONNECTIONS_TABLE, { Ref: ids.table });
        assert.deepEqual(env.INTENTS_QUEUE_URL, { Ref: ids.intents });
        assert.deepEqual(env.JWT_SECRET_ARN, { Ref: ids.secret });
        assert.equal(env.AUTH_TIMEOUT_SECS, String(config.websocket.authTimeoutSecs));
        assert.equal(env.IDLE_TIMEOUT_SECS, String(config.websocket.idleTimeoutSecs));
        assert.equal(env.TENANT_CLAIM, 'tenant_id');
        assert.equal(env.JWT_ISSUER, config.auth.issuer);
        assert.equal(env.JWT_AUDIENCE, config.auth.audience);
        assert.equal(env.JWT_LEEWAY_SECS, '5');
      }
    });

    it("should point the worker at this stage's Management API", () => {
      const env = fn('fanout').Environment.Variables;
      assert.deepEqual(Object.keys(env).sort(), FANOUT_ENV);
      assert.equal(
        render(env.WEBSOCKET_ENDPOINT),
        `https://{${ids.api}}.execute-api.{AWS::Region}.{AWS::URLSuffix}/` +
          config.websocket.stageName,
      );
      assert.deepEqual(env.CONNECTIONS_TABLE, { Ref: ids.table });
      assert.deepEqual(env.INTENTS_QUEUE_URL, { Ref: ids.intents });
      assert.equal(env.FANOUT_CONCURRENCY, String(config.worker.postConcurrency));
      assert.equal(env.FANOUT_SEGMENTS, String(config.worker.scanSegments));
      assert.equal(env.FANOUT_PAGE_SIZE, String(config.worker.pageSize));
      assert.equal(env.FANOUT_MAX_ATTEMPTS, String(config.worker.maxAttempts));
      assert.equal(env.FANOUT_MAX_PER_INVOCATION, String(config.worker.maxPerInvocation));
      assert.equal(env.FANOUT_POST_TIMEOUT_MS, String(config.worker.postTimeoutMs));
    });

    it('should let connect and disconnect use only rows, the queue and their logs', () => {
      for (const name of ['connect', 'disconnect']) {
        assert.deepEqual(roleStatements(template, ids[name]), [
          `${ROW_RW} -> ${tableArns()}`,
          `${LOGS} -> ${logGroupArn(name)}`,
          `${SEND} -> {${ids.intents}.Arn}`,
        ]);
      }
    });

    it('should let only the $default handler read the HS256 secret', () => {
      assert.deepEqual(roleStatements(template, ids.default), [
        `${ROW_RW} -> ${tableArns()}`,
        `${LOGS} -> ${logGroupArn('default')}`,
        `${SEND} -> {${ids.intents}.Arn}`,
        `secretsmanager:GetSecretValue,secretsmanager:DescribeSecret -> {${ids.secret}}`,
      ].sort());
    });

    it('should let the worker read and prune rows, use its queue and post to this stage', () => {
      const stage = config.websocket.stageName;
      assert.deepEqual(roleStatements(template, ids.fanout), [
        `dynamodb:GetItem,dynamodb:Query,dynamodb:Scan,dynamodb:DeleteItem -> ${tableArns()}`,
        'execute-api:ManageConnections -> arn:{AWS::Partition}:execute-api:{AWS::Region}:' +
          `{AWS::AccountId}:{${ids.api}}/${stage}/*/@connections/*`,
        `${LOGS} -> ${logGroupArn('fanout')}`,
        `${CONSUME} -> {${ids.intents}.Arn}`,
        `${SEND} -> {${ids.intents}.Arn}`,
      ].sort());
    });

    it('should grant no wildcard resource and attach no managed policy to functions', () => {
      for (const resource of allPolicyResources(template)) assert.notEqual(resource, '*');
      for (const name of ['connect', 'disconnect', 'default', 'fanout']) {
        const roleId = fn(name).Role['Fn::GetAtt'][0];
        const role = template.toJSON().Resources[roleId].Properties;
        assert.equal(role.ManagedPolicyArns, undefined, name);
      }
    });

    it('should keep secrets out of the template', () => {
      const json = template.toJSON();
      const text = JSON.stringify(json);
      assert.doesNotMatch(text, /"SecretString"/);
      assert.doesNotMatch(text, /"JWT_SECRET"/);
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        GenerateSecretString: Match.objectLike({ PasswordLength: 64 }),
      });
      for (const f of Object.values(template.findResources('AWS::Lambda::Function'))) {
        const env = f.Properties.Environment.Variables as Record<string, unknown>;
        for (const [key, value] of Object.entries(env)) {
          if (/SECRET|KEY|PASSWORD|TOKEN/.test(key)) {
            assert.equal(key, 'JWT_SECRET_ARN');
            assert.equal(typeof value, 'object', 'the ARN must be a reference, not a literal');
          }
        }
      }
    });

    it('should output the URLs and the queue for publishers', () => {
      const outputs = template.toJSON().Outputs;
      assert.match(render(outputs.WebSocketUrl.Value), new RegExp(`^wss://\\{${ids.api}\\}`));
      assert.match(
        render(outputs.ManagementEndpoint.Value),
        new RegExp(`^https://\\{${ids.api}\\}.*/${config.websocket.stageName}$`),
      );
      assert.deepEqual(outputs.IntentsQueueUrl.Value, { Ref: ids.intents });
      assert.deepEqual(outputs.IntentsQueueArn.Value, { 'Fn::GetAtt': [ids.intents, 'Arn'] });
      assert.deepEqual(outputs.JwtSecretArn.Value, { Ref: ids.secret });
    });

    it('should alarm on dead letters, worker errors and sustained throttling', () => {
      template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
      const topic = { Ref: onlyId(template, 'AWS::SNS::Topic') };
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ids.dlq, 'QueueName'] } }],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        AlarmActions: [topic],
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: ids.fanout } }],
        Threshold: config.observability.workerErrorsThreshold,
        AlarmActions: [topic],
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'Switchboard',
        MetricName: 'PostsThrottled',
        Dimensions: [{ Name: 'Service', Value: 'switchboard' }],
        Statistic: 'Sum',
        Period: 60,
        Threshold: config.observability.throttledPostsPerMinute,
        EvaluationPeriods: config.observability.throttledMinutes,
        DatapointsToAlarm: config.observability.throttledMinutes,
        AlarmActions: [topic],
      });
    });

    it('should chart every application metric on the dashboard', () => {
      const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
      const body = render(dashboard.Properties.DashboardBody);
      for (const metric of Object.values(METRICS)) {
        if (metric !== METRICS.authFailures) assert.ok(body.includes(`"${metric}"`), metric);
      }
      assert.ok(body.includes('"Switchboard"'));
      assert.ok(body.includes('{Switchboard,Service,Reason} MetricName=\\"AuthFailures\\"'));
    });
  });
}
