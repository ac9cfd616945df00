#!/bin/sh
# Builds a static inetd for a musl target on Debian 12 from Debian packages
# alone: rustc-web, cargo-web and rust-web-src (bookworm-security) rebuild
# std for the target (-Zbuild-std, allowed by RUSTC_BOOTSTRAP=1), and
# musl-gcc links it against musl's libc.a.
#
#   apt-get install rustc-web cargo-web rust-web-src musl-tools musl-dev gcc
#   contrib/build-static.sh                      # x86_64-unknown-linux-musl
#   contrib/build-static.sh armv7-unknown-linux-musleabihf
#
# A foreign target needs a C cross compiler and musl's libc.a for it, given
# as CC (a gcc wrapper using musl's headers, crt files and libc.a) and, when
# the libraries are elsewhere, MUSL_LIB. For armv7 on Debian 12:
#
#   apt-get install gcc-arm-linux-gnueabihf musl-dev:armhf   # after dpkg --add-architecture armhf
#   CC="arm-linux-gnueabihf-gcc -specs /usr/lib/arm-linux-musleabihf/musl-gcc.specs" \
#       contrib/build-static.sh armv7-unknown-linux-musleabihf
#   qemu-arm-static target/armv7-unknown-linux-musleabihf/release/inetd -V
#
# (CI builds both and runs the armv7 one under qemu-user.)
#
# EXTRA_RUSTFLAGS are added to rustc's flags (CI: -D warnings).
# The binary is target/TARGET/release/inetd. Set CARGO (default
# /usr/bin/cargo, cargo-web) to use another toolchain that has its std source.
set -eu
cd "$(dirname "$0")/.."

target=${1:-x86_64-unknown-linux-musl}
cargo=${CARGO:-/usr/bin/cargo}
case $target in
x86_64-unknown-linux-musl)
    cc=${CC:-musl-gcc}
    ;;
armv7-unknown-linux-musleabihf)
    cc=${CC:-"arm-linux-gnueabihf-gcc -specs /usr/lib/arm-linux-musleabihf/musl-gcc.specs"}
    ;;
*)
    cc=${CC:?set CC to a C compiler that links against musl for $target}
    ;;
esac

# The linker is a wrapper script because cargo takes a program, not a command line.
work=target/build-static/$target
mkdir -p "$work"
cat >"$work/cc" <<WRAPPER
#!/bin/sh
exec $cc "\$@"
WRAPPER
chmod +x "$work/cc"
# std links libunwind.a for a static musl target. With panic = "abort"
# nothing unwinds, and src/no_unwind.rs defines the few entry points std
# still names, so an empty archive stands in for it.
ar crs "$work/libunwind.a"

env_target=$(echo "$target" | tr 'a-z-' 'A-Z_')
export RUSTC_BOOTSTRAP=1
export RUSTC=${RUSTC:-$(dirname "$cargo")/rustc}
export "CARGO_TARGET_${env_target}_LINKER=$PWD/$work/cc"
export "CARGO_TARGET_${env_target}_RUSTFLAGS=-C target-feature=+crt-static -C link-self-contained=no -C relocation-model=static -L native=$PWD/$work ${EXTRA_RUSTFLAGS:-}"
start=$(date +%s)
"$cargo" build --release --locked --target "$target" \
    -Z build-std=std,panic_abort --bin inetd
bin=target/$target/release/inetd
echo "built $bin in $(($(date +%s) - start)) s: $(wc -c <"$bin") bytes"
