export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** An RFC 3339 timestamp, UTC. */
  DateTime: { input: string; output: string; }
};

/**
 * A signed-in session: an access token and (in the body, or as a cookie)
 * a single-use refresh token.
 */
export type AuthPayload = {
  __typename?: 'AuthPayload';
  /** A JWT for `Authorization: Bearer`. */
  accessToken: Scalars['String']['output'];
  /** Seconds until accessToken expires. */
  expiresIn: Scalars['Int']['output'];
  /** Null when the server delivers the refresh token as an httpOnly cookie instead (REFRESH_TOKEN_COOKIE=on). */
  refreshToken: Maybe<Scalars['String']['output']>;
  /** Always "Bearer". */
  tokenType: Scalars['String']['output'];
  /** The signed-in account. */
  user: User;
};

/** Input of `login`. */
export type LoginInput = {
  /** The account's email (any case, surrounding spaces ignored). */
  email: Scalars['String']['input'];
  /** The account's password. */
  password: Scalars['String']['input'];
};

export type Mutation = {
  __typename?: 'Mutation';
  /** Signs in with email and password. */
  login: AuthPayload;
  /** Ends the session the refresh token belongs to. True when a session was ended. Without the argument, the refresh-token cookie is used. */
  logout: Scalars['Boolean']['output'];
  /** Ends every session of the signed-in account; returns how many. Needs a valid access token. */
  logoutAll: Scalars['Int']['output'];
  /** Trades a refresh token for a new pair. The old refresh token stops working. Without the argument, the refresh-token cookie is used. */
  refreshToken: AuthPayload;
  /** Creates an account with role USER and signs it in. */
  register: AuthPayload;
};


export type MutationLoginArgs = {
  input: LoginInput;
};


export type MutationLogoutArgs = {
  refreshToken: InputMaybe<Scalars['String']['input']>;
};


export type MutationRefreshTokenArgs = {
  refreshToken: InputMaybe<Scalars['String']['input']>;
};


export type MutationRegisterArgs = {
  input: RegisterInput;
};

export type Query = {
  __typename?: 'Query';
  /** The account the access token belongs to. Needs a valid access token. */
  me: User;
};

/** Input of `register`. */
export type RegisterInput = {
  /** Trimmed and lowercased; at most 254 characters; `local@domain.tld`. */
  email: Scalars['String']['input'];
  /** 8 to 72 bytes of UTF-8. */
  password: Scalars['String']['input'];
};

/** What an account may do. */
export type Role =
  /** Granted by an operator. */
  | 'ADMIN'
  /** Every account registered through the API. */
  | 'USER';

/** An account. */
export type User = {
  __typename?: 'User';
  /** When the account was created. */
  createdAt: Scalars['DateTime']['output'];
  /** Trimmed and lowercased. */
  email: Scalars['String']['output'];
  /** UUID */
  id: Scalars['ID']['output'];
  /** What the account may do. */
  role: Role;
};
