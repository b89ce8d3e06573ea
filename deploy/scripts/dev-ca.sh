#!/usr/bin/env bash
# A development certificate authority for Stratus's mutual TLS. The all-in-one and the
# tests use it; production brings its own CA (any X.509 CA that can put the SANs below
# into a certificate will do).
#
#   dev-ca.sh init  DIR                       CA key and certificate (kept if present)
#   dev-ca.sh issue DIR ROLE NAME [SAN ...]   DIR/NAME.pem + DIR/NAME.key, signed by the CA
#
# ROLE is conductor, gateway, agent or client. It is written into the certificate as the
# URI SAN urn:stratus:role:ROLE, which is what the services authorise on. NAME is the
# subject's common name; for an agent it is the compute host's name and also a DNS SAN
# (an agent may register and report only as a host its certificate names). Extra SANs are
# DNS names or IP addresses (e.g. localhost 127.0.0.1). Keys are EC P-256 in PKCS#8 PEM,
# readable by the owner only. Certificates are valid for 825 days; re-issuing a name
# replaces its files in place, and the services pick the new ones up without a restart.
set -euo pipefail

die() { echo "dev-ca.sh: $*" >&2; exit 2; }
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

command -v openssl >/dev/null || die "openssl is not installed (apt-get install openssl)"
[[ $# -ge 2 ]] || usage
cmd=$1 dir=$2
shift 2

name_ok() { [[ $1 =~ ^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$ ]]; }

init() {
  mkdir -p "$dir"
  chmod 700 "$dir"
  if [[ -s $dir/ca.pem && -s $dir/ca.key ]]; then
    return 0
  fi
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key" 2>/dev/null)
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 -subj "/O=stratus/CN=stratus dev CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.pem" 2>/dev/null
  echo "dev-ca.sh: CA in $dir/ca.pem"
}

issue() {
  [[ $# -ge 2 ]] || usage
  local role=$1 name=$2
  shift 2
  case $role in conductor|gateway|agent|client) ;; *) die "ROLE must be conductor, gateway, agent or client: $role";; esac
  name_ok "$name" || die "NAME must be 1-63 letters, digits, '.', '_' or '-': $name"
  [[ -s $dir/ca.pem && -s $dir/ca.key ]] || init
  local sans="URI:urn:stratus:role:$role"
  if [[ $role == agent ]]; then sans+=",DNS:$name"; fi
  local san
  for san in "$@"; do
    if [[ $san =~ ^[0-9.]+$ || $san == *:* ]]; then sans+=",IP:$san"; else sans+=",DNS:$san"; fi
  done
  local tmp
  tmp=$(mktemp -d "$dir/.issue.XXXXXX")
  trap 'rm -rf "$tmp"' RETURN
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/key" 2>/dev/null)
  openssl req -new -key "$tmp/key" -subj "/O=stratus/OU=$role/CN=$name" -out "$tmp/csr" 2>/dev/null
  printf '%s\n' "subjectAltName=$sans" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth,clientAuth" > "$tmp/ext"
  openssl x509 -req -in "$tmp/csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$tmp/ext" -out "$tmp/pem" 2>/dev/null
  # key first, then certificate, each by rename: a reader never sees a half-written file
  mv -f "$tmp/key" "$dir/$name.key"
  mv -f "$tmp/pem" "$dir/$name.pem"
  echo "dev-ca.sh: $role certificate $dir/$name.pem ($sans)"
}

case $cmd in
  init) init ;;
  issue) issue "$@" ;;
  *) usage ;;
esac
