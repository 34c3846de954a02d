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

/** A security-relevant outcome, stored in the database in the same transaction as the change it records. */
export type AuditEvent = {
  __typename?: 'AuditEvent';
  /** The account that acted, when it is not userId (an ADMIN). */
  actorId: Maybe<Scalars['ID']['output']>;
  at: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  ip: Maybe<Scalars['String']['output']>;
  /** A short machine-readable detail: for LOGIN_FAILED one of wrong_password, unknown_email, malformed_email, disabled, unverified; for RATE_LIMITED one of login, ip, email; null otherwise. */
  reason: Maybe<Scalars['String']['output']>;
  sessionId: Maybe<Scalars['ID']['output']>;
  type: AuditEventType;
  userAgent: Maybe<Scalars['String']['output']>;
  /** The account the event is about, when there is one (also after the account is deleted). */
  userId: Maybe<Scalars['ID']['output']>;
};

export type AuditEventConnection = {
  __typename?: 'AuditEventConnection';
  edges: Array<AuditEventEdge>;
  pageInfo: PageInfo;
};

export type AuditEventEdge = {
  __typename?: 'AuditEventEdge';
  cursor: Scalars['String']['output'];
  node: AuditEvent;
};

/** The kinds of security events (the schema's `AuditEventType`). */
export type AuditEventType =
  | 'ACCOUNT_DELETED'
  | 'EMAIL_CHANGED'
  | 'EMAIL_CHANGE_REQUESTED'
  | 'EMAIL_VERIFICATION_REQUESTED'
  | 'EMAIL_VERIFIED'
  | 'LOGGED_OUT'
  | 'LOGGED_OUT_ALL'
  | 'LOGGED_OUT_OTHERS'
  | 'LOGIN_FAILED'
  | 'LOGIN_SUCCEEDED'
  | 'MFA_DISABLED'
  | 'MFA_ENABLED'
  | 'MFA_FAILED'
  | 'PASSWORD_CHANGED'
  | 'PASSWORD_RESET'
  | 'PASSWORD_RESET_REQUESTED'
  | 'RATE_LIMITED'
  | 'RECOVERY_CODES_REGENERATED'
  | 'RECOVERY_CODE_USED'
  | 'REGISTERED'
  | 'REUSE_DETECTED'
  | 'ROLE_CHANGED'
  | 'SESSION_REVOKED'
  | 'USER_DELETED'
  | 'USER_DISABLED'
  | 'USER_ENABLED'
  | 'USER_SESSIONS_REVOKED';

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

/** Input of `changePassword`. */
export type ChangePasswordInput = {
  /** The account's password now. */
  currentPassword: Scalars['String']['input'];
  /** 8 to 72 bytes of UTF-8, without NUL bytes. */
  newPassword: Scalars['String']['input'];
};

/** Input of `requestEmailChange`. */
export type EmailChangeInput = {
  /** The address to move to (trimmed and lowercased). */
  newEmail: Scalars['String']['input'];
  /** The account's password. */
  password: Scalars['String']['input'];
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
  /** Changes the password after checking the current one; ends every other session (the caller's lives on). */
  changePassword: Scalars['Boolean']['output'];
  /** Deletes the account, its sessions and its MFA after checking the password. */
  deleteAccount: Scalars['Boolean']['output'];
  /** Deletes an account and everything it owns. */
  deleteUser: Scalars['Boolean']['output'];
  /** Disables an account and ends every session of it. */
  disableUser: User;
  enableUser: User;
  /** Signs in with email and password. */
  login: AuthPayload;
  /** Ends the session the refresh token belongs to. True when a session was ended. Without the argument, the refresh-token cookie is used. */
  logout: Scalars['Boolean']['output'];
  /** Ends every session of the signed-in account; returns how many. Needs a valid access token. */
  logoutAll: Scalars['Int']['output'];
  /** Ends every session of the account but the caller's; returns how many. */
  logoutOthers: Scalars['Int']['output'];
  /** Trades a refresh token for a new pair. The old refresh token stops working. Without the argument, the refresh-token cookie is used. */
  refreshToken: AuthPayload;
  /** Creates an account with role USER and signs it in. */
  register: AuthPayload;
  /** Starts changing the address: emails a confirmation link to the new address and a notice to the old one; the address changes when the link is used. */
  requestEmailChange: Scalars['Boolean']['output'];
  /** Emails a verification link if the address has an unverified account. Always true: the answer never tells whether it has. */
  requestEmailVerification: Scalars['Boolean']['output'];
  /** Emails a single-use password-reset link if the address has an enabled account. Always true: the answer never tells whether it has. */
  requestPasswordReset: Scalars['Boolean']['output'];
  /** Sets a new password with the token of a reset email, ends every session of the account, marks its email verified and signs in. */
  resetPassword: AuthPayload;
  /** Ends one of the account's sessions. True when a live session was ended; false when it had already ended or is not the account's. */
  revokeSession: Scalars['Boolean']['output'];
  /** Ends every session of an account; returns how many. */
  revokeUserSessions: Scalars['Int']['output'];
  /** Changes an account's role and ends its sessions, so no token carries the old role. */
  setUserRole: User;
  /** Confirms an address with the token of a verification or email-change email; does not sign in. */
  verifyEmail: User;
};


export type MutationChangePasswordArgs = {
  input: ChangePasswordInput;
};


export type MutationDeleteAccountArgs = {
  password: Scalars['String']['input'];
};


export type MutationDeleteUserArgs = {
  id: Scalars['ID']['input'];
};


export type MutationDisableUserArgs = {
  id: Scalars['ID']['input'];
};


export type MutationEnableUserArgs = {
  id: Scalars['ID']['input'];
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


export type MutationRequestEmailChangeArgs = {
  input: EmailChangeInput;
};


export type MutationRequestEmailVerificationArgs = {
  email: Scalars['String']['input'];
};


export type MutationRequestPasswordResetArgs = {
  email: Scalars['String']['input'];
};


export type MutationResetPasswordArgs = {
  input: ResetPasswordInput;
};


export type MutationRevokeSessionArgs = {
  id: Scalars['ID']['input'];
};


export type MutationRevokeUserSessionsArgs = {
  id: Scalars['ID']['input'];
};


export type MutationSetUserRoleArgs = {
  id: Scalars['ID']['input'];
  role: Role;
};


export type MutationVerifyEmailArgs = {
  token: Scalars['String']['input'];
};

export type PageInfo = {
  __typename?: 'PageInfo';
  endCursor: Maybe<Scalars['String']['output']>;
  hasNextPage: Scalars['Boolean']['output'];
};

export type Query = {
  __typename?: 'Query';
  /** Security events of every account, the newest first, optionally of one account and of some types. Needs role ADMIN. */
  auditEvents: AuditEventConnection;
  /** The account the access token belongs to. Needs a valid access token. */
  me: User;
  /** One account, or null. Needs role ADMIN. */
  user: Maybe<User>;
  /** Accounts, the newest first; search matches part of the email, any case. Needs role ADMIN. */
  users: UserConnection;
};


export type QueryAuditEventsArgs = {
  after: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  types: InputMaybe<Array<AuditEventType>>;
  userId: InputMaybe<Scalars['ID']['input']>;
};


export type QueryUserArgs = {
  id: Scalars['ID']['input'];
};


export type QueryUsersArgs = {
  after: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  search: InputMaybe<Scalars['String']['input']>;
};

/** Input of `register`. */
export type RegisterInput = {
  /** Trimmed and lowercased; at most 254 characters; `local@domain.tld`. */
  email: Scalars['String']['input'];
  /** 8 to 72 bytes of UTF-8. */
  password: Scalars['String']['input'];
};

/** Input of `resetPassword`. */
export type ResetPasswordInput = {
  /** 8 to 72 bytes of UTF-8, without NUL bytes. */
  newPassword: Scalars['String']['input'];
  /** The token of the reset link (`#token=...`). */
  token: Scalars['String']['input'];
};

/** What an account may do. */
export type Role =
  /** Granted by an operator. */
  | 'ADMIN'
  /** Every account registered through the API. */
  | 'USER';

/** One signed-in device or browser: a sign-in and the refresh tokens rotated from it. */
export type Session = {
  __typename?: 'Session';
  /** When the sign-in happened. */
  createdAt: Scalars['DateTime']['output'];
  /** True for the session of the access token that asks. */
  current: Scalars['Boolean']['output'];
  /** When the session's newest refresh token expires. */
  expiresAt: Scalars['DateTime']['output'];
  /** The session id: the same value as the access token's session-id claim. */
  id: Scalars['ID']['output'];
  /** The client IP (by the same rule as the rate limits) of the request that last used the session. */
  ip: Maybe<Scalars['String']['output']>;
  /** The last time one of the session's refresh tokens was used; createdAt until then. */
  lastActiveAt: Scalars['DateTime']['output'];
  /** The User-Agent header of the request that started the session, at most 256 characters. */
  userAgent: Maybe<Scalars['String']['output']>;
};

/** An account. */
export type User = {
  __typename?: 'User';
  /** The account's security events, the newest first. Readable by the account itself and by ADMINs. */
  auditEvents: AuditEventConnection;
  /** When the account was created. */
  createdAt: Scalars['DateTime']['output'];
  /** True while an ADMIN has disabled the account: it cannot sign in and has no sessions. */
  disabled: Scalars['Boolean']['output'];
  /** Trimmed and lowercased. */
  email: Scalars['String']['output'];
  /** True once the account proved it reads mail at its address (verifyEmail, or a password reset). */
  emailVerified: Scalars['Boolean']['output'];
  /** UUID */
  id: Scalars['ID']['output'];
  /** The last successful sign-in; null before the first. */
  lastLoginAt: Maybe<Scalars['DateTime']['output']>;
  /** What the account may do. */
  role: Role;
  /** The account's live sessions, the most recently active first. Readable by the account itself and by ADMINs. */
  sessions: Array<Session>;
};


/** An account. */
export type UserAuditEventsArgs = {
  after: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};

export type UserConnection = {
  __typename?: 'UserConnection';
  edges: Array<UserEdge>;
  pageInfo: PageInfo;
  totalCount: Scalars['Int']['output'];
};

export type UserEdge = {
  __typename?: 'UserEdge';
  cursor: Scalars['String']['output'];
  node: User;
};
