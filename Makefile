# deltasync — `make test` is what CI runs; `make demo` is the first thing to try.

GO      ?= go
SQLITE3 ?= sqlite3
BIN     := bin/deltasync
DEMO    := demo

# The SQLite features apps' schemas use: FTS5 and the math functions are
# build tags of mattn/go-sqlite3 (JSON and R*Tree are in every build).
# Exported, so that the go build a test runs gets them too. Without them a
# device whose app keeps an FTS5 index fails every merge into that table.
TAGS := sqlite_fts5,sqlite_math_functions
export GOFLAGS := $(GOFLAGS) -tags=$(TAGS)

.PHONY: all build test vet bench fuzz soak demo check-tools clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/deltasync

# Needs Go (with cgo and a C compiler, for mattn/go-sqlite3) and the stock
# sqlite3 shell, which the tests use as the app that knows nothing of deltasync.
check-tools:
	@command -v $(GO) >/dev/null || { echo "make: Go is not installed (https://go.dev/dl/)"; exit 1; }
	@command -v $${CC:-gcc} >/dev/null || { echo "make: no C compiler: mattn/go-sqlite3 needs cgo (Debian: apt-get install -y gcc)"; exit 1; }
	@command -v $(SQLITE3) >/dev/null || { echo "make: the sqlite3 shell is not installed (Debian: apt-get install -y sqlite3)"; exit 1; }

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "make: run gofmt -w on the files above"; exit 1; }

# The packages that start goroutines run under the race detector: the root
# package and device (the sync loop), hub (the server), and replicator,
# whose tests drive the loop against both hubs. The rest run without it.
RACE_PKGS := . ./device ./hub ./replicator
MODULE    := github.com/deltasync/deltasync
test: check-tools vet
	$(GO) test -count=1 -timeout 15m -race $(RACE_PKGS)
	$(GO) test -count=1 -timeout 15m $$($(GO) list ./... | grep -vxF $(foreach p,$(RACE_PKGS),-e $(MODULE)$(patsubst .%,%,$(p))))

# The seeds in */testdata/fuzz run in `make test`; this looks for new crashers.
FUZZTIME ?= 5m
fuzz:
	$(GO) test ./codec -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME)
	$(GO) test ./hub -run '^$$' -fuzz FuzzSchemaDoc -fuzztime $(FUZZTIME)
	$(GO) test ./hub -run '^$$' -fuzz FuzzClientAnswer -fuzztime $(FUZZTIME)
	$(GO) test ./cmd/deltasync -run '^$$' -fuzz FuzzKeep -fuzztime $(FUZZTIME)
	$(GO) test ./hub -run '^$$' -fuzz FuzzPullQuery -fuzztime $(FUZZTIME)
	$(GO) test ./hub -run '^$$' -fuzz FuzzParseTokens -fuzztime $(FUZZTIME)

# Longer runs of the randomized tests, each with fresh seeds (printed on failure).
SOAK ?= 30
soak: check-tools
	DELTASYNC_FRESH_SEEDS=1 $(GO) test -count=$(SOAK) -timeout 2h -run 'Convergence|Commutes|WriteTimeProperty' ./replicator
	DELTASYNC_FRESH_SEEDS=1 $(GO) test -count=$(SOAK) -timeout 2h -run 'TestCorpus' ./internal/corpustest
	$(GO) test -count=$(SOAK) -timeout 2h -run 'EndToEnd|Kill|Flaky' ./cmd/deltasync

# Benchmarks compare against plain SQLite in the same run; see benchmarks/README.md.
bench:
	$(GO) test ./benchmarks -run '^$$' -bench . -benchtime 10x -count 5

# The main job on a sample database: a hub and two devices with sidecars; a
# write made with the stock sqlite3 shell on one arrives on the other.
demo: check-tools build
	BIN=./$(BIN) DIR=$(DEMO) ./demo.sh

clean:
	rm -rf bin $(DEMO)
