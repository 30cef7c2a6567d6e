# mcpgw: build, run and test the gateway.  `make help` lists the targets.

comma := ,

CC       ?= cc
PKGS     := fcgi libcjson libcurl openssl sqlite3
SANITIZE ?=
# A sanitizer build lives in its own folder, so it never reuses objects built without it
# (make tracks files, not flags) and a normal build afterwards is not clobbered.
BUILD    ?= $(if $(SANITIZE),build-$(subst $(comma),-,$(SANITIZE)),build)

WARN     := -Wall -Wextra -Wpedantic -Wformat=2 -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Werror
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) $(HARDEN) -Iworker \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS  += -pie -Wl,-z,relro,-z,now
LDLIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

# Every worker module except main.c is also linked into the unit tests.
WORKER_SRC  := $(filter-out worker/main.c,$(wildcard worker/*.c))
WORKER_OBJ  := $(WORKER_SRC:worker/%.c=$(BUILD)/obj/%.o)
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

BINS := $(BUILD)/mcpgw-pool $(BUILD)/mcpgw-entrypoint

.PHONY: all deps run test unit integration terraform-test bench clean help valgrind

all: $(BINS)

help:
	@echo "make deps        install missing Debian packages and npm tools"
	@echo "make             build $(BINS)"
	@echo "make run         build and serve the gateway on 127.0.0.1:8080 with two demo upstreams"
	@echo "make test        build and run every test (unit, entrypoint, integration, container, terraform)"
	@echo "make bench       benchmarks (wrk on loopback)"
	@echo "make SANITIZE=address,undefined test   the same under sanitizers"

deps:
	@scripts/deps.sh

$(BUILD)/obj/%.o: worker/%.c worker/*.h | $(BUILD)/obj
	$(CC) $(CFLAGS) -c -o $@ $<

# Unit tests link the archive, so each pulls in only the modules it uses.
$(BUILD)/libmcpgw.a: $(WORKER_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/mcpgw-pool: $(BUILD)/obj/main.o $(BUILD)/libmcpgw.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/mcpgw-entrypoint: entrypoint.c worker/utf8.c worker/utf8.h | $(BUILD)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ entrypoint.c worker/utf8.c

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libmcpgw.a | $(BUILD)/tests
	$(CC) $(CFLAGS) $(shell pkg-config --cflags criterion) $(LDFLAGS) -o $@ $^ \
	    $(LDLIBS) $(shell pkg-config --libs criterion)

$(BUILD) $(BUILD)/obj $(BUILD)/tests:
	mkdir -p $@

run: deps all
	@MCPGW_BUILD=$(BUILD) scripts/run.sh

unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do $$t --jobs 2 || exit 1; done

integration: all
	MCPGW_BUILD=$(BUILD) node --test tests/integration/

terraform-test:
	@tests/terraform/run.sh

test: deps all $(UNIT_BIN)
	@MCPGW_BUILD=$(BUILD) scripts/test.sh

bench: deps all
	@MCPGW_BUILD=$(BUILD) tests/bench/run.sh

# Criterion runs each test in a child process: valgrind must follow children, and its
# report (not its exit code) says whether anything leaked or went wrong.  Two pool tests
# replace the worker program on disk while the pool holds the old one open, and valgrind
# cannot exec a program whose file is gone (fexecve of a deleted file fails with ENOENT
# under it, though not without it): they are left out here, and said so.
VALGRIND_SKIP_test_pool := pool/hot_swap*|pool/a_new_program*
valgrind: $(UNIT_BIN)
	@command -v valgrind >/dev/null || { echo "valgrind not found (make deps installs it)"; exit 1; }
	@for t in $(UNIT_BIN); do \
	    skip=""; case $$t in */test_pool) skip='$(VALGRIND_SKIP_test_pool)';; esac; \
	    valgrind -q --trace-children=yes --trace-children-skip='*node*' --child-silent-after-fork=yes \
	        --leak-check=full $$t --jobs 1 $${skip:+--filter="!($$skip)"} 2>$(BUILD)/valgrind.log; \
	    rc=$$?; \
	    if [ $$rc -ne 0 ] || grep -q '^==[0-9]*==' $(BUILD)/valgrind.log; then \
	        cat $(BUILD)/valgrind.log; echo "valgrind: $$t failed (exit $$rc)"; exit 1; fi; \
	    echo "valgrind: $$t clean$${skip:+ (left out: $$skip)}"; \
	done

clean:
	rm -rf build build-*
