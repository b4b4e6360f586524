# EmitHub — build, run, test, publish, bench.
# Everything a fresh machine of this kind needs is installed by these targets.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
RID ?= linux-x64
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

.PHONY: all build run test test-deps publish install bench bench-cost bench-cluster bench-micro bench-compression clean restore

all: build

restore:
	$(DOTNET) restore EmitHub.sln

build: restore
	$(DOTNET) build EmitHub.sln -c $(CONFIG) --no-restore

## run: build and start the server on the defaults (127.0.0.1:8080); options go in ARGS, e.g. make run ARGS="--port 9000".
ARGS ?=
run:
	$(DOTNET) run --project src/EmitHub.Cli -c $(CONFIG) -- $(ARGS)

## test-deps: real third-party programs the end-to-end tests drive (Python websockets, Node ws, Prometheus and promtool,
## Debian's chromium, curl, nats-server with JetStream for the cluster tests, systemd-analyze).
## Each line below checks for one program and names the Debian package that provides it; whatever is missing is
## installed by one apt-get update and one apt-get install (waiting up to 120 s for another apt/dpkg to finish).
APT_GET := DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120
test-deps:
	@missing=""; \
	{ command -v nats-server >/dev/null || test -x /usr/sbin/nats-server; } || missing+=" nats-server"; \
	/usr/bin/python3 -c 'import websockets' 2>/dev/null || missing+=" python3-websockets"; \
	test -x /usr/bin/prometheus -a -x /usr/bin/promtool || missing+=" prometheus"; \
	test -x /usr/bin/chromium || missing+=" chromium"; \
	test -d /usr/share/fonts/truetype/liberation || missing+=" fonts-liberation"; \
	test -x /usr/bin/curl || missing+=" curl"; \
	test -x /usr/bin/systemd-analyze || missing+=" systemd"; \
	if [ -n "$$missing" ]; then \
	  if ! command -v apt-get >/dev/null; then echo "test-deps: no apt-get; install these yourself:$$missing" >&2; \
	  else $(APT_GET) update -qq && $(APT_GET) install -y -qq --no-install-recommends $$missing >/dev/null; fi; \
	fi
	@test -d tests/clients/node_modules/ws || (cd tests/clients && npm ci --no-audit --no-fund --silent)

## test: every test (unit and end-to-end); fails when no test ran.
test: test-deps build
	bash tests/run-tests.sh $(CONFIG)

## publish: native AOT binary at dist/emit-hub; fails on any trim/AOT warning.
publish:
	bash tools/publish.sh $(RID)

## install: the published binary, the systemd unit and a default configuration under DESTDIR/PREFIX:
##   $(PREFIX)/bin/emit-hub, $(PREFIX)/lib/systemd/system/emit-hub.service (ExecStart points at that binary),
##   $(SYSCONFDIR)/emit-hub/emit_hub.toml (kept when it exists). Publishes first when BINARY is missing.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR ?=
BINARY ?= dist/emit-hub
install:
	@test -x $(BINARY) || $(MAKE) publish
	install -D -m 0755 $(BINARY) $(DESTDIR)$(PREFIX)/bin/emit-hub
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed -e 's|/usr/local/bin/emit-hub|$(PREFIX)/bin/emit-hub|' -e 's|/etc/emit-hub/|$(SYSCONFDIR)/emit-hub/|' \
	  deploy/emit-hub.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/emit-hub.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/emit-hub.service
	install -d $(DESTDIR)$(SYSCONFDIR)/emit-hub
	test -e $(DESTDIR)$(SYSCONFDIR)/emit-hub/emit_hub.toml || install -m 0644 emit_hub.toml $(DESTDIR)$(SYSCONFDIR)/emit-hub/emit_hub.toml

bench-micro: build
	$(DOTNET) run -c Release --project bench/EmitHub.Benchmarks -- --filter '*' --job short

bench: publish
	bash bench/run-bench.sh
	$(DOTNET) run -c Release --project bench/EmitHub.Benchmarks -- compression-report 1000 10000 --broadcasts 5

## bench-cost: each server's CPU per delivery, request and connection split into kernel and user space (perf), beside
## the load generator's; writes bench/results/<date>-cost-split.txt (about 5 minutes).
bench-cost: publish
	bash bench/cost-split.sh

## bench-cluster: 3 nodes on one nats-server (JetStream) vs a single node, same fan-out load (BENCH_CLIENTS etc.).
bench-cluster: publish
	bash bench/run-bench-cluster.sh

## bench-compression: permessage-deflate bytes and CPU per delivery, shared vs off vs per_connection (a few seconds).
bench-compression: build
	$(DOTNET) run -c Release --project bench/EmitHub.Benchmarks -- compression-report 1000 10000 --broadcasts 5

clean:
	rm -rf dist */*/bin */*/obj
