#!/usr/bin/env bash
# Entrypoint of the codecorpus image: the REST service, a Ray node, or any codecorpus command.
#   serve [OPTIONS]        codecorpus serve on 0.0.0.0:${CODECORPUS_PORT:-8000}
#   ray-head [RAY OPTIONS] ray start --head in the foreground (GCS 6379, dashboard 8265, client 10001)
#   ray-worker --address=HEAD:6379 [RAY OPTIONS]  ray start in the foreground
#   ray|python|bash|sh ... run as given
#   anything else          codecorpus with those arguments (curate, ingest, keys, ...)
# Options given after the mode come last, so they override the defaults here.
set -euo pipefail

mode="${1:-serve}"
[ "$#" -gt 0 ] && shift

case "$mode" in
  serve)
    exec codecorpus serve --host 0.0.0.0 --port "${CODECORPUS_PORT:-8000}" "$@"
    ;;
  ray-head)
    exec ray start --head --block --port=6379 --dashboard-host=0.0.0.0 \
      --ray-client-server-port=10001 "$@"
    ;;
  ray-worker)
    exec ray start --block "$@"
    ;;
  ray | python | python3 | bash | sh)
    exec "$mode" "$@"
    ;;
  *)
    exec codecorpus "$mode" "$@"
    ;;
esac
