/**
 * Shared test helpers: synthesise a stack against the placeholder Lambda
 * folders and read IAM statements and environments out of the template.
 */
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { SwitchboardConfig } from '../lib/config';
import { SwitchboardStack } from '../lib/switchboard-stack';

/** Folders shaped like `target/lambda` whose `bootstrap` files are stand-ins. */
export const PLACEHOLDER_LAMBDA_DIR = path.resolve(
  __dirname,
  '..',
  '..',
  'test',
  'fixtures',
  'lambda',
);

/** One synthesised scenario. */
export interface Synthesised {
  readonly app: App;
  readonly stack: SwitchboardStack;
  readonly template: Template;
}

/** Builds the stack for `config` in a fresh app and synthesises it once. */
export function synth(config: SwitchboardConfig): Synthesised {
  const app = new App();
  const stack = new SwitchboardStack(app, `Test-${config.envName}`, {
    config,
    lambdaDir: PLACEHOLDER_LAMBDA_DIR,
  });
  return { app, stack, template: Template.fromStack(stack) };
}

type Json = Record<string, any>;

/** Renders a CloudFormation value as text: `{Id}` for a Ref, `{Id.Attr}` for GetAtt. */
export function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Json;
  if (v && typeof v === 'object') {
    if ('Ref' in v) return `{${v.Ref}}`;
    if ('Fn::GetAtt' in v) return `{${v['Fn::GetAtt'][0]}.${v['Fn::GetAtt'][1]}}`;
    if ('Fn::Join' in v) return v['Fn::Join'][1].map(render).join(v['Fn::Join'][0]);
  }
  return JSON.stringify(value);
}

/** The logical id of the only resource of `type`. */
export function onlyId(template: Template, type: string): string {
  const ids = Object.keys(template.findResources(type));
  if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.length}`);
  return ids[0];
}

/** Logical id of the Lambda function whose logical id starts with `prefix`. */
export function functionId(template: Template, prefix: string): string {
  const ids = Object.keys(template.findResources('AWS::Lambda::Function'));
  const found = ids.filter((id) => id.startsWith(prefix));
  if (found.length !== 1) throw new Error(`expected one function ${prefix}*, found ${found}`);
  return found[0];
}

/** The `Properties` of the resource `id`. */
export function resourceProps(template: Template, id: string): Json {
  return template.toJSON().Resources[id].Properties;
}

/**
 * Every statement of every policy attached to the function's role, one line
 * each: `action,action -> resource resource`, sorted.
 */
export function roleStatements(template: Template, fnId: string): string[] {
  const roleId = resourceProps(template, fnId).Role['Fn::GetAtt'][0];
  const lines: string[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    const roles = (policy.Properties.Roles as Json[]).map((r) => r.Ref);
    if (!roles.includes(roleId)) continue;
    for (const st of policy.Properties.PolicyDocument.Statement as Json[]) {
      if (st.Effect !== 'Allow') throw new Error(`unexpected ${st.Effect} statement`);
      const actions = ([] as string[]).concat(st.Action);
      const resources = ([] as unknown[]).concat(st.Resource).map(render);
      lines.push(`${actions.join(',')} -> ${resources.join(' ')}`);
    }
  }
  return lines.sort();
}

/** Every `Resource` of every identity policy statement in the template, rendered. */
export function allPolicyResources(template: Template): string[] {
  const out: string[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    for (const st of policy.Properties.PolicyDocument.Statement as Json[]) {
      out.push(...([] as unknown[]).concat(st.Resource).map(render));
    }
  }
  return out;
}
