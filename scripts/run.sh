#!/usr/bin/env bash
# The main job. For now (the proxy is next): build, then sign a remote_write request the way the sidecar will,
# and have botocore (an independent SigV4 implementation) recompute the signature from the same inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target sigv4-sidecar

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
url="https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-demo/api/v1/remote_write"
body=$(mktemp)
trap 'rm -f "$body"' EXIT
printf 'demo remote_write payload' >"$body"
date=$(date -u +%Y%m%dT%H%M%SZ)
echo "==> sigv4-sidecar sign (region us-east-1, service aps)"
build/release/proxy/sigv4-sidecar sign --region us-east-1 --service aps --method POST --date "$date" \
  --header 'Content-Type: application/x-protobuf' --header 'Content-Encoding: snappy' \
  --data-file "$body" "$url" | tee "$body.signed"
echo "==> botocore recomputes the signature"
/usr/bin/python3 - "$url" "$body" "$date" "$body.signed" <<'PY'
import datetime, os, sys
sys.path.insert(0, "/usr/lib/python3/dist-packages")
import botocore, botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, body, date, signed = sys.argv[1:]
class Clock(datetime.datetime):
    @classmethod
    def utcnow(cls): return datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ")
botocore.auth.datetime.datetime = Clock
req = AWSRequest(method="POST", url=url, data=open(body, "rb").read(),
                 headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"})
botocore.auth.SigV4Auth(Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]),
                        "aps", "us-east-1").add_auth(req)
ours = [l.split(": ", 1)[1] for l in open(signed) if l.startswith("Authorization: ")][0].strip()
print(f"botocore {botocore.__version__}: {req.headers['Authorization']}")
print("signatures match" if ours == req.headers["Authorization"] else "SIGNATURES DIFFER")
sys.exit(0 if ours == req.headers["Authorization"] else 1)
PY
rm -f "$body.signed"
