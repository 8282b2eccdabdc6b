#!/usr/bin/env bash
# Regenerates the TEST-ONLY key files in this folder with the real openssl and ssh-keygen.
# These keys are published in the repository: never use them for anything but tests.
# Passphrase of every encrypted file: test-passphrase
set -euo pipefail
cd "$(dirname "$0")"
pw=test-passphrase
rm -f test-*
openssl genrsa -traditional -out test-rsa-pkcs1.pem 2048
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out test-rsa-pkcs8.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out test-ec-p256-pkcs8.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out test-ec-p384-pkcs8.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out test-ec-p521-pkcs8.pem
openssl genpkey -algorithm ed25519 -out test-ed25519-pkcs8.pem
openssl ec -in test-ec-p256-pkcs8.pem -out test-ec-p256-sec1.pem
openssl ecparam -name prime256v1 -genkey -out test-ec-p256-sec1-params.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes256 -pass pass:$pw -out test-rsa-pkcs8-encrypted.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass pass:$pw -out test-ec-p256-pkcs8-encrypted.pem
ssh-keygen -q -t rsa -b 2048 -m PEM -N $pw -C test -f test-rsa-legacy-encrypted.pem && rm test-rsa-legacy-encrypted.pem.pub
ssh-keygen -q -t ecdsa -b 256 -m PEM -N $pw -C test -f test-ec-p256-legacy-encrypted.pem && rm test-ec-p256-legacy-encrypted.pem.pub
ssh-keygen -q -t rsa -b 2048 -N '' -C test -f test-rsa-openssh.key && rm test-rsa-openssh.key.pub
ssh-keygen -q -t ecdsa -b 256 -N '' -C test -f test-ec-p256-openssh.key && rm test-ec-p256-openssh.key.pub
ssh-keygen -q -t ed25519 -N '' -C test -f test-ed25519-openssh.key && rm test-ed25519-openssh.key.pub
# -a 2: few bcrypt rounds (the default is 16) so that the tests stay fast under -race; same format.
ssh-keygen -q -t ed25519 -a 2 -N $pw -C test -f test-ed25519-openssh-encrypted.key && rm test-ed25519-openssh-encrypted.key.pub
ssh-keygen -q -t rsa -b 2048 -a 2 -N $pw -C test -f test-rsa-openssh-encrypted.key && rm test-rsa-openssh-encrypted.key.pub
openssl genrsa -out test-rsa-1024-too-small.pem 1024
# Public forms of test-rsa-pkcs8.pem and test-ec-p256-pkcs8.pem.
openssl pkey -in test-rsa-pkcs8.pem -pubout -out test-rsa-public.pem
openssl rsa -in test-rsa-pkcs8.pem -RSAPublicKey_out -out test-rsa-public-pkcs1.pem
openssl req -x509 -key test-rsa-pkcs8.pem -subj /CN=finauth-test -days 36500 -out test-rsa-cert.pem
openssl pkey -in test-ec-p256-pkcs8.pem -pubout -out test-ec-p256-public.pem
# A Google service-account file around test-rsa-pkcs8.pem (the layout of GCP key files).
python3 - <<'PY'
import json
key = open("test-rsa-pkcs8.pem").read()
json.dump({"type": "service_account", "project_id": "finauth-test", "private_key_id": "test-service-account-kid",
           "private_key": key, "client_email": "test@finauth-test.iam.gserviceaccount.com", "client_id": "1"},
          open("test-service-account.json", "w"), indent=2)
PY
