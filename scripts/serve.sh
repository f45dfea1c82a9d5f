#!/usr/bin/env bash
# Care Models Lab for a large event on one machine: N replicas of the app behind nginx.
#
#   scripts/serve.sh [--replicas N] [--port PORT] [--address ADDR] [--run-dir DIR]
#
#   --replicas N   app processes (default: one per core); each is one Python interpreter, so one core
#   --port PORT    where people connect (default 8080); --address 0.0.0.0 to serve the room's network
#   --run-dir DIR  logs, pids and nginx's configuration (default data/cache/serve)
#
# nginx sends each browser to one replica for as long as it lives (a cookie, hashed), proxies the
# app's websocket, and moves a browser to a live replica when its own stops answering. A replica
# that dies is started again. Saved designs are shared: the DuckDB file on this machine (its lock
# serialises the replicas), or the PostgreSQL server in CARELAB_DATABASE_URL when it is set.
# Ctrl-C (or SIGTERM) stops nginx and every replica. docs/operations.md has the sizing figures.
set -euo pipefail
cd "$(dirname "$0")/.."

replicas=$(nproc)
port=8080
address=127.0.0.1
run_dir="$PWD/data/cache/serve"
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --replicas|--port|--address|--run-dir)
      [ $# -ge 2 ] || { echo "serve.sh: $1 needs a value (see --help)" >&2; exit 2; }
      case "$1" in
        --replicas) replicas="$2" ;; --port) port="$2" ;; --address) address="$2" ;; --run-dir) run_dir="$2" ;;
      esac
      shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "serve.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
# Whole numbers in decimal (a leading zero is not octal here), within their ranges.
if ! [[ "$replicas" =~ ^[0-9]{1,3}$ ]] || [ $((10#$replicas)) -lt 1 ] || [ $((10#$replicas)) -gt 64 ]; then
  echo "serve.sh: --replicas must be a whole number from 1 to 64, not '$replicas'" >&2; exit 2
fi
if ! [[ "$port" =~ ^[0-9]{1,5}$ ]] || [ $((10#$port)) -lt 1 ] || [ $((10#$port)) -gt 65535 ]; then
  echo "serve.sh: --port must be a whole number from 1 to 65535, not '$port'" >&2; exit 2
fi
replicas=$((10#$replicas)); port=$((10#$port))
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$nginx_bin" ]; then
  echo "serve.sh: nginx is not installed (Debian: apt-get install nginx)" >&2; exit 2
fi

mkdir -p "$run_dir/tmp"
run_dir=$(cd "$run_dir" && pwd)
# Every replica signs cookies and upload tokens with the same secret, so a browser moved to another
# replica keeps working (Streamlit's XSRF check, and sign-in where it is configured).
secret_file="$run_dir/cookie-secret"
[ -s "$secret_file" ] || (umask 077 && python3 -c "import secrets; print(secrets.token_hex(32))" > "$secret_file")
secret=$(cat "$secret_file")

free_port() { python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
declare -a ports pids
start_replica() {  # $1: replica number
  local i=$1
  STREAMLIT_SERVER_COOKIE_SECRET="$secret" python3 -m streamlit run app.py --server.headless true \
    --server.address 127.0.0.1 --server.port "${ports[$i]}" --browser.gatherUsageStats false >> "$run_dir/replica-$i.log" 2>&1 &
  pids[$i]=$!
  echo "${pids[$i]}" > "$run_dir/replica-${ports[$i]}.pid"
}
healthy() {  # the replica on port $1 answers its health check within 2 s (bash alone: no interpreter to start)
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf 'GET /_stcore/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && grep -q '^ok' <&3" 2>/dev/null
}

nginx_pid=""
stopping=""
stop() {  # $1: the exit status (0 when asked to stop)
  [ -n "$stopping" ] && exit "${1:-0}"
  stopping=1
  trap - INT TERM HUP EXIT
  [ -n "$nginx_pid" ] && kill -QUIT "$nginx_pid" 2>/dev/null || true
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$run_dir"/replica-*.pid "$run_dir/nginx.pid"
  echo "Care Models Lab stopped."
  exit "${1:-0}"  # never carry on starting or watching once asked to stop
}
trap 'stop 0' INT TERM HUP
trap 'stop $?' EXIT

for ((i = 1; i <= replicas; i++)); do
  ports[$i]=$(free_port)
  start_replica "$i"
done
for ((i = 1; i <= replicas; i++)); do
  for _ in $(seq 1 450); do healthy "${ports[$i]}" && break; kill -0 "${pids[$i]}" 2>/dev/null || break; sleep 0.2; done
  healthy "${ports[$i]}" || { echo "serve.sh: replica $i did not start; see $run_dir/replica-$i.log" >&2; exit 1; }
done

upstreams=""
for ((i = 1; i <= replicas; i++)); do
  upstreams+="    server 127.0.0.1:${ports[$i]} max_fails=1 fail_timeout=5s;"$'\n'
done
cat > "$run_dir/nginx.conf" <<EOF
# Written by scripts/serve.sh; rewritten at every start.
worker_processes 1;
daemon off;
pid $run_dir/nginx.pid;
error_log $run_dir/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $run_dir/tmp/body;
  proxy_temp_path $run_dir/tmp/proxy;
  fastcgi_temp_path $run_dir/tmp/fastcgi;
  uwsgi_temp_path $run_dir/tmp/uwsgi;
  scgi_temp_path $run_dir/tmp/scgi;
  client_max_body_size 50m;  # an uploaded baseline or a design to import
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  # Sticky sessions: a browser keeps its replica through a cookie nginx sets on its first request.
  map \$cookie_carelab_replica \$carelab_route { "" \$request_id; default \$cookie_carelab_replica; }
  upstream carelab {
    hash \$carelab_route consistent;
$upstreams  }
  server {
    listen $address:$port;
    location / {
      proxy_pass http://carelab;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_read_timeout 1d;
      proxy_send_timeout 1d;
      proxy_connect_timeout 2s;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_buffering off;
      add_header Set-Cookie "carelab_replica=\$carelab_route; Path=/; SameSite=Lax; HttpOnly" always;
      add_header X-Carelab-Replica \$upstream_addr always;
    }
  }
}
EOF
"$nginx_bin" -t -q -c "$run_dir/nginx.conf" -p "$run_dir" 2>>"$run_dir/nginx-error.log" || {
  echo "serve.sh: nginx refused its configuration; see $run_dir/nginx-error.log" >&2; exit 1; }
"$nginx_bin" -c "$run_dir/nginx.conf" -p "$run_dir" &
nginx_pid=$!
for _ in $(seq 1 100); do [ -s "$run_dir/nginx.pid" ] && break; sleep 0.1; done
echo "Care Models Lab: http://$address:$port ($replicas replicas behind nginx; logs in $run_dir)"

# Watch: a replica that has died is started again on its port. One that has answered its health
# check before and then fails it three times running (hung: stopped, deadlocked, swapping) is
# killed and started again, so nginx stops sending browsers to it. nginx stopping stops the lot.
declare -a misses answered
for ((i = 1; i <= replicas; i++)); do misses[$i]=0; answered[$i]=1; done
while kill -0 "$nginx_pid" 2>/dev/null; do
  for ((i = 1; i <= replicas; i++)); do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "replica $i (port ${ports[$i]}) stopped; starting it again" >&2
      start_replica "$i"; misses[$i]=0; answered[$i]=0
    elif healthy "${ports[$i]}"; then
      misses[$i]=0; answered[$i]=1
    elif [ "${answered[$i]}" = 1 ]; then
      misses[$i]=$((misses[$i] + 1))
      if [ "${misses[$i]}" -ge 3 ]; then
        echo "replica $i (port ${ports[$i]}) stopped answering; starting it again" >&2
        kill -KILL "${pids[$i]}" 2>/dev/null || true
      fi
    fi
  done
  sleep 1
done
echo "serve.sh: nginx stopped on its own; see $run_dir/nginx-error.log" >&2
exit 1
