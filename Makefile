# EmitHub — build, run, test, publish, bench.
# Everything a fresh machine of this kind needs is installed by these targets.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
RID ?= linux-x64
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

.PHONY: all build run test test-deps publish bench bench-micro bench-compression clean restore

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
## Debian's chromium, curl, nats-server with JetStream for the cluster tests).
test-deps:
	@command -v nats-server >/dev/null || test -x /usr/sbin/nats-server || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null; }
	@/usr/bin/python3 -c 'import websockets' 2>/dev/null || { \
	  (command -v apt-get >/dev/null && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-websockets >/dev/null)) || true; }
	@test -x /usr/bin/prometheus -a -x /usr/bin/promtool || { \
	  (command -v apt-get >/dev/null && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null)) || true; }
	@test -x /usr/bin/chromium -a -x /usr/bin/curl || { \
	  (command -v apt-get >/dev/null && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium curl >/dev/null)) || true; }
	@test -d tests/clients/node_modules/ws || (cd tests/clients && npm ci --no-audit --no-fund --silent)
	@command -v chromium >/dev/null || { \
	  (command -v apt-get >/dev/null && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)) || true; }

## test: every test (unit and end-to-end); fails when no test ran.
test: test-deps build
	bash tests/run-tests.sh $(CONFIG)

## publish: native AOT binary at dist/emit-hub; fails on any trim/AOT warning.
publish:
	bash tools/publish.sh $(RID)

bench-micro: build
	$(DOTNET) run -c Release --project bench/EmitHub.Benchmarks -- --filter '*' --job short

bench: publish
	bash bench/run-bench.sh
	$(DOTNET) run -c Release --project bench/EmitHub.Benchmarks -- compression-report 1000 10000 --broadcasts 5

## bench-compression: permessage-deflate bytes and CPU per delivery, shared vs off vs per_connection (a few seconds).
bench-compression: build
	$(DOTNET) run -c Release --project bench/EmitHub.Benchmarks -- compression-report 1000 10000 --broadcasts 5

clean:
	rm -rf dist */*/bin */*/obj
