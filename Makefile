# shiftc build.  `make` builds build/shiftc; `make unit` builds and runs the
# cmocka unit tests.  SAN=1 builds everything with ASan+UBSan into build-san/.
CC      ?= cc
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
ifeq ($(SAN),1)
BUILD   ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
OPT      = -O1
else
BUILD   ?= build
SANFLAGS =
OPT      = -O2
endif

# libclang (LLVM 14, Debian libclang-dev) parses every emitted file for its
# target (backends/verify.c); its resource directory (stddef.h, stdint.h...)
# is passed explicitly because libclang does not find it for bare-metal
# triples.  libclang-14.so.13 lives in /usr/lib/x86_64-linux-gnu, so no rpath.
LLVM_DIR ?= /usr/lib/llvm-14
CLANG_RESOURCE_DIR ?= $(lastword $(sort $(wildcard $(LLVM_DIR)/lib/clang/*)))

WARN    = -Wall -Wextra -Werror
INC     = -Iir -Icompiler -Ibackends -Iruntime -I$(BUILD)/gen -I/usr/include/lua5.4 -I$(LLVM_DIR)/include
CFLAGS  = -std=c11 $(OPT) -g -D_POSIX_C_SOURCE=200809L $(INC) $(SANFLAGS) \
          -DSHIFTC_CLANG_RESOURCE_DIR='"$(CLANG_RESOURCE_DIR)"'
LDLIBS  = -L$(LLVM_DIR)/lib -lclang -lprotobuf-c -llua5.4 -lcjson -lm -lpthread

SRC      = $(sort $(wildcard ir/*.c ir/passes/*.c backends/*.c backends/*/*.c compiler/*.c))
LIB_SRC  = $(filter-out compiler/main.c,$(SRC))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/onnx.pb-c.o $(BUILD)/obj/gen/embedded_files.o
EMBEDDED = $(sort $(wildcard templates/*)) $(sort $(wildcard runtime/*.h))
TESTS    = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(sort $(wildcard tests/unit/test_*.c)))

all: $(BUILD)/shiftc

$(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h: $(ONNX_PROTO)
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -I$(dir $(ONNX_PROTO)) $(ONNX_PROTO)

$(BUILD)/embed: tools/embed.c
	@mkdir -p $(BUILD)
	$(CC) -std=c11 -O1 $(WARN) $< -o $@

$(BUILD)/gen/embedded_files.c: $(BUILD)/embed $(EMBEDDED)
	@mkdir -p $(BUILD)/gen
	$(BUILD)/embed $@ $(EMBEDDED)

# generated code: warnings on, but not fatal (protoc-c output is not ours)
$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c $(BUILD)/gen/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -w -c $< -o $@

$(BUILD)/obj/%.o: %.c $(BUILD)/gen/onnx.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -MMD -MP -c $< -o $@

$(BUILD)/libshiftc.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/shiftc: $(BUILD)/obj/compiler/main.o $(BUILD)/libshiftc.a
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libshiftc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $< $(BUILD)/libshiftc.a $(LDLIBS) -lcmocka -o $@

unit: $(TESTS)
	@set -e; for t in $(TESTS); do echo "== $$t"; $$t; done

clean:
	rm -rf build build-san build-fuzz

.PHONY: all unit clean
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# libFuzzer harnesses for the parsers (clang, -fsanitize=fuzzer,address,undefined):
# `make fuzz` builds them into build-fuzz/ (FUZZ_BUILD=DIR elsewhere); tests/fuzz.sh runs
# each on a copy of its seed corpus (tests/fuzz/corpus/), `tests/fuzz.sh --long` to 1M runs.
# The Lua sandbox's limits are lowered (4 MiB, 200k VM instructions): a runaway input then
# costs milliseconds, not seconds; the limits' error paths are still what is exercised.
FUZZ_BUILD ?= build-fuzz
FUZZ_HARNESSES = onnx tf luaspec policy
FUZZ_FLAGS = -std=c11 -g -O1 -D_POSIX_C_SOURCE=200809L -Iir -Icompiler -Ibackends -Iruntime -Ibuild/gen -I/usr/include/lua5.4 \
             -I$(LLVM_DIR)/include -DSHIFTC_CLANG_RESOURCE_DIR='"$(CLANG_RESOURCE_DIR)"' -fsanitize=address,undefined \
             -DSANDBOX_MEM_LIMIT='(4u << 20)' -DSANDBOX_INSTR_LIMIT=200000LL
FUZZ_OBJ = $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/obj/gen/onnx.pb-c.o $(FUZZ_BUILD)/obj/gen/embedded_files.o
$(FUZZ_BUILD)/obj/gen/%.o: build/gen/%.c build/gen/onnx.pb-c.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -w -c $< -o $@
$(FUZZ_BUILD)/obj/%.o: %.c build/gen/onnx.pb-c.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJ) $(LDLIBS) -o $@
fuzz: $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/fuzz_%)
.SECONDARY: $(FUZZ_OBJ)
.PHONY: fuzz
-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
