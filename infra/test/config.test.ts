/** Configuration validation: every problem at once, before anything is built. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { ConfigError, SwitchboardConfig, validateConfig } from '../lib/config';
import { ENVIRONMENTS, resolveConfig } from '../lib/environments';
import { MissingLambdaBuildError } from '../lib/rust-functions';
import { SwitchboardStack } from '../lib/switchboard-stack';
import { PLACEHOLDER_LAMBDA_DIR } from './template';

const dev = ENVIRONMENTS.dev;

/** dev with one fault in each settings group. */
const broken: SwitchboardConfig = {
  ...dev,
  websocket: { ...dev.websocket, idleTimeoutSecs: 9000, throttleBurstLimit: 0 },
  auth: { ...dev.auth, generateHs256Secret: false, jwksUrl: 'http://insecure.example.com/jwks' },
  handlers: { ...dev.handlers, timeoutSecs: 30 },
  worker: { ...dev.worker, batchSize: 11, maxConcurrency: 1 },
  queue: { ...dev.queue, maxMessageSizeBytes: 2 * 1048576 },
  observability: { ...dev.observability, logRetentionDays: 10 },
};

describe('When the configuration is validated', () => {
  it('should accept every preset', () => {
    for (const [name, config] of Object.entries(ENVIRONMENTS)) {
      assert.deepEqual(validateConfig(config), [], name);
    }
  });

  it('should report every problem at once', () => {
    const problems = validateConfig(broken);
    const expected = [
      /^websocket\.idleTimeoutSecs must be an integer from 60 to 7200, got 9000$/,
      /^websocket\.throttleBurstLimit /,
      /^auth\.jwksUrl must be an https URL/,
      /^handlers\.timeoutSecs must be an integer from 1 to 29, got 30$/,
      /^worker\.batchSize must be an integer from 1 to 10, got 11$/,
      /^worker\.maxConcurrency must be an integer from 2 to 1000, got 1$/,
      /^queue\.maxMessageSizeBytes must be an integer from 1024 to 1048576/,
      /^observability\.logRetentionDays must be one of /,
    ];
    assert.equal(problems.length, expected.length, problems.join('\n'));
    expected.forEach((pattern, i) => assert.match(problems[i], pattern));
  });

  it('should require a key source, and issuer and audience', () => {
    const noKeys = { ...dev.auth, generateHs256Secret: false, issuer: '', audience: ' ' };
    assert.deepEqual(validateConfig({ ...dev, auth: noKeys }), [
      'auth needs a key source: jwksUrl, generateHs256Secret or hs256SecretArn',
      'auth.issuer must not be empty',
      'auth.audience must not be empty',
    ]);
  });

  it('should reject a partial secret ARN and two secret sources', () => {
    const partial = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hs256';
    const auth = { ...dev.auth, hs256SecretArn: partial };
    assert.deepEqual(validateConfig({ ...dev, auth }), [
      'auth.generateHs256Secret and auth.hs256SecretArn exclude each other',
      'auth.hs256SecretArn must be a complete Secrets Manager secret ARN',
    ]);
  });

  it('should reject a worker timeout that leaves no time to post', () => {
    const worker = { ...dev.worker, timeoutSecs: 5, postTimeoutMs: 3000 };
    assert.deepEqual(validateConfig({ ...dev, worker }), [
      'worker.timeoutSecs must be at least 8 s for worker.postTimeoutMs 3000 ' +
        '(twice the post timeout plus 1.25 s), got 5',
    ]);
    const enough = { ...dev.worker, timeoutSecs: 8, postTimeoutMs: 3000 };
    assert.deepEqual(validateConfig({ ...dev, worker: enough }), []);
  });

  it('should fail synthesis with the full list before building anything', () => {
    const app = new App();
    const props = { config: broken, lambdaDir: PLACEHOLDER_LAMBDA_DIR };
    assert.throws(
      () => new SwitchboardStack(app, 'Broken', props),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.problems.length, 8);
        assert.match(err.message, /invalid Switchboard configuration 'dev' \(8 problems\)/);
        return true;
      },
    );
    const stack = app.node.findChild('Broken');
    assert.equal(stack.node.children.length, 0);
  });

  it('should name the known environments when given an unknown one', () => {
    assert.throws(
      () => resolveConfig('staging'),
      (err: unknown) =>
        err instanceof ConfigError &&
        /'staging'.*unknown environment.*dev, prod/s.test(err.message),
    );
  });

  it('should let a JWKS URL replace the generated secret', () => {
    const auth = resolveConfig('dev', { jwksUrl: 'https://id.example.com/jwks' }).auth;
    assert.equal(auth.generateHs256Secret, false);
    assert.equal(auth.jwksUrl, 'https://id.example.com/jwks');
  });

  it('should tell how to build the Lambdas when a binary is missing', () => {
    assert.throws(
      () => new SwitchboardStack(new App(), 'NoBuild', { config: dev, lambdaDir: '/nonexistent' }),
      (err: unknown) =>
        err instanceof MissingLambdaBuildError &&
        /switchboard-connect .*cargo lambda build --release --arm64/.test(err.message),
    );
  });
});
