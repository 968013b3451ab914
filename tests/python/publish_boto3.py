"""Publishes intents with boto3, exactly as a Python backend would; driven by the Rust tests.

The first body goes out with SendMessage, the rest in one SendMessageBatch. Prints the
message ids, one a line.
"""

import argparse
import sys

import boto3


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True, help="SQS endpoint URL")
    parser.add_argument("--queue-url", help="queue URL; looked up by --queue-name if absent")
    parser.add_argument("--queue-name", default="switchboard-intents")
    parser.add_argument("bodies", nargs="+", help="message bodies (intents as JSON text)")
    args = parser.parse_args()

    sqs = boto3.client(
        "sqs",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    url = args.queue_url or sqs.get_queue_url(QueueName=args.queue_name)["QueueUrl"]

    first, *rest = args.bodies
    print(sqs.send_message(QueueUrl=url, MessageBody=first)["MessageId"])
    if rest:
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(rest)]
        answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        if answer.get("Failed"):
            print(f"batch entries failed: {answer['Failed']}", file=sys.stderr)
            return 1
        for sent in answer["Successful"]:
            print(sent["MessageId"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
