/**
 * The `dev` and `prod` presets, and how `cdk -c key=value` overrides reach them.
 *
 * Only the auth settings can be overridden from the command line, since they
 * are the part that differs between users (their identity provider); sizing
 * and limits are edited here, where a reviewer sees them.
 */
import { ConfigError, SwitchboardConfig } from './config';

const dev: SwitchboardConfig = {
  envName: 'dev',
  websocket: {
    stageName: 'dev',
    routeSelectionExpression: '$request.body.action',
    authTimeoutSecs: 30,
    idleTimeoutSecs: 600,
    throttleRateLimit: 100,
    throttleBurstLimit: 50,
  },
  auth: {
    issuer: 'switchboard-dev',
    audience: 'switchboard',
    generateHs256Secret: true,
    tenantClaim: 'tenant_id',
    leewaySecs: 5,
  },
  handlers: { memoryMb: 256, timeoutSecs: 10 },
  worker: {
    memoryMb: 512,
    timeoutSecs: 60,
    batchSize: 10,
    maxConcurrency: 2,
    postConcurrency: 64,
    scanSegments: 8,
    pageSize: 500,
    maxPerInvocation: 10000,
    maxAttempts: 5,
    postTimeoutMs: 3000,
  },
  queue: { maxReceiveCount: 5, maxMessageSizeBytes: 1048576, retentionHours: 24 },
  observability: {
    logLevel: 'info',
    logRetentionDays: 7,
    workerErrorsThreshold: 0,
    throttledPostsPerMinute: 100,
    throttledMinutes: 5,
  },
  manageApiGatewayLogRole: true,
};

const prod: SwitchboardConfig = {
  ...dev,
  envName: 'prod',
  websocket: {
    ...dev.websocket,
    stageName: 'prod',
    throttleRateLimit: 2000,
    throttleBurstLimit: 1000,
  },
  auth: { ...dev.auth, issuer: 'switchboard-prod' },
  handlers: { memoryMb: 256, timeoutSecs: 10 },
  // 3 invocations × 64 posts in flight at ~30 ms ≈ 6,400 posts/s, well inside
  // the account's shared 10,000 requests/s.
  worker: { ...dev.worker, memoryMb: 1024, timeoutSecs: 120, maxConcurrency: 3 },
  queue: { ...dev.queue, maxReceiveCount: 5, retentionHours: 96 },
  observability: { ...dev.observability, logRetentionDays: 30, throttledPostsPerMinute: 500 },
};

/** The presets by name. */
export const ENVIRONMENTS: Readonly<Record<string, SwitchboardConfig>> = { dev, prod };

/** Auth values a user can pass as CDK context (`-c jwksUrl=...`). */
export interface AuthOverrides {
  /** Replaces `auth.jwksUrl` and turns off the generated secret. @default - preset */
  readonly jwksUrl?: string;
  /** Replaces `auth.issuer`. @default - preset */
  readonly jwtIssuer?: string;
  /** Replaces `auth.audience`. @default - preset */
  readonly jwtAudience?: string;
  /** Replaces `auth.hs256SecretArn` and turns off the generated secret. @default - preset */
  readonly jwtSecretArn?: string;
  /** Replaces `auth.tenantClaim`. @default - preset */
  readonly tenantClaim?: string;
}

/**
 * The preset `envName` with `overrides` applied. Naming a JWKS URL or an
 * existing secret replaces the preset's generated secret.
 */
export function resolveConfig(envName: string, overrides: AuthOverrides = {}): SwitchboardConfig {
  const preset = ENVIRONMENTS[envName];
  if (preset === undefined) {
    const known = Object.keys(ENVIRONMENTS).join(', ');
    throw new ConfigError(envName, [`unknown environment; pass -c env=<name>, one of: ${known}`]);
  }
  const ownKey = overrides.jwksUrl !== undefined || overrides.jwtSecretArn !== undefined;
  return {
    ...preset,
    auth: {
      ...preset.auth,
      jwksUrl: overrides.jwksUrl ?? preset.auth.jwksUrl,
      issuer: overrides.jwtIssuer ?? preset.auth.issuer,
      audience: overrides.jwtAudience ?? preset.auth.audience,
      hs256SecretArn: overrides.jwtSecretArn ?? preset.auth.hs256SecretArn,
      generateHs256Secret: ownKey ? false : preset.auth.generateHs256Secret,
      tenantClaim: overrides.tenantClaim ?? preset.auth.tenantClaim,
    },
  };
}
