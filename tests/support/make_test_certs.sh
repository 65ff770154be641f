#!/usr/bin/env bash
# make_test_certs.sh DIR — a throwaway PKI for loopback TLS tests (openssl CLI, EC P-256, 1-day validity).
#
#   DIR/ca.pem,     DIR/ca.key       test CA
#   DIR/server.pem, DIR/server.key   signed by the CA for DNS:localhost, IP:127.0.0.1, IP:::1
#   DIR/wrong.pem,  DIR/wrong.key    signed by the same CA for DNS:wrong.example only (hostname checks must fail)
#
# Idempotent: when all six files exist and the server and wrong certificates still verify against the CA for the
# next hour, nothing is regenerated. Quiet: prints nothing on success; on failure prints openssl's output.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
mkdir -p "$dir"
cd "$dir"

files=(ca.pem ca.key server.pem server.key wrong.pem wrong.key)
all_present=1
for f in "${files[@]}"; do
  [ -s "$f" ] || all_present=0
done
if [ "$all_present" = 1 ] \
   && openssl verify -CAfile ca.pem server.pem wrong.pem >/dev/null 2>&1 \
   && openssl x509 -checkend 3600 -noout -in ca.pem >/dev/null 2>&1 \
   && openssl x509 -checkend 3600 -noout -in server.pem >/dev/null 2>&1 \
   && openssl x509 -checkend 3600 -noout -in wrong.pem >/dev/null 2>&1; then
  exit 0
fi

log=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$log" "$work"' EXIT
run() {
  if ! "$@" >>"$log" 2>&1; then
    echo "make_test_certs.sh: failed: $*" >&2
    cat "$log" >&2
    exit 1
  fi
}

umask 077
run openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca.key"
run openssl req -new -x509 -key "$work/ca.key" -out "$work/ca.pem" -days 1 -sha256 \
  -subj "/CN=sigv4-sidecar test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash"

issue() {  # issue NAME CN SAN
  local name=$1 cn=$2 san=$3
  run openssl ecparam -name prime256v1 -genkey -noout -out "$work/$name.key"
  run openssl req -new -key "$work/$name.key" -out "$work/$name.csr" -subj "/CN=$cn"
  cat >"$work/$name.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EOF
  run openssl x509 -req -in "$work/$name.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
    -out "$work/$name.pem" -days 1 -sha256 -extfile "$work/$name.ext"
}
issue server localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
issue wrong wrong.example "DNS:wrong.example"
run openssl verify -CAfile "$work/ca.pem" "$work/server.pem" "$work/wrong.pem"

# Certificates readable by anyone (tests may run the peer as another user); keys stay 0600.
chmod 644 "$work"/*.pem
for f in "${files[@]}"; do
  mv -f "$work/$f" "$f"
done
