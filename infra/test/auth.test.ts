/**
 * Token key sources other than the presets' generated secret: a JWKS URL,
 * and an existing secret imported by ARN.
 */
import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { resolveConfig } from '../lib/environments';
import { functionId, resourceProps, roleStatements, synth } from './template';

const JWKS = 'https://id.example.com/.well-known/jwks.json';
const SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:switchboard/hs256-AbCdEf';

const HANDLERS = ['HandlersConnectRoute', 'HandlersDisconnectRoute', 'HandlersDefaultRoute'];

const handlerEnv = (template: Template, prefix: string) =>
  resourceProps(template, functionId(template, prefix)).Environment.Variables;

describe('When tokens are verified with a JWKS URL', () => {
  let template: Template;

  before(() => {
    const config = resolveConfig('prod', {
      jwksUrl: JWKS,
      jwtIssuer: 'https://id.example.com/',
      jwtAudience: 'switchboard-api',
    });
    template = synth(config).template;
  });

  it('should pass the URL, issuer and audience to every handler', () => {
    for (const prefix of HANDLERS) {
      const env = handlerEnv(template, prefix);
      assert.equal(env.JWKS_URL, JWKS);
      assert.equal(env.JWT_ISSUER, 'https://id.example.com/');
      assert.equal(env.JWT_AUDIENCE, 'switchboard-api');
      assert.equal(env.JWT_SECRET_ARN, undefined);
    }
  });

  it('should create no secret and grant no Secrets Manager access', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    assert.doesNotMatch(JSON.stringify(template.toJSON()), /secretsmanager:/);
    assert.equal(template.toJSON().Outputs.JwtSecretArn, undefined);
  });
});

describe('When the HS256 key is an existing secret', () => {
  let template: Template;

  before(() => {
    template = synth(resolveConfig('dev', { jwtSecretArn: SECRET_ARN })).template;
  });

  it('should pass only its ARN to the handlers', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    assert.equal(handlerEnv(template, 'HandlersDefaultRoute').JWT_SECRET_ARN, SECRET_ARN);
    assert.equal(handlerEnv(template, 'HandlersConnectRoute').JWKS_URL, undefined);
  });

  it('should let only the $default handler read that one secret', () => {
    const read = `secretsmanager:GetSecretValue,secretsmanager:DescribeSecret -> ${SECRET_ARN}`;
    const defaultRole = roleStatements(template, functionId(template, 'HandlersDefaultRoute'));
    assert.ok(defaultRole.includes(read));
    for (const prefix of ['HandlersConnectRoute', 'HandlersDisconnectRoute', 'FanoutFunction']) {
      const statements = roleStatements(template, functionId(template, prefix));
      assert.ok(statements.every((s) => !s.startsWith('secretsmanager:')), prefix);
    }
  });
});
