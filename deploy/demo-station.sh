#!/usr/bin/env bash
# Set up and serve a DEMO station. Everything it makes is for trying reporter
# out on one machine: the passphrases are written in this script, and the
# reviewer's private key sits next to the station. Never use it for real reports.
set -euo pipefail
VENV=${VENV:-.venv}
INSTANCE=${INSTANCE:-instance}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8080}
reporter="$VENV/bin/reporter --instance $INSTANCE"
export REPORTER_PASSPHRASE="demo station passphrase - NOT SECRET"
export REPORTER_KEY_PASSPHRASE="demo reviewer passphrase - NOT SECRET"
demo_key="$INSTANCE-DEMO-ONLY-reviewer.key"

if [ ! -f "$INSTANCE/station.json" ]; then
  echo "== Creating a DEMO station in $INSTANCE (demo passphrase, NOT for real use)"
  $reporter init --kdf interactive
  rm -f "$demo_key"
  pubkey=$($VENV/bin/reporter keygen --out "$demo_key" --kdf interactive)
  echo "   The demo reviewer's public key: $pubkey"
  $reporter recipients add "DEMO reviewer (not secret, do not use)" "$pubkey"
  for site in "Marange (Chiadzwa), Zimbabwe" "Tshikapa, Kasai, DRC" "Berbérati, CAR"; do
    $reporter sites add "$site"
  done
fi
cat <<MSG

  ============================================================
   DEMO STATION: for trying reporter out, not for real reports
  ------------------------------------------------------------
   Station passphrase: $REPORTER_PASSPHRASE
   Demo reviewer key:  $demo_key
   Its passphrase:     $REPORTER_KEY_PASSPHRASE
   Open http://$HOST:$PORT/ in a browser.
  ============================================================

MSG
exec $reporter serve --host "$HOST" --port "$PORT"
