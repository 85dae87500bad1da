#!/usr/bin/env bash
# A key ceremony on two live gateways, with the blo-gateway CLI only (deploy/README.md,
# "Key ceremonies"; tests/test_key_ceremony.py runs it against two running gateways).
#
#   deploy/key-ceremony.sh STEP CEREMONY_DIR OFFICE OFFICE_HOME OTHER_HOME
#
# STEP is one of
#   office-key  rotate OFFICE's keys (keys rotate on OFFICE_HOME/private/keyring.json; the old
#               keys stay valid OVERLAP_DAYS), rebuild the directory (next serial), both roots
#               sign it, install it on both gateways; with POST_QUANTUM=1 the new keys include
#               suite-2 keys (ML-DSA-65, ML-KEM-768 + X25519) and the entry lists suites [1, 2]
#               (docs/wire-format.md §14): the upgrade of a suite-1 office;
#   roots       rotate the ROOT_COUNTRY (default VN) root: a new root key, a root set signed by
#               both roots in force and the new one, a directory signed by the new roots,
#               installed together on both gateways; the retired root key is kept aside;
#   revoke      revoke OFFICE's keys that the last office-key step replaced (as if they
#               had been compromised): a directory with the revocation, both roots sign it,
#               installed on OFFICE's gateway, which offers it to the other (the step
#               waits up to 40 s and says when the other holds it), then on the other's;
#   all         the three in that order.
#
# CEREMONY_DIR holds what the two sides bring to the ceremony (in reality on two offline
# machines, the private files on removable media):
#   roots.json               the trust roots in force
#   directory.bin            the newest co-signed directory
#   offices/*.office.json    every office's public entry (keys create / keys rotate)
#   private/root-vn.key.json, private/root-cn.key.json   the root keys in force (0600)
# and receives each step's files (directory-N.bin, roots-vN.bin, retired/, replaced-keys.txt).
# A running gateway takes each directory through its officer API (an admin token in
# HOME/private/tokens/admin.token; ADMIN_USER to change); a stopped one at its next start.
set -euo pipefail

BLO=${BLO_GATEWAY:-blo-gateway}
OVERLAP_DAYS=${OVERLAP_DAYS:-14}
POST_QUANTUM=${POST_QUANTUM:-0}
ROOT_COUNTRY=${ROOT_COUNTRY:-VN}
ADMIN_USER=${ADMIN_USER:-admin}

if [ $# -ne 5 ]; then
  sed -n '2,31p' "$0" >&2
  exit 2
fi
STEP=$1 DIR=$2 OFFICE=$3 HOME_A=$4 HOME_B=$5
umask 077

say() { printf '\n== %s\n' "$*"; }

serial_of() {  # the serial of the newest directory
  "$BLO" directory show "$DIR/directory.bin" --roots "$DIR/roots.json" --json \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["serial"])'
}

key_ids() {  # the key ids in a public office entry, one a line
  python3 -c 'import json, sys; [print(k["key_id"]) for k in json.load(open(sys.argv[1]))["keys"]]' "$1"
}

sign_both() {  # FILE: both roots in force sign a directory
  "$BLO" directory sign "$1" --root-key "$DIR/private/root-vn.key.json"
  "$BLO" directory sign "$1" --root-key "$DIR/private/root-cn.key.json"
}

install_both() {  # FILE [--root-set RS]: on both gateways, then it is the newest directory
  local file=$1; shift
  "$BLO" directory install "$file" "$@" --home "$HOME_A" --user "$ADMIN_USER"
  "$BLO" directory install "$file" "$@" --home "$HOME_B" --user "$ADMIN_USER"
  cp "$file" "$DIR/directory.bin"
}

build_next() {  # [--revoke KEY=REASON ...]: the next serial, from the office entries
  local serial next args=()
  serial=$(serial_of)
  next=$((serial + 1))
  for f in "$DIR"/offices/*.office.json; do args+=(--office "$f"); done
  "$BLO" directory build "${args[@]}" "$@" --serial "$next" --out "$DIR/directory-$next.bin" >&2
  echo "$DIR/directory-$next.bin"
}

step_office_key() {
  say "office key rotation: $OFFICE"
  local entry="$DIR/offices/$OFFICE.office.json" file
  key_ids "$entry" > "$DIR/replaced-keys.txt"
  local pq=()
  [ "$POST_QUANTUM" = 1 ] && pq=(--post-quantum)
  "$BLO" keys rotate --keyring "$HOME_A/private/keyring.json" --public "$entry" \
    --overlap-days "$OVERLAP_DAYS" "${pq[@]}"
  file=$(build_next)
  sign_both "$file"
  "$BLO" directory verify "$file" --roots "$DIR/roots.json"
  install_both "$file"
}

step_roots() {
  local c version file
  c=$(echo "$ROOT_COUNTRY" | tr 'A-Z' 'a-z')
  say "root rotation: $ROOT_COUNTRY"
  mkdir -p "$DIR/retired"
  rm -f "$DIR/new-root-$c.json"
  "$BLO" keys root-create --country "$ROOT_COUNTRY" --private "$DIR/private/root-$c.next.key.json" \
    --roots "$DIR/new-root-$c.json"
  version=$(python3 -c 'import json, sys; print(int(json.load(open(sys.argv[1])).get("version", 1)) + 1)' "$DIR/roots.json")
  "$BLO" roots build --roots "$DIR/roots.json" --new "$DIR/new-root-$c.json" \
    --out "$DIR/roots-v$version.bin"
  # Both roots in force sign (2-of-2), then the new root.
  "$BLO" roots sign "$DIR/roots-v$version.bin" --root-key "$DIR/private/root-vn.key.json"
  "$BLO" roots sign "$DIR/roots-v$version.bin" --root-key "$DIR/private/root-cn.key.json"
  "$BLO" roots sign "$DIR/roots-v$version.bin" --root-key "$DIR/private/root-$c.next.key.json"
  "$BLO" roots verify "$DIR/roots-v$version.bin" --roots "$DIR/roots.json" \
    --out "$DIR/roots-v$version.json"
  # The first directory of the new roots: signed by the new root and the other country's.
  file=$(build_next)
  mv "$DIR/private/root-$c.key.json" "$DIR/retired/root-$c.v$((version - 1)).key.json"
  mv "$DIR/private/root-$c.next.key.json" "$DIR/private/root-$c.key.json"
  sign_both "$file"
  "$BLO" directory verify "$file" --roots "$DIR/roots-v$version.json"
  install_both "$file" --root-set "$DIR/roots-v$version.bin"
  cp "$DIR/roots-v$version.json" "$DIR/roots.json"
}

serial_held() {  # HOME: the directory serial its running gateway holds ("" if not running)
  "$BLO" health --home "$1" --user "$ADMIN_USER" 2>/dev/null \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["directory_serial"])' 2>/dev/null || true
}

step_revoke() {
  say "revocation of $OFFICE's replaced keys"
  local file next held start args=()
  [ -s "$DIR/replaced-keys.txt" ] || { echo "no replaced keys: run the office-key step first" >&2; exit 2; }
  while read -r kid; do args+=(--revoke "$kid=compromised"); done < "$DIR/replaced-keys.txt"
  file=$(build_next "${args[@]}")
  next=$(($(serial_of) + 1))
  sign_both "$file"
  "$BLO" directory show "$file" --roots "$DIR/roots.json"
  # On the office's gateway first: it offers the directory to its peer at once, and the
  # peer takes it within one ping interval (30 s). Then on the peer's (a no-op if it has it).
  "$BLO" directory install "$file" --home "$HOME_A" --user "$ADMIN_USER"
  start=$(date +%s)
  for _ in $(seq 80); do
    held=$(serial_held "$HOME_B")
    [ "$held" = "$next" ] && break
    sleep 0.5
  done
  echo "other gateway: holds serial ${held:-?} $(( $(date +%s) - start )) s after the install"
  "$BLO" directory install "$file" --home "$HOME_B" --user "$ADMIN_USER"
  cp "$file" "$DIR/directory.bin"
}

case "$STEP" in
  office-key) step_office_key ;;
  roots) step_roots ;;
  revoke) step_revoke ;;
  all) step_office_key; step_roots; step_revoke ;;
  *) echo "unknown step $STEP (office-key, roots, revoke, all)" >&2; exit 2 ;;
esac
say "done: directory serial $(serial_of)"
