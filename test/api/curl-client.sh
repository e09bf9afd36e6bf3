#!/usr/bin/env bash
# A non-Node order service talking to the refund API with nothing but bash, curl and coreutils (jq is used when it is
# installed; otherwise a small JSON reader in bash below). It walks the contract an order service relies on and stops
# at the first answer it did not expect:
#
#   a  POST /v1/refunds (201), the identical repeat (200, same refund)
#   b  GET  /v1/refunds/<no1>, waiting until WeChat has it (no longer PENDING)
#   c  GET  /v1/orders/<out_trade_no>
#   d  a second refund of the same order, which waits in the order's queue (one submission at a time, 60 s apart),
#      cancelled with POST /v1/refunds/<no2>/cancel (200, CANCELLED), read back, and its amount released on the order
#   e  POST /v1/refunds/<no1>/cancel: 409 not_cancellable (already sent to WeChat)
#   f  a bad request (400 naming error.param) and a request without a key (401)
#
# Usage: REFUND_API_KEY=<key> test/api/curl-client.sh <base-url> <out_trade_no> <out_refund_no_1> <out_refund_no_2>
#    or: REFUND_API_KEY_FILE=.data/api/dev-api-key test/api/curl-client.sh …
# The order must be paid, with at least 3 fen refundable (the two refunds ask for 2 fen and 1 fen unless
# CURL_CLIENT_AMOUNTS="<fen1> <fen2>" says otherwise), and no refund of it created in the last minute; the two refund
# numbers must be new.
# The key is read from the environment or a file, never from the command line (where `ps` shows it), and reaches curl
# through a process substitution (a curl config on /dev/fd), so it is in no process's arguments and never printed.
#
# Options (environment): CURL_CLIENT_JSON=jq|bash (default: jq when installed), CURL_CLIENT_WAIT_SECONDS (how long b
# waits for WeChat to have the first refund, default 30), CURL_CLIENT_MAX_TIME (seconds per HTTP call, default 30).
# Prints one line per step; exit 0 when every answer was the expected one, 1 on the first unexpected answer, 2 on a
# usage error, 3 when the API cannot be reached.
set -euo pipefail

usage() {
  echo "usage: REFUND_API_KEY=<key> $0 <base-url> <out_trade_no> <out_refund_no_1> <out_refund_no_2>" >&2
  echo "       (or REFUND_API_KEY_FILE=<file holding the key>)" >&2
  exit 2
}

[[ $# -eq 4 ]] || usage
BASE_URL=${1%/}
TRADE_NO=$2
NO1=$3
NO2=$4
[[ $BASE_URL =~ ^https?:// ]] || { echo "base-url must start with http:// or https:// (got $BASE_URL)" >&2; exit 2; }
for n in "$TRADE_NO" "$NO1" "$NO2"; do
  # The API's own rule for both numbers: what goes into a URL path below is never encoded, so it is checked here.
  [[ $n =~ ^[A-Za-z0-9_*@|-]{1,64}$ ]] || { echo "not an out_trade_no/out_refund_no: $n" >&2; exit 2; }
done
[[ $NO1 != "$NO2" ]] || { echo "the two refund numbers must differ" >&2; exit 2; }

if [[ -n ${REFUND_API_KEY_FILE:-} ]]; then
  [[ -r $REFUND_API_KEY_FILE ]] || { echo "REFUND_API_KEY_FILE: cannot read $REFUND_API_KEY_FILE" >&2; exit 2; }
  API_KEY=$(tr -d '\r\n' <"$REFUND_API_KEY_FILE")
else
  API_KEY=${REFUND_API_KEY:-}
fi
[[ -n $API_KEY ]] || { echo "no API key: set REFUND_API_KEY or REFUND_API_KEY_FILE" >&2; exit 2; }
# Printable without space (the API's rule), and no '"' or '\' so it can be quoted in the curl config.
[[ $API_KEY =~ ^[[:graph:]]+$ && $API_KEY != *[\"\\]* ]] ||
  { echo "the API key has characters an API key cannot have" >&2; exit 2; }
unset REFUND_API_KEY

read -r AMOUNT1 AMOUNT2 <<<"${CURL_CLIENT_AMOUNTS:-2 1}"
WAIT_SECONDS=${CURL_CLIENT_WAIT_SECONDS:-30}
MAX_TIME=${CURL_CLIENT_MAX_TIME:-30}
for v in "$AMOUNT1" "$AMOUNT2" "$WAIT_SECONDS" "$MAX_TIME"; do
  [[ $v =~ ^[1-9][0-9]{0,8}$ ]] || { echo "not a positive integer: $v (CURL_CLIENT_AMOUNTS, _WAIT_SECONDS, _MAX_TIME)" >&2; exit 2; }
done

JSON_READER=${CURL_CLIENT_JSON:-}
if [[ -z $JSON_READER ]]; then
  if command -v jq >/dev/null 2>&1; then JSON_READER=jq; else JSON_READER=bash; fi
fi
case $JSON_READER in
  jq) command -v jq >/dev/null 2>&1 || { echo "CURL_CLIENT_JSON=jq but jq is not installed" >&2; exit 2; } ;;
  bash) ;;
  *) echo "CURL_CLIENT_JSON must be jq or bash (got $JSON_READER)" >&2; exit 2 ;;
esac

# ---------------------------------------------------------------------------------------------------------------
# Reading JSON: json_get <json> <path> prints the scalar at a dotted path (`error.param`, `refunds.1.state`); status 1
# when there is none (absent or null). Objects and arrays print as `<object>`/`<array>` with the bash reader.

json_get() {
  if [[ $JSON_READER == jq ]]; then
    jq -er --arg p "$2" \
      'getpath($p | split(".") | map(tonumber? // .))
       | if . == null then empty elif type == "object" or type == "array" then tojson else . end' \
      <<<"$1" 2>/dev/null
  else
    bash_json_get "$1" "$2"
  fi
}

# A JSON reader in bash for machines without jq: a recursive descent over the text, matching one token at a time with
# bash regexes, remembering the scalar whose path is the one asked for. Enough for the API's answers (well-formed JSON
# from JSON.stringify); a malformed text is reported as such (status 2).
bash_json_get() {
  _JR=$1 _JWANT=$2 _JOUT='' _JHIT=0
  _json_value '' || return 2
  _json_ws
  [[ -z $_JR ]] || return 2
  ((_JHIT == 1)) || return 1
  printf '%s\n' "$_JOUT"
}

_json_ws() {
  [[ $_JR =~ ^[[:space:]]+ ]] && _JR=${_JR:${#BASH_REMATCH[0]}}
  return 0
}

_json_found() {
  if [[ $1 == "$_JWANT" ]]; then
    _JOUT=$2
    _JHIT=1
  fi
  return 0
}

_json_string() {
  [[ $_JR =~ ^\"(([^\"\\]|\\.)*)\" ]] || return 1
  _JR=${_JR:${#BASH_REMATCH[0]}}
  local raw=${BASH_REMATCH[1]}
  if [[ $raw == *\\* ]]; then
    # \" and \/ are JSON's, not printf's; %b then does \\ \n \t \r \b \f \uXXXX.
    raw=${raw//\\\"/\"}
    raw=${raw//\\\//\/}
    raw=$(printf '%b' "$raw")
  fi
  _JSTR=$raw
}

_json_value() {
  local path=$1 key i=0
  _json_ws
  case ${_JR:0:1} in
    '{')
      _JR=${_JR:1}
      _json_found "$path" '<object>'
      _json_ws
      if [[ ${_JR:0:1} == '}' ]]; then _JR=${_JR:1}; return 0; fi
      while :; do
        _json_ws
        _json_string || return 1
        key=$_JSTR
        _json_ws
        [[ ${_JR:0:1} == ':' ]] || return 1
        _JR=${_JR:1}
        _json_value "${path:+$path.}$key" || return 1
        _json_ws
        case ${_JR:0:1} in
          ',') _JR=${_JR:1} ;;
          '}') _JR=${_JR:1}; return 0 ;;
          *) return 1 ;;
        esac
      done
      ;;
    '[')
      _JR=${_JR:1}
      _json_found "$path" '<array>'
      _json_ws
      if [[ ${_JR:0:1} == ']' ]]; then _JR=${_JR:1}; return 0; fi
      while :; do
        _json_value "${path:+$path.}$i" || return 1
        i=$((i + 1))
        _json_ws
        case ${_JR:0:1} in
          ',') _JR=${_JR:1} ;;
          ']') _JR=${_JR:1}; return 0 ;;
          *) return 1 ;;
        esac
      done
      ;;
    '"')
      _json_string || return 1
      _json_found "$path" "$_JSTR"
      ;;
    *)
      [[ $_JR =~ ^(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|true|false|null) ]] || return 1
      _JR=${_JR:${#BASH_REMATCH[0]}}
      [[ ${BASH_REMATCH[1]} == null ]] || _json_found "$path" "${BASH_REMATCH[1]}"
      ;;
  esac
}

# ---------------------------------------------------------------------------------------------------------------
# Talking to the API. call <step> <method> <path> [body] [--no-key] sets STATUS and BODY. A 503 means nothing was
# decided and the same request is safe to repeat (the API's contract): it is repeated after Retry-After, three times
# at most, and RETRIED says so (a create repeated after a 503 may find its refund and answer 200 instead of 201).

HEADERS=$(mktemp)
trap 'rm -f "$HEADERS"' EXIT
STEP=''
STATUS=''
BODY=''
RETRIED=0

fail() {
  echo "FAIL [$STEP] $*" >&2
  exit 1
}

call() {
  local method=$2 path=$3 body=${4:-} with_key=1 out code attempt retry_after
  STEP=$1
  [[ ${5:-} == --no-key ]] && with_key=0
  RETRIED=0
  for attempt in 1 2 3 4; do
    local args=(-sS -X "$method" --max-time "$MAX_TIME" -D "$HEADERS" -w '\n%{http_code}' -H 'Accept: application/json')
    [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    if ((with_key)); then
      # printf is a bash builtin: the key goes into the pipe, not into any process's arguments.
      out=$(curl "${args[@]}" -K <(printf 'header = "Authorization: Bearer %s"\n' "$API_KEY") "$BASE_URL$path") ||
        { echo "FAIL [$STEP] $method $path: cannot reach the API at $BASE_URL (curl exit $?)" >&2; exit 3; }
    else
      out=$(curl "${args[@]}" "$BASE_URL$path") ||
        { echo "FAIL [$STEP] $method $path: cannot reach the API at $BASE_URL (curl exit $?)" >&2; exit 3; }
    fi
    code=${out##*$'\n'}
    BODY=${out%$'\n'*}
    STATUS=$code
    [[ $code == 503 && $attempt -lt 4 ]] || return 0
    retry_after=$(sed -n 's/^[Rr]etry-[Aa]fter: *\([0-9]\{1,2\}\).*/\1/p' "$HEADERS" | head -n 1)
    echo "      $method $path answered 503 (nothing decided); repeating in ${retry_after:-2} s" >&2
    sleep "${retry_after:-2}"
    RETRIED=1
  done
}

# expect <status…>: the answer's status is one of these, else fail showing the answer.
expect() {
  local s
  for s in "$@"; do [[ $STATUS == "$s" ]] && return 0; done
  fail "expected HTTP $(IFS=/; echo "$*"), got $STATUS: ${BODY:0:600}"
}

# field <path>: the answer's field, or fail naming it.
field() {
  local v
  v=$(json_get "$BODY" "$1") || fail "answer has no field $1: ${BODY:0:600}"
  printf '%s' "$v"
}

# field_is <path> <expected>
field_is() {
  local v
  v=$(field "$1")
  [[ $v == "$2" ]] || fail "expected $1 = $2, got $v: ${BODY:0:600}"
}

ok() {
  printf 'ok   %-3s %s\n' "$STEP" "$*"
}

refund_body() { # <out_refund_no> <amount_fen>
  printf '{"out_trade_no":"%s","out_refund_no":"%s","amount_fen":%s,"reason":"curl client"}' "$TRADE_NO" "$1" "$2"
}

echo "refund API at $BASE_URL, order $TRADE_NO, refunds $NO1 and $NO2 (JSON read with $JSON_READER)"

# --- a: create, then the identical repeat ---------------------------------------------------------------------------
call a1 POST /v1/refunds "$(refund_body "$NO1" "$AMOUNT1")"
if ((RETRIED)); then expect 201 200; else expect 201; fi
field_is object refund
field_is out_refund_no "$NO1"
field_is out_trade_no "$TRADE_NO"
field_is amount_fen "$AMOUNT1"
field_is reason 'curl client'
CREATED_AT=$(field created_at)
STATE1=$(field state)
ok "POST /v1/refunds $NO1 ($AMOUNT1 fen): $STATUS, state $STATE1"

call a2 POST /v1/refunds "$(refund_body "$NO1" "$AMOUNT1")"
expect 200
field_is out_refund_no "$NO1"
field_is out_trade_no "$TRADE_NO"
field_is amount_fen "$AMOUNT1"
field_is reason 'curl client'
field_is created_at "$CREATED_AT"
ok "the identical repeat: 200, the same refund (created_at $CREATED_AT)"

# --- b: read it back; wait until WeChat has it, so that e (not cancellable) is certain -------------------------------
deadline=$((SECONDS + WAIT_SECONDS))
while :; do
  call b GET "/v1/refunds/$NO1"
  expect 200
  field_is out_refund_no "$NO1"
  field_is amount_fen "$AMOUNT1"
  field_is created_at "$CREATED_AT"
  STATE1=$(field state)
  [[ $STATE1 == PENDING ]] || break
  ((SECONDS < deadline)) || fail "refund $NO1 still PENDING after ${WAIT_SECONDS} s: it never reached WeChat"
  sleep 0.2
done
ok "GET /v1/refunds/$NO1: 200, state $STATE1, refund_id $(json_get "$BODY" refund_id || echo '(none yet)')"

# --- c: the order --------------------------------------------------------------------------------------------------
call c GET "/v1/orders/$TRADE_NO"
expect 200
field_is object order
field_is out_trade_no "$TRADE_NO"
PAID=$(field paid_fen)
RESERVED=$(field reserved_fen)
SUCCEEDED=$(field succeeded_fen)
REFUNDABLE=$(field refundable_fen)
HELD_BEFORE=$((RESERVED + SUCCEEDED))
((HELD_BEFORE >= AMOUNT1)) || fail "the order holds $HELD_BEFORE fen for refunds, less than refund $NO1's $AMOUNT1"
((REFUNDABLE >= AMOUNT2)) || fail "the order has $REFUNDABLE fen refundable, not enough for the second refund ($AMOUNT2)"
ok "GET /v1/orders/$TRADE_NO: 200, paid $PAID, reserved+succeeded $HELD_BEFORE, refundable $REFUNDABLE fen"

# --- d: a second refund waits in the order's queue; cancel it ---------------------------------------------------------
call d1 POST /v1/refunds "$(refund_body "$NO2" "$AMOUNT2")"
if ((RETRIED)); then expect 201 200; else expect 201; fi
field_is out_refund_no "$NO2"
STATE2=$(field state)
[[ $STATE2 == PENDING ]] ||
  fail "expected refund $NO2 to wait in its order's queue (PENDING) behind $NO1, got state $STATE2"
ok "POST /v1/refunds $NO2 ($AMOUNT2 fen): $STATUS, queued behind $NO1 (PENDING)"

call d2 POST "/v1/refunds/$NO2/cancel" '{}'
expect 200
field_is object refund
field_is out_refund_no "$NO2"
field_is amount_fen "$AMOUNT2"
field_is state CANCELLED
ok "POST /v1/refunds/$NO2/cancel: 200, state CANCELLED"

call d3 GET "/v1/refunds/$NO2"
expect 200
field_is state CANCELLED
ok "GET /v1/refunds/$NO2: 200, state CANCELLED"

call d4 GET "/v1/orders/$TRADE_NO"
expect 200
RESERVED=$(field reserved_fen)
SUCCEEDED=$(field succeeded_fen)
HELD_AFTER=$((RESERVED + SUCCEEDED))
((HELD_AFTER == HELD_BEFORE)) ||
  fail "after the cancel the order holds $HELD_AFTER fen for refunds, expected $HELD_BEFORE (the $AMOUNT2 fen released)"
count=$(field refund_count)
found=''
for ((i = 0; ; i++)); do
  no=$(json_get "$BODY" "refunds.$i.out_refund_no") || break
  [[ $no == "$NO2" ]] && found=$(field "refunds.$i.state")
done
[[ $found == CANCELLED ]] || fail "the order lists refund $NO2 as '${found:-absent}', expected CANCELLED"
ok "GET /v1/orders/$TRADE_NO: $AMOUNT2 fen released, $NO2 listed CANCELLED, refund_count $count"

# --- e: the first refund was sent to WeChat: not cancellable ---------------------------------------------------------
call e POST "/v1/refunds/$NO1/cancel" '{}'
expect 409
field_is error.type not_cancellable
ok "POST /v1/refunds/$NO1/cancel: 409 not_cancellable ($(field error.message))"

# --- f: refusals -----------------------------------------------------------------------------------------------------
call f1 POST /v1/refunds "{\"out_trade_no\":\"$TRADE_NO\",\"out_refund_no\":\"$NO2\",\"amount_fen\":12.5}"
expect 400
field_is error.type invalid_request
field_is error.param amount_fen
ok "POST /v1/refunds with amount_fen 12.5: 400 invalid_request, param amount_fen"

call f2 POST /v1/refunds "$(refund_body "$NO2" "$AMOUNT2")" --no-key
expect 401
field_is error.type unauthorized
ok "POST /v1/refunds without a key: 401 unauthorized"

echo "all steps passed"
