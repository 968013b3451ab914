/**
 * The SQS queue publishers and handlers put intents on, and its dead-letter
 * queue.
 *
 * The visibility timeout is six times the worker's Lambda timeout, as AWS
 * advises for Lambda event sources: a batch that is retried after throttling
 * must not become visible again while an earlier attempt still runs.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** Options for {@link IntentsQueue}. */
export interface IntentsQueueProps {
  /** Timeout of the Lambda consuming the queue; sets the visibility timeout. */
  readonly consumerTimeout: Duration;
  /** Receives before a message moves to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /** Largest message either queue accepts, in bytes. */
  readonly maxMessageSizeBytes: number;
  /** How long an undelivered intent is kept. */
  readonly retentionPeriod: Duration;
  /**
   * How long dead-lettered intents are kept for inspection.
   * @default Duration.days(14), the SQS maximum
   */
  readonly deadLetterRetentionPeriod?: Duration;
}

/** Intents queue with redrive to a dead-letter queue; both SSE-SQS encrypted, TLS only. */
export class IntentsQueue extends Construct {
  /** Multiplier from AWS's guidance for SQS event sources. */
  static readonly VISIBILITY_FACTOR = 6;

  /** The intents queue. */
  readonly queue: sqs.Queue;
  /** Where intents land after `maxReceiveCount` failed receives. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: IntentsQueueProps) {
    super(scope, id);
    const common = {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      maxMessageSizeBytes: props.maxMessageSizeBytes,
      removalPolicy: RemovalPolicy.DESTROY,
    };

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      ...common,
      retentionPeriod: props.deadLetterRetentionPeriod ?? Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Intents', {
      ...common,
      retentionPeriod: props.retentionPeriod,
      visibilityTimeout: Duration.seconds(
        props.consumerTimeout.toSeconds() * IntentsQueue.VISIBILITY_FACTOR,
      ),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
    });
  }

  /** Lets `grantee` publish intents: send to the intents queue, nothing more. */
  grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.queue.grantSendMessages(grantee);
  }
}
