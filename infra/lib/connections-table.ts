/**
 * The DynamoDB table of live connections, one item per API Gateway connection.
 *
 * The two GSIs are sparse: `userId` and `tenantId` are written only once a
 * connection authenticates, so unauthenticated sockets never show up in a
 * user or tenant fanout. Indexes project ALL attributes because the worker
 * filters on several non-key fields (`authenticated`, `ttl`, `tokenExpiresAt`)
 * and the items are a few hundred bytes.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

/** Attribute and index names shared with the Rust store. */
export const TABLE_SCHEMA = {
  partitionKey: 'connectionId',
  userIndex: 'userId-index',
  userKey: 'userId',
  tenantIndex: 'tenantId-index',
  tenantKey: 'tenantId',
  ttl: 'ttl',
} as const;

/** Options for {@link ConnectionsTable}. */
export interface ConnectionsTableProps {
  /**
   * What happens to the table when the stack is deleted. Rows describe live
   * sockets that die with the API, so there is nothing worth keeping.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** On-demand table keyed by `connectionId`, with TTL on `ttl`. */
export class ConnectionsTable extends Construct {
  /** The table; grant access through its `grant*` methods. */
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ConnectionsTableProps = {}) {
    super(scope, id);
    const s = dynamodb.AttributeType.STRING;

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE_SCHEMA.partitionKey, type: s },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TABLE_SCHEMA.ttl,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_SCHEMA.userIndex,
      partitionKey: { name: TABLE_SCHEMA.userKey, type: s },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_SCHEMA.tenantIndex,
      partitionKey: { name: TABLE_SCHEMA.tenantKey, type: s },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
}
