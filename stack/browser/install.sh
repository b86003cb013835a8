# shellcheck shell=bash
# The headless browser the query page's test drives: Debian's chromium, installed with apt-get
# the first time (as root). Not a service of `stack.sh up`. Sourced by stack/stack.sh for
# `stack.sh install-browser`, which prints the browser's path.

browser_install() {
  local b
  for b in "${CHROMIUM:-}" chromium chromium-browser google-chrome; do
    [ -n "$b" ] && command -v "$b" >/dev/null 2>&1 && { command -v "$b"; return 0; }
  done
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "no chromium: install Debian's chromium (apt-get install chromium) or set CHROMIUM to a Chrome or Chromium binary"
  fi
  log "installing chromium with apt-get (first time only)"
  mkdir -p "$LOGS"
  # apt-get update only when the package lists do not know chromium yet
  { apt-cache show chromium >/dev/null 2>&1 || apt-get update -qq; } >"$LOGS/install-browser.log" 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >>"$LOGS/install-browser.log" 2>&1 \
    || { tail -n 30 "$LOGS/install-browser.log" >&2; die "apt-get could not install chromium (log: $LOGS/install-browser.log)"; }
  command -v chromium
}
