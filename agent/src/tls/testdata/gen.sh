#!/bin/sh
# Regenerates the certificate fixtures of the TLS tests (see README.md). Needs the openssl CLI (3.x).
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. self-signed.der + self-signed.key.der: EC P-256, ECDSA-SHA256, 100 years, names for loopback tests.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/ss.key" \
  -subj "/CN=wijkagent.test" -days 36500 -sha256 \
  -addext "subjectAltName=DNS:wijkagent.test,DNS:*.wijkagent.test,IP:127.0.0.1" \
  -outform DER -out self-signed.der
openssl pkcs8 -topk8 -nocrypt -in "$tmp/ss.key" -outform DER -out self-signed.key.der

# 2. rsa1024.der: self-signed RSA 1024-bit key, SHA-256.
openssl req -x509 -newkey rsa:1024 -nodes -keyout "$tmp/r1024.key" -subj "/CN=rsa1024.wijkagent.test" \
  -days 36500 -sha256 -addext "subjectAltName=DNS:rsa1024.wijkagent.test" -outform DER -out rsa1024.der

# 3. sha1.der: self-signed RSA 2048-bit key, signed with SHA-1.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/sha1.key" -subj "/CN=sha1.wijkagent.test" \
  -days 36500 -sha1 -addext "subjectAltName=DNS:sha1.wijkagent.test" -outform DER -out sha1.der

# 4. expired.der: self-signed EC P-256, valid 2020-01-01 .. 2021-01-01 (openssl ca sets the dates).
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/exp.key"
openssl req -new -key "$tmp/exp.key" -subj "/CN=expired.wijkagent.test" -out "$tmp/exp.csr"
mkdir "$tmp/ca" && touch "$tmp/ca/index.txt" && echo 01 > "$tmp/ca/serial"
cat > "$tmp/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
dir = $tmp/ca
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
default_md = sha256
policy = p
unique_subject = no
copy_extensions = copy
[p]
commonName = supplied
[ext]
subjectAltName = DNS:expired.wijkagent.test
[ext_future]
subjectAltName = DNS:future.wijkagent.test
CNF
openssl ca -batch -config "$tmp/ca.cnf" -selfsign -keyfile "$tmp/exp.key" -in "$tmp/exp.csr" \
  -startdate 20200101000000Z -enddate 20210101000000Z -extensions ext -notext -out "$tmp/exp.pem"
openssl x509 -in "$tmp/exp.pem" -outform DER -out expired.der

# 4b. not-yet-valid.der: self-signed EC P-256, valid only from 2090-01-01 (to 2091-01-01).
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/fut.key"
openssl req -new -key "$tmp/fut.key" -subj "/CN=future.wijkagent.test" -out "$tmp/fut.csr"
openssl ca -batch -config "$tmp/ca.cnf" -selfsign -keyfile "$tmp/fut.key" -in "$tmp/fut.csr" \
  -startdate 20900101000000Z -enddate 20910101000000Z -extensions ext_future -notext -out "$tmp/fut.pem"
openssl x509 -in "$tmp/fut.pem" -outform DER -out not-yet-valid.der

# 5. ca.der + leaf.der: a test CA (EC P-256) and a leaf it signed (EC P-256), 100 years.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/ca.key" \
  -subj "/CN=Wijkagent Test CA" -days 36500 -sha256 -outform PEM -out "$tmp/ca.pem"
openssl x509 -in "$tmp/ca.pem" -outform DER -out ca.der
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/leaf.key" \
  -subj "/CN=leaf.wijkagent.test" -out "$tmp/leaf.csr"
printf 'subjectAltName=DNS:leaf.wijkagent.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$tmp/leaf.ext"
openssl x509 -req -in "$tmp/leaf.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
  -days 36500 -sha256 -extfile "$tmp/leaf.ext" -outform DER -out leaf.der
