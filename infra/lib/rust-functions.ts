/**
 * One place for what every Switchboard Lambda shares: the Rust runtime, arm64,
 * a role of its own and a log group with a retention.
 *
 * Code comes from `cargo lambda build --release --arm64` output, one folder per
 * binary holding `bootstrap`. Building is not done here: a synth that compiled
 * four release binaries would take minutes and need a toolchain, and the tests
 * point `lambdaDir` at small placeholder folders of the same shape.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** A binary has not been built; the message says how to build it. */
export class MissingLambdaBuildError extends Error {
  constructor(readonly binary: string, readonly dir: string) {
    super(
      `no Lambda build for ${binary} at ${dir}/bootstrap; run ` +
        '`cargo lambda build --release --arm64` in the repository root first',
    );
    this.name = 'MissingLambdaBuildError';
  }
}

/** Settings shared by every function the factory makes. */
export interface RustFunctionFactoryProps {
  /** Folder with one `<binary>/bootstrap` per binary, e.g. `<repo>/target/lambda`. */
  readonly lambdaDir: string;
  /** Environment every function gets (`RUST_LOG`, table and queue names). */
  readonly environment: Readonly<Record<string, string>>;
  /** Log retention for the functions' log groups. */
  readonly logRetention: logs.RetentionDays;
}

/** What differs between functions. */
export interface RustFunctionOptions {
  /** Cargo binary name; its folder under `lambdaDir` is the code. */
  readonly binary: string;
  /** Shown in the Lambda console. */
  readonly description: string;
  /** Memory in MB. */
  readonly memoryMb: number;
  /** Timeout in seconds. */
  readonly timeoutSecs: number;
  /** Variables added to the shared environment. @default - none */
  readonly environment?: Readonly<Record<string, string>>;
  /** Whether Lambda may keep invoking a function that feeds its own queue. @default false */
  readonly allowRecursiveLoop?: boolean;
}

/** Builds Rust Lambdas on `provided.al2023` for arm64. */
export class RustFunctionFactory {
  constructor(private readonly props: RustFunctionFactoryProps) {}

  /** A function whose role can write only to its own log group. */
  create(scope: Construct, id: string, options: RustFunctionOptions): lambda.Function {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: this.props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs ${options.binary}`,
    });
    logGroup.grantWrite(role);

    return new lambda.Function(scope, id, {
      description: options.description,
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(this.binaryDir(options.binary)),
      memorySize: options.memoryMb,
      timeout: Duration.seconds(options.timeoutSecs),
      role,
      logGroup,
      environment: { ...this.props.environment, ...options.environment },
      recursiveLoop: options.allowRecursiveLoop
        ? lambda.RecursiveLoop.ALLOW
        : lambda.RecursiveLoop.TERMINATE,
    });
  }

  private binaryDir(binary: string): string {
    const dir = path.resolve(this.props.lambdaDir, binary);
    if (!fs.existsSync(path.join(dir, 'bootstrap'))) throw new MissingLambdaBuildError(binary, dir);
    return dir;
  }
}
