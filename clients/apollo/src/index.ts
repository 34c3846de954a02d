// @authql/apollo: authql's tokens in an Apollo Client link chain.
//
//   const auth = createAuthKit({ mode: "body", onLoggedOut: () => showLogin() });
//   const client = new ApolloClient({
//     cache: new InMemoryCache(),
//     link: ApolloLink.from([createAuthLink(auth), new HttpLink({ uri: "/graphql" })]),
//   });
//   auth.setSession((await client.mutate({ mutation: LoginDocument, variables })).data!.login);

export { AuthKit, AuthRequestError, createAuthKit } from "./kit.js";
export type { AuthKitOptions, GraphQLErrorLike, TokenMode } from "./kit.js";
export { createAuthLink } from "./link.js";
export { isSession, memoryStorage, sessionFrom, webStorage } from "./session.js";
export type { Session, SessionStorage } from "./session.js";
export * from "./generated/graphql.js";
export type * as Schema from "./generated/schema.js";
