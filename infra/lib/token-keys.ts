/**
 * Where the handlers find the keys that verify client tokens.
 *
 * An HS256 key lives in Secrets Manager, generated here or imported by ARN.
 * The template and the function environment carry only the secret's ARN;
 * the `$default` handler reads the value once at start-up.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { AuthSettings } from './config';

/** Options for {@link TokenKeys}. */
export interface TokenKeysProps {
  /** Validated auth settings. */
  readonly auth: AuthSettings;
}

/** The token verification settings as environment variables, plus read access. */
export class TokenKeys extends Construct {
  /** The HS256 key, when one is configured. */
  readonly secret?: secretsmanager.ISecret;
  /** Variables the handlers read their auth settings from. */
  readonly environment: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: TokenKeysProps) {
    super(scope, id);
    const auth = props.auth;

    if (auth.generateHs256Secret) {
      this.secret = new secretsmanager.Secret(this, 'Hs256Key', {
        description: 'HS256 key that signs Switchboard client tokens',
        generateSecretString: { passwordLength: 64, excludePunctuation: true },
      });
    } else if (auth.hs256SecretArn !== undefined) {
      this.secret = secretsmanager.Secret.fromSecretCompleteArn(
        this,
        'Hs256Key',
        auth.hs256SecretArn,
      );
    }

    this.environment = {
      JWT_ISSUER: auth.issuer,
      JWT_AUDIENCE: auth.audience,
      TENANT_CLAIM: auth.tenantClaim,
      JWT_LEEWAY_SECS: String(auth.leewaySecs),
      ...(auth.jwksUrl !== undefined ? { JWKS_URL: auth.jwksUrl } : {}),
      ...(this.secret !== undefined ? { JWT_SECRET_ARN: this.secret.secretArn } : {}),
    };
  }

  /** Lets `grantee` read the HS256 key; a no-op when there is none. */
  grantRead(grantee: iam.IGrantable): void {
    this.secret?.grantRead(grantee);
  }
}
