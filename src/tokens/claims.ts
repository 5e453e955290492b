export type TokenType = 'access' | 'refresh';

/** The claims of every token Tessera issues. `fresh`, `roles`, `aal` and `amr` ride on access tokens only. */
export interface TokenClaims {
  sub: string;
  jti: string;
  sid: string;
  type: TokenType;
  iat: number;
  nbf: number;
  exp: number;
  iss: string;
  fresh?: boolean;
  roles?: string[];
  /** Authentication assurance level: 1 after a password, 2 after a second factor. */
  aal?: number;
  /** Authentication methods (RFC 8176): ["pwd"], ["pwd","otp"], ["pwd","recovery"]. */
  amr?: string[];
}

export type UnsignedClaims = Omit<TokenClaims, 'iss' | 'nbf'>;
