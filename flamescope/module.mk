# flamescope: the FlameScope server (libfntrace-flamescope.a, fntrace-flamescope)
COMPONENTS += flamescope           # flamescope/*.c except main.c -> libfntrace-flamescope.a
flamescope_USES  :=                # lib/ only
flamescope_PKGS  := zlib libxxhash   # libxxhash: the index files' checksums (XXH3)
flamescope_TESTS := test_flamescope test_web_assets
BINS += fntrace-flamescope
BIN_fntrace-flamescope := flamescope/main.c

# --- flamescope web UI (flamescope/web) ----------------------------------------------
# The browser UI is bundled by esbuild from flamescope/web/node_modules (`make deps` runs
# npm ci there) and embedded as C: $(BUILD)/gen/web_assets.c defines web_asset_find()
# (flamescope/web_assets.h) and goes into libfntrace-flamescope.a, compiled with
# flamescope's include path like the rest of the component.
WEB_INPUTS := $(wildcard flamescope/web/src/*) flamescope/web/build.mjs tools/embed-assets.mjs \
              flamescope/web/package-lock.json $(wildcard flamescope/web/node_modules/.package-lock.json)
flamescope_GEN := $(BUILD)/gen/web_assets.c
GEN_SRCS += $(BUILD)/gen/web_assets.c
$(BUILD)/gen/web_assets.c: $(WEB_INPUTS)
	node flamescope/web/build.mjs $(BUILD)/web
	node tools/embed-assets.mjs $(BUILD)/web $@
# --- end of web UI ---------------------------------------------------------------------
