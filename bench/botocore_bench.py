#!/usr/bin/python3
"""botocore's SigV4 signing rate on the same workloads as bench/signer_bench.cpp, for comparison."""
import sys
import time

sys.path.insert(0, "/usr/lib/python3/dist-packages")
import botocore.auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "FwoGZXIvYXdzEBYaDHqa0AP1/session")


def rate(make, seconds=3.0):
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        request = make()
        botocore.auth.SigV4Auth(creds, make.service, "us-east-1").add_auth(request)
        n += 1
    return n / (time.perf_counter() - start)


def small_get():
    return AWSRequest(method="GET", url="https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/metrics?format=prometheus",
                      headers={"Accept": "text/plain", "User-Agent": "Prometheus/2.42.0"})


small_get.service = "execute-api"
BODY = bytes((i * 131 + 17) & 0xFF for i in range(64 * 1024))


def remote_write():
    return AWSRequest(method="POST", url="https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234/api/v1/remote_write",
                      data=BODY, headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"})


remote_write.service = "aps"

print(f"botocore small GET:        {rate(small_get):10.0f} signatures/s")
print(f"botocore 64 KiB POST:      {rate(remote_write):10.0f} signatures/s")
