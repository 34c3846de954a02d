//! `schema.graphql` is the schema the server runs.

use super::helpers::TestApp;

#[tokio::test(flavor = "multi_thread")]
async fn the_checked_in_schema_is_the_served_schema() {
    let checked_in = include_str!("../../schema.graphql");
    let app = TestApp::spawn().await;
    assert_eq!(
        app.state.schema.sdl(),
        checked_in,
        "schema.graphql is stale: run `cargo run -- print-schema > schema.graphql`"
    );
    assert_eq!(authql::graphql::sdl(), checked_in);
}
