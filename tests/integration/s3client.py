#!/usr/bin/env python3
"""s3client.py - a real S3 client (boto3) for the bucket integration tests.

    s3client.py CREDENTIALS OP BUCKET [KEY [FILE]]
    s3client.py --serve

CREDENTIALS is a file holding the JSON a bucket binding returns (endpoint,
region, access_key, secret_key, bucket). BUCKET is a bucket name, "-" for
the binding's own, or "tenant:bucket" to name one of another tenant.

    put KEY FILE   upload FILE as KEY (one PUT, as boto3's put_object does)
    get KEY FILE   download KEY into FILE
    list           list the keys, one a line (on stderr with --serve)
    delete KEY     delete KEY
    mkbucket       create BUCKET

Exit status says how S3 answered, so a C test can tell refusals apart:
0 done, 2 refused (AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch),
3 QuotaExceeded, 4 NoSuchBucket or NoSuchKey, 1 anything else (printed).

With --serve it reads one request a line from stdin, the arguments above
separated by tabs, and answers each with its status on a line of stdout:
loading boto3 once instead of per request saves a second or more each.
"""
import json
import sys

import boto3
import botocore.config
import botocore.exceptions
from botocore.handlers import validate_bucket_name

REFUSED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}
QUOTA = {"QuotaExceeded"}
MISSING = {"NoSuchBucket", "NoSuchKey", "404"}
# With --serve, stdout carries the answers and nothing else.
SERVING = False


def client(creds):
    c = boto3.client(
        "s3",
        endpoint_url=creds["endpoint"],
        region_name=creds.get("region", "default"),
        aws_access_key_id=creds["access_key"],
        aws_secret_access_key=creds["secret_key"],
        config=botocore.config.Config(
            s3={"addressing_style": creds.get("addressing_style", "path")},
            retries={"max_attempts": 1},
        ),
    )
    # "tenant:bucket" is how radosgw names another tenant's bucket; boto3
    # refuses the ':' unless its name check is off.
    c.meta.events.unregister("before-parameter-build.s3", validate_bucket_name)
    return c


def run(c, op, bucket, args):
    if op == "put":
        with open(args[1], "rb") as f:
            c.put_object(Bucket=bucket, Key=args[0], Body=f.read())
    elif op == "get":
        body = c.get_object(Bucket=bucket, Key=args[0])["Body"].read()
        with open(args[1], "wb") as f:
            f.write(body)
    elif op == "list":
        for o in c.list_objects_v2(Bucket=bucket).get("Contents", []):
            print(o["Key"], file=sys.stderr if SERVING else sys.stdout)
    elif op == "delete":
        c.delete_object(Bucket=bucket, Key=args[0])
    elif op == "mkbucket":
        c.create_bucket(Bucket=bucket)
    else:
        raise SystemExit(f"s3client: unknown operation {op}")


def request(argv):
    with open(argv[0]) as f:
        creds = json.load(f)
    op, bucket = argv[1], argv[2]
    if bucket == "-":
        bucket = creds["bucket"]
    try:
        run(client(creds), op, bucket, argv[3:])
    except botocore.exceptions.ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        print(f"s3client: {op} {bucket}: {code}", file=sys.stderr)
        if code in REFUSED:
            return 2
        if code in QUOTA:
            return 3
        if code in MISSING:
            return 4
        return 1
    return 0


def main():
    global SERVING
    if sys.argv[1:] == ["--serve"]:
        SERVING = True
        for line in sys.stdin:
            args = [a for a in line.rstrip("\n").split("\t") if a]
            try:
                status = request(args)
            except Exception as e:  # a broken request must not end the others
                print(f"s3client: {args}: {e}", file=sys.stderr)
                status = 1
            print(status, flush=True)
        return 0
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    return request(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
