#!/usr/bin/env node
/**
 * CDK entry point: `npx cdk synth -c env=dev` (or `prod`).
 *
 * Context keys: `env` (preset, default `dev`), `lambdaDir` (cargo-lambda
 * output, default `<repo>/target/lambda`), and the auth overrides `jwksUrl`,
 * `jwtIssuer`, `jwtAudience`, `jwtSecretArn`, `tenantClaim`.
 */
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../lib/config';
import { resolveConfig } from '../lib/environments';
import { MissingLambdaBuildError } from '../lib/rust-functions';
import { SwitchboardStack } from '../lib/switchboard-stack';

function main(): void {
  const app = new App();
  const context = (key: string): string | undefined => {
    const value: unknown = app.node.tryGetContext(key);
    return value === undefined || value === '' ? undefined : String(value);
  };

  const envName = context('env') ?? 'dev';
  const config = resolveConfig(envName, {
    jwksUrl: context('jwksUrl'),
    jwtIssuer: context('jwtIssuer'),
    jwtAudience: context('jwtAudience'),
    jwtSecretArn: context('jwtSecretArn'),
    tenantClaim: context('tenantClaim'),
  });
  // dist/bin/switchboard.js sits three levels below the repository root.
  const lambdaDir = path.resolve(
    context('lambdaDir') ?? path.join(__dirname, '..', '..', '..', 'target', 'lambda'),
  );

  // No `env`: the template stays region-agnostic and deploys wherever the CLI's
  // credentials point (AWS_REGION / the profile).
  new SwitchboardStack(app, `Switchboard-${envName}`, {
    config,
    lambdaDir,
    description: `Switchboard serverless WebSocket service (${envName})`,
  });
}

try {
  main();
} catch (err) {
  // Mistakes in setup get their message alone; anything else keeps its stack.
  if (!(err instanceof ConfigError || err instanceof MissingLambdaBuildError)) throw err;
  console.error(err.message);
  process.exit(1);
}
