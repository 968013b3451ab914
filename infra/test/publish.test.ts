/** `grantPublish` used by another stack, the way a backend gets publish rights. */
import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ENVIRONMENTS } from '../lib/environments';
import { SwitchboardStack } from '../lib/switchboard-stack';
import { PLACEHOLDER_LAMBDA_DIR } from './template';

describe('When a backend stack is granted publish rights', () => {
  let backend: Template;

  before(() => {
    const app = new App();
    const env = { account: '123456789012', region: 'eu-west-1' };
    const switchboard = new SwitchboardStack(app, 'Switchboard', {
      env,
      config: ENVIRONMENTS.prod,
      lambdaDir: PLACEHOLDER_LAMBDA_DIR,
    });
    const stack = new Stack(app, 'Backend', { env });
    const role = new iam.Role(stack, 'BackendRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
    });
    switchboard.grantPublish(role);
    backend = Template.fromStack(stack);
  });

  it('should allow sending to the intents queue and nothing else', () => {
    const [policy] = Object.values(backend.findResources('AWS::IAM::Policy'));
    const statements = policy.Properties.PolicyDocument.Statement;
    assert.equal(statements.length, 1);
    assert.deepEqual(statements[0].Action, [
      'sqs:SendMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
    ]);
    assert.match(JSON.stringify(statements[0].Resource), /Fn::ImportValue.*Intents/);
  });
});
