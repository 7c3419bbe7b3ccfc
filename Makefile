# breachnotify: the two commands that matter are `make demo` and `make test`.

GO        ?= go
# The approved Go: go1.26.8 (the machine's) has reachable standard-library
# vulnerabilities. The go command fetches this toolchain once from the module
# proxy; every go command run by make uses it.
export GOTOOLCHAIN := go1.27.3
BIN       := $(CURDIR)/.bin
MAILPIT   := $(BIN)/mailpit
STATICCHECK_VERSION := v0.8.2
MAILPIT_VERSION     := v1.33.1
GOVULNCHECK_VERSION := v1.10.0
# The Go vulnerability database as published in the golang.org/x/vulndb module
# (vuln.go.dev is not reachable here): its data/osv records of 2026-11-05,
# indexed into .bin/ once per version.
VULNDB_VERSION      := v0.0.0-20261105234957-e22db6528018
VULNDB              := $(BIN)/vulndb-$(VULNDB_VERSION)
GREMLINS_VERSION    := v0.6.0

.PHONY: demo test test-short faults lint vulncheck mutants fuzz build image mailpit clean

## demo: run a whole notification campaign against the embedded capture mailbox
demo:
	$(GO) run ./cmd/breachnotify demo --once

## test: every test, on the local PostgreSQL, with the race detector, including
## the end-to-end run through Mailpit (a real SMTP server this project did not write)
test: $(MAILPIT)
	BREACHNOTIFY_MAILPIT=$(MAILPIT) $(GO) test -race -count=1 -timeout 20m ./...

## test-short: the tests without building Mailpit (its test is skipped)
test-short:
	$(GO) test -count=1 ./...

## faults: just the delivery engine's fault tests (relay down, scripted replies,
## a killed process, dropped database connections, a poison delivery, a job
## running out of time). Prints each test's figures (duplicates, takeover
## time); the whole log is in .bin/faults.log.
faults:
	@mkdir -p $(BIN)
	@$(GO) test -count=1 -v -run 'Relay|Scripted|Killed|Dropped|Poison|Deadline' ./notifier/app/ >$(BIN)/faults.log 2>&1; status=$$?; \
	  grep -E '^(--- |ok|FAIL)|^ +faults_test\.go:[0-9]+: [0-9]' $(BIN)/faults.log; exit $$status

## lint: go vet, staticcheck, gofmt, govulncheck, and promtool on
## deploy/prometheus (the alert rules, their unit tests, the scrape
## configuration; skipped without promtool, except under CI=true).
## --syntax-only: the token file it names exists only where Prometheus runs.
lint: $(VULNDB)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GOVULNCHECK)
	@if command -v promtool >/dev/null; then \
	  promtool check rules deploy/prometheus/alerts.yml && \
	  promtool test rules deploy/prometheus/alerts_test.yml deploy/prometheus/alerts_test_days.yml && \
	  promtool check config --syntax-only deploy/prometheus/prometheus.yml; \
	elif [ "$${CI:-}" = true ]; then echo "promtool missing (apt-get install prometheus)"; exit 1; \
	else echo "promtool not found: deploy/prometheus not checked (apt-get install prometheus)"; fi

## vulncheck: just govulncheck, against the offline database. It fails on any
## vulnerability the code can reach, in a module or in the standard library of
## the toolchain in use (`make vulncheck GOTOOLCHAIN=go1.26.8` shows why that
## one is not used); vulnerable code that is never called is counted, not failed.
GOVULNCHECK = $(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) -db file://$(VULNDB) ./...
vulncheck: $(VULNDB)
	$(GOVULNCHECK)

# The x/vulndb module's own indexdb command writes the v1 layout govulncheck
# reads (index/db.json, index/modules.json, index/vulns.json, ID/GO-….json);
# built in a temporary directory so an interrupted run is not taken for a
# finished one.
$(VULNDB):
	@echo "building the vulnerability database golang.org/x/vulndb@$(VULNDB_VERSION) into $@"
	@dir=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	  test -d "$$dir/data/osv" || { echo "golang.org/x/vulndb@$(VULNDB_VERSION): no data/osv"; exit 1; }; \
	  rm -rf $@.tmp && \
	  $(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) -vulns "$$dir/data/osv" -out $@.tmp && \
	  mv $@.tmp $@

## fuzz: run each fuzz target for FUZZTIME (default 30s)
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) || exit 1; \
	  done; \
	done

## mutants: mutation testing with gremlins (not a CI gate) of the packages
## whose logic is in Go and has unit tests of its own; each mutant runs its
## package's tests only. The end-to-end suite (notifier/app) is too slow to
## run per mutant, so code tested only through it counts as not covered.
## gremlins gathers coverage with `go test -cover DIR/...`: for notifier that
## is every test under it, once; only the root package's own files (no "/"
## in their path) are mutated. A mutant's tests time out after the coverage
## run's time times a coefficient: 60, as building a mutant takes longer than
## running a small package's tests; 3 for notifier, whose coverage run is long.
## -count=1: a coverage run answered from the test cache would make that time,
## and so every timeout, a fraction of a second.
## Prints what lived (or timed out), then the scores.
MUTANTS_PKGS ?= templates config notifier notifier/linkguard notifier/web notifier/politeness notifier/smtp
mutants:
	@mkdir -p $(BIN)/mutants; start=$$(date +%s); \
	for p in $(MUTANTS_PKGS); do \
	  log=$(BIN)/mutants/$$(echo $$p | tr / -).txt; echo "== $$p"; \
	  coef=60; [ $$p = notifier ] && coef=3; \
	  GOFLAGS="-count=1 $$GOFLAGS" $(GO) run github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION) unleash --timeout-coefficient $$coef \
	    --exclude-files / --output-statuses lt $(CURDIR)/$$p > $$log 2>&1 || { cat $$log; exit 1; }; \
	  grep -E '^ *(LIVED|TIMED OUT) ' $$log | sed "s|^ *|  $$p: |"; \
	done; \
	echo; echo "mutation score: killed / (killed + lived), by package ($$(( $$(date +%s) - start )) s; logs in $(BIN)/mutants/)"; \
	for p in $(MUTANTS_PKGS); do \
	  sed -n 's/^Killed: \([0-9]*\), Lived: \([0-9]*\), Not covered: \([0-9]*\)$$/\1 \2 \3/p' $(BIN)/mutants/$$(echo $$p | tr / -).txt | \
	    awk -v p=$$p '{ printf "  %-20s %5.1f%%  killed %4d  lived %4d  not covered %4d\n", p, ($$1+$$2 ? 100*$$1/($$1+$$2) : 0), $$1, $$2, $$3 }'; \
	done | tee $(BIN)/mutants/score.txt; \
	awk '{ k += $$4; l += $$6; n += $$9 } END { printf "  %-20s %5.1f%%  killed %4d  lived %4d  not covered %4d\n", "all", (k+l ? 100*k/(k+l) : 0), k, l, n }' $(BIN)/mutants/score.txt

## build: a static binary in .bin/
# The build's identity, for `breachnotify version` and breachnotify_build_info:
# the Go VCS stamp gives the revision to a `go build` in a clone; BUILD_TIME
# is not stamped by Go, and the image build has no .git (see the Dockerfile).
REVISION   := $(shell git rev-parse HEAD 2>/dev/null)
VERSION    := $(shell git describe --tags --always --dirty 2>/dev/null)
BUILD_TIME := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
BUILDINFO  := github.com/breachnotify/breachnotify/notifier/buildinfo

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-X $(BUILDINFO).buildTime=$(BUILD_TIME)" -o $(BIN)/breachnotify ./cmd/breachnotify

## image: the container image, labelled and stamped with the git revision
image:
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
	  --build-arg BUILD_TIME=$(BUILD_TIME) -t breachnotify:$(VERSION) -t breachnotify:local .

mailpit: $(MAILPIT)
$(MAILPIT):
	GOBIN=$(BIN) $(GO) install github.com/axllent/mailpit@$(MAILPIT_VERSION)

clean:
	rm -rf $(BIN)
