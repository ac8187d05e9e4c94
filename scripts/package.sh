#!/usr/bin/env bash
# Builds the Debian package and checks what it installs:
#   scripts/package.sh           a release build: TARGET/package/hiatus_VERSION_ARCH.deb
#   scripts/package.sh --check   the same from the debug build, for CI (fast: no release build)
#   ... --install-root DIR       also installs it for real into DIR, a Debian system made with
#                                debootstrap (`debootstrap --variant=minbase bookworm DIR`), and
#                                purges it again: the maintainer scripts run there, chrooted
# (TARGET is $CARGO_TARGET_DIR, default target.)
#
# The package is written with dpkg-deb from a tree this script stages, not with cargo-deb:
# dpkg-deb is on every Debian machine, while cargo-deb would be one more tool to compile and
# keep, for what a page of shell says plainly here. The tree: /usr/bin/hiatus, the systemd unit,
# /etc/hiatus/hiatus.toml (a conffile), the manual pages and completions made by the binary
# itself (`hiatus man --dir`, `hiatus completions`), the copyright file and the README.
#
# Then the package is checked as far as this machine allows without installing it for real:
# its fields and exact file list (dpkg-deb -I / -c), its contents extracted into a throwaway
# root (dpkg -x) where the binary runs, the configuration passes `hiatus check`, the pages
# render and the completion script parses; the maintainer scripts' syntax (sh -n), and the
# unit with systemd-analyze verify when it is there.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=release
install_root=""
usage() { echo "usage: scripts/package.sh [--check] [--install-root DEBOOTSTRAPPED-DIR]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --check) mode=check ;;
    --install-root) [ $# -ge 2 ] || usage; install_root=$2; shift ;;
    *) usage ;;
  esac
  shift
done
if [ -n "$install_root" ] && [ ! -x "$install_root/usr/bin/dpkg" ]; then
  echo "package: $install_root has no dpkg: make it with debootstrap --variant=minbase bookworm $install_root" >&2
  exit 2
fi
scripts/need.sh dpkg-deb:dpkg groff:groff-base strip:binutils gzip
target=${CARGO_TARGET_DIR:-target}
if [ "$mode" = release ]; then
  cargo build --release --locked
  binary=$target/release/hiatus
else
  cargo build --locked --quiet
  binary=$target/debug/hiatus
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
out=$target/package
stage=$out/stage
deb=$out/hiatus_${version}_${arch}.deb
rm -rf "$stage" "$deb"
mkdir -p "$stage/DEBIAN"

# The tree. Directories 0755, files 0644, the binary and maintainer scripts 0755, whatever the
# umask or the checkout's modes; owned by root in the package (--root-owner-group).
put() { install -D -m "$1" "$2" "$stage/$3"; }
put 0755 "$binary" usr/bin/hiatus
# Debug info off (the symbols stay, for backtraces and profilers): a quarter of the size.
strip --strip-debug "$stage/usr/bin/hiatus"
put 0644 packaging/hiatus.service lib/systemd/system/hiatus.service
put 0644 packaging/hiatus.toml etc/hiatus/hiatus.toml
put 0644 packaging/debian/copyright usr/share/doc/hiatus/copyright
put 0644 README.md usr/share/doc/hiatus/README.md
gzip -9n "$stage/usr/share/doc/hiatus/README.md"
"$stage/usr/bin/hiatus" man --dir "$stage/usr/share/man/man1"
gzip -9n "$stage"/usr/share/man/man1/*.1
mkdir -p "$stage/usr/share/bash-completion/completions" "$stage/usr/share/zsh/vendor-completions" \
  "$stage/usr/share/fish/vendor_completions.d"
"$stage/usr/bin/hiatus" completions bash >"$stage/usr/share/bash-completion/completions/hiatus"
"$stage/usr/bin/hiatus" completions zsh >"$stage/usr/share/zsh/vendor-completions/_hiatus"
"$stage/usr/bin/hiatus" completions fish >"$stage/usr/share/fish/vendor_completions.d/hiatus.fish"
for script in postinst prerm postrm; do put 0755 "packaging/debian/$script" "DEBIAN/$script"; done
echo /etc/hiatus/hiatus.toml >"$stage/DEBIAN/conffiles"
find "$stage" -type d -exec chmod 0755 {} +
find "$stage/usr/share" "$stage/etc" "$stage/lib" -type f -exec chmod 0644 {} +

# What the binary links: only libc6 and libgcc-s1 are known here; anything else must be added
# to Depends by hand, so it stops the build rather than ship a package that cannot start.
needed=$(objdump -p "$stage/usr/bin/hiatus" | awk '/NEEDED/ {print $2}' | sort)
unknown=$(grep -vxE 'libc\.so\.6|libm\.so\.6|ld-linux-[a-z0-9_-]+\.so\.[0-9]+|libgcc_s\.so\.1' <<<"$needed" || true)
if [ -n "$unknown" ]; then
  echo "package: the binary links $unknown; add its package to Depends in scripts/package.sh" >&2
  exit 1
fi
glibc=$(objdump -T "$stage/usr/bin/hiatus" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<EOF
Package: hiatus
Version: $version
Architecture: $arch
Maintainer: Hiatus maintainers <hiatus@localhost>
Installed-Size: $size
Depends: libc6 (>= $glibc), libgcc-s1, passwd
Section: net
Priority: optional
Description: maintenance gateway: an edge proxy that knows maintenance windows
 Hiatus sits in front of tenant servers and knows their maintenance windows: during a
 window it answers with a page in the user's language (503 with Retry-After), when a
 backend fails with a page that says what happened, and it serves a status page with
 feeds and calendars. Runs as the systemd service hiatus on /etc/hiatus/hiatus.toml.
EOF
# gzip at level 1 for the check: xz on a debug binary would take most of a minute.
compress=(-Zxz)
[ "$mode" = check ] && compress=(-Zgzip -z1)
dpkg-deb --root-owner-group "${compress[@]}" --build "$stage" "$deb" >/dev/null
echo "package: built $deb ($(du -h "$deb" | cut -f1))"

# --- what the package holds ---
fail() { echo "package check: $*" >&2; exit 1; }
info=$(dpkg-deb -I "$deb")
for field in "Package: hiatus" "Version: $version" "Architecture: $arch" "Depends: libc6"; do
  grep -q "^ $field" <<<"$info" || fail "the control file lacks \"$field\": $info"
done
for script in postinst prerm postrm conffiles; do
  grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +\*? *$script" <<<"$info" || fail "no $script in the package: $info"
done
listed=$(dpkg-deb -c "$deb" | awk '{print $1, $2, $6}' | sed 's|\./|/|' | grep -v '/$' | sort)
expected="-rw-r--r-- root/root /etc/hiatus/hiatus.toml
-rw-r--r-- root/root /lib/systemd/system/hiatus.service
-rw-r--r-- root/root /usr/share/bash-completion/completions/hiatus
-rw-r--r-- root/root /usr/share/doc/hiatus/README.md.gz
-rw-r--r-- root/root /usr/share/doc/hiatus/copyright
-rw-r--r-- root/root /usr/share/fish/vendor_completions.d/hiatus.fish
$(for page in hiatus hiatus-api hiatus-check hiatus-demo hiatus-emergency hiatus-emergency-list hiatus-emergency-off \
  hiatus-emergency-on hiatus-explain hiatus-origin hiatus-run hiatus-upcoming; do
  echo "-rw-r--r-- root/root /usr/share/man/man1/$page.1.gz"; done)
-rw-r--r-- root/root /usr/share/zsh/vendor-completions/_hiatus
-rwxr-xr-x root/root /usr/bin/hiatus"
expected=$(sort <<<"$expected")
[ "$listed" = "$expected" ] || fail "the file list differs from the expected one:
$(diff <(echo "$expected") <(echo "$listed") || true)"

# --- its contents, extracted into a throwaway root ---
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg -x "$deb" "$root"
"$root/usr/bin/hiatus" --version | grep -qE "^hiatus $version \(revision [0-9A-Za-z._+-]+\)$" ||
  fail "hiatus --version: $("$root/usr/bin/hiatus" --version)"
"$root/usr/bin/hiatus" check --config "$root/etc/hiatus/hiatus.toml" >/dev/null ||
  fail "the packaged configuration does not pass hiatus check"
for page in "$root"/usr/share/man/man1/*.1.gz; do
  warnings=$(zcat "$page" | groff -man -Tutf8 -ww -z 2>&1)
  [ -z "$warnings" ] || fail "$(basename "$page"): $warnings"
done
bash -n "$root/usr/share/bash-completion/completions/hiatus" || fail "the bash completion does not parse"
for script in postinst prerm postrm; do
  sh -n "packaging/debian/$script" || fail "$script does not parse"
done
if command -v systemd-analyze >/dev/null; then
  # verify wants the unit's programs to exist: point ExecStart at the extracted binary. Any
  # output (an unknown key is only a warning to systemd) is a failure here.
  mkdir -p "$root/verify"
  sed "s|/usr/bin/hiatus|$root/usr/bin/hiatus|g" "$root/lib/systemd/system/hiatus.service" >"$root/verify/hiatus.service"
  said=$(systemd-analyze verify --man=no "$root/verify/hiatus.service" 2>&1) || fail "systemd-analyze verify: $said"
  [ -z "$said" ] || fail "systemd-analyze verify: $said"
  echo "package: systemd-analyze verify: the unit is clean"
else
  echo "package: systemd-analyze is not installed; the unit was not verified"
fi
echo "package: $deb checked: fields, file list, binary, configuration, manual pages, completions, maintainer scripts"

[ -n "$install_root" ] || exit 0
# --- installed for real into a debootstrapped root, then purged ---
cp "$deb" "$install_root/tmp/hiatus.deb"
in_root() { chroot "$install_root" "$@"; }
in_root dpkg -i /tmp/hiatus.deb >/dev/null || fail "dpkg -i in $install_root"
in_root getent passwd hiatus >/dev/null || fail "postinst made no user hiatus"
[ "$(in_root dpkg-statoverride --list /etc/hiatus)" = "root hiatus 750 /etc/hiatus" ] ||
  fail "/etc/hiatus is not closed to other users: $(in_root dpkg-statoverride --list)"
chroot --userspec=hiatus:hiatus "$install_root" /usr/bin/hiatus check --config /etc/hiatus/hiatus.toml >/dev/null ||
  fail "the user hiatus cannot read its configuration"
if chroot --userspec=nobody:nogroup "$install_root" /usr/bin/hiatus check --config /etc/hiatus/hiatus.toml 2>/dev/null; then
  fail "another user can read /etc/hiatus/hiatus.toml"
fi
mkdir -p "$install_root/var/lib/hiatus"
touch "$install_root/var/lib/hiatus/incidents.jsonl"
in_root dpkg --purge hiatus >/dev/null || fail "dpkg --purge in $install_root"
for gone in /usr/bin/hiatus /etc/hiatus /var/lib/hiatus; do
  [ ! -e "$install_root$gone" ] || fail "$gone is still there after purge"
done
rm -f "$install_root/tmp/hiatus.deb"
echo "package: installed into $install_root (user, /etc/hiatus 0750 root:hiatus, readable by hiatus only) and purged (state gone)"
