export type TokenType = 'access' | 'refresh';

/** The claims of every token Tessera issues. `fresh` and `roles` ride on access tokens only. */
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
}

export type UnsignedClaims = Omit<TokenClaims, 'iss' | 'nbf'>;
