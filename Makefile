# deltasync — `make test` is what CI runs; `make demo` is the first thing to try.

GO      ?= go
SQLITE3 ?= sqlite3
BIN     := bin/deltasync
DEMO    := demo

.PHONY: all build test vet bench demo check-tools clean

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

test: check-tools vet
	$(GO) test -count=1 -timeout 15m ./...

# Benchmarks compare against plain SQLite in the same run; see benchmarks/README.md.
bench:
	$(GO) test ./benchmarks -run '^$$' -bench . -benchtime 10x -count 5

# Install capture on a sample database, write to it with the stock sqlite3
# shell, and show what was captured.
demo: check-tools build
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(SQLITE3) $(DEMO)/app.db "CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT, body TEXT, pinned INTEGER); \
		INSERT INTO notes VALUES ('n1', 'groceries', 'milk', 0);"
	./$(BIN) init $(DEMO)/app.db
	$(SQLITE3) $(DEMO)/app.db "INSERT INTO notes VALUES ('n2', 'ideas', 'sync sqlite', 1); \
		UPDATE notes SET body = 'milk, eggs' WHERE id = 'n1'; \
		INSERT INTO notes VALUES ('n3', 'scratch', NULL, 0); DELETE FROM notes WHERE id = 'n3';"
	./$(BIN) status $(DEMO)/app.db
	./$(BIN) changes $(DEMO)/app.db

clean:
	rm -rf bin $(DEMO)
