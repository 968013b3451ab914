/**
 * Dashboard and alarms over the Embedded Metric Format lines the Rust
 * functions print and the metrics AWS publishes for the resources.
 *
 * The namespace, dimension and metric names are the contract with the Rust
 * side and are written here once. Alarms notify one SNS topic; subscribe to it
 * (e-mail, chat, paging) outside the stack.
 */
import { Duration } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** CloudWatch namespace of the application metrics. */
export const METRIC_NAMESPACE = 'Switchboard';
/** The `Service` dimension every application metric carries. */
export const SERVICE_DIMENSION = { Service: 'switchboard' } as const;

/** Names of the application metrics (all counts except `FanoutLatency`, in ms). */
export const METRICS = {
  connectionsOpened: 'ConnectionsOpened',
  connectionsAuthenticated: 'ConnectionsAuthenticated',
  authFailures: 'AuthFailures',
  intentsProcessed: 'IntentsProcessed',
  deliveries: 'Deliveries',
  connectionsPruned: 'ConnectionsPruned',
  postsThrottled: 'PostsThrottled',
  postRetries: 'PostRetries',
  intentsDeadLettered: 'IntentsDeadLettered',
  fanoutLatency: 'FanoutLatency',
} as const;

/** Options for {@link Monitoring}. */
export interface MonitoringProps {
  /** The fanout worker. */
  readonly worker: lambda.IFunction;
  /** The connection handlers, graphed together. */
  readonly handlers: readonly lambda.IFunction[];
  /** The intents queue. */
  readonly queue: sqs.IQueue;
  /** Its dead-letter queue; any message there is an alarm. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The WebSocket stage, for API Gateway's connect and message counts. */
  readonly stage: apigwv2.WebSocketStage;
  /** Worker errors in five minutes above which the alarm fires. */
  readonly workerErrorsThreshold: number;
  /** Throttled posts per minute that count as a throttled minute. */
  readonly throttledPostsPerMinute: number;
  /** Consecutive throttled minutes before the throttling alarm fires. */
  readonly throttledMinutes: number;
}

/** Alarms on dead letters, worker errors and sustained throttling, and a dashboard. */
export class Monitoring extends Construct {
  /** Where every alarm sends its state changes. */
  readonly alarmTopic: sns.Topic;
  /** Fires when the dead-letter queue holds any message. */
  readonly deadLetterAlarm: cloudwatch.Alarm;
  /** Fires when the worker fails invocations. */
  readonly workerErrorsAlarm: cloudwatch.Alarm;
  /** Fires when posts are throttled minute after minute. */
  readonly throttlingAlarm: cloudwatch.Alarm;
  /** One page with traffic, fanout, queues and functions. */
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { enforceSSL: true });

    this.deadLetterAlarm = props.deadLetterQueue
      .metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: minutes(1) })
      .createAlarm(this, 'DeadLetterAlarm', {
        alarmDescription: 'Intents were dead-lettered; inspect and redrive the DLQ',
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.workerErrorsAlarm = props.worker
      .metricErrors({ statistic: 'Sum', period: minutes(5) })
      .createAlarm(this, 'WorkerErrorsAlarm', {
        alarmDescription: 'The fanout worker failed invocations',
        threshold: props.workerErrorsThreshold,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.throttlingAlarm = appMetric(METRICS.postsThrottled, 'Sum', minutes(1)).createAlarm(
      this,
      'ThrottlingAlarm',
      {
        alarmDescription:
          'PostToConnection is throttled for minutes on end; lower worker maxConcurrency ' +
          'or postConcurrency, or raise the account limit',
        threshold: props.throttledPostsPerMinute,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: props.throttledMinutes,
        datapointsToAlarm: props.throttledMinutes,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      },
    );
    const alarms = [this.deadLetterAlarm, this.workerErrorsAlarm, this.throttlingAlarm];
    for (const alarm of alarms) alarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 24, height: 3 }),
    );
    this.dashboard.addWidgets(...trafficWidgets(props.stage), authFailuresWidget());
    this.dashboard.addWidgets(...fanoutWidgets());
    this.dashboard.addWidgets(...queueWidgets(props.queue, props.deadLetterQueue));
    this.dashboard.addWidgets(...functionWidgets(props.worker, props.handlers));
  }
}

function minutes(n: number): Duration {
  return Duration.minutes(n);
}

function appMetric(name: string, statistic: string, period = minutes(5)): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRIC_NAMESPACE,
    metricName: name,
    dimensionsMap: { ...SERVICE_DIMENSION },
    statistic,
    period,
  });
}

function graph(title: string, left: cloudwatch.IMetric[], width = 8): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({ title, left, width, height: 6 });
}

function trafficWidgets(stage: apigwv2.WebSocketStage): cloudwatch.IWidget[] {
  const apiGateway = (name: string) => stage.metric(name, { statistic: 'Sum' });
  return [
    graph('Connections', [
      appMetric(METRICS.connectionsOpened, 'Sum'),
      appMetric(METRICS.connectionsAuthenticated, 'Sum'),
      apiGateway('ConnectCount'),
    ]),
    graph('API Gateway messages and errors', [
      apiGateway('MessageCount'),
      apiGateway('ClientError'),
      apiGateway('IntegrationError'),
      apiGateway('ExecutionError'),
    ]),
  ];
}

function authFailuresWidget(): cloudwatch.IWidget {
  const search =
    `SEARCH('{${METRIC_NAMESPACE},Service,Reason} ` +
    `MetricName="${METRICS.authFailures}" Service="${SERVICE_DIMENSION.Service}"', 'Sum', 300)`;
  return graph('Auth failures by reason', [
    new cloudwatch.MathExpression({ expression: search, label: '', period: minutes(5) }),
  ]);
}

function fanoutWidgets(): cloudwatch.IWidget[] {
  const sum = (name: string) => appMetric(name, 'Sum');
  const latency = (stat: string) =>
    appMetric(METRICS.fanoutLatency, stat).with({ label: `FanoutLatency ${stat}` });
  return [
    graph('Fanout', [
      sum(METRICS.intentsProcessed),
      sum(METRICS.deliveries),
      sum(METRICS.connectionsPruned),
    ]),
    graph('Fanout trouble', [
      sum(METRICS.postsThrottled),
      sum(METRICS.postRetries),
      sum(METRICS.intentsDeadLettered),
    ]),
    graph('Fanout latency (ms)', [latency('p50'), latency('p90'), latency('p99')]),
  ];
}

function queueWidgets(queue: sqs.IQueue, dlq: sqs.IQueue): cloudwatch.IWidget[] {
  return [
    graph('Intents queue', [
      queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum' }),
      queue.metricNumberOfMessagesSent({ statistic: 'Sum' }),
    ]),
    graph('Oldest intent (s)', [
      queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum' }),
    ]),
    graph('Dead-letter queue', [
      dlq.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum' }),
    ]),
  ];
}

function functionWidgets(
  worker: lambda.IFunction,
  handlers: readonly lambda.IFunction[],
): cloudwatch.IWidget[] {
  const label = (fn: lambda.IFunction, what: string) => ({ label: `${fn.node.id} ${what}` });
  return [
    graph('Worker', [
      worker.metricInvocations({ statistic: 'Sum' }),
      worker.metricErrors({ statistic: 'Sum' }),
      worker.metricThrottles({ statistic: 'Sum' }),
    ]),
    graph('Worker duration (ms)', [
      worker.metricDuration({ statistic: 'p50' }),
      worker.metricDuration({ statistic: 'p99' }),
    ]),
    graph('Handler errors', handlers.map((fn) => fn.metricErrors(label(fn, 'errors')))),
  ];
}
