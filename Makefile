# moat — container network isolation inside the container runtime.

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
LIBEXECDIR  ?= $(PREFIX)/libexec
MANDIR      ?= $(PREFIX)/share/man
CNI_BIN_DIR ?= /opt/cni/bin
HOOKS_DIR   ?= /usr/share/containers/oci/hooks.d
DESTDIR     ?=

BUILD ?= build
CC    ?= cc

PKGS := jansson libcurl libnl-3.0 libnl-route-3.0 libnftnl libmnl libseccomp libsodium
# Asked of pkg-config once, when first used: `make test` and `make demo`
# install the libraries (target deps) before anything needs them.
PKG_CFLAGS = $(eval PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS)))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $(shell pkg-config --libs $(PKGS)))$(PKG_LIBS)

# The plugin runs at every container start. Linking libnl, libnftnl,
# jansson, libseccomp and libsodium statically takes ~0.6 MB off its peak
# RSS and ~0.2 ms off its start (fewer libraries to map, relocate and
# resolve); Debian ships no libmnl.a. STATIC=0 links everything
# dynamically.
STATIC ?= 1
STATIC_LIBS := nl-route-3 nl-3 nftnl jansson seccomp sodium
ifeq ($(STATIC),1)
ifeq ($(SANITIZE),)
PLUGIN_LIBS := -Wl,-Bstatic $(STATIC_LIBS:%=-l%) -Wl,-Bdynamic -lcurl -lmnl -lpthread -lm
endif
endif
PLUGIN_LIBS ?= $(PKG_LIBS)

CFLAGS  ?= -O2 -g
VERSION ?= 0.1.0
CFLAGS  += -DMOAT_VERSION=\"$(VERSION)\" -DMOAT_HOOK_PATH=\"$(LIBEXECDIR)/moat/moat-hook\"
CFLAGS  += -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
           -fno-strict-aliasing -Icommon $(PKG_CFLAGS)
LDFLAGS ?=
LDFLAGS += -Wl,--as-needed -Wl,-O1
ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

# The library: common/, one folder per layer (docs/design.md, "Layers").
# Each binary's folder holds its main.c and the code only it uses, archived
# apart so that its unit tests and fuzzers link the same objects.
LIB_SRCS    := $(sort $(wildcard common/*/*.c common/*/*/*.c))
LIB_SRCS    := $(filter-out common/tests/%,$(LIB_SRCS))
LIB_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB         := $(BUILD)/libmoat.a
LIB_HDRS    := $(wildcard common/*/*.h common/*/*/*.h)
BIN_DIRS    := cni-plugin oci-hook ctl runtime
bin_srcs     = $(filter-out $(1)/main.c,$(sort $(wildcard $(1)/*.c)))
bin_lib      = $(BUILD)/$(1)/lib$(1).a
BIN_LIBS    := $(foreach d,$(BIN_DIRS),$(call bin_lib,$(d)))
MAN_SRCS    := $(sort $(wildcard man/*.scd))
MAN_PAGES   := $(MAN_SRCS:man/%.scd=$(BUILD)/man/%)
UNIT_SRCS   := $(sort $(wildcard common/tests/test_*.c $(BIN_DIRS:%=%/tests/test_*.c)))
UNIT_BINS   := $(addprefix $(BUILD)/tests/,$(basename $(notdir $(UNIT_SRCS))))
C_SRCS      := $(LIB_SRCS) $(LIB_HDRS) $(UNIT_SRCS) $(wildcard $(BIN_DIRS:%=%/*.[ch]))

BINS := $(BUILD)/moat $(BUILD)/moat-hook $(BUILD)/moatctl $(BUILD)/moat-runtime

.PHONY: all man unit unit-bins bats test check test-kernels asan bench demo install uninstall clean deps format format-check fuzz
# The binaries and man pages. The unit tests are built by make test (and
# check, unit, unit-bins), not here: a user who builds to install needs no
# cmocka.
all: $(BINS) man

unit-bins: $(UNIT_BINS)

# Man pages are kept as scdoc(5) text in man/ and generated here.
man: $(MAN_PAGES)

$(BUILD)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	scdoc <$< >$@

$(BUILD)/%.o: %.c $(LIB_HDRS) $(wildcard $(BIN_DIRS:%=%/*.h) $(BIN_DIRS:%=%/tests/*.h) common/tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The seccomp filters, built once here rather than at every run
# (common/kernel/seccompbpf.h): a tool linked with confine.c writes them
# for seccompbpf.c to include.
SECCOMP_TOOL := $(BUILD)/tools/seccomp-bpf
SECCOMP_INC  := $(BUILD)/gen/kernel/seccomp-bpf.inc
$(SECCOMP_TOOL): hack/tools/seccomp-bpf.c $(BUILD)/common/kernel/confine.o $(BUILD)/common/base/error.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(SECCOMP_INC): $(SECCOMP_TOOL)
	@mkdir -p $(dir $@)
	$(SECCOMP_TOOL) $@

$(BUILD)/common/kernel/seccompbpf.o: CFLAGS += -I$(BUILD)/gen
$(BUILD)/common/kernel/seccompbpf.o: $(SECCOMP_INC)

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# A binary's own archive (empty when main.c is all it has).
define bin_rules
$(call bin_lib,$(1)): $(patsubst %.c,$(BUILD)/%.o,$(call bin_srcs,$(1)))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach d,$(BIN_DIRS),$(eval $(call bin_rules,$(d))))

# A unit test links the archive of the folder above its tests/ (if a
# binary's) and the library.
define unit_rule
$(BUILD)/tests/$(basename $(notdir $(1))): $(BUILD)/$(1:.c=.o) $(filter $(BIN_LIBS),$(call bin_lib,$(patsubst %/tests/,%,$(dir $(1))))) $(LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS) $$(shell pkg-config --libs cmocka)
endef
$(foreach t,$(UNIT_SRCS),$(eval $(call unit_rule,$(t))))

$(BUILD)/moat: $(BUILD)/cni-plugin/main.o $(call bin_lib,cni-plugin) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PLUGIN_LIBS)

$(BUILD)/moat-hook: $(BUILD)/oci-hook/main.o $(call bin_lib,oci-hook) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PLUGIN_LIBS)

$(BUILD)/moatctl: $(BUILD)/ctl/main.o $(call bin_lib,ctl) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PLUGIN_LIBS)

# The docker shim: adds moat-hook to the bundle's config.json, execs runc.
$(BUILD)/moat-runtime: $(BUILD)/runtime/main.o $(call bin_lib,runtime) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PLUGIN_LIBS)

deps:
	@hack/install-deps.sh

# Unit tests: TAP, so hack/run-tests.sh can count them. test_foreign and
# test_confine need root (private network namespaces, seccomp in a child).
unit: $(UNIT_BINS)
	hack/run-tests.sh unit $(UNIT_BINS)

# Integration tests against the real kernel (root).
bats: $(BINS)
	MOAT_BUILD=$(abspath $(BUILD)) hack/run-tests.sh bats bats

ASAN_UNIT_BINS := $(UNIT_BINS:$(BUILD)/%=build-asan/%)
ASAN_BINS := build-asan/moat build-asan/moat-hook build-asan/moatctl build-asan/moat-runtime
# The bats files make test runs a second time with the sanitizer build: the
# plugin's verbs and errors, the hook (also attaching), moatctl.
ASAN_BATS ?= cni-verbs.bats cni-errors.bats hook.bats hook-attach.bats ctl.bats

# Everything CI runs: the unit tests (also under ASan+UBSan), a fuzzing
# smoke, the integration tests, and ASAN_BATS again under ASan+UBSan,
# counted together into one `tests: N passed, N failed`.
test: deps
	$(MAKE) format-check
	$(MAKE) all unit-bins
	$(MAKE) BUILD=build-asan SANITIZE=1 $(ASAN_UNIT_BINS) $(ASAN_BINS)
	ASAN_OPTIONS=detect_leaks=1 MOAT_BUILD=$(abspath $(BUILD)) MOAT_FUZZ_SECONDS=$(FUZZ_SMOKE) \
	  MOAT_ASAN_BUILD=$(abspath build-asan) MOAT_ASAN_BATS="$(ASAN_BATS)" \
	  hack/run-tests.sh all $(UNIT_BINS) $(ASAN_UNIT_BINS)

check: test

# Not part of make test (slow): boots Debian kernels under qemu (TCG) and
# runs the kernel-facing bats files in them. KERNELS: linux-image-*-unsigned
# package names (default: the newest 6.1). See hack/test-kernels.md.
KERNELS ?=
test-kernels: $(BINS)
	MOAT_BUILD=$(abspath $(BUILD)) hack/test-kernels $(KERNELS)

# Every parser under libFuzzer (ASan+UBSan), FUZZ_SECONDS each; make test
# runs the same for FUZZ_SMOKE seconds each.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE ?= 5
fuzz:
	hack/fuzz/run.sh $(FUZZ_SECONDS)

asan:
	$(MAKE) BUILD=build-asan SANITIZE=1 all unit-bins
	ASAN_OPTIONS=detect_leaks=1 MOAT_BUILD=$(abspath build-asan) MOAT_BATS_EXCLUDE=valgrind.bats \
	  hack/run-tests.sh all $(ASAN_UNIT_BINS)

bench: $(BINS)
	MOAT_BUILD=$(abspath $(BUILD)) hack/bench-cni
	MOAT_BUILD=$(abspath $(BUILD)) hack/bench-hook
	MOAT_BUILD=$(abspath $(BUILD)) hack/bench-ctl
	MOAT_BUILD=$(abspath $(BUILD)) hack/bench-datapath
	MOAT_BUILD=$(abspath $(BUILD)) hack/bench-run
	MOAT_BUILD=$(abspath $(BUILD)) hack/bench-hostnet
	MOAT_BUILD=$(abspath $(BUILD)) hack/bench-cluster
	MOAT_BUILD=$(abspath $(BUILD)) hack/bench-cluster-datapath

# A newcomer sees the stories, not the compiler: the build is silent (its
# errors still show); V=1 shows its commands.
demo: deps
	@echo "demo: building moat in $(BUILD)/ (V=1 shows the commands)"
	@$(MAKE) --no-print-directory $(if $(V),,-s) all
	@MOAT_BUILD=$(abspath $(BUILD)) hack/demo

DATADIR ?= $(PREFIX)/share/moat

# The directories install puts files in. Those it has to make (none of
# an existing one, such as /usr/local/bin or hooks.d) are listed in
# DATADIR/installed-dirs, with those of an earlier install, for uninstall
# to remove when empty. moat's own, libexec/moat and DATADIR, go always.
MAN_SECTIONS := $(sort $(subst .,,$(suffix $(MAN_SRCS:man/%.scd=%))))
INSTALL_DIRS  = $(CNI_BIN_DIR) $(LIBEXECDIR)/moat $(BINDIR) $(HOOKS_DIR) $(DATADIR) \
                $(MAN_SECTIONS:%=$(MANDIR)/man%)
MADE_DIRS     = $(DESTDIR)$(DATADIR)/installed-dirs

install: $(BINS) $(MAN_PAGES)
	@made=$$(for d in $(INSTALL_DIRS); do \
	  while [ ! -d "$(DESTDIR)$$d" ] && [ "$$d" != / ] && [ "$$d" != . ]; do \
	    echo "$$d"; d=$$(dirname "$$d"); \
	  done; \
	done); \
	install -d $(DESTDIR)$(DATADIR) && \
	{ cat $(MADE_DIRS) 2>/dev/null; printf '%s\n' $$made; } | sed '/^$$/d' | LC_ALL=C sort -u \
	  >$(MADE_DIRS).new && mv $(MADE_DIRS).new $(MADE_DIRS)
	install -D -m 0755 $(BUILD)/moat $(DESTDIR)$(CNI_BIN_DIR)/moat
	install -D -m 0755 $(BUILD)/moat-hook $(DESTDIR)$(LIBEXECDIR)/moat/moat-hook
	install -D -m 0755 $(BUILD)/moatctl $(DESTDIR)$(BINDIR)/moatctl
	install -D -m 0755 $(BUILD)/moat-runtime $(DESTDIR)$(BINDIR)/moat-runtime
	install -d $(DESTDIR)$(HOOKS_DIR)
	for stage in prestart poststop; do \
	  sed -e 's|@HOOK_PATH@|$(LIBEXECDIR)/moat/moat-hook|' -e "s|@STAGE@|$$stage|" \
	    conf/moat-hook.json.in >$(DESTDIR)$(HOOKS_DIR)/50-moat-$$stage.json && \
	  chmod 0644 $(DESTDIR)$(HOOKS_DIR)/50-moat-$$stage.json || exit 1; \
	done
	for page in $(MAN_PAGES); do \
	  name=$${page##*/}; \
	  install -D -m 0644 $$page $(DESTDIR)$(MANDIR)/man$${name##*.}/$$name || exit 1; \
	done
	install -d $(DESTDIR)$(DATADIR)
	cp -R conf/. $(DESTDIR)$(DATADIR)/
	chmod -R u=rwX,go=rX $(DESTDIR)$(DATADIR)

uninstall:
	rm -f $(DESTDIR)$(CNI_BIN_DIR)/moat $(DESTDIR)$(LIBEXECDIR)/moat/moat-hook $(DESTDIR)$(BINDIR)/moatctl \
	  $(DESTDIR)$(BINDIR)/moat-runtime \
	  $(DESTDIR)$(HOOKS_DIR)/50-moat-prestart.json $(DESTDIR)$(HOOKS_DIR)/50-moat-poststop.json
	for page in $(MAN_SRCS:man/%.scd=%); do \
	  rm -f $(DESTDIR)$(MANDIR)/man$${page##*.}/$$page; \
	done
	@made=$$(cat $(MADE_DIRS) 2>/dev/null); \
	rm -rf $(DESTDIR)$(DATADIR); \
	for d in $(LIBEXECDIR)/moat $$(printf '%s\n' $$made | LC_ALL=C sort -r); do \
	  [ ! -d "$(DESTDIR)$$d" ] || rmdir --ignore-fail-on-non-empty "$(DESTDIR)$$d" || true; \
	done

format:
	clang-format -i $(C_SRCS)

format-check:
	clang-format --dry-run -Werror $(C_SRCS)

clean:
	rm -rf build build-asan build-fuzz build-deb

# A Debian package of what `make install` installs, at Debian's paths, built
# in its own BUILD (hack/make-deb says where each file goes and why).
DEB_BUILD      ?= build-deb
DEB_OUT        ?= $(BUILD)
DEB_MAINTAINER ?=
.PHONY: deb
deb:
	@VERSION=$(VERSION) STATIC=$(STATIC) BUILD=$(DEB_BUILD) MAINTAINER="$(DEB_MAINTAINER)" \
	  MAKE="$(MAKE)" hack/make-deb $(DEB_OUT)

# A test tool (bats/ipv6.bats, hack/test-kernels-checks): a member's
# elements through kernel/nft's ADD/DEL paths, with an IPv6 address or not.
TOOLS := $(BUILD)/tools/nft6-layout
unit-bins: $(TOOLS)
test-kernels: $(TOOLS)
$(BUILD)/tools/nft6-layout: hack/tools/nft6-layout.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(PKG_LIBS)
