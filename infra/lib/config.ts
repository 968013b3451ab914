/**
 * The settings one Switchboard deployment is built from, and their validation.
 *
 * Validation runs before any construct is created and lists every problem at
 * once, so a bad edit costs one synth rather than one synth per mistake. The
 * bounds come from the AWS limits in `shared/design.md` and from what the Rust
 * functions accept (e.g. `IDLE_TIMEOUT_SECS` at most 7200).
 */

/** Client-facing WebSocket settings. */
export interface WebSocketSettings {
  /** Stage name; it is the last path segment of both the wss and Management URLs. */
  readonly stageName: string;
  /** Where API Gateway finds the route key; the handlers route on `action`. */
  readonly routeSelectionExpression: string;
  /** Seconds a connection may stay unauthenticated (`AUTH_TIMEOUT_SECS`). */
  readonly authTimeoutSecs: number;
  /** Seconds of silence before an authenticated row expires (`IDLE_TIMEOUT_SECS`). */
  readonly idleTimeoutSecs: number;
  /** Stage steady-state limit on client messages and connects, per second. */
  readonly throttleRateLimit: number;
  /** Stage burst limit, in requests. */
  readonly throttleBurstLimit: number;
}

/**
 * Where the handlers get the keys that verify client tokens. At least one
 * source is needed; JWKS and an HS256 secret may be combined.
 */
export interface AuthSettings {
  /** Expected `iss` claim (`JWT_ISSUER`). */
  readonly issuer: string;
  /** Expected `aud` claim (`JWT_AUDIENCE`). */
  readonly audience: string;
  /** https URL of a JSON Web Key Set for RS256/ES256 tokens (`JWKS_URL`). */
  readonly jwksUrl?: string;
  /** Create a random HS256 key in Secrets Manager; its value never enters the template. */
  readonly generateHs256Secret: boolean;
  /** Complete ARN of an existing secret whose SecretString is the HS256 key. */
  readonly hs256SecretArn?: string;
  /** Claim that lists the tenants a token may act for (`TENANT_CLAIM`). */
  readonly tenantClaim: string;
  /** Clock skew tolerated on `exp` and `nbf`, in seconds (`JWT_LEEWAY_SECS`). */
  readonly leewaySecs: number;
}

/** Sizing shared by the three connection handlers. */
export interface HandlerSettings {
  /** Lambda memory in MB; CPU scales with it. */
  readonly memoryMb: number;
  /** Lambda timeout; API Gateway gives up on an integration after 29 s. */
  readonly timeoutSecs: number;
}

/** The fanout worker and its SQS event source. */
export interface WorkerSettings {
  /** Lambda memory in MB; network throughput scales with it. */
  readonly memoryMb: number;
  /** Lambda timeout; the queue's visibility timeout is six times this. */
  readonly timeoutSecs: number;
  /** SQS messages per invocation (standard queue without batching window: 1–10). */
  readonly batchSize: number;
  /**
   * Most concurrent worker invocations (2–1000). Together with
   * `postConcurrency` this bounds this deployment's share of the account's
   * 10,000 requests/s API Gateway budget.
   */
  readonly maxConcurrency: number;
  /** Posts in flight per invocation (`FANOUT_CONCURRENCY`). */
  readonly postConcurrency: number;
  /** Parallel scan segments for `all` targets (`FANOUT_SEGMENTS`). */
  readonly scanSegments: number;
  /** Connections resolved per page (`FANOUT_PAGE_SIZE`). */
  readonly pageSize: number;
  /**
   * Connections one invocation delivers before it hands the rest of the
   * audience to a continuation intent (`FANOUT_MAX_PER_INVOCATION`); keeps an
   * invocation well inside its timeout.
   */
  readonly maxPerInvocation: number;
  /** Deliveries of one intent before it is dead-lettered (`FANOUT_MAX_ATTEMPTS`). */
  readonly maxAttempts: number;
  /** Timeout of one PostToConnection call (`FANOUT_POST_TIMEOUT_MS`). */
  readonly postTimeoutMs: number;
}

/** The intents queue and its dead-letter queue. */
export interface QueueSettings {
  /** Receives before SQS moves a message to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /** Largest message SQS accepts (1,024 to 1,048,576 bytes). */
  readonly maxMessageSizeBytes: number;
  /** Hours an undelivered intent is kept; live traffic has no use for old ones. */
  readonly retentionHours: number;
}

/** Logs, dashboard and alarm thresholds. */
export interface ObservabilitySettings {
  /** `RUST_LOG` for every function. */
  readonly logLevel: string;
  /** Days to keep function and access logs; must be a CloudWatch Logs retention value. */
  readonly logRetentionDays: number;
  /** Worker errors in five minutes above which the alarm fires. */
  readonly workerErrorsThreshold: number;
  /** Throttled posts per minute that count as a throttled minute. */
  readonly throttledPostsPerMinute: number;
  /** Consecutive throttled minutes that make throttling "sustained". */
  readonly throttledMinutes: number;
}

/** Everything one deployment (`dev`, `prod`, ...) is built from. */
export interface SwitchboardConfig {
  /** Short environment name, used in the stack name. */
  readonly envName: string;
  /** Stage, routing, connection lifetimes and throttling. */
  readonly websocket: WebSocketSettings;
  /** Token verification. */
  readonly auth: AuthSettings;
  /** Sizing of the three connection handlers. */
  readonly handlers: HandlerSettings;
  /** The fanout worker and its event source. */
  readonly worker: WorkerSettings;
  /** The intents queue and its dead-letter queue. */
  readonly queue: QueueSettings;
  /** Logs and alarm thresholds. */
  readonly observability: ObservabilitySettings;
  /**
   * Set the region's API Gateway CloudWatch role, which access logging needs.
   * Turn off when the account already has one managed elsewhere.
   */
  readonly manageApiGatewayLogRole: boolean;
}

/** Thrown when a configuration is invalid; `problems` has one entry per fault. */
export class ConfigError extends Error {
  constructor(readonly envName: string, readonly problems: readonly string[]) {
    super(
      `invalid Switchboard configuration '${envName}' (${plural(problems.length)}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/**
 * What the worker keeps from its timeout beyond two post timeouts, in milliseconds: the
 * runtime's 500 ms margin, 250 ms to finish, and 500 ms of working room.
 */
const SHORTEST_TIMEOUT_EXTRA_MS = 1250;

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
  3288, 3653,
] as const;

/** Returns every problem in `config`; empty when it is valid. */
export function validateConfig(config: SwitchboardConfig): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, message: string) => {
    if (!ok) problems.push(message);
  };
  const range = (name: string, value: number, min: number, max: number) =>
    check(
      Number.isInteger(value) && value >= min && value <= max,
      `${name} must be an integer from ${min} to ${max}, got ${value}`,
    );

  check(/^[a-z][a-z0-9-]{0,19}$/.test(config.envName), 'envName must be 1-20 of [a-z0-9-]');

  const ws = config.websocket;
  check(
    /^[A-Za-z0-9_-]{1,128}$/.test(ws.stageName),
    'websocket.stageName must be 1-128 of [A-Za-z0-9_-]',
  );
  check(
    /^\$request\.body\.[A-Za-z_][A-Za-z0-9_]*$/.test(ws.routeSelectionExpression),
    'websocket.routeSelectionExpression must look like $request.body.<field>',
  );
  range('websocket.authTimeoutSecs', ws.authTimeoutSecs, 1, 600);
  range('websocket.idleTimeoutSecs', ws.idleTimeoutSecs, 60, 7200);
  check(
    ws.authTimeoutSecs < ws.idleTimeoutSecs,
    'websocket.authTimeoutSecs must be shorter than websocket.idleTimeoutSecs',
  );
  check(
    ws.throttleRateLimit > 0 && ws.throttleRateLimit <= 10000,
    `websocket.throttleRateLimit must be above 0 and at most 10000, got ${ws.throttleRateLimit}`,
  );
  range('websocket.throttleBurstLimit', ws.throttleBurstLimit, 1, 5000);

  problems.push(...validateAuth(config.auth));

  range('handlers.memoryMb', config.handlers.memoryMb, 128, 10240);
  range('handlers.timeoutSecs', config.handlers.timeoutSecs, 1, 29);

  const w = config.worker;
  range('worker.memoryMb', w.memoryMb, 128, 10240);
  range('worker.timeoutSecs', w.timeoutSecs, 1, 900);
  range('worker.batchSize', w.batchSize, 1, 10);
  range('worker.maxConcurrency', w.maxConcurrency, 2, 1000);
  range('worker.postConcurrency', w.postConcurrency, 1, 1000);
  range('worker.scanSegments', w.scanSegments, 1, 1000);
  range('worker.pageSize', w.pageSize, 1, 10000);
  range('worker.maxPerInvocation', w.maxPerInvocation, 1, 10000000);
  range('worker.maxAttempts', w.maxAttempts, 1, 100);
  range('worker.postTimeoutMs', w.postTimeoutMs, 100, 60000);
  // The worker stops reading one post timeout before it stops posting, and stops posting
  // one post timeout (plus 250 ms to finish) before the runtime's 500 ms margin; below this
  // every audience intent would end out of time. Mirrors `worker::shortest_timeout`.
  const shortestMs = 2 * w.postTimeoutMs + SHORTEST_TIMEOUT_EXTRA_MS;
  check(
    w.timeoutSecs * 1000 >= shortestMs,
    `worker.timeoutSecs must be at least ${Math.ceil(shortestMs / 1000)} s for ` +
      `worker.postTimeoutMs ${w.postTimeoutMs} (twice the post timeout plus 1.25 s), ` +
      `got ${w.timeoutSecs}`,
  );

  const q = config.queue;
  range('queue.maxReceiveCount', q.maxReceiveCount, 1, 1000);
  range('queue.maxMessageSizeBytes', q.maxMessageSizeBytes, 1024, 1048576);
  range('queue.retentionHours', q.retentionHours, 1, 336);

  const o = config.observability;
  check(o.logLevel.trim() !== '', 'observability.logLevel must not be empty');
  check(
    (LOG_RETENTION_DAYS as readonly number[]).includes(o.logRetentionDays),
    `observability.logRetentionDays must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
  );
  range('observability.workerErrorsThreshold', o.workerErrorsThreshold, 0, 100000);
  range('observability.throttledPostsPerMinute', o.throttledPostsPerMinute, 1, 1000000);
  range('observability.throttledMinutes', o.throttledMinutes, 1, 60);
  return problems;
}

/** Throws a {@link ConfigError} listing every problem, if there is any. */
export function assertValidConfig(config: SwitchboardConfig): void {
  const problems = validateConfig(config);
  if (problems.length > 0) throw new ConfigError(config.envName, problems);
}

function validateAuth(auth: AuthSettings): string[] {
  const problems: string[] = [];
  const secretArn = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+-\w{6}$/;

  if (!auth.jwksUrl && !auth.generateHs256Secret && !auth.hs256SecretArn) {
    problems.push('auth needs a key source: jwksUrl, generateHs256Secret or hs256SecretArn');
  }
  if (auth.generateHs256Secret && auth.hs256SecretArn) {
    problems.push('auth.generateHs256Secret and auth.hs256SecretArn exclude each other');
  }
  if (auth.jwksUrl !== undefined && !isHttpsUrl(auth.jwksUrl)) {
    problems.push(`auth.jwksUrl must be an https URL, got '${auth.jwksUrl}'`);
  }
  if (auth.hs256SecretArn !== undefined && !secretArn.test(auth.hs256SecretArn)) {
    problems.push('auth.hs256SecretArn must be a complete Secrets Manager secret ARN');
  }
  if (auth.issuer.trim() === '') problems.push('auth.issuer must not be empty');
  if (auth.audience.trim() === '') problems.push('auth.audience must not be empty');
  if (!/^[\w.:/-]+$/.test(auth.tenantClaim)) {
    problems.push('auth.tenantClaim must be a claim name');
  }
  if (!Number.isInteger(auth.leewaySecs) || auth.leewaySecs < 0 || auth.leewaySecs > 300) {
    problems.push(`auth.leewaySecs must be an integer from 0 to 300, got ${auth.leewaySecs}`);
  }
  return problems;
}

function plural(n: number): string {
  return n === 1 ? '1 problem' : `${n} problems`;
}

function isHttpsUrl(value: string): boolean {
  try {
    return new URL(value).protocol === 'https:';
  } catch {
    return false;
  }
}
