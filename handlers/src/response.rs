//! The HTTP-shaped answers API Gateway expects from a route integration.
//!
//! For `$connect`, anything but 2xx refuses the connection; for messages the status only
//! reaches API Gateway's logs, since replies travel as intents. Bodies are fixed text:
//! causes go to our log, never to the caller.

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::encodings::Body;

/// The event was handled (a refused request included: its answer is an intent).
pub fn ok() -> ApiGatewayProxyResponse {
    with_status(200, None)
}

/// The event itself is unusable, such as one without a connection id.
pub fn bad_request() -> ApiGatewayProxyResponse {
    with_status(400, Some("malformed event"))
}

/// Our side failed; for `$connect` this refuses the connection, which is the point.
pub fn server_error() -> ApiGatewayProxyResponse {
    with_status(500, Some("internal error"))
}

fn with_status(status: i64, body: Option<&str>) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.body = body.map(|text| Body::Text(text.to_owned()));
    response
}
